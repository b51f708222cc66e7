"""The store's tables: their keys and the few fields engines index. Shared by every engine.

Each document is a record of the model (`model.to_record`); a table says which of its fields an
engine keeps beside it for lookups: `account`, `at` (an ISO-8601 UTC time) and `ref` (a secondary
key: an item's author, an own post's parent, an outbox entry's item). The files engine keeps each
table in its own directory, one file per account for the `per_account` tables (`states/brand00.json`),
and per account and day for the `per_day` ones (`items/brand00.2026-11-18.json`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Doc = dict[str, Any]


def utc(value: str) -> str:
    """Stored times end in `Z`; make them comparable with `datetime.isoformat()` of UTC times."""
    return value.replace("Z", "+00:00") if value.endswith("Z") else value


def contact_key(raw_author: Doc) -> str:
    """`Author.contact_key` of a stored author, without building the object."""
    if raw_author["network"] == "bluesky" and raw_author.get("id"):
        return f"bluesky:{raw_author['id']}"
    return f"{raw_author['network']}:{raw_author['handle'].lstrip('@').lower()}"


def post_key(account: str, remote_id: str) -> str:
    """The key of a cached post (own or home timeline): account ids never hold a space."""
    return f"{account} {remote_id}"


@dataclass(frozen=True)
class Table:
    name: str
    group: str
    """Files engine, schema 1 (an older socialtui): the tables of a group shared one file
    (`GROUP.json`); the upgrade reads them from it."""
    account: Callable[[Doc], str] | None = None
    at: Callable[[Doc], str] | None = None
    ref: Callable[[Doc], str] | None = None
    per_account: bool = False
    """Files engine: one file per account (the document's `account`), so that a write for one account
    rewrites that account's file only."""
    per_day: bool = False
    """Files engine, with `per_account`: one file per account and day of `at` (which never changes),
    so that a new mention rewrites, and every dashboard reads again, a day's worth of one account."""
    kept: bool = True
    """Files engine: a process keeps the partitions it read decoded (by version) for its next read.
    Off for the tables that grow with the store's history and are read a few documents at a time:
    the states (a dashboard's first look reads those of the 200 oldest open items, and kept the
    files of every account decoded, 20 MB at 30,000 done items) and the answered items (an operator
    marking items done kept their accounts' files decoded); the per-day tables are never kept."""
    log: bool = False
    """Append-only (the audit): operators may add, never change or remove."""
    unique_open_ref: tuple[str, tuple[str, ...]] | None = None
    """(field, values): at most one document per `ref` whose `field` is one of `values`
    (one reply in flight per item); engines refuse a second with `Conflict`."""


def _account(doc: Doc) -> str:
    return str(doc.get("account", ""))


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        # items and posts (the poller writes them)
        Table(
            "items",
            "items",
            account=_account,
            at=lambda d: utc(d["post"]["created_at"]),
            ref=lambda d: contact_key(d["post"]["author"]),
            per_account=True,
            per_day=True,
        ),
        Table(
            "own",
            "posts",
            account=_account,
            at=lambda d: utc(d["created_at"]),
            ref=lambda d: d.get("reply_to", ""),
            per_account=True,
            per_day=True,
        ),
        Table(
            "home",
            "home",
            account=_account,
            at=lambda d: utc(d["created_at"]),
            per_account=True,
            per_day=True,
        ),
        # which items are answered (done, replied to, sent): derived from the tables above, so that
        # the queue reads the open items without decoding the answered ones
        Table(
            "answered", "answered", account=_account, at=lambda d: utc(d["at"]), per_account=True, kept=False
        ),
        # operators' work
        Table("states", "ops", account=_account, per_account=True, kept=False),
        Table("claims", "ops", at=lambda d: utc(d["expires_at"])),
        Table("contacts", "ops"),
        Table("drafts", "ops", account=_account, at=lambda d: utc(d["updated_at"]), per_account=True),
        Table("handoff_drafts", "ops", at=lambda d: utc(d["updated_at"])),
        # handoffs and shifts
        Table("handoffs", "ops", at=lambda d: utc(d["at"])),
        Table("shifts", "ops", at=lambda d: utc(d["started_at"])),
        # the outbox: one file, so that the one-open-reply rule is checked against all of it
        Table(
            "outbox",
            "ops",
            account=_account,
            at=lambda d: utc(d["updated_at"]),
            ref=lambda d: d["item"],
            unique_open_ref=("state", ("queued", "sending")),
        ),
        # the poller's bookkeeping
        Table("cursors", "sync"),
        Table("health", "sync", account=_account),
        # the audit trail
        Table("audit", "audit", at=lambda d: utc(d["at"]), log=True),
    )
}

GROUPS: dict[str, tuple[str, ...]] = {}
for _table in TABLES.values():
    GROUPS[_table.group] = (*GROUPS.get(_table.group, ()), _table.name)

DATA_TABLES = tuple(name for name, table in TABLES.items() if not table.log)

__all__ = ["TABLES", "GROUPS", "DATA_TABLES", "Table", "utc", "contact_key", "post_key"]
