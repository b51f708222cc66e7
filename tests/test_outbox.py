"""Replies through the outbox: sent exactly once or still waiting, never lost, never doubled."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sandbox_env import SandboxTeam, make_team, socket_team

from socialtui import care
from socialtui.clock import FixedClock
from socialtui.config import load_config
from socialtui.model import Actor, Item
from socialtui.outbox import ReplyRefused, deliver, queue_reply
from socialtui.sandbox.server import start
from socialtui.sandbox.traffic import backfill
from socialtui.sandbox.world import World
from socialtui.store import Store
from socialtui.sync import default_adapter_factory

ALICE = Actor("alice", "Alice")


async def no_sleep(_: float) -> None:
    return None


async def synced(team: SandboxTeam) -> None:
    results = await team.syncer().run_once()
    assert all(r.ok for r in results), [r.error for r in results]


def oldest_open(team: SandboxTeam, account: str) -> Item:
    snap = team.store.snapshot(team.clock.now())
    queue = care.unanswered_queue(
        snap.items, snap.own_posts, snap.states, team.config.accounts, team.clock.now(), outbox=snap.outbox
    )
    return next(e.item for e in queue if e.item.account == account)


async def replies_on_server(transport: httpx.AsyncBaseTransport, item: Item, brand: str) -> int:
    """How many replies the brand account has on the server to the item's post (by the server's API)."""
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9") as client:
        if item.post.remote_id.startswith("at://"):
            answer = await client.get(
                "/xrpc/app.bsky.feed.getPostThread", params={"uri": item.post.remote_id, "depth": 1}
            )
            replies = answer.json()["thread"].get("replies", [])
            return sum(1 for r in replies if r["post"]["author"]["handle"] == brand)
        answer = await client.get(
            f"/api/v1/statuses/{item.post.remote_id}/context",
            headers={"Authorization": f"Bearer sandbox:{brand}"},
        )
        return sum(
            1
            for s in answer.json()["descendants"]
            if s["account"]["acct"] == brand and s["in_reply_to_id"] == item.post.remote_id
        )


BRANDS = {"acme-mastodon": "acme", "acme-bluesky": "acme.sandbox.bsky"}


@pytest.mark.parametrize("account", ["acme-mastodon", "acme-bluesky"])
async def test_a_reply_is_sent_once_and_the_item_leaves_the_queue(tmp_path: Path, account: str) -> None:
    team = make_team(tmp_path)
    await synced(team)
    item = oldest_open(team, account)
    adapter = team.factory()(team.config.account(account))
    entry = queue_reply(
        team.store,
        team.config,
        adapter,
        item,
        "Thanks for your patience, on it now!",
        ALICE,
        team.clock.now(),
    )
    assert team.store.outbox_entry(entry.id).state == "queued", "committed before it is sent"
    delivery = await deliver(team.store, adapter, item, entry.id, team.clock, sleep=no_sleep)
    await adapter.aclose()
    assert delivery.sent and delivery.entry.remote_id and delivery.entry.url
    assert await replies_on_server(team.transport, item, BRANDS[account]) == 1
    assert oldest_open(team, account).id != item.id, "gone from the queue once confirmed"
    team.advance(10)
    await synced(team)
    assert item.id not in [
        e.item.id
        for e in care.unanswered_queue(
            team.store.items(),
            team.store.own_posts(),
            team.store.states(),
            team.config.accounts,
            team.clock.now(),
        )
    ], "and the account's own reply, fetched back, answers it"
    actions = [e.action for e in team.store.audit_events()]
    assert actions[-2:] == ["reply-queued", "reply-sent"]


@pytest.mark.parametrize("honour", [True, False], ids=["mastodon-honours-key", "gotosocial-ignores-key"])
async def test_a_timeout_after_the_server_posted_does_not_post_twice(tmp_path: Path, honour: bool) -> None:
    with socket_team(tmp_path, honour_idempotency=honour) as team:
        await synced(team)
        item = oldest_open(team, "acme-mastodon")
        adapter = team.factory(timeout=0.5, max_attempts=1)(team.config.account("acme-mastodon"))
        entry = queue_reply(
            team.store,
            team.config,
            adapter,
            item,
            "Sorry about that, we are looking into it.",
            ALICE,
            team.clock.now(),
        )
        team.world.faults.set("acme-mastodon", "timeout", count=1, seconds=3)  # posts, then hangs
        looks = "GET /api/v1/accounts/{id}/statuses"
        looked_before = team.world.stats.requests("acme-mastodon", looks)
        delivery = await deliver(team.store, adapter, item, entry.id, team.clock, sleep=no_sleep)
        await adapter.aclose()
        # The client gave up before the server answered, and took the uncertain path: it looked.
        assert team.world.stats.requests("acme-mastodon", looks) > looked_before
        assert delivery.sent, delivery.message
        posts = team.world.stats.requests("acme-mastodon", "POST /api/v1/statuses")
        assert posts == 1, "found on the server after the timeout, not sent again"
        assert (
            await replies_on_server(_Rebased(team.config.account("acme-mastodon").server), item, "acme") == 1
        )


async def test_a_transient_failure_is_retried_with_the_same_key(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    await synced(team)
    item = oldest_open(team, "acme-bluesky")
    adapter = team.factory(max_attempts=1)(team.config.account("acme-bluesky"))
    entry = queue_reply(
        team.store, team.config, adapter, item, "We hear you, fixing it today.", ALICE, team.clock.now()
    )
    team.world.faults.set("acme-bluesky", "500", count=1)
    delivery = await deliver(team.store, adapter, item, entry.id, team.clock, sleep=no_sleep)
    await adapter.aclose()
    assert delivery.sent, delivery.message
    assert delivery.entry.remote_id.endswith(f"/{entry.id}"), "the record key chosen with the draft"
    assert delivery.entry.attempts == 1
    assert await replies_on_server(team.transport, item, "acme.sandbox.bsky") == 1


async def test_a_server_that_keeps_failing_leaves_the_reply_waiting_not_lost(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    await synced(team)
    item = oldest_open(team, "acme-mastodon")
    adapter = team.factory(max_attempts=1)(team.config.account("acme-mastodon"))
    entry = queue_reply(team.store, team.config, adapter, item, "On it!", ALICE, team.clock.now())
    team.world.faults.set("acme-mastodon", "500")
    delivery = await deliver(team.store, adapter, item, entry.id, team.clock, sleep=no_sleep)
    assert delivery.entry.state == "queued" and "will retry" in delivery.entry.error
    assert team.store.outbox_entry(entry.id).text.endswith("On it!")
    team.world.faults.clear("acme-mastodon")
    team.advance(60)
    delivery = await deliver(team.store, adapter, item, entry.id, team.clock, sleep=no_sleep)
    await adapter.aclose()
    assert delivery.sent
    assert await replies_on_server(team.transport, item, "acme") == 1


async def test_a_permanent_failure_ends_failed_with_the_text_kept(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    await synced(team)
    item = oldest_open(team, "acme-mastodon")
    adapter = team.factory()(team.config.account("acme-mastodon"))
    entry = queue_reply(
        team.store, team.config, adapter, item, "Here is what happened ...", ALICE, team.clock.now()
    )
    team.world.faults.set("acme-mastodon", "expired")
    delivery = await deliver(team.store, adapter, item, entry.id, team.clock, sleep=no_sleep)
    await adapter.aclose()
    assert delivery.entry.state == "failed" and delivery.message.startswith("failed: ")
    kept = team.store.outbox_entry(entry.id)
    assert kept.text.endswith("Here is what happened ...") and kept.error
    assert team.store.audit_events()[-1].action == "reply-failed"


async def test_a_reply_is_refused_when_answered_meanwhile_unless_forced(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    await synced(team)
    item = oldest_open(team, "acme-mastodon")
    team.world.post_as("mastodon", "acme", "Answered from the phone app", reply_to=item.post.remote_id)
    team.advance(10)
    await synced(team)
    adapter = team.factory()(team.config.account("acme-mastodon"))
    with pytest.raises(ReplyRefused, match="answered meanwhile"):
        queue_reply(team.store, team.config, adapter, item, "Me too", ALICE, team.clock.now())
    entry = queue_reply(team.store, team.config, adapter, item, "Me too", ALICE, team.clock.now(), force=True)
    await adapter.aclose()
    assert entry.state == "queued"


async def test_a_reply_over_the_limit_is_refused_before_anything_is_stored(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    await synced(team)
    item = oldest_open(team, "acme-bluesky")
    adapter = team.factory()(team.config.account("acme-bluesky"))
    with pytest.raises(ReplyRefused):
        queue_reply(team.store, team.config, adapter, item, "é" * 301, ALICE, team.clock.now())
    await adapter.aclose()
    assert team.store.outbox() == []


KILLED_SENDER = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from socialtui.clock import Clock
    from socialtui.config import load_config
    from socialtui.model import Actor
    from socialtui.outbox import queue_reply
    from socialtui.store import Store
    from socialtui.sync import default_adapter_factory

    config = load_config(sys.argv[1])
    store = Store(config.team.data_dir)
    clock = Clock()
    item = store.find_item(sys.argv[2])
    adapter = default_adapter_factory(config, store, clock)(config.account(item.account))

    async def main():
        entry = queue_reply(store, config, adapter, item, "Thanks, fixed now!", Actor("bob", "Bob"), clock.now())
        taken, _ = store.outbox_begin_send(entry.id, clock.now())
        draft = adapter.prepare_reply(item, taken.text, visibility=taken.visibility)
        await adapter.send_reply(item, draft, taken.id)
        print("sent", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # between "sent" and "recorded"

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("account", ["acme-mastodon", "acme-bluesky"])
def test_a_sender_killed_between_sent_and_recorded_is_not_sent_twice(
    tmp_path: Path, account: str, store_engine: str
) -> None:
    import asyncio

    world = World(honour_idempotency=False)  # the strictest case: a server that ignores the key
    backfill(world, hostile=False, seed=7)
    with start(world, write_config=tmp_path / "c.toml", traffic=False) as sandbox:
        config = load_config(sandbox.config_path)
        store = Store(config.team.data_dir)
        result = subprocess.run(
            [sys.executable, "-m", "socialtui", "--config", str(sandbox.config_path), "sync", "--once"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        clock = FixedClock(datetime.now(UTC))
        snap = store.snapshot(clock.now())
        queue = care.unanswered_queue(snap.items, snap.own_posts, snap.states, config.accounts, clock.now())
        item = next(e.item for e in queue if e.item.account == account)
        killed = subprocess.run(
            [sys.executable, "-c", KILLED_SENDER, str(sandbox.config_path), item.id],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert killed.stdout.strip() == "sent" and killed.returncode == -9, killed.stderr
        (entry,) = store.outbox()
        assert entry.state == "sending", "the killed sender never recorded the result"

        async def retry() -> None:
            clock.advance(timedelta(minutes=3))  # the dead sender's hold has gone stale
            adapter = default_adapter_factory(config, store, clock)(config.account(account))
            delivery = await deliver(store, adapter, item, entry.id, clock, sleep=no_sleep)
            await adapter.aclose()
            assert delivery.sent, delivery.message
            count = await replies_on_server(_Rebased(sandbox.url), item, BRANDS[account])
            assert count == 1, "exactly one reply on the server"

        asyncio.run(retry())
        assert store.engine.name == store_engine, "the processes shared the engine under test"
        if store_engine == "files":
            assert (config.team.data_dir / "tables" / "outbox" / "_.json").exists()


class _Rebased(httpx.AsyncHTTPTransport):
    """Sends requests made for the placeholder base URL to the running sandbox."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = httpx.URL(url)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme=self.url.scheme, host=self.url.host, port=self.url.port)
        return await super().handle_async_request(request)


def test_the_draft_key_is_the_outbox_key(tmp_path: Path) -> None:
    import asyncio

    from socialtui.model import Draft

    team = make_team(tmp_path)
    asyncio.run(synced(team))
    item = oldest_open(team, "acme-bluesky")
    adapter = team.factory()(team.config.account("acme-bluesky"))
    key = adapter.new_idempotency_key()
    draft = Draft(
        item=item.id,
        account=item.account,
        text="half-written",
        login="alice",
        operator="Alice",
        updated_at=team.clock.now(),
        idempotency_key=key,
    )
    team.store.save_draft(draft)
    entry = queue_reply(team.store, team.config, adapter, item, "Thanks!", ALICE, team.clock.now())
    assert entry.id == key, "a retried send after a crash uses the key fixed when the draft was made"
    assert team.store.draft(item.id) is None, "the draft is gone once the reply is committed"
    asyncio.run(adapter.aclose())


async def test_the_poller_finishes_a_reply_to_a_timeline_post(tmp_path: Path) -> None:
    """A reply to a post that is not an item (from the listening timeline) that could not be sent
    at once is still finished by whoever polls the account: the entry carries the post it answers."""
    from socialtui.outbox import retry_pending

    team = make_team(tmp_path)
    await synced(team)
    home = [p for p in team.store.home_posts("acme-mastodon") if not p.own]
    assert home, "the sandbox gives the brand a home timeline"
    post = home[0]
    item = Item(id=f"home-{post.remote_id[-8:]}", account="acme-mastodon", kind="reply", post=post)
    adapter = team.factory(max_attempts=1)(team.config.account("acme-mastodon"))
    entry = queue_reply(
        team.store, team.config, adapter, item, "Congratulations on the launch!", ALICE, team.clock.now()
    )
    team.world.faults.set("acme-mastodon", "500")
    assert not (await deliver(team.store, adapter, item, entry.id, team.clock, sleep=no_sleep)).sent
    assert team.store.item(item.id) is None
    team.world.faults.clear("acme-mastodon")
    team.advance(120)
    (delivery,) = await retry_pending(team.store, adapter, "acme-mastodon", team.clock)
    await adapter.aclose()
    assert delivery.sent, delivery.message
    assert await replies_on_server(team.transport, item, "acme") == 1
