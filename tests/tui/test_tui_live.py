"""A dashboard is told of a store change at once: with the timed reading a minute away, a mention
another process stored shows in the queue (the watching thread woke on the store)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from tuikit import World, make_item, screen_text, wait_for

from socialtui.model import AccountHealth, Author
from socialtui.store import Store
from socialtui.tui.screens.help import HelpScreen
from socialtui.tui.screens.main import MainScreen
from socialtui.tui.widgets.queue import QueueTable


def queue_ids(app) -> list[str]:  # type: ignore[no-untyped-def]
    return app.screen.query_one(QueueTable).shown_ids if isinstance(app.screen, MainScreen) else []


async def test_a_mention_stored_elsewhere_shows_without_waiting_for_the_timed_reading(world: World) -> None:
    app = world.app(refresh_every=60)  # the clock's reading will not come during this test
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot, what="the queue")
        await wait_for(lambda: app._store_watcher is not None, pilot, what="the watching thread")
        poller = Store(world.config.team.data_dir)  # the poller's process, in effect
        try:
            new = make_item("acme-mastodon", "7777", Author("mastodon", "lee@example.net"), "Is it live?", 1)
            poller.put_items([new])
        finally:
            poller.close()
        await wait_for(lambda: new.id in queue_ids(app), pilot, what="the new mention in the queue")


async def test_the_accounts_rows_say_live_or_poll_at_80_columns(world: World) -> None:
    """At 80x24 each account is one line; a healthy one ends with how its poller hears of its items:
    `live` while the lease holder confirms its stream, `poll` otherwise, and `live` turns to `poll`
    when the confirmation lapses (a poller that died) without anything else written to the store."""
    now = world.clock.now()
    live = AccountHealth(
        "acme-mastodon",
        "ok",
        last_sync_at=now,
        last_ok_at=now,
        mode="live",
        live_until=now + timedelta(seconds=60),
    )
    world.store.set_health(live)
    world.store.set_health(
        AccountHealth("acme-bluesky", "ok", last_sync_at=now, last_ok_at=now, mode="polling")
    )
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:

        def row(handle: str) -> str:
            return next((line for line in screen_text(app).splitlines() if handle in line), "")

        await wait_for(lambda: row("@acme@").rstrip().endswith(" live"), pilot, what="acme-mastodon live")
        await wait_for(
            lambda: row("acme.bsky.example").rstrip().endswith(" poll"), pilot, what="acme-bluesky poll"
        )
        world.clock.advance(timedelta(seconds=61))  # nobody confirmed the stream: polling's rules
        await wait_for(lambda: row("@acme@").rstrip().endswith(" poll"), pilot, what="acme-mastodon poll")
        await pilot.press("question_mark")  # the legend is at the end of the help
        await wait_for(lambda: isinstance(app.screen, HelpScreen), pilot, what="the help")
        app.screen.query_one("#help-keys").scroll_end(animate=False)
        await wait_for(lambda: "Signs in the accounts rows" in screen_text(app), pilot, what="the legend")
        assert "the server streams the account's notifications" in screen_text(app)


async def test_a_live_confirmation_repaints_the_accounts_row_and_leaves_the_queue(world: World) -> None:
    """The sync service confirms a live stream by rewriting the account's health, once per poll
    interval: the dashboard wakes for it, reads the accounts' rows again (the row says `live`) and
    neither applies the care rules to the queue again nor hands the queue table a new queue."""
    app = world.app(refresh_every=60)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot, what="the queue")
        await wait_for(lambda: app._store_watcher is not None, pilot, what="the watching thread")
        table = app.screen.query_one(QueueTable)
        entries, readings = table.entries, app.follower.queue_readings

        def row(handle: str) -> str:
            return next((line for line in screen_text(app).splitlines() if handle in line), "")

        now = world.clock.now()
        poller = Store(world.config.team.data_dir)  # the sync service's process, in effect
        try:
            health = AccountHealth(
                "acme-mastodon",
                "ok",
                last_sync_at=now,
                last_ok_at=now,
                mode="live",
                live_until=now + timedelta(seconds=60),
            )
            poller.set_health(health)
            await wait_for(lambda: row("@acme@").rstrip().endswith(" live"), pilot, what="the row live")
            poller.set_health(replace(health, mode="polling", live_until=None))
            await wait_for(lambda: row("@acme@").rstrip().endswith(" poll"), pilot, what="the row poll")
        finally:
            poller.close()
        assert app.follower.queue_readings == readings, "the care rules were applied to the queue again"
        assert table.entries is entries, "the queue table was handed a new queue"
        assert len(queue_ids(app)) == 4
