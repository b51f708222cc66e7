"""A dashboard is told of a store change at once: with the timed reading a minute away, a mention
another process stored shows in the queue (the watching thread woke on the store)."""

from __future__ import annotations

from tuikit import World, make_item, wait_for

from socialtui.model import Author
from socialtui.store import Store
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
