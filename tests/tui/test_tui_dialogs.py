"""The dialogs survive being taken away before they mounted (the `NoMatches '#no'` race)."""

from __future__ import annotations

import pytest
from textual.app import App
from textual.content import Content
from textual.screen import ModalScreen

from socialtui.tui.screens.dialogs import (
    ConfirmDialog,
    DoneDialog,
    NoteDialog,
    QuitDialog,
    SavedRepliesDialog,
    TagsDialog,
)
from socialtui.tui.screens.help import HelpScreen
from socialtui.tui.screens.schedule import WhenDialog


class Host(App[None]):
    """An empty app to push dialogs on."""


@pytest.mark.parametrize(
    "make",
    [
        lambda: ConfirmDialog("Send this reply?", "body"),
        lambda: ConfirmDialog("Send this reply?", "body", default_yes=True),
        lambda: DoneDialog(Content("an item")),
        lambda: NoteDialog(Content("a contact")),
        lambda: QuitDialog(claims=2),
        lambda: SavedRepliesDialog({"thanks": "Thanks!"}),
        lambda: TagsDialog(Content("a contact"), ("vip",)),
        lambda: HelpScreen([]),  # `?` twice, fast: the second closes it
        lambda: WhenDialog(None, Content("a post")),  # type: ignore[arg-type]  # compose never reads it
    ],
    ids=["confirm-no", "confirm-yes", "done", "note", "quit", "saved-replies", "tags", "help", "when"],
)
async def test_a_dialog_popped_before_it_mounted_raises_nothing(make) -> None:  # noqa: ANN001
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(5):
            app.push_screen(make())
            app.pop_screen()  # before the dialog's Mount event is handled
            await pilot.pause()
        assert not isinstance(app.screen, ModalScreen)
        # And a dialog left alone focuses its default as before.
        dialog = ConfirmDialog("Q?", "body")
        app.push_screen(dialog)
        await pilot.pause()
        assert app.focused is not None and app.focused.id == "no"
