"""The operator's journeys, walked with the keyboard at 80x24 as a person would."""

from __future__ import annotations

from datetime import timedelta

import pytest
from textual.widgets import TextArea
from tuikit import ALICE, BOB, NOW, World, own_post, screen_text, wait_for

from socialtui.model import Post
from socialtui.store import Store
from socialtui.tui.data import Dashboard, TimelineQuery
from socialtui.tui.screens.composer import ComposerScreen
from socialtui.tui.screens.dialogs import ConfirmDialog, DoneDialog, NoteDialog, SavedRepliesDialog
from socialtui.tui.screens.main import MainScreen
from socialtui.tui.widgets.detail import DetailPane
from socialtui.tui.widgets.queue import QueueTable


def queue_ids(app) -> list[str]:  # type: ignore[no-untyped-def]
    return app.screen.query_one(QueueTable).shown_ids if isinstance(app.screen, MainScreen) else []


async def test_reply_to_the_oldest_item_after_reading_its_thread_and_contact(world: World) -> None:
    oldest = world.items[0]
    ancestor = own_post("acme-mastodon", "0990", 80, "Version 4.2 is out today!")
    app = world.app()
    world.factory(world.config.account("acme-mastodon")).threads["1001"] = [ancestor, oldest.post]
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot, what="the queue")
        assert queue_ids(app)[0] == oldest.id, "oldest first"
        assert app.screen.query_one(QueueTable).selected_id == oldest.id, "the oldest is selected at start"

        await pilot.press("enter")
        detail = app.screen.query_one(DetailPane)
        await wait_for(
            lambda: detail.thread.state == "ok" and detail.contact is not None, pilot, what="thread + contact"
        )
        await pilot.pause()  # the pane redraws after its state changed
        shown = screen_text(app)
        assert "Version 4.2 is out today!" in shown, "the thread above the item"
        assert "The app crashed again after the update." in shown and "Any news?" in shown, "the item in full"
        assert "Regular customer; prefers short answers." in shown, "the contact's notes"
        assert "customer, vip" in shown, "the contact's tags"
        assert "Last week's order arrived broken." in shown, "a past conversation"
        assert "we'll send a new one" in shown, "with our reply to it"

        await pilot.press("escape", "r")
        await wait_for(lambda: isinstance(app.screen, ComposerScreen), pilot, what="the composer")
        assert world.store.claims(NOW)[oldest.id].login == "alice", "opening the composer claims the item"
        composer = app.screen
        assert "@acme@mastodon.example" in screen_text(app), "the sending account is shown"
        await pilot.press(*"Fixed tonight.")
        await pilot.press("ctrl+s")
        await wait_for(lambda: isinstance(app.screen, ConfirmDialog), pilot, what="the confirmation")
        assert "from  ● @acme@mastodon.example" in screen_text(app)
        await pilot.press("y")
        await wait_for(lambda: isinstance(app.screen, MainScreen), pilot, what="back to the queue")
        await wait_for(lambda: oldest.id not in queue_ids(app), pilot, what="the item leaves the queue")

    adapter = world.adapters["acme-mastodon"]
    assert adapter.sent == [(oldest.id, "Fixed tonight.", "key-acme-mastodon-1")]
    sent = [e for e in world.store.outbox() if e.item == oldest.id]
    assert [e.state for e in sent] == ["sent"], "through the outbox"
    assert oldest.id not in world.store.claims(NOW), "sending releases the claim"
    assert world.store.drafts() == {}, "the draft is gone once sent"
    assert composer.keeper.draft.idempotency_key == sent[0].id, (
        "the key fixed at draft creation is the outbox key"
    )


async def test_two_dashboards_one_claims_the_other_sees_it_and_is_warned(world: World) -> None:
    oldest = world.items[0]
    alice_app = world.app(ALICE)
    bob_app = world.app(BOB, store=Store(world.config.team.data_dir))
    async with alice_app.run_test(size=(80, 24)) as alice, bob_app.run_test(size=(80, 24)) as bob:
        await wait_for(lambda: len(queue_ids(alice_app)) == 4, alice)
        await wait_for(lambda: len(queue_ids(bob_app)) == 4, bob)
        await alice.press("r")
        await wait_for(lambda: isinstance(alice_app.screen, ComposerScreen), alice)

        # Bob's dashboard follows the store: the claim shows on the row (how soon: bench/tui.py).
        await wait_for(lambda: "Alice 0s" in screen_text(bob_app), bob, what="the claim on Bob's screen")
        await bob.press("r")
        await wait_for(lambda: isinstance(bob_app.screen, ConfirmDialog), bob, what="Bob is asked first")
        assert "Alice claimed this item" in screen_text(bob_app)
        await bob.press("n")
        await wait_for(lambda: not isinstance(bob_app.screen, ConfirmDialog), bob, what="the question gone")
        assert isinstance(bob_app.screen, MainScreen), "leaving it: no composer"
        assert world.store.claims(NOW)[oldest.id].login == "alice"

        await bob.press("r")
        await wait_for(lambda: isinstance(bob_app.screen, ConfirmDialog), bob)
        await bob.press("y")
        await wait_for(lambda: isinstance(bob_app.screen, ComposerScreen), bob, what="Bob takes it over")
        assert world.store.claims(NOW)[oldest.id].login == "bob"

        # Alice, still writing, is told.
        await wait_for(
            lambda: "Bob took over the claim" in screen_text(alice_app),
            alice,
            what="Alice is warned",
        )


async def test_done_with_a_reason_from_the_list_and_typed(world: World) -> None:
    first, second = world.items[0], world.items[1]
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot)
        await pilot.press("d")
        await wait_for(lambda: isinstance(app.screen, DoneDialog), pilot)
        await pilot.press("1")
        await wait_for(lambda: first.id not in queue_ids(app), pilot, what="done leaves the queue")
        assert app.screen.query_one(QueueTable).selected_id == second.id, "the next item takes its place"

        await pilot.press("d")
        await wait_for(lambda: isinstance(app.screen, DoneDialog), pilot)
        await pilot.press("5", *"by phone", "enter")
        await wait_for(lambda: second.id not in queue_ids(app), pilot)

    states = world.store.states()
    assert (states[first.id].reason, states[first.id].login) == ("spam", "alice")
    assert states[second.id].reason == "by phone"


async def test_a_draft_survives_a_restart(world: World) -> None:
    oldest = world.items[0]
    first = world.app()
    async with first.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(first)) == 4, pilot)
        await pilot.press("r")
        await wait_for(lambda: isinstance(first.screen, ComposerScreen), pilot)
        await pilot.press(*"Half a reply")
        draft = lambda: world.store.draft(oldest.id)  # noqa: E731
        await wait_for(
            lambda: draft() is not None and draft().text == "Half a reply", pilot, what="saved as typed"
        )
        key = draft().idempotency_key
        # The session drops here: no Escape, no goodbye.

    again = world.app()
    async with again.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(again)) == 4, pilot)
        await pilot.press("r")
        await wait_for(lambda: isinstance(again.screen, ComposerScreen), pilot)
        composer = again.screen
        assert composer.query_one(TextArea).text == "Half a reply"
        assert composer.keeper.draft.idempotency_key == key, (
            "the same key: a retry can never double the reply"
        )


async def test_a_dropped_ssh_session_keeps_the_draft_to_the_last_keystroke(world: World) -> None:
    import os
    import signal

    oldest = world.items[0]
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot)
        await pilot.press("r")
        await wait_for(lambda: isinstance(app.screen, ComposerScreen), pilot)
        app.screen.query_one(TextArea).insert("typed just before the line dropped")
        os.kill(os.getpid(), signal.SIGHUP)  # what sshd sends when the connection goes
        await wait_for(lambda: not app.is_running, pilot, what="an orderly exit")
    assert world.store.draft(oldest.id).text == "typed just before the line dropped"


async def test_closing_an_empty_composer_releases_the_claim_and_a_written_one_keeps_it(world: World) -> None:
    first, second = world.items[0], world.items[1]
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot)
        await pilot.press("r")
        await wait_for(lambda: isinstance(app.screen, ComposerScreen), pilot)
        await pilot.press("escape")
        await wait_for(lambda: isinstance(app.screen, MainScreen), pilot)
        await wait_for(lambda: first.id not in world.store.claims(NOW), pilot, what="released")

        await pilot.press("down", "r")
        await wait_for(lambda: isinstance(app.screen, ComposerScreen), pilot)
        assert app.screen.item.id == second.id
        await pilot.press(*"Yes!", "escape")
        await wait_for(lambda: isinstance(app.screen, MainScreen), pilot)
    assert world.store.claims(NOW)[second.id].login == "alice"
    assert world.store.draft(second.id).text == "Yes!"


async def test_another_operators_action_shows_keeping_the_selection(world: World) -> None:
    """How soon it shows is a figure of bench/tui.py (another_operator_seen), not a test's timeout."""
    first, second, third = world.items[0], world.items[1], world.items[2]
    app = world.app(refresh_every=1.0)
    other = Store(world.config.team.data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot)
        await pilot.press("down", "down")
        queue = app.screen.query_one(QueueTable)
        assert queue.selected_id == third.id

        other.mark_done(first, "thanked", BOB, NOW)
        await wait_for(lambda: first.id not in queue_ids(app), pilot, what="Bob's done")
        assert queue.selected_id == third.id, "the selection stays on its item"

        from tuikit import make_item, mastodon_author

        new = make_item("acme-mastodon", "1003", mastodon_author("ana"), "New here: hello!", 1)
        other.put_items([new])
        await wait_for(lambda: new.id in queue_ids(app), pilot, what="the poller's new item")
        assert queue_ids(app)[-1] == new.id, "newest last"
        assert queue.selected_id == third.id
        other.claim(second, BOB, NOW, timedelta(minutes=10))
        await wait_for(lambda: "Bob 0s" in screen_text(app), pilot, what="Bob's claim")


async def test_answered_meanwhile_is_flagged_before_sending(world: World) -> None:
    oldest = world.items[0]
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot)
        await pilot.press("r")
        await wait_for(lambda: isinstance(app.screen, ComposerScreen), pilot)
        await pilot.press(*"On it")
        # Someone answers from the Mastodon web app: the poller stores our account's reply.
        Store(world.config.team.data_dir).put_own_posts(
            [own_post("acme-mastodon", "2100", 0, "Answered from the phone", reply_to=oldest.post.remote_id)]
        )
        await wait_for(lambda: "answered meanwhile" in screen_text(app), pilot, what="the flag")
        await pilot.press("ctrl+s")
        await wait_for(lambda: isinstance(app.screen, ConfirmDialog), pilot)
        assert "answered meanwhile: a second reply may not be wanted" in app.screen.warning.plain
        await pilot.press("n")
    assert world.adapters["acme-mastodon"].sent == [], "nothing sent without confirming"


async def test_a_reply_no_sync_has_seen_is_found_on_the_server_before_sending(world: World) -> None:
    # Answered from the phone app a moment ago: the store does not know, the server's thread does.
    oldest = world.items[0]
    adapter = world.factory(world.config.account(oldest.account))
    answer = own_post(oldest.account, "2101", 0, "Answered from the phone", reply_to=oldest.post.remote_id)
    adapter.threads[oldest.post.remote_id] = [oldest.post, answer]
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot)
        await pilot.press("r")
        await wait_for(lambda: isinstance(app.screen, ComposerScreen), pilot)
        await pilot.press(*"On it")
        assert "answered meanwhile" not in screen_text(app), "the store alone knows nothing yet"
        await pilot.press("ctrl+s")
        await wait_for(lambda: isinstance(app.screen, ConfirmDialog), pilot)
        assert "answered meanwhile: a second reply may not be wanted" in app.screen.warning.plain
        await pilot.press("n")
    assert adapter.sent == [], "nothing sent without confirming"
    assert answer.remote_id in {p.remote_id for p in world.store.own_posts()}, "every operator sees it"


async def test_the_count_follows_the_network_and_sending_is_refused_over_the_limit(world: World) -> None:
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot)
        await pilot.press("down", "r")  # a Bluesky item: 300 characters
        await wait_for(lambda: isinstance(app.screen, ComposerScreen), pilot)
        composer = app.screen
        composer.query_one(TextArea).insert("x" * 301)
        await pilot.pause()
        assert "301/300" in screen_text(app)
        assert composer.has_class("-over")
        assert composer.check_action("send", ()) is None, "send is shown disabled"
        await pilot.press("ctrl+s")
        await pilot.pause()  # every message the key caused is handled
        assert isinstance(app.screen, ComposerScreen), "no confirmation: it cannot be sent"
        await pilot.press("backspace")
        await pilot.pause()
        assert "300/300" in screen_text(app) and not composer.has_class("-over")


async def test_saved_replies_fill_in_the_name(world: World) -> None:
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot)
        await pilot.press("r")
        await wait_for(lambda: isinstance(app.screen, ComposerScreen), pilot)
        composer = app.screen
        await pilot.press("f2")
        await wait_for(lambda: isinstance(app.screen, SavedRepliesDialog), pilot, what="the saved replies")
        await pilot.press("enter")
        await wait_for(lambda: composer.query_one(TextArea).text != "", pilot)
        assert composer.query_one(TextArea).text == "Thank you Sam Rivers, that means a lot!"


async def test_the_visibility_and_content_warning_are_inherited_and_shown(world: World) -> None:
    from tuikit import make_item, mastodon_author

    item = make_item(
        "acme-mastodon",
        "1200",
        mastodon_author("zed"),
        "spoilers inside",
        100,
        visibility="unlisted",
        spoiler_text="film plot",
    )
    world.store.put_items([item])
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: item.id in queue_ids(app), pilot)
        assert queue_ids(app)[0] == item.id
        await pilot.press("r")
        await wait_for(lambda: isinstance(app.screen, ComposerScreen), pilot)
        # The screen is pushed before it is painted: wait for what a person would read.
        await wait_for(
            lambda: "visibility unlisted" in screen_text(app) and "CW film plot" in screen_text(app),
            pilot,
            what="the inherited visibility and content warning",
        )


async def test_note_open_and_copy_link(world: World) -> None:
    oldest = world.items[0]
    app = world.app()
    opened: list[str] = []
    app.open_url = lambda url, new_tab=True: opened.append(url)  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot)
        await pilot.press("n")
        await wait_for(lambda: isinstance(app.screen, NoteDialog), pilot, what="the note dialog")
        await pilot.press(*"Asks often", "enter")
        await wait_for(lambda: any("Note saved" in m for _, m in app.told), pilot)
        await pilot.press("o", "y")
        await pilot.pause()
        assert opened == [oldest.post.url]
        assert app.clipboard == oldest.post.url
    notes = world.store.contact("mastodon:sam@example.org").notes
    assert notes[-1].text == "Asks often" and notes[-1].login == "alice"


@pytest.mark.files_only(
    "the files engine's locks: a PostgreSQL reader never waits on a writer either (its writers' "
    "lock timeout is tested in test_pg_engine)"
)
async def test_a_writer_holding_the_store_locks_does_not_stop_the_dashboard(world: World) -> None:
    """Readers take no lock (files are replaced whole): another process stuck inside a write holds
    up other writers, never the dashboard's readings."""
    from contextlib import ExitStack

    from socialtui.store.files import FileLock
    from socialtui.store.schema import DATA_TABLES

    app = world.app(refresh_every=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot)
        tables = world.config.team.data_dir / "tables"
        with ExitStack() as held:
            for table in DATA_TABLES:
                held.enter_context(FileLock(tables / f"{table}.lock").hold(exclusive=True))
            for _ in range(3):  # new readings keep coming while every table is locked
                before = app.dashboard
                await wait_for(lambda before=before: app.dashboard is not before, pilot, what="a new reading")
            assert "locked" not in screen_text(app) and app.store_problem == ""
            queue = app.screen.query_one(QueueTable)
            await pilot.press("down")
            assert queue.selected_id == world.items[1].id, "the queue still moves"


async def test_keys_are_remapped_from_the_config_and_unknown_ids_are_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tuikit import fill, write_config

    from socialtui.clock import FixedClock

    config = write_config(tmp_path, keys='reply = "R"\nnot-a-binding = "x"')
    store = Store(config.team.data_dir)
    world = World(config, store, FixedClock(NOW), fill(store))
    app = world.app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot)
        assert any("not-a-binding" in m and sev == "error" for sev, m in app.told), "refused, visibly"
        assert "not-a-binding" in screen_text(app)
        await pilot.press("r")
        await pilot.pause()  # every message the key caused is handled
        assert isinstance(app.screen, MainScreen), "r no longer replies"
        await pilot.press("R")
        await wait_for(lambda: isinstance(app.screen, ComposerScreen), pilot)


async def test_help_lists_every_key_and_the_palette_every_action(world: World) -> None:
    from socialtui.tui.keys import known_ids

    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.dashboard is not None, pilot)
        listed = {line.id for _, lines in app.keys_help() for line in lines}
        assert known_ids() <= listed
        await pilot.press("question_mark")
        await pilot.pause()
        assert "Keys" in screen_text(app) and "[reply]" in screen_text(app)
        await pilot.press("escape")
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {
            "Reply",
            "Done",
            "Claim / release",
            "Note about the contact",
            "Open in browser",
            "Copy link",
            "Timeline",
            "Filter the queue",
            "Tags of the author",
            "Handoff notes",
            "Handoff history",
            "End shift / handoff",
            "People",
            "Audit trail",
            "Report",
        } <= titles


async def test_filter_narrows_the_queue(world: World) -> None:
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(queue_ids(app)) == 4, pilot)
        await pilot.press("slash", *"network:b")
        await pilot.pause()
        assert queue_ids(app) == [world.items[1].id, world.items[3].id]
        await pilot.press("enter")
        await pilot.press("slash", "ctrl+u", *"sunday")
        await pilot.pause()
        assert queue_ids(app) == [world.items[2].id]
        await pilot.press("escape")
        await pilot.pause()
        assert len(queue_ids(app)) == 4


async def test_timelines_merge_filter_and_act_from_the_right_account(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tuikit import bluesky_author

    from socialtui.tui.screens.timeline import TimelineScreen, TimelineTable

    friend = Post(
        "acme-bluesky",
        "at://did:plc:ina/app.bsky.feed.post/7",
        bluesky_author("ina"),
        "Our bike club rides Sunday!",
        NOW - timedelta(minutes=3),
    )
    world.store.put_home_posts([friend])
    # Textual describes a worker by the repr of its arguments unless told: a dashboard's (every
    # queue entry) took a second of the UI's time at 20,000 open items, at every reading.
    described: list[bool] = []
    monkeypatch.setattr(Dashboard, "__repr__", lambda self: described.append(True) or "Dashboard")
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.dashboard is not None, pilot)
        await pilot.press("t")
        await wait_for(lambda: isinstance(app.screen, TimelineScreen) and app.screen._rows, pilot)
        await wait_for(lambda: app.screen._loaded_for is not None, pilot)
        assert not described, "no reading described by its repr"
        screen = app.screen
        ours = [row.post.text for row in screen._rows]
        assert ours[0] == "Also: do you ship to Norway?", "newest first"
        assert "Our news of the day" in ours and "Our bike club rides Sunday!" not in ours
        await pilot.press("k")  # listening
        await wait_for(lambda: [r.post.text for r in screen._rows] == ["Our bike club rides Sunday!"], pilot)
        await pilot.press("f")
        await wait_for(
            lambda: (
                world.adapters.get("acme-bluesky") is not None and world.adapters["acme-bluesky"].favourited
            ),
            pilot,
        )
        assert world.adapters["acme-bluesky"].favourited == [friend.remote_id]
        await pilot.press("b")
        await wait_for(lambda: isinstance(app.screen, ConfirmDialog), pilot)
        assert "acme.bsky.example" in screen_text(app), "boosting names the account"
        await pilot.press("y")
        await wait_for(lambda: world.adapters["acme-bluesky"].boosted == [friend.remote_id], pilot)
        await pilot.press("r")
        await wait_for(lambda: isinstance(app.screen, ComposerScreen), pilot)
        assert app.screen.item.account == "acme-bluesky" and app.screen.item.post == friend
        await pilot.press("escape")
        await wait_for(lambda: isinstance(app.screen, TimelineScreen), pilot)
        await pilot.press("k", "a")  # all kinds, first account
        await wait_for(lambda: screen.query_state.account == "acme-mastodon", pilot)
        await wait_for(
            lambda: all(r.post.account == "acme-mastodon" for r in screen._rows) and screen._rows, pilot
        )
        assert len(screen.query_one(TimelineTable).rows) == len(screen._rows)
        # A filter's words, looked for in the store once typing pauses: the account's posts that
        # hold them, an item among them replied to as itself.
        await pilot.press("k", "a", "a")  # ours again, every account
        await wait_for(lambda: screen.query_state == TimelineQuery(), pilot, what="the first query")
        await pilot.press("slash", *"norway")
        await wait_for(
            lambda: [r.post.text for r in screen._rows] == ["Also: do you ship to Norway?"],
            pilot,
            what="found",
        )
        assert "our posts and to us (1 post)  filter norway" in screen_text(app)
        await pilot.press("enter", "r")
        await wait_for(lambda: isinstance(app.screen, ComposerScreen), pilot)
        assert app.screen.item.id in {item.id for item in world.items}, "the item itself"
        await pilot.press("escape")
        await wait_for(lambda: isinstance(app.screen, TimelineScreen), pilot)
        # The filter emptied; a post that arrives while the timeline is shown comes in with the
        # dashboard's next readings (a search's rows are read again every 30 s only).
        await pilot.press("slash", *["backspace"] * 6, "enter")
        await wait_for(lambda: screen.query_state == TimelineQuery() and len(screen._rows) > 1, pilot)
        world.store.put_own_posts([own_post("acme-bluesky", "news-2", 1, text="Norway: yes, we do ship")])
        await wait_for(
            lambda: [r.post.text for r in screen._rows][:1] == ["Norway: yes, we do ship"],
            pilot,
            what="the new post",
        )
        await pilot.press("escape", "escape")
        await wait_for(lambda: isinstance(app.screen, MainScreen), pilot)
