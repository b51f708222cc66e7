"""Snapshots of the main screens at 80x24 and 120x40, and of the handoff and report views at 80x24,
with a frozen clock and no cursor blink.

Update them with `pytest tests/tui/test_snapshots.py --snapshot-update` after a deliberate change, and
look at the report before committing the SVGs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from textual.pilot import Pilot
from tuikit import BOB, CAROL, NOW, World, own_post, report_scenario, screen_text, wait_for, write_config

from socialtui.clock import FixedClock
from socialtui.store import Store
from socialtui.tui.screens.composer import ComposerScreen
from socialtui.tui.screens.handoff import HandoffScreen
from socialtui.tui.screens.report import ReportScreen
from socialtui.tui.screens.timeline import TimelineScreen
from socialtui.tui.widgets.detail import DetailPane
from socialtui.tui.widgets.queue import QueueTable

SIZES = [(80, 24), (120, 40)]


def ready(world: World, *, detail: bool = False) -> Callable[[Pilot], Awaitable[None]]:
    async def run_before(pilot: Pilot) -> None:
        app = pilot.app
        await wait_for(lambda: app.dashboard is not None and app.shift_start is not None, pilot)
        await wait_for(lambda: len(app.screen.query_one(QueueTable).shown_ids) == 4, pilot)
        # Every account drawn in the accounts panel too (it lays out after the queue on a busy machine).
        handles = [a.handle.lstrip("@").split("@")[0] for a in world.config.accounts]
        await wait_for(lambda: all(h in screen_text(app) for h in handles), pilot, what="every account")
        if detail:
            pane = app.screen.query_one(DetailPane)
            await wait_for(lambda: pane.contact is not None and pane.thread.state == "ok", pilot)

    return run_before


def with_thread(world: World) -> None:
    oldest = world.items[0]
    ancestor = own_post("acme-mastodon", "0990", 80, "Version 4.2 is out today: faster sync, fewer crashes.")
    world.factory(world.config.account("acme-mastodon")).threads["1001"] = [ancestor, oldest.post]


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_main_screen(world: World, snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    with_thread(world)
    app = world.app(theme="textual-dark", refresh_every=60)
    assert snap_compare(app, terminal_size=size, run_before=ready(world, detail=size[0] >= 110))


def test_main_screen_detail_at_80x24_in_16_colours(world: World, snap_compare) -> None:  # type: ignore[no-untyped-def]
    with_thread(world)
    app = world.app(theme="ansi-dark", refresh_every=60)

    async def run_before(pilot: Pilot) -> None:
        await ready(world)(pilot)
        await pilot.press("enter")
        pane = pilot.app.screen.query_one(DetailPane)
        await wait_for(lambda: pane.contact is not None and pane.thread.state == "ok", pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_composer(world: World, snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    with_thread(world)
    app = world.app(theme="textual-dark", refresh_every=60)

    async def run_before(pilot: Pilot) -> None:
        await ready(world)(pilot)
        await pilot.press("r")
        await wait_for(lambda: isinstance(pilot.app.screen, ComposerScreen), pilot)
        composer = pilot.app.screen
        await wait_for(lambda: composer._thread.state == "ok", pilot)
        await pilot.press(*"Hi Sam!")
        await wait_for(lambda: composer.keeper.saved_at is not None, pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_timeline(world: World, snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    app = world.app(theme="textual-dark", refresh_every=60)

    async def run_before(pilot: Pilot) -> None:
        await ready(world)(pilot)
        await pilot.press("t")
        await wait_for(lambda: isinstance(pilot.app.screen, TimelineScreen) and pilot.app.screen._rows, pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_handoff_screen_first_at_80x24(world: World, snap_compare) -> None:  # type: ignore[no-untyped-def]
    oldest = world.items[0]
    note = world.store.write_handoff(
        "Sam waits for a call back about the crash.\n"
        "Kim asked about shipping to Norway: ask the warehouse.\n"
        "[bold]Pasted from a post: not markup[/bold]",
        BOB,
        NOW - timedelta(minutes=20),
        pinned_items=[oldest.id],
        pinned_accounts=["acme-bluesky"],
    )
    world.store.ack_handoffs(CAROL, NOW - timedelta(minutes=5), note.id)
    app = world.app(theme="textual-dark", refresh_every=60)

    async def run_before(pilot: Pilot) -> None:
        await wait_for(lambda: isinstance(pilot.app.screen, HandoffScreen), pilot)
        await wait_for(lambda: len(pilot.app.screen.query(".handoff-note-body")) == 1, pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_report_at_80x24(tmp_path: Path, snap_compare) -> None:  # type: ignore[no-untyped-def]
    config = write_config(tmp_path)
    store = Store(config.team.data_dir)
    report_scenario(store)
    app = World(config, store, FixedClock(NOW), []).app(theme="textual-dark", refresh_every=60)

    async def run_before(pilot: Pilot) -> None:
        await wait_for(lambda: pilot.app.dashboard is not None, pilot)
        await pilot.press("R")
        await wait_for(lambda: isinstance(pilot.app.screen, ReportScreen) and pilot.app.screen.report, pilot)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
