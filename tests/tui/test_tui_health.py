"""The header tells the truth about the sync: stale data from a poller that stopped or hangs, and
replies that failed for good."""

from __future__ import annotations

from datetime import timedelta

from tuikit import World, screen_text, wait_for


async def test_the_header_says_the_sync_is_stale(world: World) -> None:
    # Every account last synced at NOW; the poll interval is 30s. A poller that hangs keeps its leases
    # and writes nothing: the dashboard only sees the last sync times grow old.
    world.clock.advance(timedelta(minutes=10))
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: "sync stale 10m" in screen_text(app), pilot, what="the stale flag")
        assert "sync ok" not in screen_text(app).splitlines()[0]
