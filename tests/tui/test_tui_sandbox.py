"""The dashboard against the sandbox network, through the real adapters (httpx.ASGITransport): an
account whose server fails, and strangers' hostile texts."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from tuikit import NOW, screen_text, wait_for

from socialtui.clock import FixedClock
from socialtui.config import AccountConfig, Config, load_config, read_secret
from socialtui.model import Actor
from socialtui.networks import MemorySessionStore, make_adapter
from socialtui.networks.base import Adapter
from socialtui.sandbox import World, create_app, write_config
from socialtui.sandbox.traffic import HOSTILE_BLUESKY, HOSTILE_MASTODON
from socialtui.store import Store
from socialtui.sync import Syncer
from socialtui.tui.app import SocialApp
from socialtui.tui.screens.main import MainScreen
from socialtui.tui.widgets.detail import DetailPane
from socialtui.tui.widgets.queue import QueueTable

OPERATOR = Actor("alice", "Alice")


class Sandboxed:
    def __init__(self, tmp_path: Path) -> None:
        self.clock = FixedClock(NOW)
        self.world = World(self.clock.now)
        self.config: Config = load_config(
            write_config(self.world, tmp_path / "config.toml", "http://127.0.0.1:9")
        )
        self.store = Store(self.config.team.data_dir)
        self.asgi = create_app(self.world)

    def factory(self, account: AccountConfig) -> Adapter:
        return make_adapter(
            account,
            read_secret(account),
            transport=httpx.ASGITransport(app=self.asgi),
            session_store=MemorySessionStore(),
            now=self.clock.now,
            max_attempts=1,
        )

    def app(self, **options: object) -> SocialApp:
        options.setdefault("cursor_blink", False)
        options.setdefault("refresh_every", 0.2)
        return SocialApp(
            self.config, self.store, self.clock, OPERATOR, adapter_factory=self.factory, **options
        )  # type: ignore[arg-type]

    def mention(self, network: str, who: str, text: str, minutes_ago: float) -> None:
        brand = "@acme@sandbox.social" if network == "mastodon" else "@acme.sandbox.bsky"
        self.world.post_as(network, who, f"{brand} {text}", at=NOW - timedelta(minutes=minutes_ago))


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandboxed:
    return Sandboxed(tmp_path)


def shown_ids(app: SocialApp) -> list[str]:
    return app.screen.query_one(QueueTable).shown_ids if isinstance(app.screen, MainScreen) else []


async def test_an_account_whose_server_fails_is_shown_failing_while_the_others_go_on(
    sandbox: Sandboxed,
) -> None:
    sandbox.mention("mastodon", "sam@example.org", "Is the shop open on Sunday?", 30)
    sandbox.mention("bluesky", "kim.sandbox.bsky", "Do you ship to Norway?", 20)
    sandbox.world.faults.set("acme-mastodon", "500")
    app = sandbox.app(sync=True)  # no `socialtui sync` runs: the dashboard polls the accounts itself
    async with app.run_test(size=(80, 24)) as pilot:

        def healths() -> dict[str, str]:
            data = app.dashboard
            return {a.account.id: a.health.state for a in data.overview.accounts} if data else {}

        await wait_for(
            lambda: (
                healths()
                == {
                    "acme-mastodon": "unreachable",
                    "acme-bluesky": "ok",
                    "nightowl-mastodon": "ok",
                    "nightowl-bluesky": "ok",
                }
                and any(entry.item.account == "acme-bluesky" for entry in app.dashboard.queue)
            ),
            pilot,
            timeout=10,
            what="one account failing, the others polled",
        )
        assert set(app.network.polled_here()) == {a.id for a in sandbox.config.accounts}, (
            "it holds the free leases"
        )
        await wait_for(lambda: "server error" in screen_text(app), pilot, what="the failure on screen")
        shown = screen_text(app)
        lines = shown.splitlines()
        at = next(i for i, line in enumerate(lines) if "@acme@sandbox.social" in line)
        assert "⚠" in lines[at] and "server error" in lines[at + 1] and "500" in lines[at + 1], (
            "a 500 is no outage"
        )
        assert "sync: 1 failing" in shown.splitlines()[0], "the header says so too"
        assert "Do you ship to Norway?" in shown, "the other accounts go on"

        sandbox.world.faults.clear("acme-mastodon")
        app.action_refresh()  # "poll now" (ctrl+r)
        await wait_for(
            lambda: any(e.item.account == "acme-mastodon" for e in app.dashboard.queue),
            pilot,
            timeout=10,
            what="recovery",
        )
    # Leaving the dashboard gives the leases back: `socialtui sync` or another dashboard takes over.
    from socialtui.sync import account_lease as Lease

    lease = Lease(sandbox.store, "acme-mastodon")
    assert lease.try_acquire()
    lease.release()


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200b\u200c\ufeff]")


async def test_hostile_texts_appear_as_text_and_do_nothing(sandbox: Sandboxed) -> None:
    for minutes, text in enumerate(HOSTILE_MASTODON, start=10):
        sandbox.mention("mastodon", "mallory@evil.example", text, minutes)
    for minutes, text in enumerate(HOSTILE_BLUESKY, start=30):
        sandbox.mention("bluesky", "eve.sandbox.bsky", text, minutes)
    huge = ("The quick brown fox jumps over the lazy dog. " * 230)[:10_000]
    sandbox.mention("mastodon", "trent@evil.example", huge, 40)
    # Through the real poller and adapters into the store, as in production.
    await Syncer(sandbox.config, sandbox.store, sandbox.clock, sandbox.factory).run_once()
    expected = len(HOSTILE_MASTODON) + len(HOSTILE_BLUESKY) + 1
    assert len(sandbox.store.items()) == expected

    app = sandbox.app(sync=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: len(shown_ids(app)) == expected, pilot, what="the hostile items in the queue")
        assert any("\u202e" in item.post.text for item in sandbox.store.items()), (
            "bidi overrides reach the store"
        )
        queue = app.screen.query_one(QueueTable)
        detail = app.screen.query_one(DetailPane)
        for index in range(expected):
            queue.move_cursor(row=index)
            wanted = shown_ids(app)[index]
            await wait_for(lambda wanted=wanted: detail.item is not None and detail.item.id == wanted, pilot)
            shown = screen_text(app)
            assert not CONTROL.search(shown), f"control or bidi characters reached the screen: {shown!r}"
            assert app.is_running and app.return_value is None, "nothing was executed"
        # Markup stays literal, wherever it is shown.
        queue.move_cursor(row=shown_ids(app).index(_item_with(app, "[@click=app.quit]")))
        await wait_for(
            lambda: "[@click=app.quit]x[/] click here" in screen_text(app), pilot, what="literal markup"
        )
        # Clicking the text does nothing either.
        await pilot.click(DetailPane, offset=(3, 3))
        await pilot.click(
            QueueTable, offset=(70, 1 + shown_ids(app).index(_item_with(app, "[@click=app.quit]")))
        )
        await pilot.pause()  # every message the clicks caused is handled
        assert app.is_running
        queue.move_cursor(row=shown_ids(app).index(_item_with(app, "[bold red]markup")))
        await wait_for(
            lambda: "[bold red]markup[/] is this rendered as markup?" in screen_text(app),
            pilot,
            what="literal markup",
        )
        assert "<script>alert(1)</script>" in "".join(
            entry.item.post.text for entry in app.dashboard.queue
        ), "HTML in a Mastodon post is text, not markup"
        # The 10,000-character post is shown whole, and the screen stays responsive.
        big = _item_with(app, "The quick brown fox")
        queue.move_cursor(row=shown_ids(app).index(big))
        await pilot.press("enter")
        await wait_for(lambda: detail.item is not None and detail.item.id == big, pilot)
        text = detail.query_one("#detail-text").render()
        assert len(str(text)) >= 9_900
        await pilot.press("end")
        await pilot.pause()
        assert app.is_running


async def test_hostile_names_handles_and_escapes_straight_from_the_store_stay_inert(tmp_path: Path) -> None:
    """Defence in depth: whatever an adapter lets through, the dashboard shows as plain text."""
    from tuikit import fill, make_item, write_config

    from socialtui.model import Author

    config = write_config(tmp_path)
    store = Store(config.team.data_dir)
    fill(store)
    evil = Author(
        "mastodon", "[b]x[/b]@evil.example", "id-evil", "[@click=app.quit]Click me[/] \x1b[2J\u202eeman"
    )
    texts = [
        "\x1b[31mred\x1b[0m \x1b]8;;https://evil.example\x07link\x1b]8;;\x07 \x1b[2J\x1b[H cleared?",
        "bell\x07 nul\x00 esc\x1b del\x7f c1\x9b31m zero\u200bwidth \u2066isolate\u2069 \u202ereversed",
        "[link=https://evil.example]click[/link] [reverse]inverted[/]",
        "Z" * 10_000,
    ]
    items = [make_item("acme-mastodon", f"66{n}", evil, text, 200 + n) for n, text in enumerate(texts)]
    store.put_items(items)
    from tuikit import World

    world = World(config, store, FixedClock(NOW), items)
    app = world.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: len(shown_ids(app)) == 8, pilot)
        queue = app.screen.query_one(QueueTable)
        detail = app.screen.query_one(DetailPane)
        for item in items:
            queue.move_cursor(row=shown_ids(app).index(item.id))
            await wait_for(lambda item=item: detail.item is not None and detail.item.id == item.id, pilot)
            await pilot.press("enter")
            await wait_for(lambda: detail.contact is not None, pilot)
            shown = screen_text(app)
            assert not CONTROL.search(shown), repr(shown)
            assert "[@click=app.quit]Click me[/]" in shown, "the display name is shown as written"
            assert app.is_running
            await pilot.press("escape")
        queue.move_cursor(row=shown_ids(app).index(items[2].id))
        await wait_for(lambda: detail.item is not None and detail.item.id == items[2].id, pilot)
        assert "[link=https://evil.example]click[/link] [reverse]inverted[/]" in screen_text(app)
        await pilot.press("r")
        await wait_for(lambda: app.screen.__class__.__name__ == "ComposerScreen", pilot)
        assert not CONTROL.search(screen_text(app)) and "[@click=app.quit]Click me[/]" in screen_text(app)


def _item_with(app: SocialApp, needle: str) -> str:
    assert app.dashboard is not None
    return next(entry.item.id for entry in app.dashboard.queue if needle in entry.item.post.text)
