"""The dashboard with the mouse: select an item by clicking it, reply and send by clicking."""

from __future__ import annotations

from tuikit import NOW, World, screen_text, wait_for

from socialtui.tui.screens.composer import ComposerScreen
from socialtui.tui.screens.dialogs import ConfirmDialog
from socialtui.tui.screens.main import MainScreen
from socialtui.tui.widgets.queue import QueueTable


async def test_click_an_item_then_reply_and_send_with_clicks(world: World) -> None:
    app = world.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: len(app.screen.query_one(QueueTable).shown_ids) == 4, pilot, what="the queue")
        table = app.screen.query_one(QueueTable)
        target = table.shown_ids[2]
        # Click the third row of the queue (row 0 is the header line).
        await pilot.click(QueueTable, offset=(5, 3))
        await wait_for(lambda: table.selected_id == target, pilot, what="the clicked row selected")

        # Every footer key is clickable: "r Reply".
        await pilot.click(footer_key(app, "r"))
        await wait_for(lambda: isinstance(app.screen, ComposerScreen), pilot, what="the composer")
        assert world.store.claims(NOW)[target].login == "alice"
        await pilot.press(*"Thanks for writing in!")
        await pilot.click(footer_key(app, "ctrl+s"))
        await wait_for(lambda: isinstance(app.screen, ConfirmDialog), pilot, what="the confirmation")
        await pilot.click("#yes")
        await wait_for(lambda: isinstance(app.screen, MainScreen), pilot, what="back to the queue")
        await wait_for(lambda: target not in table.shown_ids, pilot, what="the item leaves the queue")
        assert "Thanks for writing in!" not in screen_text(app)


def footer_key(app, key: str):  # type: ignore[no-untyped-def]
    return next(k for k in app.screen.query("FooterKey") if k.key == key)
