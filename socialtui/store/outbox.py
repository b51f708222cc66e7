"""The outbox: replies and new posts committed before they are sent, one open reply per item.

The check and the insert are one transaction: an item that already has a reply queued or being sent
gets no second one (the engines enforce it too: `schema.TABLES["outbox"].unique_open_ref`), and an
item answered meanwhile gets none unless the operator insists.

A new post is an entry of kind `post` whose `item` is `post:<its key>`: unique, so posts never collide
under that rule. A scheduled post waits as `scheduled` (not open: not yet anyone's to send) until its
`due_at`; `outbox_begin_send` takes it then, under the same lock that makes replies go once. Past its
grace it becomes `missed` (`outbox_mark_missed`) for an operator to send now or cancel
(`outbox_reschedule`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from socialtui.model import Actor, OutboxEntry, from_record, to_record
from socialtui.store.base import StoreBase, audit_doc
from socialtui.store.engine import Conflict, Query, Reader, StoreError, Writer
from socialtui.store.items import answered_doc
from socialtui.timespec import local_time

OPEN = ("queued", "sending")
CHANGEABLE = ("scheduled", "missed")
"""The states of a post an operator may still move, send now or cancel: not yet anyone's to send."""


def post_item(entry_id: str) -> str:
    """The `item` of a new post: its own, so no two posts share one."""
    return f"post:{entry_id}"


class NotChangeable(StoreError):
    """The post is being sent, sent, or cancelled already: too late to change it."""

    def __init__(self, entry: OutboxEntry | None, entry_id: str) -> None:
        self.entry = entry
        what = f"is {entry.state}" if entry is not None else "is not in the outbox"
        if entry is not None and entry.kind != "post":
            what = "is a reply, not a post"
        super().__init__(f"{entry_id} {what}: only a scheduled or missed post can be changed")


class AlreadyQueued(StoreError):
    """The item has a reply queued or being sent already (`entry`); nothing was queued."""

    def __init__(self, entry: OutboxEntry) -> None:
        self.entry = entry
        super().__init__(self.describe(UTC))

    def describe(self, tz: tzinfo) -> str:
        """The refusal as a person reads it, with the time in `tz` (the team's zone), labelled."""
        entry = self.entry
        return (
            f"{entry.item} already has a reply {entry.state} by {entry.operator or entry.login} "
            f"(queued {local_time(entry.created_at, tz, '%H:%M:%S')}); nothing was queued"
        )


class AnsweredMeanwhile(StoreError):
    """The item was answered (done, replied to, sent) before the reply was committed."""

    def __init__(self, item: str, by: str) -> None:
        self.item = item
        self.by = by
        why = {"done": "marked done", "reply": "replied to by the account", "sent": "replied to"}.get(by, by)
        super().__init__(f"{item} has been {why} meanwhile (use --force to reply again)")


def outbox_doc(entry: OutboxEntry) -> dict[str, Any]:
    """The entry as stored: its state always written (the engines index it), even at its default."""
    doc = to_record(entry)
    doc["state"] = entry.state
    return doc


def _open_entry(r: Reader, item: str) -> OutboxEntry | None:
    # Of the entries not sent (the open ones are among them): an engine may keep those apart from
    # the replies sent, which the outbox keeps for the whole retention period.
    for _, doc in r.scan("outbox", Query(refs=[item], unless_field=("state", ("sent",)))):
        if doc.get("state", "queued") in OPEN:
            return from_record(OutboxEntry, doc)
    return None


class OutboxMixin(StoreBase):
    def outbox(self) -> list[OutboxEntry]:
        return list(self._all("outbox", OutboxEntry).values())

    def outbox_entry(self, entry_id: str) -> OutboxEntry | None:
        doc = self._read(lambda r: r.get("outbox", entry_id))
        return from_record(OutboxEntry, doc) if doc else None

    def outbox_add(
        self, entry: OutboxEntry, actor: Actor, now: datetime, *, check_answered: bool = False
    ) -> OutboxEntry:
        """Commit a reply durably before it is sent. An entry with the same key is returned as it is;
        raises AlreadyQueued (another open reply to the item), or AnsweredMeanwhile (with
        `check_answered`, if the item was answered by the time of the commit)."""

        def body(w: Writer) -> OutboxEntry:
            doc = w.get("outbox", entry.id)
            if doc is not None:
                return from_record(OutboxEntry, doc)
            other = _open_entry(w, entry.item)
            if other is not None:
                raise AlreadyQueued(other)
            if check_answered:
                answered = w.get("answered", entry.item)
                if answered is not None:
                    raise AnsweredMeanwhile(entry.item, answered.get("by", ""))
            w.put("outbox", entry.id, outbox_doc(entry))
            if entry.kind == "post":
                action = "post-scheduled" if entry.state == "scheduled" else "post-queued"
                detail = f"{entry.due_at.isoformat() if entry.due_at else 'now'}: {entry.text[:200]}"
                w.append("audit", audit_doc(actor, now, action, entry.account, entry.item, detail))
                return entry
            w.delete("drafts", [entry.item])
            w.append(
                "audit", audit_doc(actor, now, "reply-queued", entry.account, entry.item, entry.text[:200])
            )
            return entry

        try:
            # `answered` is named (locked) though only read: a "done" cannot slip in between.
            return self._write(["outbox", "drafts", "audit", "answered"], body)
        except Conflict:
            # Another process committed its reply between our look and our insert.
            other = self._read(lambda r: _open_entry(r, entry.item))
            if other is None:
                raise
            raise AlreadyQueued(other) from None

    def outbox_update(self, entry: OutboxEntry, actor: Actor | None = None, action: str = "") -> None:
        """Record a new state of an outbox entry; `action` (reply-sent, reply-failed) is audited."""

        def body(w: Writer) -> None:
            w.put("outbox", entry.id, outbox_doc(entry))
            if entry.state == "sent" and entry.kind == "reply":
                w.delete("claims", [entry.item])
                w.put("answered", entry.item, answered_doc(entry.account, entry.updated_at, "sent"))
            if actor is not None and action:
                detail = entry.url or entry.remote_id if entry.state == "sent" else entry.error
                w.append(
                    "audit", audit_doc(actor, entry.updated_at, action, entry.account, entry.item, detail)
                )

        self._write(["outbox", "claims", "audit", "answered"], body)

    def outbox_begin_send(
        self,
        entry_id: str,
        now: datetime,
        stale_after: timedelta = timedelta(minutes=2),
        *,
        grace: timedelta | None = None,
    ) -> tuple[OutboxEntry, bool] | None:
        """Take an outbox entry for sending: it must be queued, scheduled and due (within `grace` of
        its time, when given), or stuck in `sending` for longer than `stale_after` (its sender died).
        Returns (entry, was_sending); None if another process has it, it is not due, or it is
        finished. A `was_sending` entry may already be on the server: look before sending."""

        def body(w: Writer) -> tuple[OutboxEntry, bool] | None:
            doc = w.get("outbox", entry_id)
            if doc is None:
                return None
            entry = from_record(OutboxEntry, doc)
            stale = entry.state == "sending" and now - entry.updated_at >= stale_after
            due = (
                entry.state == "scheduled"
                and entry.due_at is not None
                and entry.due_at <= now
                and (grace is None or now - entry.due_at <= grace)
            )
            if entry.state != "queued" and not stale and not due:
                return None
            entry = replace(entry, state="sending", attempts=entry.attempts + 1, updated_at=now)
            w.put("outbox", entry.id, outbox_doc(entry))
            return entry, stale

        return self._write(["outbox"], body)

    def outbox_mark_missed(self, entry_id: str, now: datetime, grace: timedelta) -> OutboxEntry | None:
        """A scheduled post more than `grace` past its time (nothing was running to send it, or its
        sends kept failing) becomes `missed`: never sent silently late, kept for an operator. None if
        it was not such a post."""

        def body(w: Writer) -> OutboxEntry | None:
            doc = w.get("outbox", entry_id)
            if doc is None:
                return None
            entry = from_record(OutboxEntry, doc)
            waiting = entry.state == "scheduled" or (entry.state == "queued" and entry.kind == "post")
            if not waiting or entry.due_at is None or now - entry.due_at <= grace:
                return None
            late = format_late(now - entry.due_at)
            missed = replace(entry, state="missed", updated_at=now, error=f"not sent: {late} past its time")
            w.put("outbox", entry.id, outbox_doc(missed))
            system = Actor("socialtui", "socialtui")
            w.append("audit", audit_doc(system, now, "post-missed", entry.account, entry.item, missed.error))
            return missed

        return self._write(["outbox", "audit"], body)

    def outbox_reschedule(
        self,
        entry_id: str,
        actor: Actor,
        now: datetime,
        *,
        due_at: datetime | None = None,
        cancel: bool = False,
        text: str | None = None,
        visibility: str | None = None,
        spoiler_text: str | None = None,
    ) -> OutboxEntry:
        """An operator's change to a post not yet anyone's to send (scheduled or missed): cancel it;
        or give it new text (checked by the caller against the network's rules) and move it to
        `due_at`, or (`due_at` None) send it now. Audited. Raises NotChangeable when it is too late
        (being sent, sent, cancelled)."""

        def body(w: Writer) -> OutboxEntry:
            doc = w.get("outbox", entry_id)
            entry = from_record(OutboxEntry, doc) if doc is not None else None
            if entry is None or entry.kind != "post" or entry.state not in CHANGEABLE:
                raise NotChangeable(entry, entry_id)
            if cancel:
                changed = replace(entry, state="cancelled", updated_at=now, error="")
                action, detail = "post-cancelled", entry.text[:200]
            else:
                changed = replace(
                    entry,
                    text=entry.text if text is None else text,
                    visibility=entry.visibility if visibility is None else visibility,
                    spoiler_text=entry.spoiler_text if spoiler_text is None else spoiler_text,
                    state="scheduled" if due_at is not None else "queued",
                    due_at=due_at if due_at is not None else now,
                    updated_at=now,
                    error="",
                )
                edited = (changed.text, changed.visibility, changed.spoiler_text) != (
                    entry.text,
                    entry.visibility,
                    entry.spoiler_text,
                )
                was = entry.due_at.isoformat() if entry.due_at else "?"
                when = due_at.isoformat() if due_at is not None else "now"
                if edited:
                    action, detail = "post-edited", f"{was} -> {when}: {changed.text[:200]}"
                elif due_at is not None:
                    action, detail = "post-moved", f"{was} -> {when}"
                else:
                    action, detail = "post-send-now", entry.text[:200]
            w.put("outbox", entry.id, outbox_doc(changed))
            w.append("audit", audit_doc(actor, now, action, entry.account, entry.item, detail))
            return changed

        return self._write(["outbox", "audit"], body)


def format_late(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


__all__ = [
    "OutboxMixin",
    "AlreadyQueued",
    "AnsweredMeanwhile",
    "NotChangeable",
    "OPEN",
    "CHANGEABLE",
    "post_item",
]
