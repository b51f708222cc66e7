"""A reply that failed for good, on the dashboard: ✖ on its item in the queue, the server's reason
(cleaned) in the detail, `X` to discard it (as `socialtui reply ITEM --discard`), `r` to edit and send
it again."""

from __future__ import annotations

from tuikit import ALICE, World, replace, screen_text, wait_for

from socialtui.model import OutboxEntry
from socialtui.tui.screens.composer import ComposerScreen
from socialtui.tui.screens.dialogs import ConfirmDialog
from socialtui.tui.screens.main import MainScreen
from socialtui.tui.widgets.queue import QueueTable

# What a hostile server put in its error body: a terminal title (OSC) and a clear-screen sequence.
HOSTILE_ERROR = "HTTP 422: \x1b]0;pwned\x07\x1b[2JText too long"


def fail_a_reply(world: World, index: int = 0, error: str = HOSTILE_ERROR) -> OutboxEntry:
    item = world.items[index]
    at = world.clock.now()
    failed = OutboxEntry(
        "key-1",
        item.id,
        item.account,
        "Thanks for asking!",
        "alice",
        "Alice",
        at,
        at,
        state="failed",
        error=error,
        failure="content",
    )
    world.store.outbox_add(replace(failed, state="queued"), ALICE, at)
    world.store.outbox_update(failed, ALICE, "reply-failed")
    return failed


def row_text(app, item_id: str) -> str:  # type: ignore[no-untyped-def]
    """The queue row of the item as text ("" until the queue shows it)."""
    if item_id not in shown_ids(app):
        return ""
    return " ".join(str(cell) for cell in app.screen.query_one(QueueTable).get_row(item_id))


def shown_ids(app) -> list[str]:  # type: ignore[no-untyped-def]
    return app.screen.query_one(QueueTable).shown_ids if isinstance(app.screen, MainScreen) else []


async def test_a_failed_reply_is_marked_in_the_queue_and_its_cleaned_error_is_in_the_detail(
    world: World,
) -> None:
    failed = fail_a_reply(world)
    other = world.items[1]
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(shown_ids(app)) == 4, pilot, what="the queue")
        await wait_for(lambda: "✖" in row_text(app, failed.item), pilot, what="the mark on its item")
        assert "✖" not in row_text(app, other.id), "only the item whose reply failed"
        app.screen.query_one(QueueTable).select(failed.item)
        await pilot.press("enter")
        await wait_for(lambda: "reply failed:" in screen_text(app), pilot, what="the failure in the detail")
        shown = screen_text(app)
        assert "HTTP 422: Text too long" in shown, "the server's reason, without its escape sequences"
        assert "\x1b" not in shown and "\x07" not in shown
        assert "Thanks for asking!" in shown
        assert "X: discard" in shown


async def test_x_discards_the_failed_reply_and_audits_it_as_the_cli_does(world: World) -> None:
    failed = fail_a_reply(world)
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: "✖" in row_text(app, failed.item), pilot, what="the mark")
        app.screen.query_one(QueueTable).select(world.items[1].id)
        await pilot.press("X")
        await wait_for(
            lambda: any("No failed reply" in m for _, m in app.told), pilot, what="nothing to discard there"
        )
        app.screen.query_one(QueueTable).select(failed.item)
        await pilot.press("X")
        await wait_for(lambda: "✖" not in row_text(app, failed.item), pilot, what="the mark to go")
        await wait_for(lambda: "reply failed" not in screen_text(app), pilot, what="the header flag to go")
        assert failed.item in shown_ids(app), "the item itself still waits for an answer"
    assert world.store.outbox_entry(failed.id).state == "discarded"
    discards = [e for e in world.store.audit_events() if e.action == "reply-discarded"]
    assert [(e.operator, e.item) for e in discards] == [("Alice", failed.item)]


async def test_r_opens_the_composer_with_the_failed_text_and_sending_it_clears_the_mark(
    world: World,
) -> None:
    failed = fail_a_reply(world)
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: "✖" in row_text(app, failed.item), pilot, what="the mark")
        app.screen.query_one(QueueTable).select(failed.item)
        await pilot.press("r")
        await wait_for(lambda: isinstance(app.screen, ComposerScreen), pilot, what="the composer")
        composer = app.screen
        assert isinstance(composer, ComposerScreen)
        assert composer.keeper.text == "Thanks for asking!", "the failed text, to edit and send again"
        await pilot.press("end", *" :)")
        await pilot.press("ctrl+s")
        await wait_for(lambda: isinstance(app.screen, ConfirmDialog), pilot, what="the confirmation")
        await pilot.press("y")
        await wait_for(lambda: isinstance(app.screen, MainScreen), pilot, what="back to the queue")
        await wait_for(lambda: failed.item not in shown_ids(app), pilot, what="answered: out of the queue")
        await wait_for(lambda: "reply failed" not in screen_text(app), pilot, what="the header flag to go")
    sent = world.adapters[failed.account].sent
    assert len(sent) == 1 and sent[0][:2] == (failed.item, "Thanks for asking! :)")
    assert sent[0][2] != failed.id, "a new try is a new reply, under a new key"


async def test_the_palette_offers_to_discard_a_failed_reply(world: World) -> None:
    failed = fail_a_reply(world)
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: "✖" in row_text(app, failed.item), pilot, what="the mark")
        app.screen.query_one(QueueTable).select(failed.item)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Discard the failed reply" in titles
        command = next(
            c for c in app.get_system_commands(app.screen) if c.title == "Discard the failed reply"
        )
        command.callback()
        await wait_for(
            lambda: world.store.outbox_entry(failed.id).state == "discarded", pilot, what="discarded"
        )
