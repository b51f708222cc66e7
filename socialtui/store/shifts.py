"""Handoffs and shifts: the notes one shift leaves the next, their acknowledgements, who is on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from socialtui.model import (
    Actor,
    Claim,
    Shift,
    from_record,
    to_record,
)
from socialtui.store.base import NotFoundInStore, StoreBase, audit_doc
from socialtui.store.engine import StoreError, Writer

if TYPE_CHECKING:
    # Imported where they are made, not here: `status` reads the handoff notes only when a shift
    # could have one overdue (see `model_work`).
    from socialtui.model_work import HandoffDraft, HandoffNote, OpenWork


def shift_key(shift: Shift) -> str:
    return f"{shift.operator}@{shift.started_at.isoformat()}"


def _end_shift(w: Writer, actor: Actor, now: datetime) -> list[str]:
    """End the operator's open shift and release their claims; returns the items released."""
    for _, doc in list(w.scan("shifts")):
        if doc.get("operator") == actor.operator and doc.get("ended_at") is None:
            shift = replace(from_record(Shift, doc), ended_at=now)
            w.put("shifts", shift_key(shift), to_record(shift))
            w.append("audit", audit_doc(actor, now, "shift-end"))
    released = []
    for key, doc in list(w.scan("claims")):
        if doc.get("operator") != actor.operator:
            continue
        claim = from_record(Claim, doc)
        w.delete("claims", [key])
        if claim.expires_at > now:
            released.append(claim.item)
            w.append("audit", audit_doc(actor, now, "release", "", claim.item, "shift ended"))
    return sorted(released)


class ShiftsMixin(StoreBase):
    def handoffs(self) -> list[HandoffNote]:
        """Every handoff note, oldest first."""
        from socialtui.model_work import HandoffNote

        notes = list(self._all("handoffs", HandoffNote).values())
        return sorted(notes, key=lambda note: (note.at, note.id))

    def shifts(self, operator: str | None = None) -> list[Shift]:
        shifts = self._all("shifts", Shift).values()
        return sorted(
            (s for s in shifts if operator is None or s.operator == operator), key=lambda s: s.started_at
        )

    def write_handoff(
        self,
        text: str,
        actor: Actor,
        now: datetime,
        *,
        pinned_items: Iterable[str] = (),
        pinned_accounts: Iterable[str] = (),
        work: OpenWork | None = None,
    ) -> HandoffNote:
        """Write the note, end the writer's shift and release their claims, in one transaction.
        `work` (`handoff.open_work`) is the open work it carries as data; the claims it names are
        those actually released here, so the note never promises a claim that was not the writer's."""
        import secrets  # here: a command that reads the store never needs it

        from socialtui.model_work import HandoffNote

        text = text.strip()
        if not text:
            raise StoreError("a handoff note needs some text")
        note = HandoffNote(
            id=f"{now.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}",
            login=actor.login,
            operator=actor.operator,
            at=now,
            text=text,
            pinned_items=tuple(pinned_items),
            pinned_accounts=tuple(pinned_accounts),
        )
        if work is not None:
            note = replace(
                note,
                has_work=True,
                open_items=work.open_items,
                drafts=work.drafts,
                accounts=work.accounts,
            )

        def body(w: Writer) -> HandoffNote:
            w.delete("handoff_drafts", [actor.operator])
            released = _end_shift(w, actor, now)
            written = replace(note, claims=tuple(released)) if work is not None else note
            w.put("handoffs", note.id, to_record(written))
            w.append("audit", audit_doc(actor, now, "handoff", "", "", f"{note.id}: {text[:200]}"))
            return written

        return self._write(["handoffs", "handoff_drafts", "shifts", "claims", "audit"], body)

    def ack_handoffs(
        self, actor: Actor, now: datetime, note_id: str | None = None, *, take_over: timedelta | None = None
    ) -> list[HandoffNote]:
        """Acknowledge one note, or every note this operator has not acknowledged (and did not write).

        With `take_over` (the claim time-to-live), the first to acknowledge a note takes over the
        work its writer released: each claimed item still unanswered and not claimed by someone
        else is claimed for the acknowledger (audited), and the note says who took it over."""
        from socialtui.model_work import HandoffAck, HandoffNote

        def body(w: Writer) -> list[HandoffNote]:
            docs = dict(w.scan("handoffs"))
            if note_id is not None:
                keys = [k for k in docs if k == note_id or k.startswith(note_id)]
                if len(keys) != 1:
                    raise NotFoundInStore(f"no single handoff note matches {note_id!r}")
            else:
                keys = list(docs)
            acked = []
            for key in keys:
                note = from_record(HandoffNote, docs[key])
                if note.acked_by(actor.operator) or (note_id is None and note.operator == actor.operator):
                    continue
                note = replace(note, acks=note.acks + (HandoffAck(actor.login, actor.operator, now),))
                w.append("audit", audit_doc(actor, now, "handoff-ack", "", "", note.id))
                if (
                    take_over is not None
                    and note.claims
                    and not note.taken_over_by
                    and note.operator != actor.operator
                ):
                    note = replace(note, taken_over_by=actor.operator)
                    accounts = {i.id: i.account for i in note.open_items}
                    for item in note.claims:
                        if w.get("answered", item) is not None:
                            continue
                        held = w.get("claims", item)
                        if held is not None and held.get("operator") != actor.operator:
                            if from_record(Claim, held).expires_at > now:
                                continue
                        claim = Claim(item, actor.login, actor.operator, now, now + take_over)
                        w.put("claims", item, to_record(claim))
                        detail = f"taken over from {note.operator} (handoff {note.id})"
                        w.append(
                            "audit", audit_doc(actor, now, "claim", accounts.get(item, ""), item, detail)
                        )
                w.put("handoffs", key, to_record(note))
                acked.append(note)
            return acked

        return self._write(["handoffs", "claims", "answered", "audit"], body)

    def start_shift(
        self, actor: Actor, now: datetime, resume_within: timedelta = timedelta(hours=12)
    ) -> Shift:
        """Start the operator's shift, or resume their open one. An open shift older than
        `resume_within` (a dashboard that died without a handoff) is closed now and a new one starts."""

        def body(w: Writer) -> Shift:
            for _, doc in list(w.scan("shifts")):
                if doc.get("operator") != actor.operator or doc.get("ended_at") is not None:
                    continue
                shift = from_record(Shift, doc)
                if now - shift.started_at < resume_within:
                    return shift
                w.put("shifts", shift_key(shift), to_record(replace(shift, ended_at=now)))
            shift = Shift(login=actor.login, operator=actor.operator, started_at=now)
            w.put("shifts", shift_key(shift), to_record(shift))
            w.append("audit", audit_doc(actor, now, "shift-start"))
            return shift

        return self._write(["shifts", "audit"], body)

    def end_shift(self, actor: Actor, now: datetime) -> list[str]:
        """End the operator's shift without a note; their claims are released. Returns those items."""
        return self._write(["shifts", "claims", "audit"], lambda w: _end_shift(w, actor, now))

    def on_shift(self, now: datetime) -> list[Shift]:
        """The shifts open now (one per operator on shift), earliest first."""
        return [s for s in self.shifts() if s.ended_at is None and s.started_at <= now]

    def save_handoff_draft(self, draft: HandoffDraft) -> None:
        """Keep the end-of-shift note as it is typed, pins included (not audited: not written yet)."""
        self._write(["handoff_drafts"], lambda w: w.put("handoff_drafts", draft.operator, to_record(draft)))

    def handoff_draft(self, operator: str) -> HandoffDraft | None:
        from socialtui.model_work import HandoffDraft

        doc = self._read(lambda r: r.get("handoff_drafts", operator))
        return from_record(HandoffDraft, doc) if doc else None

    def delete_handoff_draft(self, operator: str) -> None:
        self._write(["handoff_drafts"], lambda w: w.delete("handoff_drafts", [operator]))


__all__ = ["ShiftsMixin", "shift_key"]
