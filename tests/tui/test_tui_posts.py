"""New posts and the schedule in the dashboard, walked with the keyboard at 80x24."""

from __future__ import annotations

from datetime import timedelta

from textual.widgets import Input, TextArea
from tuikit import ALICE, NOW, World, screen_text, wait_for

from socialtui.model import Actor
from socialtui.outbox import queue_post
from socialtui.tui.screens.dialogs import ConfirmDialog
from socialtui.tui.screens.main import MainScreen
from socialtui.tui.screens.post_composer import PostComposerScreen
from socialtui.tui.screens.schedule import ScheduleScreen, WhenDialog
from socialtui.tui.widgets.accounts import AccountsPanel

BOB = Actor("bob", "Bob")


async def focus_accounts(app, pilot) -> AccountsPanel:  # type: ignore[no-untyped-def]
    panel = app.screen.query_one(AccountsPanel)
    for _ in range(4):
        if panel.has_focus:
            break
        await pilot.press("tab")
    assert panel.has_focus, "tab reaches the accounts pane"
    return panel


def schedule_some(world: World) -> list:
    """Two posts scheduled by Bob from the shell: one per account."""
    posts = []
    for account, text, hours in (
        ("acme-bluesky", "Evening news #b", 3),
        ("acme-mastodon", "Morning news #m", 1),
    ):
        adapter = world.factory(world.config.account(account))
        posts.append(queue_post(world.store, adapter, text, BOB, NOW, due_at=NOW + timedelta(hours=hours)))
    return posts


async def test_a_post_scheduled_from_the_accounts_pane(world: World) -> None:
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.dashboard is not None, pilot, what="the first reading")
        panel = await focus_accounts(app, pilot)
        await pilot.press("down")
        assert panel.selected_account == "acme-bluesky"
        await wait_for(lambda: "▶ acme.bsky.example" in screen_text(app), pilot, what="the cursor")
        await wait_for(
            lambda: "▶ acme.bsky.example" in screen_text(app) and "breach at 14:40 UTC" in screen_text(app),
            pilot,
            what="its forecast",
        )
        await pilot.press("P")  # Enter filters the queue to the account; P writes from it
        await wait_for(lambda: isinstance(app.screen, PostComposerScreen), pilot, what="the composer")
        shown = screen_text(app)
        assert "New post from ● acme.bsky.example" in shown, "the account unmistakable"
        assert "quiet gap:" in shown
        await pilot.press(*"Open late tonight")
        assert "17/300" in screen_text(app), "the count by the network's rules"
        await pilot.press("tab", *"tomorrow 09:00")
        await wait_for(
            lambda: "scheduled for Thu 19 Nov 09:00 UTC" in screen_text(app), pilot, what="the time read"
        )
        await pilot.press("ctrl+s")
        await wait_for(lambda: isinstance(app.screen, ConfirmDialog), pilot, what="the confirmation")
        assert "Schedule this post?" in screen_text(app) and "at Thu 19 Nov 09:00 UTC" in screen_text(app)
        await pilot.press("y")
        await wait_for(lambda: isinstance(app.screen, MainScreen), pilot, what="back to the dashboard")
    (entry,) = world.store.outbox()
    assert (entry.account, entry.text, entry.state, entry.kind) == (
        "acme-bluesky",
        "Open late tonight",
        "scheduled",
        "post",
    )
    assert entry.due_at == NOW.replace(day=19, hour=9) and entry.login == ALICE.login
    assert world.adapters["acme-bluesky"].posted == [], "not sent before its time"


async def test_a_post_now_with_a_narrower_visibility_and_a_bad_time_refused(world: World) -> None:
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.dashboard is not None, pilot, what="the first reading")
        await pilot.press("P")
        await wait_for(lambda: isinstance(app.screen, PostComposerScreen), pilot, what="the composer")
        composer = app.screen
        assert "New post from ● @acme@mastodon.example" in screen_text(app), "the first account by default"
        await pilot.press(*"Doors open at ten")
        await pilot.press("tab", *"yesterday")
        await wait_for(
            lambda: "cannot be read as a time" in screen_text(app), pilot, what="what was expected"
        )
        assert composer.check_action("send", ()) is None, "posting is refused while the time cannot be read"
        composer.query_one("#post-when", Input).value = ""
        await pilot.press("f3")
        await wait_for(lambda: "visibility unlisted" in screen_text(app), pilot, what="the visibility")
        await pilot.press("ctrl+s")
        await wait_for(lambda: isinstance(app.screen, ConfirmDialog), pilot, what="the confirmation")
        assert "Post this now?" in screen_text(app)
        await pilot.press("y")
        await wait_for(lambda: isinstance(app.screen, MainScreen), pilot, what="back to the dashboard")
    assert [(text, vis) for text, vis, _ in world.adapters["acme-mastodon"].posted] == [
        ("Doors open at ten", "unlisted")
    ]
    (entry,) = world.store.outbox()
    assert entry.state == "sent"


async def test_an_overlong_post_shows_red_and_cannot_be_sent(world: World) -> None:
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.dashboard is not None, pilot)
        await pilot.press("P")
        await wait_for(lambda: isinstance(app.screen, PostComposerScreen), pilot)
        app.screen.query_one(TextArea).insert("x" * 501)
        await wait_for(lambda: "501/500" in screen_text(app), pilot, what="the count")
        assert app.screen.has_class("-over")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, PostComposerScreen), "no confirmation: it cannot be sent"
    assert world.store.outbox() == []


async def test_the_schedule_merged_and_per_account_cancel_move_and_edit(world: World) -> None:
    bluesky, mastodon = schedule_some(world)
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.dashboard is not None, pilot)
        await pilot.press("S")
        await wait_for(lambda: isinstance(app.screen, ScheduleScreen), pilot, what="the schedule")
        screen = app.screen
        await wait_for(lambda: len(screen.posts) == 2, pilot, what="the posts")
        shown = screen_text(app)
        assert "all accounts, merged" in shown
        assert shown.index("Morning news #m") < shown.index("Evening news #b"), "in order of time"
        assert "Wed 18 Nov 15:00 UTC" in shown
        # Cancel the first (the Mastodon one, due first).
        await pilot.press("x")
        await wait_for(lambda: isinstance(app.screen, ConfirmDialog), pilot, what="asks first")
        await pilot.press("y")
        await wait_for(
            lambda: world.store.outbox_entry(mastodon.id).state == "cancelled", pilot, what="cancelled"
        )
        await wait_for(lambda: len(screen.posts) == 1, pilot, what="gone from the schedule")
        # One account: the Bluesky one, with its forecast and day strip: its post made 3h20m ago
        # (the reading's own post times), the one scheduled.
        await pilot.press("a", "a")
        await wait_for(lambda: screen.account_id == "acme-bluesky", pilot)

        def strip() -> str:
            lines = screen_text(app).splitlines()
            at = next((n for n, line in enumerate(lines) if "quiet gap:" in line), None)
            return lines[at + 1] if at is not None and at + 1 < len(lines) else ""

        await wait_for(lambda: "█" in strip() and "▓" in strip(), pilot, what="the strip")
        # Move it.
        await pilot.press("m")
        await wait_for(lambda: isinstance(app.screen, WhenDialog), pilot, what="the time dialog")
        await pilot.press(*"Sat 10:30")
        await wait_for(lambda: "Sat 21 Nov 10:30 UTC" in screen_text(app), pilot, what="the time read")
        await pilot.press("enter")
        await wait_for(
            lambda: world.store.outbox_entry(bluesky.id).due_at == NOW.replace(day=21, hour=10, minute=30),
            pilot,
            what="moved",
        )
        # Edit its text.
        await wait_for(lambda: isinstance(app.screen, ScheduleScreen), pilot)
        await pilot.press("e")
        await wait_for(lambda: isinstance(app.screen, PostComposerScreen), pilot, what="the composer")
        assert "Edit the scheduled post from ● acme.bsky.example" in screen_text(app)
        area = app.screen.query_one(TextArea)
        assert area.text == "Evening news #b"
        await pilot.press(*" and more")
        await pilot.press("ctrl+s")
        await wait_for(lambda: isinstance(app.screen, ConfirmDialog), pilot)
        await pilot.press("y")
        await wait_for(lambda: world.store.outbox_entry(bluesky.id).text == "Evening news #b and more", pilot)
    entry = world.store.outbox_entry(bluesky.id)
    assert entry.state == "scheduled" and entry.due_at == NOW.replace(day=21, hour=10, minute=30)
    actions = [e.action for e in world.store.audit_events() if e.action.startswith("post-")]
    assert actions == ["post-scheduled", "post-scheduled", "post-cancelled", "post-moved", "post-edited"]


async def test_a_missed_post_is_shown_and_sent_now_on_request(world: World) -> None:
    adapter = world.factory(world.config.account("acme-mastodon"))
    entry = queue_post(
        world.store,
        adapter,
        "Overnight #late",
        BOB,
        NOW - timedelta(hours=2),
        due_at=NOW - timedelta(hours=1),
    )
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.dashboard is not None, pilot)
        await pilot.press("S")
        await wait_for(lambda: isinstance(app.screen, ScheduleScreen) and app.screen.posts, pilot)
        assert app.screen.posts[0].state == "missed" and "missed" in screen_text(app)
        await pilot.press("s")
        await wait_for(lambda: isinstance(app.screen, ConfirmDialog), pilot)
        assert "It was due 1h ago." in screen_text(app)
        await pilot.press("y")
        await wait_for(lambda: world.store.outbox_entry(entry.id).state == "sent", pilot, what="sent now")
    assert [text for text, _, _ in adapter.posted] == ["Overnight #late"]


async def test_hostile_text_in_the_schedule_stays_text(world: World) -> None:
    adapter = world.factory(world.config.account("acme-mastodon"))
    queue_post(
        world.store,
        adapter,
        "Sale [b]now[/b] \x1b[2J\x1b]52;c;aGk=\x07 end",
        BOB,
        NOW,
        due_at=NOW + timedelta(hours=1),
    )
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.dashboard is not None, pilot)
        await pilot.press("S")
        await wait_for(lambda: isinstance(app.screen, ScheduleScreen) and app.screen.posts, pilot)
        await wait_for(lambda: "[b]now[/b]" in screen_text(app), pilot, what="markup shown as text")
        assert "\x1b" not in screen_text(app) and "\x07" not in screen_text(app)
