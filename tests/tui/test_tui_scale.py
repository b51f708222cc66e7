"""The dashboard at team scale (issue 14): a busy week's queue of 20,000 open items opens on its
oldest item with the right count, and scrolls to its newest once the rest is read."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from tuikit import BOB, World, screen_text, wait_for

from bench.store import NOW, build_store
from socialtui.clock import FixedClock
from socialtui.config import load_config
from socialtui.model import Actor, item_id
from socialtui.tui.app import SWITCH_INTERVAL, SocialApp
from socialtui.tui.widgets.queue import QueueTable

ACCOUNTS = 20
OPEN = 20_000


class QuietAdapter:
    """No network: nothing is polled (sync is off) and nothing is sent in this test."""

    def __init__(self, account: object) -> None:
        self.account = account

    async def aclose(self) -> None:
        pass


def items_numbered(k: int) -> set[str]:
    """Each account's item `k` of the bench's set-up (received at the same time in every account:
    0 the newest, 2 x open per account - 2 the oldest still open)."""
    return {item_id(f"brand{n:02d}", f"brand{n:02d}-in-{k:06d}") for n in range(ACCOUNTS)}


@pytest.mark.slow  # 29 s on the busy 2-core machine (the set-up of 20,000 items, then the full reading)
async def test_a_busy_weeks_queue_opens_on_its_oldest_item_and_scrolls_to_its_newest(tmp_path: Path) -> None:
    config_path, store = build_store(
        tmp_path, accounts=ACCOUNTS, posts=40, open_items=OPEN, contacts=10, handoffs=2
    )
    config = load_config(config_path)
    app = SocialApp(
        config, store, FixedClock(NOW), Actor("bench", "Bench"), adapter_factory=QuietAdapter, sync=False
    )  # type: ignore[arg-type]
    oldest_k = 2 * (OPEN // ACCOUNTS) - 2
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            queue = app.screen.query_one(QueueTable)
            await wait_for(lambda: queue.row_count > 0, pilot, timeout=120, what="the first screen")
            first = screen_text(app)
            assert f"{OPEN} unanswered" in first, first
            assert queue.shown_ids[0] in items_numbered(oldest_k)
            assert queue.selected_id in items_numbered(oldest_k), "the selection starts on the oldest"
            assert f"Question {oldest_k} " in first, first

            await wait_for(lambda: len(queue.entries) == OPEN, pilot, timeout=180, what="the whole queue")
            await pilot.press("end")
            await wait_for(
                lambda: queue.selected_id in items_numbered(0), pilot, timeout=30, what="the newest"
            )
            await pilot.pause()
            last = screen_text(app)
            assert "Question 0 " in last, last
            assert f"{OPEN} unanswered" in last
    finally:
        store.close()


async def test_while_the_dashboard_runs_a_reading_thread_gives_the_interpreter_up_each_millisecond(
    world: World,
) -> None:
    """The store is read in a thread while the screen is built and keys are handled: the thread that
    waits for the interpreter gets it within a millisecond, not Python's 5 ms (the first look's
    hundreds of file reads waited up to that long each). Put back as it was when the app ends."""
    before = sys.getswitchinterval()
    assert before > SWITCH_INTERVAL
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.dashboard is not None, pilot, what="the first reading")
        assert sys.getswitchinterval() == SWITCH_INTERVAL
    assert sys.getswitchinterval() == before


async def test_what_the_first_full_reading_decoded_is_left_out_of_the_collectors_full_passes(
    world: World,
) -> None:
    """The collector's full pass over every decoded item took 150 ms of every other reading at
    50,000 open items: after the first full reading what is alive is frozen (`gc.freeze`), and
    given back to the collector when the app ends (tests run many apps in one process)."""
    import gc

    assert gc.get_freeze_count() == 0
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.gc_frozen, pilot, what="the first full reading")
        assert app.follower.full_readings == 1
        frozen = gc.get_freeze_count()
        assert frozen > 1000
        assert app.dashboard is not None
        item = app.dashboard.queue[0].item
        readings = app.follower.queue_readings
        world.store.mark_done(item, "handled", BOB, app.now())
        await wait_for(lambda: app.follower.queue_readings > readings, pilot, what="the next reading")
        # Frozen once, not at every reading (what was frozen and is let go of leaves the count).
        assert gc.get_freeze_count() <= frozen
    assert gc.get_freeze_count() == 0


async def test_a_reading_that_ends_with_the_app_leaves_the_collector_whole(world: World) -> None:
    """The freeze after the first full reading is made on the UI thread, and not once the app has
    ended: made by the reading thread as the app ended, it stayed after it (the next app of a test
    process found objects frozen; a flaky check in the test above)."""
    import gc

    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.gc_frozen, pilot, what="the first full reading")
    assert gc.get_freeze_count() == 0
    app._freeze_what_stays()  # what a reading thread finishing as the app ended would ask for
    assert gc.get_freeze_count() == 0
