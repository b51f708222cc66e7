"""Retention: what the store forgets, and when.

Older than the team's `retention`: answered items (with their states, claims, drafts), own posts but
each account's latest (gaps are measured from it), home timelines, sent replies, written handoff
notes, ended shifts and forgotten drafts. Unanswered items, unsent or failed replies and open shifts
are kept whatever their age. The audit trail keeps its own retention, `AUDIT_RETENTION` (a year and a
month: long enough for a yearly review). The engine's change history (PostgreSQL's tombstones of
deleted rows) is kept for `CHANGES_KEPT`.

`prune_if_due` runs it on a timer inside `sync` and a dashboard that polls, under a lease, so that
one process of the team prunes at a time.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from socialtui.store.base import StoreBase, iso
from socialtui.store.engine import Query, Writer
from socialtui.store.schema import utc

AUDIT_RETENTION = timedelta(days=400)
CHANGES_KEPT = timedelta(days=1)
"""How long an engine keeps the history that followers need to see deletions (PostgreSQL's
tombstones): a dashboard that has not looked for longer re-reads everything once."""
PRUNE_EVERY = 3600.0
"""Seconds between two prunes by one process."""


class RetentionMixin(StoreBase):
    _last_prune: float | None = None

    def prune(
        self, now: datetime, retention: timedelta, audit_retention: timedelta = AUDIT_RETENTION
    ) -> dict[str, int]:
        """Drop what is older than the retention period (see the module). Returns counts per table."""
        cutoff = iso(now - retention)
        removed: dict[str, int] = {}

        def own(w: Writer) -> None:
            latest: dict[str, tuple[str, str]] = {}
            old = []
            for key, doc in w.scan("own"):
                at = utc(doc["created_at"])
                if doc["account"] not in latest or at > latest[doc["account"]][0]:
                    latest[doc["account"]] = (at, key)
                if at < cutoff:
                    old.append(key)
            keep = {key for _, key in latest.values()}
            removed["own_posts"] = w.delete("own", [key for key in old if key not in keep])

        def work(w: Writer) -> None:
            answered = w.keys("answered")
            old_items = w.keys("items", Query(until=cutoff))
            gone = old_items & answered
            removed["items"] = w.delete("items", gone)
            # Operators' work on items that are no longer in the store: pruned now or before (an
            # item's own work goes with it; a draft or state of something else once it is old).
            states = {k for k, d in w.scan("states") if k in gone or (utc(d.get("at") or "") < cutoff)}
            drafts = {k for k, d in w.scan("drafts") if k in gone or utc(d["updated_at"]) < cutoff}
            orphans = states | drafts
            present = set(w.get_many("items", orphans))
            removed["states"] = w.delete("states", {k for k in states if k not in present or k in gone})
            removed["drafts"] = w.delete("drafts", {k for k in drafts if k not in present or k in gone})
            removed["claims"] = w.delete(
                "claims", {k for k, d in w.scan("claims") if k in gone or utc(d["expires_at"]) < iso(now)}
            )
            removed["outbox"] = w.delete(
                "outbox",
                {
                    k
                    for k, d in w.scan("outbox")
                    if d.get("state") in ("sent", "discarded") and utc(d["updated_at"]) < cutoff
                },
            )
            removed["handoffs"] = w.delete("handoffs", w.keys("handoffs", Query(until=cutoff)))
            removed["handoff_drafts"] = w.delete(
                "handoff_drafts", w.keys("handoff_drafts", Query(until=cutoff))
            )
            removed["shifts"] = w.delete(
                "shifts",
                {k for k, d in w.scan("shifts") if d.get("ended_at") and utc(d["ended_at"]) < cutoff},
            )
            candidates = w.keys("answered", Query(until=cutoff)) | gone
            removed["answered"] = w.delete("answered", candidates - set(w.get_many("items", candidates)))

        self._write(["own"], own)
        self._write(
            [
                "items",
                "states",
                "drafts",
                "claims",
                "outbox",
                "handoffs",
                "handoff_drafts",
                "shifts",
                "answered",
            ],
            work,
        )
        removed["home_posts"] = self._write(
            ["home"], lambda w: w.delete("home", w.keys("home", Query(until=cutoff)))
        )
        removed["audit"] = self.engine.prune_log("audit", now - audit_retention)
        removed["tombstones"] = self.engine.prune_changes(CHANGES_KEPT)
        return removed

    def prune_if_due(
        self, now: datetime, retention: timedelta, every: float = PRUNE_EVERY
    ) -> dict[str, int] | None:
        """Prune if this process has not for `every` seconds and no other process is pruning."""
        started = time.monotonic()
        if self._last_prune is not None and started - self._last_prune < every:
            return None
        lease = self.engine.lease("_retention", ttl=300.0)
        if not lease.try_acquire():
            return None
        try:
            self._last_prune = started
            return self.prune(now, retention)
        finally:
            lease.release()


__all__ = ["RetentionMixin", "AUDIT_RETENTION", "CHANGES_KEPT", "PRUNE_EVERY"]
