"""Who is on shift, and leaving a shift, walked with the keyboard at 80x24: the header names the
colleagues on shift, and `q` while on shift asks whether to hand over, stay on shift, or cancel."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from tuikit import ALICE, BOB, CAROL, NOW, World, screen_text, wait_for

from socialtui.store.safefile import write_atomic
from socialtui.tui.screens.dialogs import QuitDialog
from socialtui.tui.screens.handoff import HandoffComposer
from socialtui.tui.screens.main import MainScreen
from socialtui.tui.widgets.filter import FilterInput
from socialtui.tui.widgets.queue import QueueTable


def header(app) -> str:  # type: ignore[no-untyped-def]
    return screen_text(app).splitlines()[0]


def queue_ids(app) -> list[str]:  # type: ignore[no-untyped-def]
    return app.screen.query_one(QueueTable).shown_ids if isinstance(app.screen, MainScreen) else []


async def test_the_header_names_the_colleagues_on_shift(world: World) -> None:
    world.store.start_shift(BOB, NOW - timedelta(hours=1))
    world.store.start_shift(CAROL, NOW - timedelta(minutes=30))
    gone = world.store.start_shift(world_actor("Dan"), NOW - timedelta(hours=3))
    world.store.end_shift(world_actor("Dan"), gone.started_at + timedelta(hours=1))
    app = world.app(ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot, what="the queue")
        line = header(app)
        assert "Alice since 14:00 UTC +Bob, Carol  4 unanswered" in line, line
        assert "Dan" not in line, "off shift: not named"
    app = world.app(ALICE)
    async with app.run_test(size=(160, 24)) as pilot:
        await wait_for(lambda: "with Bob, Carol" in header(app), pilot, what="the names in full when wide")


def world_actor(name: str):  # type: ignore[no-untyped-def]
    from socialtui.model import Actor

    return Actor(name.lower(), name)


async def test_q_on_shift_asks_cancel_stays_and_quit_keeps_the_shift(world: World) -> None:
    claimed = world.items[0]
    world.store.claim(claimed, ALICE, NOW, timedelta(minutes=10))
    app = world.app(ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot, what="the queue")
        await wait_for(lambda: world.store.shifts("Alice") != [], pilot, what="the shift started")
        await pilot.press("q")
        await wait_for(lambda: isinstance(app.screen, QuitDialog), pilot, what="asked first")
        shown = screen_text(app)
        assert "You are on shift. Quit?" in shown and "your 1 claim(s)" in shown
        for label in ("End shift and write the handoff (e)", "Quit and stay on shift (q)", "Cancel (Esc)"):
            assert label in shown, label
        await pilot.press("escape")
        await wait_for(lambda: isinstance(app.screen, MainScreen), pilot, what="cancelled")
        assert app.is_running
        await pilot.press("q")
        await wait_for(lambda: isinstance(app.screen, QuitDialog), pilot)
        await pilot.press("q")
        await wait_for(lambda: not app.is_running, pilot, what="quit")
    [shift] = world.store.shifts("Alice")
    assert shift.ended_at is None, "still on shift"
    assert world.store.claims(NOW)[claimed.id].operator == "Alice", "the claim stays"


async def test_q_on_shift_can_end_it_with_the_handoff(world: World) -> None:
    world.store.claim(world.items[0], ALICE, NOW, timedelta(minutes=10))
    app = world.app(ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot, what="the queue")
        await wait_for(lambda: world.store.shifts("Alice") != [], pilot, what="the shift started")
        await pilot.press("q")
        await wait_for(lambda: isinstance(app.screen, QuitDialog), pilot)
        await pilot.press("e")
        await wait_for(lambda: isinstance(app.screen, HandoffComposer), pilot, what="the handoff composer")
        await pilot.press(*"Bye")
        await pilot.press("ctrl+s")
        await wait_for(lambda: not isinstance(app.screen, HandoffComposer) and app.screen.is_modal, pilot)
        await pilot.press("y")
        await wait_for(lambda: isinstance(app.screen, MainScreen), pilot, what="back to the queue")
        await wait_for(
            lambda: any("your 1 claim(s) released" in m for _, m in app.told), pilot, what="said so"
        )
        [note] = world.store.handoffs()
        assert note.claims == (world.items[0].id,) and world.store.claims(NOW) == {}
        # Off shift now: q quits without asking.
        await pilot.press("q")
        await wait_for(lambda: not app.is_running, pilot, what="quit without a question")


# --- the queue as a new user met it ---------------------------------------------------------------------


def many(world: World, count: int = 40) -> list[str]:
    """`count` more items, older ones first: the queue no longer fits the screen."""
    from tuikit import make_item, mastodon_author

    extra = [
        make_item(
            "acme-mastodon", f"9{n:03d}", mastodon_author(f"fan{n}", f"Fan {n:02d}"), f"hello {n}", 600 - n
        )
        for n in range(count)
    ]
    world.store.put_items(extra)
    return [item.id for item in extra]


def row_on_screen(table: QueueTable, index: int) -> bool:
    """The table's row `index` lies inside its visible region (under the header row)."""
    top = round(table.scroll_y)
    rows = table.scrollable_content_region.height - (table.header_height if table.show_header else 0)
    return top <= index < top + rows


async def test_end_and_home_go_to_the_newest_and_oldest_item(world: World) -> None:
    many(world)
    app = world.app(ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        # End is pressed as soon as the rows are there, while the accounts strip above may still
        # grow (it did, and left the newest row one line below the visible area).
        await wait_for(lambda: len(queue_ids(app)) == 44, pilot, what="the queue")
        table = app.screen.query_one(QueueTable)
        await pilot.press("end")
        last = len(queue_ids(app)) - 1
        await wait_for(lambda: table.selected_id == queue_ids(app)[-1], pilot, what="the last row")
        await wait_for(lambda: "Also: do you ship" in screen_text(app), pilot, what="the newest on screen")
        await wait_for(lambda: row_on_screen(table, last), pilot, what="the newest row inside the table")
        assert table.scroll_x == 0 and " waiting  account " in screen_text(app), "not sideways"
        await pilot.press("home")
        await wait_for(lambda: table.selected_id == queue_ids(app)[0], pilot, what="the first row")
        await wait_for(lambda: "Fan 00" in screen_text(app), pilot, what="the oldest on screen")
        assert table.scroll_y == 0 and row_on_screen(table, 0)


async def test_the_selected_row_stays_on_screen_when_the_queue_gets_shorter(world: World) -> None:
    """The cause of the End regression, made certain: the table shrinks after the scroll."""
    many(world)
    app = world.app(ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 44, pilot, what="the queue")
        table = app.screen.query_one(QueueTable)
        await pilot.press("end")
        last = len(queue_ids(app)) - 1
        await wait_for(lambda: table.cursor_row == last and row_on_screen(table, last), pilot, what="End")
        height = table.size.height
        await pilot.resize_terminal(80, 19)
        await wait_for(lambda: table.size.height < height, pilot, what="a shorter table")
        await wait_for(lambda: row_on_screen(table, last), pilot, what="the newest row still on screen")
        assert "Also: do you ship" in screen_text(app)


async def test_clearing_a_filter_shows_the_oldest_item(world: World) -> None:
    many(world)
    app = world.app(ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 44, pilot, what="the queue")
        table = app.screen.query_one(QueueTable)
        await pilot.press("slash", *"norway", "enter")
        await wait_for(lambda: len(queue_ids(app)) == 1, pilot, what="filtered")
        await pilot.press("escape")
        await wait_for(lambda: len(queue_ids(app)) == 44, pilot, what="the filter cleared")
        await pilot.pause()
        await wait_for(lambda: "Fan 00" in screen_text(app), pilot, what="the oldest item on screen")
        assert table.scroll_y == 0 and table.selected_id == queue_ids(app)[0]


async def test_after_a_shift_end_the_oldest_item_is_on_screen(world: World) -> None:
    many(world)
    app = world.app(ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 44, pilot, what="the queue")
        await wait_for(lambda: world.store.shifts("Alice") != [], pilot, what="the shift started")
        table = app.screen.query_one(QueueTable)
        await pilot.press("end")
        last = len(queue_ids(app)) - 1
        await wait_for(
            lambda: row_on_screen(table, last) and not row_on_screen(table, 0), pilot, what="at the end"
        )
        await pilot.press("q")
        await wait_for(lambda: isinstance(app.screen, QuitDialog), pilot)
        await pilot.press("e")
        await wait_for(lambda: isinstance(app.screen, HandoffComposer), pilot, what="the handoff composer")
        await pilot.press(*"Bye", "ctrl+s")
        await wait_for(lambda: not isinstance(app.screen, HandoffComposer) and app.screen.is_modal, pilot)
        await pilot.press("y")
        await wait_for(lambda: isinstance(app.screen, MainScreen), pilot, what="back to the queue")
        await wait_for(lambda: world.store.handoffs() != [], pilot, what="the note saved")
        await wait_for(lambda: row_on_screen(table, 0), pilot, what="the oldest row inside the table")
        await wait_for(lambda: "Fan 00" in screen_text(app), pilot, what="the oldest on screen")
        assert table.scroll_y == 0


async def test_in_16_colours_a_pinned_box_differs_from_an_unpinned_one_by_its_glyph(world: World) -> None:
    app = world.app(ALICE, theme="ansi-dark")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot, what="the queue")
        await pilot.press("e")
        await wait_for(lambda: isinstance(app.screen, HandoffComposer), pilot, what="the composer")
        await pilot.press("tab", "space")  # pin the first choice (the selected item)

        def boxes() -> list[str]:
            rows = [line.strip() for line in screen_text(app).splitlines()]
            return [row[1] for row in rows if row[:1] == "▐" and row[2:3] == "▌"]

        await wait_for(lambda: boxes()[:1] == ["X"], pilot, what="the pinned box")
        assert set(boxes()[1:]) == {" "}, boxes()


async def test_a_favourite_is_audited_marked_on_the_post_and_a_second_f_takes_it_back(world: World) -> None:
    from tuikit import bluesky_author

    from socialtui.model import Post
    from socialtui.tui.screens.timeline import TimelineScreen

    friend = Post(
        "acme-bluesky",
        "at://did:plc:ina/app.bsky.feed.post/7",
        bluesky_author("ina"),
        "Our bike club rides Sunday!",
        NOW - timedelta(minutes=3),
    )
    world.store.put_home_posts([friend])
    app = world.app(ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.dashboard is not None, pilot)
        await pilot.press("t")
        await wait_for(lambda: isinstance(app.screen, TimelineScreen) and app.screen._rows, pilot)
        await pilot.press("k")  # listening
        await wait_for(lambda: [r.post.text for r in app.screen._rows] == [friend.text], pilot)
        await pilot.press("f")
        await wait_for(lambda: any(m.startswith("Favourited") for _, m in app.told), pilot, what="favourited")
        [event] = [e for e in world.store.audit_events() if e.action == "favourite"]
        assert (event.operator, event.account, event.detail) == ("Alice", "acme-bluesky", friend.remote_id)
        await wait_for(
            lambda: "★ favourited by Alice at 18 Nov 14:00 UTC" in screen_text(app), pilot, what="marked"
        )
        assert "★ Our bike club" in screen_text(app), "the mark on the row"
        # A second f takes it back, on the network, audited, and the marks go.
        await pilot.press("f")
        await wait_for(
            lambda: any(m.startswith("Favourite taken back from acme.bsky.example") for _, m in app.told),
            pilot,
            what="taken back",
        )
        adapter = world.adapters["acme-bluesky"]
        assert adapter.favourited == [friend.remote_id] and adapter.unfavourited == [friend.remote_id]
        assert [e.action for e in world.store.audit_events() if e.detail == friend.remote_id] == [
            "favourite",
            "unfavourite",
        ]
        await wait_for(lambda: "★" not in screen_text(app), pilot, what="the marks gone")
        assert world.store.reactions() == {}


async def test_a_second_b_asks_then_takes_the_boost_back(world: World) -> None:
    from tuikit import bluesky_author

    from socialtui.model import Post
    from socialtui.tui.screens.dialogs import ConfirmDialog
    from socialtui.tui.screens.timeline import TimelineScreen

    friend = Post(
        "acme-bluesky",
        "at://did:plc:ina/app.bsky.feed.post/8",
        bluesky_author("ina"),
        "Ride report from Sunday",
        NOW - timedelta(minutes=3),
    )
    world.store.put_home_posts([friend])
    world.store.audit(BOB, NOW - timedelta(hours=1), "boost", "acme-bluesky", "", friend.remote_id)
    app = world.app(ALICE, theme="ansi-dark")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.dashboard is not None, pilot)
        await pilot.press("t")
        await wait_for(lambda: isinstance(app.screen, TimelineScreen) and app.screen._rows, pilot)
        await pilot.press("k")  # listening
        await wait_for(lambda: "⟲ Ride report" in screen_text(app), pilot, what="boosted by Bob: marked")
        await pilot.press("b")
        await wait_for(lambda: isinstance(app.screen, ConfirmDialog), pilot, what="asked first")
        assert "Undo the boost?" in screen_text(app)
        await pilot.press("escape")
        await wait_for(lambda: isinstance(app.screen, TimelineScreen), pilot, what="cancelled")
        assert world.adapters.get("acme-bluesky") is None or world.adapters["acme-bluesky"].unboosted == []
        await pilot.press("b")
        await wait_for(lambda: isinstance(app.screen, ConfirmDialog), pilot, what="asked again")
        await pilot.press("y")
        await wait_for(
            lambda: any(m.startswith("Boost taken back") for _, m in app.told), pilot, what="taken back"
        )
        assert world.adapters["acme-bluesky"].unboosted == [friend.remote_id]
        assert world.adapters["acme-bluesky"].boosted == []
        [undo] = [e for e in world.store.audit_events() if e.action == "unboost"]
        assert (undo.operator, undo.account, undo.detail) == ("Alice", "acme-bluesky", friend.remote_id)
        await wait_for(lambda: "⟲" not in screen_text(app), pilot, what="the mark gone")


async def test_at_80_columns_the_footer_keeps_help_whole_and_the_palette_lists_quit_and_keys_once(
    world: World,
) -> None:
    app = world.app(ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot, what="the queue")
        await wait_for(lambda: "? Help" in screen_text(app).splitlines()[-1], pilot, what="? Help whole")
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert titles.count("Quit") == 1 and "Keys" not in titles and titles.count("Help: keys") == 1
        [quit_command] = [c for c in app.get_system_commands(app.screen) if c.title == "Quit"]
        assert quit_command.callback == app.screen.action_quit, "the Quit that asks when on shift"


async def test_wrapped_help_lines_keep_their_indent(world: World) -> None:
    from socialtui.tui.screens.help import HelpScreen

    app = world.app(ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot, what="the queue")
        await pilot.press("question_mark")
        await wait_for(lambda: isinstance(app.screen, HelpScreen), pilot, what="help")
        for _ in range(60):  # scroll until the wrapped description and its next line are both in view
            lines = screen_text(app).splitlines()
            at = next((i for i, line in enumerate(lines) if "Show the item in full" in line), -1)
            if at >= 0 and "Esc to close" not in lines[at + 1] and any("↑, ↓" in line for line in lines):
                break
            await pilot.press("down")
            await pilot.pause()
        # The description wraps: its second line starts where the first did, not under the keys.
        column = lines[at].index("Show the item")
        assert lines[at + 1][:column].strip(" █") == "" and lines[at + 1][column] != " ", lines[at : at + 2]
        # The keys wrap too: under the first key, not at the edge of the box.
        keys = next(i for i, line in enumerate(lines) if "↑, ↓" in line)
        assert lines[keys + 1].index("home") == lines[keys].index("↑"), lines[keys : keys + 2]


async def test_u_reopens_the_item_last_marked_done(world: World) -> None:
    first, second = world.items[0], world.items[2]
    world.store.mark_done(first, "thanked", ALICE, NOW - timedelta(minutes=5))
    world.store.mark_done(second, "spam", ALICE, NOW - timedelta(minutes=1))
    world.store.mark_done(world.items[1], "spam", BOB, NOW)  # Bob's: not Alice's to undo
    app = world.app(ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 1, pilot, what="the queue")
        await pilot.press("u")
        await wait_for(lambda: second.id in queue_ids(app), pilot, what="the last done is back")
        await wait_for(
            lambda: app.screen.query_one(QueueTable).selected_id == second.id, pilot, what="selected"
        )
        assert any(
            "Reopened: @lee@example.org on acme-mastodon (done at 13:59 UTC: spam)" in m for _, m in app.told
        )
        await pilot.press("u")
        await wait_for(lambda: first.id in queue_ids(app), pilot, what="then the one before")
        await pilot.press("u")
        await wait_for(lambda: any("Nothing to undo" in m for _, m in app.told), pilot, what="nothing more")
    assert world.store.states()[world.items[1].id].operator == "Bob"
    assert [e.action for e in world.store.audit_events() if e.operator == "Alice"][-2:] == [
        "reopen",
        "reopen",
    ]


async def test_space_selects_several_and_d_marks_them_done_each_audited(world: World) -> None:
    app = world.app(ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot, what="the queue")
        ids = queue_ids(app)
        table = app.screen.query_one(QueueTable)
        await pilot.press("space", "down", "space")  # the first and the third
        await wait_for(lambda: table.marked == {ids[0], ids[2]}, pilot, what="two selected")
        marks = [line for line in screen_text(app).splitlines() if "✓ " in line]
        assert len(marks) == 2, "a glyph on each selected row"
        await pilot.press("d")
        await wait_for(lambda: "2 selected items:" in screen_text(app), pilot, what="one question for both")
        await pilot.press("1")  # spam
        await wait_for(lambda: queue_ids(app) == [ids[1], ids[3]], pilot, what="both done")
        done = [(e.item, e.detail) for e in world.store.audit_events() if e.action == "done"]
        assert sorted(done) == sorted([(ids[0], "spam"), (ids[2], "spam")]), "audited one by one"
        assert table.marked == set()


async def test_D_marks_every_thank_you_done_at_once(world: World) -> None:
    from tuikit import make_item, mastodon_author

    thanks = [
        make_item("acme-mastodon", f"t{n}", mastodon_author(f"fan{n}"), text, 30 + n)
        for n, text in enumerate(
            ["@acme thank you so much!", "cheers @acme", "🙏🙏", "Thanks! When do you open?"]
        )
    ]
    world.store.put_items(thanks)
    app = world.app(ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 8, pilot, what="the queue")
        app.screen.query_one(QueueTable).select(thanks[0].id)
        await pilot.press("D")
        await wait_for(lambda: "Done (thanked), all 2?" in screen_text(app), pilot, what="asked")
        await pilot.press("y")
        await wait_for(lambda: len(queue_ids(app)) == 6, pilot, what="the two thank-yous done")
        left = set(queue_ids(app))
        assert thanks[2].id in left and thanks[3].id in left, "emoji and a question stay"
        app.screen.query_one(QueueTable).select(world.items[0].id)
        await pilot.press("D")
        await wait_for(lambda: any("may need an answer" in m for _, m in app.told), pilot, what="refused")


async def test_the_readme_picture_is_the_dashboard_at_80x24(world: World, tmp_path: Path) -> None:
    """Saves docs/dashboard.svg (the picture in the README's "The dashboard") with Textual's
    save_screenshot: the fixed clock makes it the same at every run, so it changes only when the
    dashboard does. The picture is drawn in this test's own directory and the docs' copy replaced at
    once, only when it differs: the same test on the other engine may run at the same moment."""
    docs = Path(__file__).resolve().parents[2] / "docs"
    world.store.start_shift(BOB, NOW - timedelta(hours=2))
    world.store.claim(world.items[1], BOB, NOW - timedelta(minutes=3), timedelta(minutes=10))
    app = world.app(ALICE, theme="textual-dark", refresh_every=60, cursor_blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot, what="the queue")
        await wait_for(lambda: "+Bob" in header(app), pilot, what="the colleague on shift")
        # The footer's keys are drawn after the screen: on a busy machine, a moment later.
        await wait_for(lambda: "Help" in screen_text(app).splitlines()[-1], pilot, what="the footer")
        await pilot.pause()
        app.save_screenshot(filename="dashboard.svg", path=str(tmp_path))
    svg = (tmp_path / "dashboard.svg").read_bytes()
    text = svg.decode("utf-8")
    for shown in ("unanswered", "Sam&#160;Rivers", "Help"):
        assert shown in text, f"{shown!r} is not in the picture"
    target = docs / "dashboard.svg"
    if not target.exists() or target.read_bytes() != svg:
        docs.mkdir(exist_ok=True)
        write_atomic(target, svg, mode=0o644)


async def test_the_filter_finds_an_item_by_its_id_and_shows_its_match_count(world: World) -> None:
    app = world.app(ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot, what="the queue")
        wanted = world.items[2]
        await pilot.press("slash", *wanted.id[:6])
        await wait_for(lambda: queue_ids(app) == [wanted.id], pilot, what="found by id")
        await wait_for(lambda: " 1 of 4 " in screen_text(app), pilot, what="the count")
        await pilot.press(*"zzz")
        await wait_for(lambda: " 0 of 4 " in screen_text(app), pilot, what="none")
        await pilot.press("escape")
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot)
        await pilot.press("enter")
        await wait_for(
            lambda: f"id {queue_ids(app)[0]}" in screen_text(app), pilot, what="the id in the detail"
        )


async def test_the_text_column_takes_what_is_left_and_the_queue_never_scrolls_sideways(world: World) -> None:
    app = world.app(ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot, what="the queue")
        table = app.screen.query_one(QueueTable)
        await wait_for(lambda: table.virtual_size.width <= table.size.width, pilot, what="fits at 80")
        assert table.max_scroll_x == 0
        narrow = table.columns[next(k for k in table.columns if k.value == "text")].width
        await pilot.resize_terminal(160, 30)
        await wait_for(
            lambda: table.columns[next(k for k in table.columns if k.value == "text")].width > narrow + 40,
            pilot,
            what="the text column grows with the terminal",
        )
        await wait_for(lambda: table.max_scroll_x == 0, pilot, what="still no sideways scroll")
        await wait_for(lambda: "The app crashed again after the update. Any news?" in screen_text(app), pilot)


@pytest.mark.parametrize("screen_key", ["", "t"], ids=["queue", "timelines"])
async def test_keys_typed_in_one_burst_after_a_slash_go_to_the_filter(world: World, screen_key: str) -> None:
    """A fast typist over SSH, or a paste, sends `/refund` in one burst: every key after `/` is the
    filter's text. (They went to the list, and its bindings fired: `r` opened a reply, `d` marked
    done, `e` the end of the shift.) A `/` typed in the filter is text."""
    from textual import events

    from socialtui.tui.screens.timeline import TimelineScreen

    app = world.app(ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot, what="the queue")
        if screen_key:
            await pilot.press(screen_key)
            await wait_for(lambda: isinstance(app.screen, TimelineScreen) and app.screen._rows, pilot)
        screen = app.screen
        for key, character in [("slash", "/"), *((c, c) for c in "refund"), ("slash", "/"), ("x", "x")]:
            app.post_message(events.Key(key, character))  # queued at once, as a burst comes
        await wait_for(lambda: screen.query_one(FilterInput).value == "refund/x", pilot, what="the text")
        assert app.screen is screen, "no key acted on the list"
        assert world.store.states() == {} and world.store.drafts() == {}


async def test_the_rest_of_the_queue_read_after_the_first_look_is_no_news(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first look shows the head of the queue; the full reading that follows brings the rest,
    late items among them. Nothing turned late: no alert, no flash (a busy store's dashboard said
    "now late: ... (+19,000 more)" as it opened)."""
    from socialtui.tui.data import StoreFollower

    first_look = StoreFollower.first_look
    monkeypatch.setattr(
        StoreFollower, "first_look", lambda self, now, shift_start=None: first_look(self, now, shift_start, 1)
    )
    app = world.app(ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot, what="the whole queue")
        assert app.dashboard is not None and not app.dashboard.partial
        assert app.dashboard.overview.late >= 1, "late items beyond the first look's head"
        assert app.alerts == 0 and not app.screen.has_class("-alert")


async def test_an_item_turning_late_or_a_direct_message_alerts_with_a_flash_and_the_bell(
    world: World,
) -> None:
    from dataclasses import replace

    from tuikit import make_item, mastodon_author

    app = world.app(ALICE)
    app.config = replace(app.config, team=replace(app.config.team, bell=True))
    rung: list[bool] = []
    app.bell = lambda: rung.append(True)  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot, what="the queue")
        first = app.dashboard
        await wait_for(lambda: app.dashboard is not first, pilot, what="a second reading of the store")
        assert app.alerts == 0, "what was late at start is no news"
        world.clock.advance(timedelta(minutes=11))  # Lee's question (20m, target 30m) turns late
        await wait_for(lambda: app.alerts == 1, pilot, what="the late alert")
        assert any("⚠ now late: @lee@example.org on acme-mastodon" in m for _, m in app.told)
        assert rung == [True]
        dm = make_item(
            "acme-mastodon",
            "dm1",
            mastodon_author("pat", "Pat"),
            "@acme my order number is 1234",
            0,
            visibility="direct",
        )
        world.store.put_items([dm])
        await wait_for(lambda: app.alerts == 2, pilot, what="the direct-message alert")
        assert any("✉ direct message from @pat@example.org on acme-mastodon" in m for _, m in app.told)
        assert len(rung) == 2
    quiet = world.app(ALICE)  # bell = false (the default): no bell, the flash and notice still
    quiet.bell = lambda: rung.append(True)  # type: ignore[method-assign]
    async with quiet.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: quiet.dashboard is not None, pilot, what="the first reading")
        world.clock.advance(timedelta(minutes=40))
        await wait_for(lambda: quiet.alerts == 1, pilot, what="an alert without the bell")
    assert len(rung) == 2


async def test_the_people_view_lists_everyone_who_talked_to_us(world: World) -> None:
    from socialtui.tui.screens.contacts import ContactsScreen

    app = world.app(ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot, what="the queue")
        await pilot.press("p")
        await wait_for(
            lambda: isinstance(app.screen, ContactsScreen) and app.screen.rows, pilot, what="people"
        )
        keys = {c.key for c in app.screen.rows}
        assert {"mastodon:sam@example.org", "mastodon:lee@example.org"} <= keys, (
            "Lee has no notes, and is listed"
        )
        assert any(c.network == "bluesky" and c.handle == "kim.bsky.example" for c in app.screen.rows)
        await pilot.press("slash", *"lee")
        await wait_for(lambda: [c.key for c in app.screen.rows] == ["mastodon:lee@example.org"], pilot)


def test_the_merged_timeline_shows_each_post_once_with_plain_kind_names(world: World) -> None:
    from dataclasses import replace

    from socialtui.tui.data import TimelineQuery, read_timeline
    from socialtui.tui.screens.timeline import KIND_LABEL, QUERY_LABEL

    item_post = world.items[0].post
    # The same post also in a followed timeline (someone we follow mentioned us).
    world.store.put_home_posts([replace(item_post, own=False)])
    rows = read_timeline(world.store, TimelineQuery(kind="all"), world.config).rows
    same = [
        row
        for row in rows
        if row.post.remote_id == item_post.remote_id and row.post.account == item_post.account
    ]
    assert [row.kind for row in same] == ["item"], "once, as addressed to us"
    assert KIND_LABEL == {"item": "to us", "ours": "ours", "home": "followed"}
    assert QUERY_LABEL["listening"] == "people we follow"


async def test_direct_messages_content_warnings_and_drafts_are_marked_by_a_glyph(world: World) -> None:
    from tuikit import make_item, mastodon_author

    from socialtui.model import Draft

    dm = make_item(
        "acme-mastodon", "dm1", mastodon_author("pat", "Pat"), "my order is 1234", 2, visibility="direct"
    )
    cw = make_item(
        "acme-mastodon", "cw1", mastodon_author("max", "Max"), "spoilers ahead", 3, spoiler_text="finale"
    )
    world.store.put_items([dm, cw])
    lee = world.items[2]
    world.store.save_draft(Draft(lee.id, lee.account, "Hi Lee, we", "alice", "Alice", NOW, "key-1"))
    app = world.app(ALICE, theme="ansi-dark")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 6, pilot, what="the queue")
        await wait_for(lambda: "✉ my order is 1234" in screen_text(app), pilot, what="the DM glyph")
        await wait_for(lambda: "⚠ spoilers ahead" in screen_text(app), pilot, what="the CW glyph")
        await wait_for(lambda: "✎ Is the shop open" in screen_text(app), pilot, what="the draft glyph")
        assert "  The app crashed" in screen_text(app), "nothing on an ordinary item"


async def test_enter_on_an_account_filters_the_queue_to_it(world: World) -> None:
    from socialtui.tui.widgets.accounts import AccountsPanel

    app = world.app(ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot, what="the queue")
        await pilot.press("shift+tab")
        panel = app.screen.query_one(AccountsPanel)
        await wait_for(lambda: panel.has_focus, pilot, what="the accounts pane")
        await wait_for(lambda: "▶" in screen_text(app), pilot, what="the cursor")
        assert panel.selected_account == "acme-mastodon"
        await pilot.press("down")
        await wait_for(lambda: panel.selected_account == "acme-bluesky", pilot, what="the next account")
        await pilot.press("enter")
        bluesky = [
            i.id
            for i in world.items
            if i.account == "acme-bluesky" and i.post.remote_id.endswith(("/1", "/2"))
        ]
        await wait_for(lambda: sorted(queue_ids(app)) == sorted(bluesky), pilot, what="the queue filtered")
        assert app.screen.query_one(QueueTable).has_focus
        await wait_for(lambda: "account:acme-bluesky" in screen_text(app), pilot, what="the filter shown")
        await pilot.press("escape")
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot, what="Esc clears it")


async def test_the_filter_knows_the_authors_tags(world: World) -> None:
    app = world.app(ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot, what="the queue")
        await pilot.press("slash", *"tag:vip")
        await wait_for(lambda: queue_ids(app) == [world.items[0].id], pilot, what="Sam, tagged vip")
        world.store.set_tags("mastodon:lee@example.org", ["vip"], BOB, NOW)  # another operator tags Lee
        await wait_for(
            lambda: queue_ids(app) == [world.items[0].id, world.items[2].id], pilot, what="Lee joins, live"
        )
        await wait_for(lambda: " 2 of 4 " in screen_text(app), pilot, what="the count")
