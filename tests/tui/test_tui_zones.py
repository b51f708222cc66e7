"""Every time the dashboard shows is in the team's zone and says so (issue 13): a single time carries
its zone's abbreviation, a column or a list of times names it once (its header, its title). The team
here is in Europe/Berlin, so the label (CET) and the hour (NOW is 14:00 UTC, 15:00 CET) both differ
from UTC; walked with the keyboard at 80x24 on the fixed clock."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from textual.widgets import Static
from tuikit import ALICE, BOB, CAROL, NOW, World, fill, own_post, screen_text, wait_for, write_config

from socialtui.clock import FixedClock
from socialtui.store import Store
from socialtui.tui.screens.audit import AuditScreen
from socialtui.tui.screens.composer import ComposerScreen
from socialtui.tui.screens.dialogs import ConfirmDialog
from socialtui.tui.screens.handoff import HandoffScreen
from socialtui.tui.screens.main import MainScreen
from socialtui.tui.screens.report import ReportScreen
from socialtui.tui.screens.timeline import TimelineScreen
from socialtui.tui.widgets.detail import DetailPane
from socialtui.tui.widgets.queue import QueueTable

pytestmark = pytest.mark.files_only("how times are shown: the store's engine plays no part")


@pytest.fixture
def berlin(tmp_path: Path) -> World:
    """The usual four unanswered items, for a team in Berlin."""
    config = write_config(tmp_path, timezone="Europe/Berlin")
    store = Store(config.team.data_dir)
    return World(config, store, FixedClock(NOW), fill(store))


async def queue_shown(app, pilot) -> None:  # type: ignore[no-untyped-def]
    await wait_for(
        lambda: isinstance(app.screen, MainScreen) and len(app.screen.query_one(QueueTable).shown_ids) == 4,
        pilot,
        what="the queue",
    )


def plain(widget: Static) -> str:
    return str(getattr(widget.content, "plain", widget.content))


async def test_the_header_and_the_detail_label_their_times(berlin: World) -> None:
    oldest = berlin.items[0]  # Sam's, 72 minutes ago: 12:48 UTC, 13:48 CET
    ancestor = own_post("acme-mastodon", "0990", 80, "Version 4.2 is out today.")
    berlin.factory(berlin.config.account("acme-mastodon")).threads["1001"] = [ancestor, oldest.post]
    app = berlin.app(ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await queue_shown(app, pilot)
        await wait_for(
            lambda: "since 15:00 CET" in screen_text(app).splitlines()[0], pilot, what="the header"
        )
        await pilot.press("enter")
        pane = app.screen.query_one(DetailPane)
        await wait_for(lambda: pane.contact is not None and pane.thread.state == "ok", pilot)
        shown = screen_text(app)
        assert "· 18 Nov 13:48 CET · public" in shown, "the item: one time, labelled"
        assert "── thread, before it (CET times)" in shown, "the thread: a list, labelled once"
        assert "· 18 Nov 13:40" in shown and "13:40 CET" not in shown, "a post in it: under that label"
        contact = plain(pane.query_one("#detail-contact", Static))
        assert "16 Nov 15:00 CET Bob: Regular customer" in contact, contact
        assert "15 Nov 15:00 CET acme-mastodon" in contact, contact


async def test_the_timeline_names_the_zone_in_its_column_and_labels_the_preview(berlin: World) -> None:
    app = berlin.app(ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await queue_shown(app, pilot)
        await pilot.press("t")
        await wait_for(lambda: isinstance(app.screen, TimelineScreen) and app.screen._rows, pilot)
        lines = screen_text(app).splitlines()
        assert lines[1].startswith(" when (CET)"), lines[1]
        assert lines[2].startswith(" 18 Nov 14:55 "), "Kim's, 5 minutes ago: the rows carry no label"
        assert "CET" not in "".join(lines[2:6])
        await wait_for(lambda: "Kim (kim.bsky.example) · 18 Nov 14:55 CET" in screen_text(app), pilot)


async def test_the_audit_names_the_zone_once_and_says_when_a_clock_change_falls_in_it(berlin: World) -> None:
    # Summer time ended on 25 Oct: an action of 20 Oct was at 16:00 CEST.
    berlin.store.audit(BOB, NOW - timedelta(days=29), "note", "", "", "an autumn note")
    app = berlin.app(ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await queue_shown(app, pilot)
        await pilot.press("A")
        await wait_for(lambda: isinstance(app.screen, AuditScreen) and app.screen.reading is not None, pilot)
        screen = app.screen
        lines = screen_text(app).splitlines()
        assert lines[1].startswith(" when (CET)"), lines[1]
        assert lines[2].startswith(" 18 Nov 15:00 ") and "shift-start" in lines[2], lines[2]
        await wait_for(
            lambda: "Wed 18 Nov 15:00:00 CET  Alice (login alice)  shift-start" in screen_text(app),
            pilot,
            what="the event",
        )
        await pilot.press("w")  # from 7 days to 30
        await wait_for(lambda: screen.reading is not None and len(screen.reading.events) == 4, pilot)
        await wait_for(lambda: screen_text(app).splitlines()[1].startswith(" CET/CEST "), pilot, what="both")
        assert any(line.startswith(" 20 Oct 16:00 ") for line in screen_text(app).splitlines())


async def test_the_handoff_note_its_acks_and_its_readers_label_their_times(berlin: World) -> None:
    note = berlin.store.write_handoff("Sam waits for a call back.", BOB, NOW - timedelta(minutes=20))
    berlin.store.ack_handoffs(CAROL, NOW - timedelta(minutes=5), note.id)
    app = berlin.app(ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: isinstance(app.screen, HandoffScreen), pilot)
        await wait_for(lambda: len(app.screen.query(".handoff-note-body")) == 1, pilot)
        shown = screen_text(app)
        assert "── Bob · Wed 18 Nov 14:40 CET" in shown, shown
        assert "✓ acknowledged by Carol 14:55 CET" in shown, shown
        assert "you (on shift since 15:00 CET)" in shown, shown


async def test_the_report_labels_its_window(berlin: World) -> None:
    app = berlin.app(ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await queue_shown(app, pilot)
        await pilot.press("R")
        await wait_for(lambda: isinstance(app.screen, ReportScreen) and app.screen.report is not None, pilot)
        await wait_for(
            lambda: "17 Nov 15:00 → 18 Nov 15:00 CET" in screen_text(app), pilot, what="the window"
        )


async def test_a_claim_and_the_composer_label_their_times(berlin: World) -> None:
    claimed = berlin.items[0]
    berlin.store.claim(claimed, BOB, NOW - timedelta(minutes=3), timedelta(minutes=10))  # until 14:07 UTC
    app = berlin.app(ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await queue_shown(app, pilot)
        app.screen.query_one(QueueTable).select(claimed.id)
        await pilot.press("r")
        await wait_for(lambda: isinstance(app.screen, ConfirmDialog), pilot, what="asked first")
        assert "(until 15:07 CET)" in screen_text(app), screen_text(app)
        await pilot.press("y")
        await wait_for(lambda: isinstance(app.screen, ComposerScreen), pilot, what="the composer")
        composer = app.screen
        await wait_for(lambda: composer._thread.state == "ok", pilot)
        assert "── the thread (CET times)" in screen_text(app)
        await pilot.press(*"Hi Sam!")
        await wait_for(lambda: "draft saved 15:00:00 CET" in screen_text(app), pilot, what="the draft's time")
