"""The header tells the truth about the sync: stale data from a poller that stopped or hangs, and
replies that failed for good."""

from __future__ import annotations

from datetime import timedelta

from tuikit import ALICE, World, replace, screen_text, wait_for

from socialtui.model import OutboxEntry
from socialtui.outbox import discard_failed
from socialtui.tui.render import LEVEL_STYLE
from socialtui.tui.widgets.header import _sync_summary


async def test_the_header_says_the_sync_is_stale(world: World) -> None:
    # Every account last synced at NOW; the poll interval is 30s. A poller that hangs keeps its leases
    # and writes nothing: the dashboard only sees the last sync times grow old.
    world.clock.advance(timedelta(minutes=10))
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: "sync stale 10m" in screen_text(app), pilot, what="the stale flag")
        assert "sync ok" not in screen_text(app).splitlines()[0]
        assert _sync_summary(app.dashboard) == [("sync stale 10m", LEVEL_STYLE[2])], (
            "CRITICAL: over 10 intervals"
        )


async def test_the_header_says_a_sync_a_few_intervals_old_is_a_warning(world: World) -> None:
    world.clock.advance(timedelta(minutes=2))  # 4 poll intervals of 30s: WARNING, not yet CRITICAL
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: "sync stale 2m" in screen_text(app), pilot, what="the stale flag")
        assert _sync_summary(app.dashboard) == [("sync stale 2m", LEVEL_STYLE[1])]
    world.clock.advance(timedelta(seconds=-60))  # 2 intervals: fresh enough
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: "sync ok" in screen_text(app), pilot, what="the sync ok")


async def test_a_failed_reply_is_shown_until_discarded(world: World) -> None:
    item = world.items[0]
    at = world.clock.now()
    failed = OutboxEntry(
        "key-1",
        item.id,
        item.account,
        "Thanks!",
        "alice",
        "Alice",
        at,
        at,
        state="failed",
        error="HTTP 401: The access token is invalid",
        failure="auth",
    )
    world.store.outbox_add(replace(failed, state="queued"), ALICE, at)
    world.store.outbox_update(failed, ALICE, "reply-failed")
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: "1 reply failed" in screen_text(app).splitlines()[0], pilot, what="the flag")
        discard_failed(world.store, item.id, ALICE, at)
        await wait_for(lambda: "reply failed" not in screen_text(app), pilot, what="the flag to go")
