"""A reply (or a handoff note) being written, kept in the store as it is typed. Textual-free.

The composer hands every change to `set_text` (on the UI thread) and calls `flush` from a worker
thread now and then; `flush` saves whatever is newest, so saves may overlap or come late without an
older text ever overwriting a newer one. The idempotency key is fixed when the draft is first made
and kept with it, so a reply retried after a crash or a dropped session is never sent twice.

The handoff note being written at the end of a shift is kept the same way, with its pins, in the
store's handoff drafts (one per operator).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime

from socialtui.clock import Clock
from socialtui.model import Actor, Draft, HandoffDraft, Item
from socialtui.store import Store


class DraftKeeper:
    """The draft of one reply or handoff note: the newest text in memory, saved to the store by
    `flush`. `saved`: the draft came from the store (else it is written at the first change)."""

    def __init__(
        self,
        store: Store,
        draft: Draft,
        clock: Clock,
        *,
        saved: bool,
        handoff: bool = False,
        pins: tuple[tuple[str, ...], tuple[str, ...]] = ((), ()),
    ) -> None:
        self.store = store
        self.clock = clock
        self.handoff = handoff
        self.pins = pins
        """(pinned item ids, pinned account ids): a handoff note's pins, saved with its text."""
        self._lock = threading.Lock()
        self.draft = draft
        self._text = draft.text
        self._version = 0
        self._saved_version = 0
        self.saved_at: datetime | None = draft.updated_at if saved else None

    @classmethod
    def for_reply(
        cls,
        store: Store,
        item: Item,
        actor: Actor,
        clock: Clock,
        *,
        existing: Draft | None,
        new_key: str,
        visibility: str,
        spoiler_text: str,
    ) -> DraftKeeper:
        """The reply to `item`: the draft left in the store, or a new one under `new_key`."""
        draft = existing or Draft(
            item=item.id,
            account=item.account,
            text="",
            login=actor.login,
            operator=actor.operator,
            updated_at=clock.now(),
            idempotency_key=new_key,
            visibility=visibility,
            spoiler_text=spoiler_text,
        )
        return cls(store, draft, clock, saved=existing is not None)

    @classmethod
    def for_handoff(
        cls, store: Store, actor: Actor, clock: Clock, *, existing: HandoffDraft | None, text: str
    ) -> DraftKeeper:
        """The operator's handoff note: the draft left in the store (pins included), or `text` (the
        auto-draft), written to the store at its first edit."""
        draft = Draft(
            item="",
            account="",
            text=existing.text if existing else text,
            login=actor.login,
            operator=actor.operator,
            updated_at=existing.updated_at if existing else clock.now(),
            idempotency_key="",
        )
        pins = (existing.pinned_items, existing.pinned_accounts) if existing else ((), ())
        return cls(store, draft, clock, saved=existing is not None, handoff=True, pins=pins)

    def set_pins(self, items: tuple[str, ...], accounts: tuple[str, ...]) -> None:
        if (items, accounts) != self.pins:
            self.pins = (items, accounts)
            self._version += 1

    @property
    def text(self) -> str:
        return self._text

    @property
    def dirty(self) -> bool:
        return self._version != self._saved_version

    def set_text(self, text: str) -> None:
        if text != self._text:
            self._text = text
            self._version += 1

    def new_key(self, key: str) -> None:
        """After a reply failed for good: the next try is a new reply, under a new key."""
        with self._lock:
            self.draft = replace(self.draft, idempotency_key=key)
            self._version += 1

    def flush(self) -> bool:
        """Save the newest text (delete the draft when it is empty). Blocks on the store: call from a
        worker thread. Returns True if something was written. Raises StoreError."""
        with self._lock:
            version, text = self._version, self._text
            if version == self._saved_version:
                return False
            now = self.clock.now()
            if self.handoff:
                self.store.save_handoff_draft(
                    HandoffDraft(
                        operator=self.draft.operator,
                        login=self.draft.login,
                        text=text,
                        updated_at=now,
                        pinned_items=self.pins[0],
                        pinned_accounts=self.pins[1],
                    )
                )
                self.draft = replace(self.draft, text=text, updated_at=now)
            elif text.strip():
                draft = replace(self.draft, text=text, updated_at=now)
                self.store.save_draft(draft)
                self.draft = draft
            else:
                self.store.delete_draft(self.draft.item)
            self._saved_version = version
            self.saved_at = now
            return True

    def sent(self) -> None:
        """The reply is in the outbox (which dropped the draft): nothing left to save."""
        with self._lock:
            self._saved_version = self._version

    def discard(self) -> None:
        """The note was written (or abandoned): drop the draft from the store. Call from a worker
        thread. Raises StoreError."""
        with self._lock:
            if self.handoff:
                self.store.delete_handoff_draft(self.draft.operator)
            else:
                self.store.delete_draft(self.draft.item)
            self._saved_version = self._version


__all__ = ["DraftKeeper"]
