"""The audit trail of operator actions, and the poller's bookkeeping (cursors, account health)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from socialtui.model import AccountHealth, Actor, from_record, to_record
from socialtui.store.base import StoreBase, audit_doc
from socialtui.store.engine import Writer

if TYPE_CHECKING:
    from socialtui.model_work import AuditEvent

REACTIONS = ("favourite", "boost")
"""Audited reactions to a post; the event's `detail` holds the post's remote id."""
UNDONE = {"unfavourite": "favourite", "unboost": "boost"}
"""Audited actions that take a reaction back (same `detail`), and the reaction each undoes."""


class JournalMixin(StoreBase):
    # -- the audit trail ----------------------------------------------------------------------------

    def audit(
        self, actor: Actor, now: datetime, action: str, account: str = "", item: str = "", detail: str = ""
    ) -> None:
        """Record one event (for actions that change nothing else in the store)."""
        doc = audit_doc(actor, now, action, account, item, detail)
        self._write(["audit"], lambda w: w.append("audit", doc))

    def audit_events(self, since: datetime | None = None) -> list[AuditEvent]:
        """The audit trail, oldest first. A line cut short by a killed writer is skipped."""
        from socialtui.model_work import AuditEvent

        events = []
        for doc in self.engine.log("audit", since):
            try:
                events.append(from_record(AuditEvent, doc))
            except (ValueError, KeyError, TypeError):
                continue
        return events

    def reactions(self, since: datetime | None = None) -> dict[tuple[str, str], dict[str, AuditEvent]]:
        """Favourites and boosts given from our accounts, from the audit trail: per (account, post
        remote id), the latest `favourite` / `boost` event of each kind still standing (an
        `unfavourite` / `unboost` after it takes it away). The audit is the record of what operators
        did; a reaction is one of those actions, so it needs no table of its own."""
        out: dict[tuple[str, str], dict[str, AuditEvent]] = {}
        for event in self.audit_events(since):
            if not event.detail:
                continue
            if event.action in REACTIONS:
                out.setdefault((event.account, event.detail), {})[event.action] = event
            elif event.action in UNDONE:
                given = out.get((event.account, event.detail))
                if given is not None:
                    given.pop(UNDONE[event.action], None)
                    if not given:
                        del out[(event.account, event.detail)]
        return out

    # -- the poller's bookkeeping -------------------------------------------------------------------

    def health(self) -> dict[str, AccountHealth]:
        return self._all("health", AccountHealth)

    def cursor(self, account: str, kind: str) -> str | None:
        doc = self._read(lambda r: r.get("cursors", f"{account}:{kind}"))
        return doc["value"] if doc else None

    def set_cursor(self, account: str, kind: str, value: str) -> None:
        self._write(["cursors"], lambda w: w.put("cursors", f"{account}:{kind}", {"value": value}))

    def set_health(self, health: AccountHealth) -> None:
        """The account's health. A note already stored (`set_health_note`) stays unless `health`
        brings one: the poller reports state, listening reports what the server cannot do."""
        doc = to_record(health)

        def body(w: Writer) -> None:
            if not health.note:
                previous = w.get("health", health.account) or {}
                if previous.get("note"):
                    doc["note"] = previous["note"]
            w.put("health", health.account, doc)

        self._write(["health"], body)

    def set_health_note(self, account: str, note: str) -> bool:
        """Set (or with "" clear) the account's health note. True when it changed (say it once)."""

        def body(w: Writer) -> bool:
            doc = dict(w.get("health", account) or to_record(AccountHealth(account=account)))
            if doc.get("note", "") == note:
                return False
            if note:
                doc["note"] = note
            else:
                doc.pop("note", None)
            w.put("health", account, doc)
            return True

        return self._write(["health"], body)


__all__ = ["JournalMixin"]
