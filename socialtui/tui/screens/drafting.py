"""What both composers (a reply, a handoff note) do with the text being typed: hand it to their
`DraftKeeper`, save it a moment later in a worker (the store may block), retry a failed save, and on
hang-up save the last keystroke on the spot."""

from __future__ import annotations

from textual import work
from textual.timer import Timer

from socialtui.store import StoreError
from socialtui.tui.drafts import DraftKeeper

SAVE_AFTER = 0.5
"""Seconds between draft saves while typing."""


class DraftWriting:
    """A mixin for a Screen with a `keeper`, a `text` property and a `_show_status()` method."""

    keeper: DraftKeeper
    draft_noun = "Draft"
    _save_timer: Timer | None = None

    @property
    def text(self) -> str:
        raise NotImplementedError

    def _show_status(self) -> None:
        raise NotImplementedError

    def draft_changed(self) -> None:
        """The text (or the pins) changed: save a moment from now, once."""
        self.keeper.set_text(self.text)
        if self.keeper.dirty and self._save_timer is None:
            self._save_timer = self.set_timer(SAVE_AFTER, self._save_now)  # type: ignore[attr-defined]  # a mixin: the Screen it is mixed into has it

    def stop_saving(self) -> None:
        if self._save_timer is not None:
            self._save_timer.stop()
            self._save_timer = None

    def _save_now(self) -> None:
        self._save_timer = None
        self._save_draft()

    @work(group="draft", exit_on_error=False)
    async def _save_draft(self) -> None:
        try:
            await self.app.in_thread(self.keeper.flush)  # type: ignore[attr-defined]  # a mixin: the Screen it is mixed into has it
        except StoreError as exc:
            self.app.tell(f"{self.draft_noun} not saved (will retry): {exc}", "warning")  # type: ignore[attr-defined]  # a mixin: the Screen it is mixed into has it
            if self._save_timer is None:
                self._save_timer = self.set_timer(SAVE_AFTER * 4, self._save_now)  # type: ignore[attr-defined]  # a mixin: the Screen it is mixed into has it
            return
        self._show_status()

    def keep_draft_now(self) -> None:
        """Save the draft at once, on this thread: the session is going away (SIGHUP)."""
        try:
            self.keeper.set_text(self.text)
            self.keeper.flush()
        except StoreError:
            pass  # the last save, at most half a second old, stays
