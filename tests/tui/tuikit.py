"""Helpers for the dashboard tests: a config and a store in tmp_path filled through the Store API, a
fixed clock, and a fake adapter per account (the sandbox network is used where a real server is the
point: failing servers, hostile texts)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from socialtui.clock import FixedClock
from socialtui.config import AccountConfig, Config, load_config
from socialtui.model import AccountHealth, Actor, Author, Item, OutboxEntry, Post, item_id
from socialtui.networks.base import AccountInfo, Page, ReplyDraft
from socialtui.networks.errors import NetworkFailure
from socialtui.store import Store
from socialtui.tui.app import SocialApp

NOW = datetime(2026, 11, 18, 14, 0, tzinfo=UTC)
ALICE = Actor("alice", "Alice")
BOB = Actor("bob", "Bob")
CAROL = Actor("carol", "Carol")

CONFIG = """
[team]
data_dir = "{data}"
timezone = "{timezone}"
claim_ttl = "10m"
poll_interval = "30s"

[operators]
alice = "Alice"
bob = "Bob"

[saved_replies]
thanks = "Thank you {{name}}, that means a lot!"
shop = "Hi {{name}}, the shop is open Mon-Sat 10:00-18:00."

[keys]
{keys}

[[accounts]]
id = "acme-mastodon"
network = "mastodon"
server = "https://mastodon.example"
handle = "@acme@mastodon.example"
token_env = "ACME_TOKEN"
max_quiet = "4h"
reply_within = "30m"
color = "cyan"

[[accounts]]
id = "acme-bluesky"
network = "bluesky"
server = "https://bsky.example"
handle = "acme.bsky.example"
app_password_env = "ACME_BSKY"
max_quiet = "4h"
reply_within = "30m"
color = "magenta"
"""


def write_config(tmp_path: Path, keys: str = "", timezone: str = "UTC") -> Config:
    """The test config in tmp_path; `timezone` is the team's."""
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(data=tmp_path / "data", keys=keys, timezone=timezone), encoding="utf-8")
    return load_config(path)


def mastodon_author(name: str, display: str = "") -> Author:
    return Author(
        "mastodon",
        f"{name}@example.org",
        f"id-{name}",
        display or name.title(),
        f"https://example.org/@{name}",
    )


def bluesky_author(name: str, display: str = "") -> Author:
    return Author("bluesky", f"{name}.bsky.example", f"did:plc:{name}", display or name.title())


def make_item(
    account: str,
    remote_id: str,
    author: Author,
    text: str,
    minutes_ago: float,
    *,
    kind: str = "mention",
    **post: object,
) -> Item:
    url = f"https://mastodon.example/@{author.handle}/{remote_id}" if account.endswith("mastodon") else ""
    created = NOW - timedelta(minutes=minutes_ago)
    p = Post(account, remote_id, author, text, created, url=url, **post)  # type: ignore[arg-type]
    return Item(item_id(account, remote_id), account, kind, p, notified_at=created)


def own_post(
    account: str, remote_id: str, minutes_ago: float, text: str = "Our news of the day", reply_to: str = ""
) -> Post:
    author = (
        Author("mastodon", "acme@mastodon.example", "id-acme")
        if account.endswith("mastodon")
        else Author("bluesky", "acme.bsky.example", "did:plc:acme")
    )
    return Post(
        account, remote_id, author, text, NOW - timedelta(minutes=minutes_ago), own=True, reply_to=reply_to
    )


@dataclass
class World:
    """What a test starts from: the config, the store, the clock and the items put in."""

    config: Config
    store: Store
    clock: FixedClock
    items: list[Item]
    adapters: dict[str, FakeAdapter] = field(default_factory=dict)

    def factory(self, account: AccountConfig) -> FakeAdapter:
        adapter = self.adapters.get(account.id)
        if adapter is None:
            adapter = self.adapters[account.id] = FakeAdapter(account, self)
        return adapter

    def app(self, actor: Actor = ALICE, store: Store | None = None, **options: object) -> SocialApp:
        """A dashboard on this world's data dir (another `store` object: another operator's process)."""
        options.setdefault("sync", False)
        options.setdefault("cursor_blink", False)
        options.setdefault("refresh_every", 0.2)
        return SocialApp(
            self.config, store or self.store, self.clock, actor, adapter_factory=self.factory, **options
        )  # type: ignore[arg-type]


class FakeAdapter:
    """An adapter without a network: threads from `World.threads`, replies that always arrive."""

    def __init__(self, account: AccountConfig, world: World) -> None:
        self.network = account.network
        self.account = account
        self.world = world
        self.sent: list[tuple[str, str, str]] = []
        self.posted: list[tuple[str, str, str]] = []
        """New posts sent: (text, visibility, key)."""
        self.favourited: list[str] = []
        self.boosted: list[str] = []
        self.unfavourited: list[str] = []
        self.unboosted: list[str] = []
        self.threads: dict[str, list[Post]] = {}
        self.fail_with: NetworkFailure | None = None
        self.thread_delay = 0.0
        self._keys = 0
        self._requests = 0

    @property
    def requests(self) -> int:
        return self._requests

    @property
    def max_length(self) -> int:
        return 500 if self.network == "mastodon" else 300

    async def verify(self) -> AccountInfo:
        return AccountInfo("me", self.account.handle.lstrip("@"), "Acme", self.max_length, 23)

    async def fetch_items(self, cursor: str | None, since: datetime, limit: int) -> Page[Item]:
        self._check()
        return Page([], cursor)

    async def fetch_own_posts(self, cursor: str | None, since: datetime, limit: int) -> Page[Post]:
        self._check()
        return Page([], cursor)

    async def fetch_home(self, limit: int) -> list[Post]:
        self._check()
        return []

    async def fetch_thread(self, post: Post) -> list[Post]:
        self._check()
        if self.thread_delay:
            await asyncio.sleep(self.thread_delay)
        return self.threads.get(post.remote_id, [post])

    def count_length(self, text: str) -> int:
        return len(text)

    def new_idempotency_key(self) -> str:
        self._keys += 1
        return f"key-{self.account.id}-{self._keys}"

    def prepare_reply(self, item: Item, text: str, *, visibility: str | None = None) -> ReplyDraft:
        body = text.strip()
        length = self.count_length(body)
        ok, problem = True, ""
        if not body:
            ok, problem = False, "the reply is empty"
        elif length > self.max_length:
            ok, problem = False, f"too long: {length} of {self.max_length} characters"
        return ReplyDraft(
            body,
            item.post.remote_id,
            item.post.visibility,
            item.post.spoiler_text,
            (),
            length,
            self.max_length,
            ok,
            problem,
        )

    async def send_reply(self, item: Item, draft: ReplyDraft, key: str) -> Post:
        self._check()
        self.sent.append((item.id, draft.text, key))
        return own_post(
            item.account,
            f"reply-{len(self.sent)}-{item.post.remote_id}",
            0,
            draft.text,
            reply_to=item.post.remote_id,
        )

    async def find_reply(self, item: Item, key: str, text: str) -> Post | None:
        return None

    def prepare_post(self, text: str, *, visibility: str = "public", spoiler_text: str = "") -> ReplyDraft:
        body = text.strip()
        length = self.count_length(body) + self.count_length(spoiler_text)
        ok, problem = True, ""
        if not body:
            ok, problem = False, "the post is empty"
        elif length > self.max_length:
            ok, problem = False, f"too long: {length} of {self.max_length} characters"
        elif self.network == "bluesky" and (visibility != "public" or spoiler_text):
            ok, problem = False, "Bluesky posts are public, without content warnings"
        return ReplyDraft(body, "", visibility, spoiler_text, (), length, self.max_length, ok, problem)

    async def send_post(self, draft: ReplyDraft, key: str) -> Post:
        self._check()
        self.posted.append((draft.text, draft.visibility, key))
        return own_post(self.account.id, f"post-{key}", 0, draft.text)

    async def find_post(self, key: str, text: str) -> Post | None:
        return None

    async def favourite(self, post: Post) -> None:
        self._check()
        self.favourited.append(post.remote_id)

    async def boost(self, post: Post) -> None:
        self._check()
        self.boosted.append(post.remote_id)

    async def unfavourite(self, post: Post) -> None:
        self._check()
        self.unfavourited.append(post.remote_id)

    async def unboost(self, post: Post) -> None:
        self._check()
        self.unboosted.append(post.remote_id)

    async def aclose(self) -> None:
        pass

    def _check(self) -> None:
        self._requests += 1
        if self.fail_with is not None:
            raise self.fail_with


def fill(store: Store) -> list[Item]:
    """Four unanswered items across two accounts, one already answered, our own posts, a note."""
    sam = mastodon_author("sam", "Sam Rivers")
    kim = bluesky_author("kim", "Kim")
    lee = mastodon_author("lee", "Lee")
    items = [
        make_item("acme-mastodon", "1001", sam, "The app crashed again after the update.\nAny news?", 72),
        make_item(
            "acme-bluesky",
            "at://did:plc:kim/app.bsky.feed.post/1",
            kim,
            "Love the new colours! Are they here to stay?",
            45,
        ),
        make_item("acme-mastodon", "1002", lee, "Is the shop open on Sunday?", 20, visibility="unlisted"),
        make_item(
            "acme-bluesky", "at://did:plc:kim/app.bsky.feed.post/2", kim, "Also: do you ship to Norway?", 5
        ),
        make_item("acme-mastodon", "0999", sam, "Last week's order arrived broken.", 60 * 24 * 3),
    ]
    store.put_items(items)
    store.put_own_posts(
        [
            own_post("acme-mastodon", "2001", 90),
            own_post(
                "acme-mastodon",
                "2002",
                60 * 24 * 3 - 10,
                "Sorry to hear that, we'll send a new one.",
                reply_to="0999",
            ),
            own_post("acme-bluesky", "at://did:plc:acme/app.bsky.feed.post/9", 200),
        ]
    )
    for account in ("acme-mastodon", "acme-bluesky"):
        store.set_health(
            AccountHealth(
                account, "ok", last_sync_at=NOW - timedelta(seconds=4), last_ok_at=NOW - timedelta(seconds=4)
            )
        )
    store.add_note(
        "mastodon:sam@example.org", "Regular customer; prefers short answers.", BOB, NOW - timedelta(days=2)
    )
    store.set_tags("mastodon:sam@example.org", ["customer", "vip"], BOB, NOW - timedelta(days=2))
    return items


def report_scenario(store: Store) -> dict[str, Item]:
    """A day and a half of work whose report figures are worked out by hand in the tests.

    acme-mastodon, target 30m, always active:
      m1  10h ago, answered 5m later by Alice through socialtui (outbox)      on time
      m2   6h ago, answered 45m later from another app                          late
      m3   3h ago, done by Alice: spam
      m4   2h ago, unanswered                                                  overdue
      m5  10m ago, unanswered                                                  not yet due
      m0  30h ago, unanswered (only in the 7-day window)                       overdue
      own posts: the two replies (9h55m, 5h15m ago), news 8h ago, news 30h ago
    acme-bluesky:
      b1   5h ago, answered 2m later from another app                          on time
      b2   1h ago, done by Bob: thanked
      own posts: the reply (4h58m ago), news 20h ago
    """
    sam, kim = mastodon_author("sam", "Sam Rivers"), bluesky_author("kim", "Kim")
    m = "acme-mastodon"
    b = "acme-bluesky"
    items = {
        "m0": make_item(m, "m0", sam, "Thirty hours ago", 30 * 60),
        "m1": make_item(m, "m1", sam, "Ten hours ago", 10 * 60),
        "m2": make_item(m, "m2", sam, "Six hours ago", 6 * 60),
        "m3": make_item(m, "m3", sam, "Buy cheap followers", 3 * 60),
        "m4": make_item(m, "m4", sam, "Two hours ago", 2 * 60),
        "m5": make_item(m, "m5", sam, "Ten minutes ago", 10),
        "b1": make_item(b, "at://did:plc:kim/app.bsky.feed.post/b1", kim, "Five hours ago", 5 * 60),
        "b2": make_item(b, "at://did:plc:kim/app.bsky.feed.post/b2", kim, "Thanks!", 60),
    }
    store.put_items(items.values())
    reply_m1 = own_post(m, "r-m1", 10 * 60 - 5, "Fixed, Sam.", reply_to="m1")
    store.put_own_posts(
        [
            reply_m1,
            own_post(m, "r-m2", 6 * 60 - 45, "Sorry for the wait.", reply_to="m2"),
            own_post(m, "news-1", 8 * 60),
            own_post(m, "news-0", 30 * 60),
            own_post(
                b,
                "at://did:plc:acme/app.bsky.feed.post/r-b1",
                5 * 60 - 2,
                "Yes!",
                reply_to=items["b1"].post.remote_id,
            ),
            own_post(b, "at://did:plc:acme/app.bsky.feed.post/news", 20 * 60),
        ]
    )
    sent_at = reply_m1.created_at
    store.outbox_add(
        OutboxEntry(
            id="key-m1",
            item=items["m1"].id,
            account=m,
            text="Fixed, Sam.",
            login=ALICE.login,
            operator=ALICE.operator,
            created_at=sent_at,
            updated_at=sent_at,
            state="sent",
            in_reply_to="m1",
            remote_id="r-m1",
            sent_at=sent_at,
        ),
        ALICE,
        sent_at,
    )
    store.mark_done(items["m3"], "spam", ALICE, NOW - timedelta(hours=2, minutes=50))
    store.mark_done(items["b2"], "thanked", BOB, NOW - timedelta(minutes=55))
    for account in (m, b):
        store.set_health(AccountHealth(account, "ok", last_sync_at=NOW, last_ok_at=NOW))
    return items


async def wait_for(
    condition: Callable[[], bool], pilot: object, timeout: float = 30.0, what: str = ""
) -> None:
    """Pause the pilot until `condition()` holds (workers and store readings are asynchronous).

    It returns as soon as the condition holds; `timeout` only bounds a test that is failing, so it
    is generous: on a busy 2-core machine a draft save or a reading can take seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.05)  # type: ignore[attr-defined]


def screen_text(app: SocialApp) -> str:
    """What the terminal shows, as plain text (one line per row)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


Pause = Callable[[], Awaitable[None]]
__all__ = [
    "NOW",
    "ALICE",
    "BOB",
    "CAROL",
    "report_scenario",
    "World",
    "FakeAdapter",
    "wait_for",
    "screen_text",
    "replace",
]
