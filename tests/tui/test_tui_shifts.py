"""Shifts and the team, walked with the keyboard at 80x24: handoff notes from one operator's dashboard
to the next (three operators, three dashboards, one data dir), contact dossiers, the audit trail
and the report on a scenario worked out by hand."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from textual.widgets import SelectionList, Static, TextArea
from tuikit import ALICE, BOB, CAROL, NOW, World, report_scenario, screen_text, wait_for, write_config

from socialtui.clock import FixedClock
from socialtui.store import Store
from socialtui.tui.screens.audit import AuditScreen
from socialtui.tui.screens.contacts import ContactsScreen
from socialtui.tui.screens.dialogs import ConfirmDialog, NoteDialog, TagsDialog
from socialtui.tui.screens.handoff import HandoffComposer, HandoffScreen
from socialtui.tui.screens.main import MainScreen
from socialtui.tui.screens.report import ReportScreen
from socialtui.tui.widgets.queue import QueueTable


def queue_ids(app) -> list[str]:  # type: ignore[no-untyped-def]
    return app.screen.query_one(QueueTable).shown_ids if isinstance(app.screen, MainScreen) else []


def header(app) -> str:  # type: ignore[no-untyped-def]
    return screen_text(app).splitlines()[0]


def notes_end(app) -> str:  # type: ignore[no-untyped-def]
    """The end of the handoff notes shown (scrolled there; `wait_for` gives it a frame to show)."""
    if not isinstance(app.screen, HandoffScreen):
        return ""
    app.screen.query_one("#handoff-notes").scroll_end(animate=False, immediate=True)
    return screen_text(app)


async def test_a_handoff_goes_from_one_shift_to_the_next_and_is_acknowledged(world: World) -> None:
    oldest = world.items[0]
    data_dir = world.config.team.data_dir
    alice_app = world.app(ALICE)
    async with alice_app.run_test(size=(80, 24)) as alice:
        await wait_for(lambda: len(queue_ids(alice_app)) == 4, alice, what="Alice's queue")

        # Alice ends her shift: the note is auto-drafted from the store; she adds a line and pins the
        # item selected in the queue and one account.
        await alice.press("e")
        await wait_for(
            lambda: isinstance(alice_app.screen, HandoffComposer), alice, what="the handoff composer"
        )
        composer = alice_app.screen
        assert "Open: 4 unanswered, 2 late." in composer.text, "auto-drafted from the store"
        assert composer.text.startswith("# Handoff from Alice"), "with its guidance line"
        await alice.press(*"Sam waits for a call back.")
        await alice.press("tab", "space")  # the item selected in the queue
        await alice.press("down", "down", "space")  # the first account
        pins = composer.query_one(SelectionList)
        assert pins.selected == [f"item:{oldest.id}", "account:acme-mastodon"]
        await alice.press("ctrl+s")
        await wait_for(lambda: isinstance(alice_app.screen, ConfirmDialog), alice, what="asked first")
        assert "Every operator sees it until they acknowledge it." in screen_text(alice_app)
        await alice.press("y")
        await wait_for(lambda: isinstance(alice_app.screen, MainScreen), alice, what="back to the queue")
        [note] = world.store.handoffs()
        assert note.operator == "Alice" and note.login == "alice"
        assert note.has_work and [i.id for i in note.open_items] == queue_ids(alice_app), (
            "the open work, as data"
        )
        assert note.text.endswith("Sam waits for a call back.")
        assert not any(line.startswith("#") for line in note.text.splitlines()), "guidance dropped"
        assert (note.pinned_items, note.pinned_accounts) == ((oldest.id,), ("acme-mastodon",))
        assert world.store.handoff_draft("Alice") is None, "the handoff draft is gone once written"
        assert [s.ended_at for s in world.store.shifts("Alice")] == [NOW], "writing it ended her shift"
        await wait_for(lambda: "shift ended" in header(alice_app), alice, what="Alice's header says so")

        # Bob starts his dashboard: the note comes first, before the queue was ever shown.
        bob_app = world.app(BOB, store=Store(data_dir))
        async with bob_app.run_test(size=(80, 24)) as bob:
            await wait_for(lambda: bob_app.dashboard is not None, bob, what="Bob's first reading")
            assert isinstance(bob_app.screen, HandoffScreen), "the handoff screen comes first"
            await bob.pause()
            shown = screen_text(bob_app)
            assert "1 note waiting for you" in shown
            assert "── Alice · Wed 18 Nov 14:00 UTC" in shown and "Open: 4 unanswered" in shown
            assert "open when written: 4 unanswered (4 still open now)" in shown
            await bob.press("end")  # a long note scrolls
            await bob.pause()
            shown = screen_text(bob_app)
            assert "Sam Rivers (@sam@example.org): The app crashed" in shown, "the pinned item"
            assert "open, waiting 1h12m (late)" in shown, "and how it stands now"
            assert "pinned accounts: ● @acme@mastodon.example" in shown
            assert "nobody has acknowledged it yet" in shown
            await bob.press("a")
            await wait_for(
                lambda: isinstance(bob_app.screen, MainScreen), bob, what="acknowledged: the queue"
            )
            assert [(ack.operator, ack.login, ack.at) for ack in world.store.handoffs()[0].acks] == [
                ("Bob", "bob", NOW)
            ]
            await wait_for(lambda: len(queue_ids(bob_app)) == 4, bob)
            assert "handoff" not in header(bob_app), "nothing left to acknowledge"

        # Alice, still at her dashboard, is told, and sees who acknowledged and when.
        await wait_for(
            lambda: any(
                "Bob acknowledged your handoff note of 14:00 UTC at 14:00 UTC" in m for _, m in alice_app.told
            ),
            alice,
            what="Alice is told",
        )
        await alice.press("H")
        await wait_for(
            lambda: "── Alice · Wed 18 Nov 14:00 UTC  (your note)" in screen_text(alice_app), alice
        )
        await wait_for(
            lambda: "✓ acknowledged by Bob 14:00 UTC" in notes_end(alice_app), alice, what="the history"
        )

        # Carol has not acknowledged it: it is open for her, stays flagged when she looks away.
        carol_app = world.app(CAROL, store=Store(data_dir))
        async with carol_app.run_test(size=(80, 24)) as carol:
            await wait_for(lambda: isinstance(carol_app.screen, HandoffScreen), carol, what="Carol sees it")
            await wait_for(lambda: "Sam waits for a call back." in screen_text(carol_app), carol)
            assert "1 note waiting for you" in screen_text(carol_app)
            await carol.press("escape")
            await wait_for(lambda: isinstance(carol_app.screen, MainScreen), carol)
            await wait_for(lambda: "⚑ 1 handoff" in header(carol_app), carol, what="the flag in her header")
            await carol.press("h")
            await wait_for(
                lambda: isinstance(carol_app.screen, HandoffScreen), carol, what="h brings it back"
            )
            assert not carol_app.screen.history
            await carol.press("escape")

            # Alice's history says who on shift has still to read it.
            await wait_for(
                lambda: "not yet: Carol (on shift since 14:00 UTC)" in notes_end(alice_app),
                alice,
                what="pending",
            )

            # Past `handoff_ack_within` (30m) every operator's header flags it.
            world.clock.advance(timedelta(minutes=31))
            await alice.press("escape")
            await wait_for(lambda: "ack overdue: Carol" in header(alice_app), alice, what="flagged for Alice")
            await alice.press("H")
            await wait_for(lambda: "Carol (on shift since 14:00 UTC, overdue)" in notes_end(alice_app), alice)
            await wait_for(lambda: "⚑ 1 handoff" in header(carol_app), carol)
            assert "ack overdue" not in header(carol_app), "Carol's own flag says it"
    assert world.store.handoffs()[0].acked_by("Carol") is None


async def test_the_handoff_draft_survives_a_dropped_session(world: World) -> None:
    first = world.app()
    async with first.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(first)) == 4, pilot)
        await pilot.press("e")
        await wait_for(lambda: isinstance(first.screen, HandoffComposer), pilot)
        await pilot.press(*"Half a note")
        await pilot.press("tab", "space")  # pin the first thing offered: the item selected in the queue
        draft = lambda: world.store.handoff_draft("Alice")  # noqa: E731
        await wait_for(
            lambda: draft() is not None and draft().text.endswith("Half a note") and draft().pinned_items,
            pilot,
        )
        pinned = draft().pinned_items
        # The session drops here.
    assert world.store.handoffs() == []

    again = world.app()
    async with again.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(again)) == 4, pilot)
        await pilot.press("e")
        await wait_for(lambda: isinstance(again.screen, HandoffComposer), pilot)
        assert again.screen.query_one(TextArea).text.endswith("Half a note")
        assert again.screen.pins[0] == pinned, "the pins come back with the text"
        assert any("handoff draft from 14:00 UTC is back" in m for _, m in again.told)
        await pilot.press("escape")
        await wait_for(lambda: isinstance(again.screen, MainScreen), pilot)
    assert draft().text.endswith("Half a note"), "closing keeps it"


async def test_contacts_are_searched_by_words_and_tag_and_annotated(world: World) -> None:
    sam = "mastodon:sam@example.org"
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot)
        await pilot.press("p")
        await wait_for(lambda: isinstance(app.screen, ContactsScreen) and app.screen.rows, pilot)
        screen = app.screen
        assert screen.rows[0].key == sam, "the selected item's author first"
        await wait_for(lambda: "Regular customer; prefers short answers." in screen_text(app), pilot)
        shown = screen_text(app)
        assert "Bob: Regular customer" in shown, "who wrote the note"
        assert "tags: customer, vip" in shown
        assert "Last week's order arrived broken." in shown and "we'll send a new one" in shown, "history"

        await pilot.press("slash", *"tag:press", "enter")
        await wait_for(lambda: screen.rows == [], pilot, what="nobody tagged press")
        assert "No contacts match." in screen_text(app)
        await pilot.press("slash", "ctrl+u", *"short answers", "enter")
        await wait_for(lambda: [c.key for c in screen.rows] == [sam], pilot, what="found by a note's words")

        await pilot.press("n")
        await wait_for(lambda: isinstance(app.screen, NoteDialog), pilot)
        await pilot.press(*"Called back on Monday", "enter")
        await wait_for(lambda: "Alice: Called back on Monday" in screen_text(app), pilot, what="the new note")

        await pilot.press("g")
        await wait_for(lambda: isinstance(app.screen, TagsDialog), pilot)
        await pilot.press(*", press", "enter")
        await wait_for(lambda: isinstance(app.screen, ContactsScreen), pilot)
        await pilot.press("slash", "ctrl+u", *"tag:press", "enter")
        await wait_for(lambda: [c.key for c in screen.rows] == [sam], pilot, what="found by the new tag")
        await wait_for(lambda: "tags: customer, press, vip" in screen_text(app), pilot)
        await pilot.press("escape")
        await wait_for(lambda: isinstance(app.screen, MainScreen), pilot)

    contact = world.store.contact(sam)
    assert contact.tags == ("customer", "press", "vip")
    assert (contact.notes[-1].text, contact.notes[-1].operator, contact.notes[-1].login) == (
        "Called back on Monday",
        "Alice",
        "alice",
    )


async def test_the_audit_view_lists_actions_newest_first_and_filters_them(world: World) -> None:
    world.store.mark_done(world.items[2], "spam", BOB, NOW - timedelta(minutes=30))
    world.store.claim(world.items[0], ALICE, NOW - timedelta(minutes=10), timedelta(minutes=10))
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 3, pilot)
        await pilot.press("A")
        await wait_for(lambda: isinstance(app.screen, AuditScreen) and app.screen.reading is not None, pilot)
        screen = app.screen

        def actions() -> list[tuple[str, str]]:
            assert screen.reading is not None
            return [(e.operator, e.action) for e in screen.reading.events]

        assert actions() == [
            ("Alice", "shift-start"),
            ("Alice", "claim"),
            ("Bob", "done"),
            ("Bob", "tags"),
            ("Bob", "note"),
        ], "newest first"
        rows = screen_text(app).splitlines()[2:7]
        assert "shift-start" in rows[0] and "Alice" in rows[0]
        assert "done" in rows[2] and "Bob" in rows[2] and "spam" in rows[2]

        await pilot.press("o")  # the first operator: Alice
        await wait_for(lambda: actions() == [("Alice", "shift-start"), ("Alice", "claim")], pilot)
        await pilot.press("o")  # Bob
        await wait_for(lambda: actions() == [("Bob", "done"), ("Bob", "tags"), ("Bob", "note")], pilot)
        await pilot.press("k")  # the first action: claim (Bob made none)
        await wait_for(lambda: actions() == [], pilot)
        assert "Nothing recorded with these filters." in screen_text(app)
        await pilot.press("o")  # everyone's claims
        await wait_for(lambda: actions() == [("Alice", "claim")], pilot)

        # Another operator acts: the trail shows it within a second or two.
        await pilot.press("k")  # the next action: done
        await wait_for(lambda: actions() == [("Bob", "done")], pilot)
        Store(world.config.team.data_dir).mark_done(world.items[1], "thanked", BOB, NOW)
        await wait_for(lambda: actions() == [("Bob", "done"), ("Bob", "done")], pilot, what="followed")


async def test_the_report_shows_the_figures_worked_out_by_hand(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    store = Store(config.team.data_dir)
    report_scenario(store)
    world = World(config, store, FixedClock(NOW), [])
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.dashboard is not None, pilot)
        await pilot.press("R")
        await wait_for(lambda: isinstance(app.screen, ReportScreen) and app.screen.report is not None, pilot)
        screen = app.screen
        body = screen.query_one("#report-text", Static).content.plain  # the whole view, also below the fold

        def row(name: str, text: str) -> list[str]:
            [line] = [line for line in text.splitlines() if line.startswith(name)]
            return line[16:].split()

        # name       recv answ done median p90  in tgt quiet   posts conv
        assert row("acme-mastodon", body) == ["5", "2", "1", "5m", "45m", "33%", "14h5m", "3", "67%"]
        assert row("acme-bluesky", body) == ["2", "1", "1", "2m", "2m", "100%", "15h2m", "2", "50%"]
        assert row("total", body) == ["7", "3", "2", "5m", "45m", "50%", "15h2m", "5", "60%"]
        assert row("Alice", body) == ["-", "1", "1", "5m", "5m", "100%", "-", "-", "-"]
        assert row("Bob", body) == ["-", "0", "1", "-", "-", "-", "-", "-", "-"]
        assert row("(elsewhere)", body) == ["-", "2", "0", "2m", "45m", "50%", "-", "-", "-"]
        assert "Done without a reply: spam 1, thanked 1" in body
        buckets = ("<5m", "<15m", "<30m", "<1h", "<4h", "4h+")
        bars = {
            line.split()[0]: (line.count("█"), line.split()[-1])
            for line in body.splitlines()
            if line.split()[:1] and line.split()[0] in buckets
        }
        assert bars == {  # 2m, 5m and 45m; the longest bar is 40 blocks
            "<5m": (40, "1"),
            "<15m": (40, "1"),
            "<30m": (0, "0"),
            "<1h": (40, "1"),
            "<4h": (0, "0"),
            "4h+": (0, "0"),
        }
        assert "  Wed  ····█·█·██··············  4" in body, "04:05, 06:00, 08:45, 09:02 on Wednesday"
        assert "  Tue  ··················█·····  1" in body, "18:00 on Tuesday"
        assert "followers" not in body.lower()
        shown = screen_text(app)
        assert "acme-mastodon" in shown and "33%" in shown, "on screen at 80x24"

        await pilot.press("w")  # 7 days: m0 and the post 30h ago come in
        await wait_for(
            lambda: screen.report is not None and screen.report.since == NOW - timedelta(days=7), pilot
        )
        await pilot.pause()
        body = screen.query_one("#report-text", Static).content.plain
        assert row("acme-mastodon", body) == ["6", "2", "1", "5m", "45m", "25%", "5d18h", "4", "50%"]
        assert row("total", body) == ["8", "3", "2", "5m", "45m", "40%", "6d4h", "6", "50%"]
