"""The engine contract: what holds the store's tables, beneath the store API.

The store API (`socialtui.store.Store`) is written once, over this contract; an engine only keeps
documents (JSON-ready dicts, as `model.to_record` makes them) in the tables that `schema.TABLES`
declares, and answers a handful of questions about them. Two engines implement it:

- `files` (`files_engine.FilesEngine`): JSON files in the data dir, one per table (per account for
  the bulky tables), locked per table for writes, replaced atomically, read without a lock; the
  embedded default.
- `postgresql` (`postgres.PgEngine`): one SQL table per store table, for a team across hosts.

The contract, in short:

- `transact(tables, body)`: run `body(writer)` as one transaction that may write the named tables
  (and read any). PostgreSQL commits it whole; the files engine replaces the files it changed in
  the order the tables were named, then appends the log lines (the audit), so the store API names
  them in an order whose every prefix is safe. `body` may be run again after a lost connection: it must have no
  effect outside the writer. A failure raises a `StoreError`, and only when nothing was saved.
- `read()`: a view of the latest committed data (the files engine: each file as committed at some
  moment of the read; a transaction over several files may be seen half-way).
- `changes(token)`: what changed since `token` (an opaque value the engine handed out), as documents
  by key (`None`: deleted); a superset is allowed (an unchanged document may come again). The first
  call (`token=None`) gives everything. Change detection is part of the contract so that a dashboard
  pays for what changed, never for the whole store. An engine that forgets old history
  (`prune_changes`: PostgreSQL's tombstones) answers a token older than what it forgot with
  `Everything`: the tables' whole content, which replaces what the follower holds.
- `wait(token, timeout)`: block until something may have changed since `token`, or the timeout.
- `lease(name)`: the right to do something alone (poll an account), across every process of the team.
- `Reader.tally_open(edges, others, head)`: the open items counted per account and kind between
  instants (the care rules' deadlines), and the head of the queue, without decoding every item
  (what `status` and `check` need). Written once over `scan` (`tally_rows`); the files engine
  counts from each items partition's summary instead (`TableFiles.summary`), a database answers it
  with count queries.
- `Reader.newest_each(table, accounts)`: each account's newest document (one statement on a
  database; a scan per account otherwise).
- `Reader.holds_any(table)`: whether the table holds a document at all (one row asked of a
  database; the files engine stops at the first partition that holds one).
"""

from __future__ import annotations

import heapq
from abc import ABC, abstractmethod
from bisect import bisect_right
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

Doc = dict[str, Any]
T = TypeVar("T")


class StoreError(Exception):
    """The store cannot do what was asked. `str()` is a message for the operator."""


class StoreBusy(StoreError):
    """Another process held a lock for longer than we were willing to wait."""


class StoreTooNew(StoreError):
    """The store was written by a newer socialtui: we refuse to read or touch it."""


class StoreCorrupt(StoreError):
    """The store is not what socialtui writes (edited by hand, or not ours). We never overwrite it."""


class StoreWriteFailed(StoreError):
    """The change could not be saved (disk full, permissions, the database gone): nothing was changed."""


class StoreUnavailable(StoreError):
    """The store cannot be reached (the database is down or refuses us); nothing was changed."""


class Conflict(StoreError):
    """A write broke one of the schema's unique rules (one open reply per item); nothing was changed."""


@dataclass(frozen=True)
class Query:
    """Which documents of a table `Reader.scan` returns (every condition given must hold)."""

    account: str | None = None
    since: str | None = None
    """The table's `at` field at or after this ISO-8601 UTC time (`...+00:00`)."""
    until: str | None = None
    """The table's `at` field before this time."""
    refs: Collection[str] | None = None
    """The table's `ref` field is one of these."""
    prefix: str | None = None
    """The key starts with this."""
    unless_in: str | None = None
    """Leave out documents whose key is a key of this other table (the answered items, say)."""
    newest: int | None = None
    """Only the newest this many (by `at`), newest first."""
    unless_field: tuple[str, Collection[str]] | None = None
    """(field, values): leave out documents whose top-level `field` is one of `values` (text; the
    outbox's sent entries, say). A document without the field is kept."""


Group = tuple[str, str]
"""(account, kind): how `Reader.tally_open` groups the open items."""


@dataclass(frozen=True)
class Tally:
    """The open items of one (account, kind), counted between instants (`Reader.tally_open`):
    bucket i holds those received at or after edge i-1 and before edge i."""

    counts: tuple[int, ...]
    first: tuple[tuple[datetime, str] | None, ...]
    """Per bucket: (received at, key) of its earliest item (the smallest key among those received
    at that instant); None for an empty bucket."""


def author_key(doc: Doc) -> tuple[str, str]:
    """(network, handle as compared across the app) of a stored item's author: what
    `care.normalize_handle` makes of it (no leading `@`, lower case)."""
    author = doc["post"]["author"]
    return str(author.get("network", "")), str(author.get("handle", "")).strip().lstrip("@").lower()


def _utc_iso(at: datetime) -> str:
    """An instant as `schema.utc` reads stored times (`+00:00`): comparable as text with them."""
    return at.astimezone(UTC).isoformat()


class Reader(ABC):
    """A view of committed data (inside a transaction: including its own writes)."""

    @abstractmethod
    def get(self, table: str, key: str) -> Doc | None: ...

    @abstractmethod
    def get_many(self, table: str, keys: Collection[str]) -> dict[str, Doc]: ...

    @abstractmethod
    def scan(self, table: str, query: Query | None = None) -> Iterator[tuple[str, Doc]]:
        """Documents of `table` matching `query`, in no particular order (newest first with
        `newest`). Treat the documents as read-only."""

    @abstractmethod
    def keys(self, table: str, query: Query | None = None) -> set[str]: ...

    @abstractmethod
    def count(self, table: str) -> int: ...

    def holds_any(self, table: str) -> bool:
        """Whether the table holds any document (asked at every open of a store: never a count)."""
        return any(True for _ in self.scan(table, Query(newest=1)))

    def newest_each(self, table: str, accounts: Iterable[str]) -> dict[str, Doc]:
        """Each account's newest document of `table` (accounts without any left out): what
        `scan(table, Query(account=a, newest=1))` finds for each, in one go where the engine can."""
        out: dict[str, Doc] = {}
        for account in accounts:
            for _, doc in self.scan(table, Query(account=account, newest=1)):
                out[account] = doc
        return out

    # -- the counts `status` and `check` need, without decoding every item ---------------------------
    # Written here over `scan` on the raw documents (the files engine's reads: JSON parsed, nothing
    # decoded into objects); a database answers them with count queries instead.

    def tally_open(
        self,
        edges: Mapping[Group, Sequence[datetime]],
        others: Collection[tuple[str, str]] = (),
        head: int = 0,
    ) -> tuple[dict[Group, Tally], list[tuple[str, Doc]]]:
        """The open items (not in `answered`) of each (account, kind) in `edges`, counted between its
        instants (ascending), groups without items left out; and the `head` earliest of them (by
        received time, then key): the head of the unanswered queue. Items written by `others`
        ((network, normalized handle): our own accounts) are no work: left out of both."""
        rows = (
            (key, doc.get("account", ""), doc.get("kind", ""), doc, doc["post"]["created_at"], doc)
            for key, doc in self.scan("items", Query(unless_in="answered"))
        )
        tally, earliest = tally_rows(rows, edges, others, head)
        return tally, [(key, doc) for key, doc in earliest]


TallyRow = tuple[str, str, str, Any, str, Any]
"""(key, account, kind, the item's document or its `author_key`, received at as stored, a payload
handed back for the head): an open item as `tally_rows` counts it."""


def tallies(
    groups: Mapping[Group, tuple[Sequence[str], Sequence[int], Sequence[tuple[str, str] | None]]],
) -> dict[Group, Tally]:
    """The tally of each group that has an open item, from its (cuts, counts per bucket, each bucket's
    first (received at as ISO text, key)) as the counting loops keep them."""
    return {
        group: Tally(
            tuple(counts),
            tuple(None if f is None else (datetime.fromisoformat(f[0]), f[1]) for f in first),
        )
        for group, (_, counts, first) in groups.items()
        if any(counts)
    }


def tally_rows(
    rows: Iterable[TallyRow],
    edges: Mapping[Group, Sequence[datetime]],
    others: Collection[tuple[str, str]],
    head: int,
) -> tuple[dict[Group, Tally], list[tuple[str, Any]]]:
    """`Reader.tally_open` over open items given as rows: the tally, and the `head` earliest as
    (key, payload). The author is a document (its `author_key` taken) or an `author_key` already."""
    cuts = {group: [_utc_iso(e) for e in instants] for group, instants in edges.items()}
    # Per group: its cuts, its counts and each bucket's first (received at, key), found at once.
    groups: dict[Group, tuple[list[str], list[int], list[tuple[str, str] | None]]] = {}
    kept: list[tuple[str, str, Any]] = []
    others = set(others)
    # The hot loop over every open item: `schema.utc` of the items' `at` is written out inline.
    for key, account, kind, author, at, payload in rows:
        group = (account, kind)
        found = groups.get(group)
        if found is None:
            cut = cuts.get(group)
            if cut is None:
                continue
            found = groups[group] = (cut, [0] * (len(cut) + 1), [None] * (len(cut) + 1))
        if others and (author if isinstance(author, tuple) else author_key(author)) in others:
            continue
        if at.endswith("Z"):
            at = at[:-1] + "+00:00"
        cut, counts, first = found
        bucket = bisect_right(cut, at)
        counts[bucket] += 1
        seen = first[bucket]
        if seen is None or (at, key) < seen:
            first[bucket] = (at, key)
        if head:
            kept.append((at, key, payload))
    tally = tallies(groups)
    # (received at, key) is unique: the payload is never compared.
    earliest = heapq.nsmallest(head, kept) if head else []
    return tally, [(key, payload) for _, key, payload in earliest]


class Writer(Reader):
    """What a transaction's body writes with."""

    @abstractmethod
    def put(self, table: str, key: str, doc: Doc) -> None: ...

    def put_many(self, table: str, docs: Mapping[str, Doc]) -> None:
        for key, doc in docs.items():
            self.put(table, key, doc)

    @abstractmethod
    def delete(self, table: str, keys: Collection[str]) -> int:
        """Delete these keys; returns how many existed."""

    @abstractmethod
    def append(self, table: str, doc: Doc) -> None:
        """Append to a log table (the audit): never updated, never deleted by operators."""


Changes = dict[str, dict[str, Doc | None]]
"""Per table: the documents that changed, by key; None for a deleted one."""


class Everything(dict[str, dict[str, Doc | None]]):
    """`Changes` that are the whole content of each table asked for (not what changed): a key the
    follower holds and this leaves out was deleted meanwhile."""


Take = Callable[[str, Mapping[str, Doc | None], bool], None]
"""`Engine.follow`'s receiver: (table, some of its changed documents, whether they are part of the
table's whole content, as `Everything` is)."""


@dataclass
class Lease(ABC):
    """The right to do something alone (poll one account) across every process that shares the store.

    A holder that dies loses it: the files engine's is an OS lock the kernel drops; the database's is
    a row with an expiry that its holder renews."""

    name: str
    ttl: float = 30.0
    """Seconds a database lease lasts without renewal (its holder renews every third of it)."""

    @property
    @abstractmethod
    def held(self) -> bool: ...

    @abstractmethod
    def try_acquire(self) -> bool:
        """Take the lease if nobody holds it; True if we hold it now."""

    @abstractmethod
    def renew(self) -> bool:
        """Keep holding it; False if it was lost (expired and taken over)."""

    @abstractmethod
    def release(self) -> None: ...


@dataclass(frozen=True)
class TableCount:
    table: str
    rows: int


@dataclass(frozen=True)
class EngineInfo:
    """What `socialtui store check` reports."""

    engine: str
    location: str
    schema_version: int
    counts: tuple[TableCount, ...] = ()
    size_bytes: int | None = None
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


class Engine(ABC):
    """The contract every engine keeps (see the module's docstring)."""

    name: str = ""

    @abstractmethod
    def transact(self, tables: Sequence[str], body: Callable[[Writer], T]) -> T: ...

    @abstractmethod
    def read(self) -> AbstractContextManager[Reader]: ...

    @abstractmethod
    def changes(self, token: Any, tables: Collection[str]) -> tuple[Any, Changes]:
        """(a new token, what changed in `tables` since `token`; everything when `token` is None)."""

    def follow(self, token: Any, tables: Collection[str], take: Take) -> Any:
        """`changes`, handed to `take` a part at a time (a table may come in several parts, each
        key once), so that a reader decoding them needs never hold all the documents at once;
        returns the new token. The parts of `Everything` come with `whole`: the keys of all the
        parts of a table are its whole content. Here: `changes` in one part per table; the files
        engine hands over a partition at a time."""
        token, changes = self.changes(token, tables)
        whole = isinstance(changes, Everything)
        for table, docs in changes.items():
            take(table, docs, whole)
        return token

    @abstractmethod
    def wait(self, token: Any, tables: Collection[str], timeout: float) -> bool:
        """Block until `tables` may have changed since `token` (True) or `timeout` seconds (False)."""

    @abstractmethod
    def lease(self, name: str, ttl: float = 30.0) -> Lease: ...

    @abstractmethod
    def log(self, table: str, since: datetime | None = None) -> Iterator[Doc]:
        """A log table's documents, oldest first, at or after `since`."""

    @abstractmethod
    def prune_log(self, table: str, before: datetime) -> int:
        """Drop a log table's documents older than `before` (retention); returns how many."""

    def prune_changes(self, keep: timedelta) -> int:
        """Forget the change history (what `changes` needs to report deletions) older than `keep`;
        returns how many records went. A token older than what was forgotten gets `Everything`.
        An engine whose history costs nothing to keep (the files engine) keeps it."""
        return 0

    @abstractmethod
    def info(self) -> EngineInfo: ...

    def close(self) -> None:  # noqa: B027 - an engine with nothing to release keeps this
        """Release connections and files."""


__all__ = [
    "Engine",
    "Reader",
    "Writer",
    "Query",
    "Group",
    "Tally",
    "author_key",
    "Lease",
    "Changes",
    "Everything",
    "Take",
    "Doc",
    "EngineInfo",
    "TableCount",
    "StoreError",
    "StoreBusy",
    "StoreTooNew",
    "StoreCorrupt",
    "StoreWriteFailed",
    "StoreUnavailable",
    "Conflict",
]
