"""Listening and tone on the dashboard, at 80x24 with the keyboard: the negative mark and the talk
mark, the `tone:` and `kind:` filters, negative items first (the key and the config), and the
composer saying plainly that the person did not address us."""

from __future__ import annotations

import pytest
from tuikit import NOW, World, fill, make_item, mastodon_author, screen_text, wait_for, write_config

from socialtui.clock import FixedClock
from socialtui.config import load_config
from socialtui.store import Store
from socialtui.tui.screens.composer import ComposerScreen
from socialtui.tui.screens.main import MainScreen
from socialtui.tui.widgets.detail import DetailPane
from socialtui.tui.widgets.queue import NEGATIVE_MARK, TALK_MARK, QueueTable


def team_world(tmp_path, extra: str = "", team: str = "") -> World:  # type: ignore[no-untyped-def]
    """The dashboard tests' world, with the team's tone words (and `team` keys) in the config."""
    config = write_config(tmp_path)
    text = config.path.read_text().replace('poll_interval = "30s"', f'poll_interval = "30s"\n{team}')
    config.path.write_text(text + '\n[tone]\nnegative = ["crash*", "refund"]\n' + extra)
    config = load_config(config.path)
    store = Store(config.team.data_dir)
    return World(config, store, FixedClock(NOW), fill(store))


@pytest.fixture
def toned(tmp_path) -> World:  # type: ignore[no-untyped-def]
    return team_world(tmp_path)


def queue_ids(app) -> list[str]:  # type: ignore[no-untyped-def]
    return app.screen.query_one(QueueTable).shown_ids if isinstance(app.screen, MainScreen) else []


def add_talk(world: World):  # type: ignore[no-untyped-def]
    """Someone talking about the brand without addressing it, angry, the newest item."""
    talk = make_item(
        "acme-mastodon",
        "3001",
        mastodon_author("ana", "Ana"),
        "acme bikes broke down again, worst service ever",
        2,
        kind="talk",
    )
    world.store.put_items([talk])
    return talk


def row_of(app, text: str) -> str:  # type: ignore[no-untyped-def]
    return next(line for line in screen_text(app).splitlines() if text in line)


async def test_negative_and_talk_marks_filters_and_negative_first(toned: World) -> None:
    world = toned
    talk = add_talk(world)
    crashed = world.items[0]  # "The app crashed again after the update.": the team's "crash*"
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 5, pilot, what="the queue")
        assert queue_ids(app)[-1] == talk.id, "oldest first by default: the fresh talk is last"
        assert f"{NEGATIVE_MARK}{TALK_MARK} acme bikes broke" in row_of(app, "acme bikes broke")
        assert f"{NEGATIVE_MARK} The app crashed" in row_of(app, "The app crashed")
        calm = row_of(app, "Is the shop open")
        assert NEGATIVE_MARK not in calm and TALK_MARK + " " not in calm

        # The filter knows tone and kind.
        await pilot.press("slash", *"tone:negative")
        await wait_for(lambda: set(queue_ids(app)) == {crashed.id, talk.id}, pilot, what="tone:negative")
        await pilot.press("escape")
        await pilot.press("slash", *"kind:talk")
        await wait_for(lambda: queue_ids(app) == [talk.id], pilot, what="kind:talk")
        await pilot.press("escape")
        await wait_for(lambda: len(queue_ids(app)) == 5, pilot, what="the filter cleared")

        # N: negative items first within the same state, then back. Late (target 30m): the crash
        # (negative, and the oldest anyway), kim's 45m; on time: the talk (negative, 2m old) before
        # lee's 20m and kim's 5m.
        kim45, lee, kim5 = world.items[1], world.items[2], world.items[3]
        negative_first = [crashed.id, kim45.id, talk.id, lee.id, kim5.id]
        await pilot.press("N")
        await wait_for(lambda: queue_ids(app) == negative_first, pilot, what="negative first")
        assert "negative items first" in app.told[-1][1]
        assert app.screen.query_one(QueueTable).selected_id == crashed.id, "the new order shown from the top"
        await pilot.press("N")
        await wait_for(lambda: queue_ids(app)[-1] == talk.id, pilot, what="oldest first again")

        # The detail says it is talk, and why it is negative.
        app.screen.query_one(QueueTable).select(talk.id)
        await pilot.press("enter")
        detail = app.screen.query_one(DetailPane)
        await wait_for(
            lambda: detail.item is not None and detail.item.id == talk.id, pilot, what="the detail"
        )
        shown = screen_text(app)
        assert "talk: they named us without addressing us" in shown
        assert "negative: 'broke', 'worst'" in shown  # VADER's words: no team word in it


async def test_negative_first_from_the_config(tmp_path) -> None:  # type: ignore[no-untyped-def]
    world = team_world(tmp_path, team="negative_first = true")
    talk = add_talk(world)
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 5, pilot, what="the queue")
        assert app.screen.query_one(QueueTable).negative_first
        items = world.items
        assert queue_ids(app) == [items[0].id, items[1].id, talk.id, items[2].id, items[3].id]


async def test_the_composer_says_plainly_that_they_did_not_address_us(world: World) -> None:
    talk = add_talk(world)
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: talk.id in queue_ids(app), pilot, what="the queue")
        app.screen.query_one(QueueTable).select(talk.id)
        await pilot.press("r")
        await wait_for(lambda: isinstance(app.screen, ComposerScreen), pilot, what="the composer")
        await wait_for(lambda: "did not address us" in screen_text(app), pilot, what="the hint")
        shown = screen_text(app)
        assert "they did not address us" in shown
        assert "@acme@mastodon.example" in shown, "the sending account is still shown"
    # A mention gets no such hint.
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 5, pilot, what="the queue")
        await pilot.press("r")
        await wait_for(lambda: isinstance(app.screen, ComposerScreen), pilot, what="the composer")
        await wait_for(lambda: "to " in screen_text(app), pilot, what="the composer's header")
        assert "did not address us" not in screen_text(app)


async def test_in_16_colours_the_negative_mark_reads_by_its_glyph(toned: World) -> None:
    from rich.color import ColorType

    world = toned
    app = world.app(theme="ansi-dark")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot, what="the queue")
        # Without colour: the glyph alone tells the angry row from the calm ones.
        assert f"{NEGATIVE_MARK} The app crashed" in row_of(app, "The app crashed")
        for calm in ("Is the shop open", "Norway", "Love the new"):
            rows = [line for line in screen_text(app).splitlines() if calm in line]
            assert all(NEGATIVE_MARK not in row for row in rows), rows
        # With 16 colours: the mark is drawn in one of the terminal's own colours, not a true colour.
        strips = app.screen._compositor.render_strips()
        marks = [s for strip in strips for s in strip if NEGATIVE_MARK in s.text]
        assert marks, "the mark is drawn"
        for segment in marks:
            color = segment.style.color if segment.style else None
            assert color is not None and color.type in (ColorType.STANDARD, ColorType.DEFAULT), segment


async def test_the_report_screen_shows_the_complaints_apart(toned: World) -> None:
    from textual.widgets import Static

    from socialtui.tui.screens.report import ReportScreen

    world = toned
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.dashboard is not None, pilot)
        await pilot.press("R")
        await wait_for(lambda: isinstance(app.screen, ReportScreen) and app.screen.report is not None, pilot)
        body = app.screen.query_one("#report-text", Static).content.plain
        report = app.screen.report
        assert report is not None and report.complaints is not None
        # One complaint in the window (the crash, the team's "crash*"), unanswered for 72m: overdue.
        assert report.complaints.received == 1
        assert "COMPLAINTS ▼ 1 received, 0 answered, median first response -" in body, body
        assert "answered within target: 0%" in body, body
        # And the new posts per account, under their heading.
        lines = body.splitlines()
        header = next(i for i, line in enumerate(lines) if line.startswith("NEW POSTS"))
        assert lines[header + 1].startswith("  acme-")
        await wait_for(lambda: "COMPLAINTS" in screen_text(app), pilot, what="on screen at 80x24")
