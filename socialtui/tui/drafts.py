"""A reply being written, kept in the store as it is typed. Textual-free.

The composer hands every change to `set_text` (on the UI thread) and calls `flush` from a worker
thread now and then; `flush` saves whatever is newest, so saves may overlap or come late without an
older text ever overwriting a newer one. The idempotency key is fixed when the draft is first made
and kept with it, so a reply retried after a crash or a dropped session is never sent twice.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime

from socialtui.clock import Clock
from socialtui.model import Actor, Draft, Item
from socialtui.store import Store


class DraftKeeper:
    """The draft of one reply: the newest text in memory, saved to the store by `flush`."""

    def __init__(
        self,
        store: Store,
        item: Item,
        actor: Actor,
        clock: Clock,
        *,
        existing: Draft | None,
        new_key: str,
        visibility: str,
        spoiler_text: str,
    ) -> None:
        self.store = store
        self.clock = clock
        self._lock = threading.Lock()
        self.draft = existing or Draft(
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
        self._text = self.draft.text
        self._version = 0
        self._saved_version = 0
        self.saved_at: datetime | None = existing.updated_at if existing else None

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
            if text.strip():
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


__all__ = ["DraftKeeper"]
