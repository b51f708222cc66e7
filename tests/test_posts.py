"""New posts and scheduled posts through the outbox: sent once, on time, never silently late, held
while the account fails; on both store engines where the store decides."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sandbox_env import SandboxTeam, make_team, socket_team

from socialtui.clock import FixedClock
from socialtui.config import load_config
from socialtui.model import Actor
from socialtui.outbox import PostRefused, deliver, poller_pass, queue_post, send_due_posts
from socialtui.overview import build_overview
from socialtui.sandbox.server import start
from socialtui.sandbox.traffic import backfill
from socialtui.sandbox.world import World
from socialtui.store import NotChangeable, Store
from socialtui.sync import default_adapter_factory

ALICE = Actor("alice", "Alice")
GRACE = timedelta(minutes=10)


async def no_sleep(_: float) -> None:
    return None


def on_server(world: World, marker: str) -> int:
    """How many posts on the sandbox, on either network, hold `marker`."""
    with world.lock:
        statuses = sum(1 for s in world.statuses.values() if marker in s.text)
        records = sum(1 for r in world.records.values() if marker in str(r.value.get("text", "")))
    return statuses + records


def use_engine(team: SandboxTeam, url: str) -> SandboxTeam:
    """The team's store on PostgreSQL (`url`), or left on the files engine ("")."""
    if url:
        from socialtui.store.postgres import PgEngine

        team.store = Store(team.config.team.data_dir, engine=PgEngine(url))
    return team


@pytest.fixture(params=["files", "postgresql"])
def engine_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("pg_url") if request.param == "postgresql" else ""


@pytest.mark.parametrize("account", ["acme-mastodon", "acme-bluesky"])
async def test_a_post_now_is_committed_then_sent_once(tmp_path: Path, account: str) -> None:
    team = make_team(tmp_path)
    adapter = team.factory()(team.config.account(account))
    entry = queue_post(team.store, adapter, "Good morning from the shop #m1", ALICE, team.clock.now())
    assert team.store.outbox_entry(entry.id).state == "queued", "committed before it is sent"
    assert entry.item == f"post:{entry.id}" and entry.kind == "post"
    delivery = await deliver(team.store, adapter, None, entry.id, team.clock, sleep=no_sleep)
    await adapter.aclose()
    assert delivery.sent, delivery.message
    assert on_server(team.world, "#m1") == 1
    assert [e.action for e in team.store.audit_events()][-2:] == ["post-queued", "post-sent"]
    own = team.store.own_posts()
    assert any(p.remote_id == delivery.entry.remote_id and p.reply_to in ("", None) for p in own), (
        "counts as presence"
    )


async def test_two_posts_at_once_do_not_collide_as_replies_to_one_item(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    adapter = team.factory()(team.config.account("acme-mastodon"))
    now = team.clock.now()
    first = queue_post(team.store, adapter, "one #c1", ALICE, now)
    second = queue_post(team.store, adapter, "two #c2", ALICE, now)
    third = queue_post(team.store, adapter, "three #c3", ALICE, now, due_at=now + timedelta(hours=1))
    assert len({first.id, second.id, third.id}) == 3
    assert {e.state for e in team.store.outbox()} == {"queued", "scheduled"}
    await adapter.aclose()


@pytest.mark.parametrize(
    ("account", "text", "options", "says"),
    [
        ("acme-mastodon", "   ", {}, "empty"),
        ("acme-bluesky", "é" * 301, {}, "too long"),
        ("acme-bluesky", "hello", {"visibility": "private"}, "public"),
        ("acme-bluesky", "hello", {"spoiler_text": "spoilers"}, "content warning"),
    ],
)
async def test_a_post_the_network_would_refuse_is_refused_before_anything_is_stored(
    tmp_path: Path, account: str, text: str, options: dict, says: str
) -> None:
    team = make_team(tmp_path)
    adapter = team.factory()(team.config.account(account))
    with pytest.raises(PostRefused, match=says):
        queue_post(team.store, adapter, text, ALICE, team.clock.now(), **options)
    with pytest.raises(PostRefused, match="has passed"):
        queue_post(team.store, adapter, "late", ALICE, team.clock.now(), due_at=team.clock.now())
    await adapter.aclose()
    assert team.store.outbox() == []


async def test_a_mastodon_post_keeps_its_visibility_and_content_warning(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    adapter = team.factory()(team.config.account("acme-mastodon"))
    entry = queue_post(
        team.store,
        adapter,
        "Maintenance tonight #v1",
        ALICE,
        team.clock.now(),
        visibility="unlisted",
        spoiler_text="service notice",
    )
    delivery = await deliver(team.store, adapter, None, entry.id, team.clock, sleep=no_sleep)
    await adapter.aclose()
    assert delivery.sent
    (status,) = [s for s in team.world.statuses.values() if "#v1" in s.text]
    assert status.visibility == "unlisted" and status.spoiler_text == "service notice"


@pytest.mark.parametrize("account", ["acme-mastodon", "acme-bluesky"])
async def test_a_scheduled_post_waits_for_its_time_then_goes_once_with_two_pollers(
    tmp_path: Path, account: str, engine_url: str
) -> None:
    team = use_engine(make_team(tmp_path), engine_url)
    first = team.factory()(team.config.account(account))
    second = team.factory()(team.config.account(account))
    other = Store(team.config.team.data_dir, engine=team.store.engine)  # another process's view
    now = team.clock.now()
    entry = queue_post(
        team.store, first, "Lunch specials are up #s1", ALICE, now, due_at=now + timedelta(minutes=5)
    )
    assert await send_due_posts(team.store, first, account, team.clock) == [], "not before its time"
    assert on_server(team.world, "#s1") == 0
    team.advance(5 * 60 + 1)
    results = await asyncio.gather(
        send_due_posts(team.store, first, account, team.clock),
        send_due_posts(other, second, account, team.clock),
    )
    await first.aclose()
    await second.aclose()
    sent = [d for r in results for d in r if d.sent]
    assert len(sent) == 1, [d.message for r in results for d in r]
    assert on_server(team.world, "#s1") == 1
    stored = team.store.outbox_entry(entry.id)
    assert stored.state == "sent" and stored.sent_at == team.clock.now()
    actions = [e.action for e in team.store.audit_events()]
    assert actions == ["post-scheduled", "post-sent"]


async def test_a_post_past_its_grace_waits_as_missed_for_an_operator(tmp_path: Path, engine_url: str) -> None:
    team = use_engine(make_team(tmp_path), engine_url)
    syncer = team.syncer()
    await syncer.run_once()
    await syncer.close()
    adapter = team.factory()(team.config.account("acme-mastodon"))
    now = team.clock.now()
    entry = queue_post(team.store, adapter, "Good night #g1", ALICE, now, due_at=now + timedelta(minutes=1))
    team.advance(60 + GRACE.total_seconds() + 1)  # nothing ran in time
    overview = build_overview(team.config, team.store, team.clock.now())
    code, line = overview.check()
    problems = [text for _, text in overview.schedule_problems()]
    assert any("acme-mastodon 1 scheduled post missed" in p for p in problems) and code >= 1, (problems, line)
    (missed,) = await send_due_posts(team.store, adapter, "acme-mastodon", team.clock, grace=GRACE)
    assert missed.entry.state == "missed" and on_server(team.world, "#g1") == 0, "not sent silently late"
    assert await send_due_posts(team.store, adapter, "acme-mastodon", team.clock, grace=GRACE) == []
    assert team.store.audit_events()[-1].action == "post-missed"
    # The operator sends it now.
    queued = team.store.outbox_reschedule(entry.id, ALICE, team.clock.now())
    assert queued.state == "queued"
    delivery = await deliver(team.store, adapter, None, entry.id, team.clock, sleep=no_sleep)
    await adapter.aclose()
    assert delivery.sent and on_server(team.world, "#g1") == 1
    with pytest.raises(NotChangeable, match="is sent"):
        team.store.outbox_reschedule(entry.id, ALICE, team.clock.now(), cancel=True)


async def test_cancel_and_move_are_audited_and_refused_once_it_is_too_late(
    tmp_path: Path, engine_url: str
) -> None:
    team = use_engine(make_team(tmp_path), engine_url)
    adapter = team.factory()(team.config.account("acme-bluesky"))
    now = team.clock.now()
    a = queue_post(team.store, adapter, "a #x1", ALICE, now, due_at=now + timedelta(hours=1))
    b = queue_post(team.store, adapter, "b #x2", ALICE, now, due_at=now + timedelta(hours=2))
    team.store.outbox_reschedule(a.id, ALICE, now, cancel=True)
    moved = team.store.outbox_reschedule(b.id, ALICE, now, due_at=now + timedelta(minutes=3))
    assert moved.due_at == now + timedelta(minutes=3)
    team.advance(3 * 60)
    (delivery,) = await send_due_posts(team.store, adapter, "acme-bluesky", team.clock)
    await adapter.aclose()
    assert delivery.entry.id == b.id and delivery.sent
    assert on_server(team.world, "#x1") == 0 and on_server(team.world, "#x2") == 1
    assert team.store.outbox_entry(a.id).state == "cancelled"
    with pytest.raises(NotChangeable):
        team.store.outbox_reschedule(a.id, ALICE, now, due_at=now + timedelta(hours=3))
    assert [e.action for e in team.store.audit_events()] == [
        "post-scheduled",
        "post-scheduled",
        "post-cancelled",
        "post-moved",
        "post-sent",
    ]


async def test_a_post_due_while_the_account_fails_is_held_then_sent_on_recovery(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    syncer = team.syncer(max_attempts=1)
    await syncer.run_once()
    adapter = team.factory()(team.config.account("acme-mastodon"))
    now = team.clock.now()
    queue_post(team.store, adapter, "Still here #h1", ALICE, now, due_at=now + timedelta(minutes=1))
    await adapter.aclose()
    team.world.faults.set("acme-mastodon", "500")
    team.advance(90)
    results = await syncer.run_once()
    assert not next(r for r in results if r.account == "acme-mastodon").ok
    assert on_server(team.world, "#h1") == 0
    overview = build_overview(team.config, team.store, team.clock.now())
    lines = [text for _, text in overview.schedule_problems()]
    assert "acme-mastodon 1 scheduled post held: the account is failing" in lines, lines
    assert overview.check()[0] >= 1
    team.world.faults.clear("acme-mastodon")
    team.advance(60)  # still within the grace
    results = await syncer.run_once()
    assert next(r for r in results if r.account == "acme-mastodon").ok
    assert on_server(team.world, "#h1") == 1
    await syncer.close()


@pytest.mark.parametrize("honour", [True, False], ids=["mastodon-honours-key", "gotosocial-ignores-key"])
async def test_a_timeout_after_the_server_took_a_scheduled_post_does_not_post_twice(
    tmp_path: Path, honour: bool
) -> None:
    with socket_team(tmp_path, honour_idempotency=honour) as team:
        adapter = team.factory(timeout=0.5, max_attempts=1)(team.config.account("acme-mastodon"))
        now = team.clock.now()
        queue_post(
            team.store, adapter, "Doors open at nine #t1", ALICE, now, due_at=now + timedelta(seconds=30)
        )
        team.advance(31)
        team.world.faults.set("acme-mastodon", "timeout", count=1, seconds=3)  # posts, then hangs
        (delivery,) = await send_due_posts(team.store, adapter, "acme-mastodon", team.clock)
        await adapter.aclose()
        assert delivery.sent, delivery.message
        assert team.world.stats.requests("acme-mastodon", "POST /api/v1/statuses") == 1
        assert on_server(team.world, "#t1") == 1


KILLED_POSTER = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from datetime import datetime, UTC
    from socialtui.clock import FixedClock
    from socialtui.config import load_config
    from socialtui.store import Store
    from socialtui.sync import default_adapter_factory

    config = load_config(sys.argv[1])
    store = Store(config.team.data_dir)
    clock = FixedClock(datetime.fromisoformat(sys.argv[3]))
    entry = store.outbox_entry(sys.argv[2])
    adapter = default_adapter_factory(config, store, clock)(config.account(entry.account))

    async def main():
        taken, _ = store.outbox_begin_send(entry.id, clock.now())
        draft = adapter.prepare_post(taken.text, visibility=taken.visibility)
        await adapter.send_post(draft, taken.id)
        print("sent", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # between "sent" and "recorded"

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("account", ["acme-mastodon", "acme-bluesky"])
def test_a_poller_killed_mid_send_of_a_scheduled_post_leaves_one_post(tmp_path: Path, account: str) -> None:
    world = World(honour_idempotency=False)  # the strictest case: a server that ignores the key
    backfill(world, hostile=False, seed=7)
    with start(world, write_config=tmp_path / "c.toml", traffic=False) as sandbox:
        config = load_config(sandbox.config_path)
        store = Store(config.team.data_dir)
        clock = FixedClock(datetime.now(UTC))
        adapter = default_adapter_factory(config, store, clock)(config.account(account))
        entry = queue_post(
            store,
            adapter,
            "Night shift says hello #k1",
            ALICE,
            clock.now(),
            due_at=clock.now() + timedelta(seconds=20),
        )
        clock.advance(21)
        killed = subprocess.run(
            [
                sys.executable,
                "-c",
                KILLED_POSTER,
                str(sandbox.config_path),
                entry.id,
                clock.now().isoformat(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert killed.stdout.strip() == "sent" and killed.returncode == -9, killed.stderr
        assert store.outbox_entry(entry.id).state == "sending"
        assert on_server(world, "#k1") == 1

        async def next_poller() -> None:
            clock.advance(timedelta(minutes=3))  # the dead sender's hold has gone stale
            again = default_adapter_factory(config, store, clock)(config.account(account))
            results = await poller_pass(store, again, account, clock)
            await again.aclose()
            await adapter.aclose()
            assert [d.sent for d in results] == [True], [d.message for d in results]

        asyncio.run(next_poller())
        assert on_server(world, "#k1") == 1, "found on the server, not sent again"
        assert store.outbox_entry(entry.id).state == "sent"


def test_socialtui_sync_sends_a_post_scheduled_20s_ahead_exactly_once(tmp_path: Path) -> None:
    """Over a real socket, with `socialtui sync` running as a service and the real clock: the post is
    scheduled while the poller sleeps between its cycles, and still goes out within 5 s of its time."""
    world = World()
    backfill(world, hostile=False, seed=7)
    with start(world, write_config=tmp_path / "c.toml", traffic=False) as sandbox:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("SOCIALTUI_NOW", None)
        base = [sys.executable, "-m", "socialtui", "--config", str(sandbox.config_path)]
        config = load_config(sandbox.config_path)
        assert config.team.poll_interval >= timedelta(seconds=10), "cycles far enough apart to matter"
        store = Store(config.team.data_dir)
        sync = subprocess.Popen(
            [*base, "sync"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        try:
            deadline = time.monotonic() + 60
            while not (store.health().get("acme-bluesky") and store.health()["acme-bluesky"].state == "ok"):
                assert sync.poll() is None and time.monotonic() < deadline, "sync did not poll the account"
                time.sleep(0.1)
            posted = subprocess.run(
                [*base, "post", "acme-bluesky", "Twenty seconds from now #w20", "--at", "+20s"],
                capture_output=True,
                text=True,
                timeout=60,
                env=env,
            )
            assert posted.returncode == 0, posted.stderr
            assert "Scheduled" in posted.stdout
            (entry,) = [e for e in store.outbox() if e.kind == "post"]
            due = entry.due_at
            deadline = time.monotonic() + 60
            while on_server(world, "#w20") == 0 and time.monotonic() < deadline:
                assert sync.poll() is None, sync.stderr.read() if sync.stderr else ""
                time.sleep(0.1)
            appeared = datetime.now(UTC)
            assert on_server(world, "#w20") == 1
            assert appeared >= due - timedelta(seconds=1), "not before its time"
            assert appeared - due < timedelta(seconds=5), f"sent {appeared - due} after its time"
            deadline = time.monotonic() + 30
            while store.outbox_entry(entry.id).state != "sent" and time.monotonic() < deadline:
                time.sleep(0.1)
            assert store.outbox_entry(entry.id).state == "sent"
            listed = subprocess.run(
                [*base, "schedule", "--all", "--json"], capture_output=True, text=True, timeout=60, env=env
            )
            assert '"state": "sent"' in listed.stdout, listed.stdout + listed.stderr

            # Just after a cycle, a post due in 3 s: the next cycle is ~10 s away, so only the
            # watcher for due posts gets it out on time.
            synced = store.health()["acme-bluesky"].last_sync_at
            deadline = time.monotonic() + 30
            while store.health()["acme-bluesky"].last_sync_at == synced and time.monotonic() < deadline:
                time.sleep(0.05)
            posted = subprocess.run(
                [*base, "post", "acme-bluesky", "Three seconds from now #w3", "--at", "+3s"],
                capture_output=True,
                text=True,
                timeout=60,
                env=env,
            )
            assert posted.returncode == 0, posted.stderr
            (soon,) = [e for e in store.outbox() if e.kind == "post" and "#w3" in e.text]
            deadline = time.monotonic() + 30
            while on_server(world, "#w3") == 0 and time.monotonic() < deadline:
                time.sleep(0.1)
            late = datetime.now(UTC) - soon.due_at
            assert on_server(world, "#w3") == 1 and late < timedelta(seconds=5), f"sent {late} after its time"
        finally:
            sync.send_signal(signal.SIGTERM)
            sync.communicate(timeout=30)  # reads and closes its pipes
        assert on_server(world, "#w20") == 1, "and still one after the service stopped"


async def test_an_edit_changes_text_and_time_atomically_and_is_audited(
    tmp_path: Path, engine_url: str
) -> None:
    team = use_engine(make_team(tmp_path), engine_url)
    adapter = team.factory()(team.config.account("acme-mastodon"))
    now = team.clock.now()
    entry = queue_post(team.store, adapter, "Draft words #e1", ALICE, now, due_at=now + timedelta(hours=1))
    edited = team.store.outbox_reschedule(
        entry.id,
        ALICE,
        now,
        text="Better words #e2",
        due_at=now + timedelta(minutes=2),
        visibility="unlisted",
    )
    assert (edited.text, edited.visibility, edited.state) == ("Better words #e2", "unlisted", "scheduled")
    assert edited.id == entry.id, "the same idempotency key: still one post"
    team.advance(150)
    (delivery,) = await send_due_posts(team.store, adapter, "acme-mastodon", team.clock)
    await adapter.aclose()
    assert delivery.sent and on_server(team.world, "#e2") == 1 and on_server(team.world, "#e1") == 0
    assert [e.action for e in team.store.audit_events()] == ["post-scheduled", "post-edited", "post-sent"]


async def test_a_scheduled_post_whose_sends_keep_failing_past_the_grace_is_missed_not_sent_late(
    tmp_path: Path,
) -> None:
    team = make_team(tmp_path)
    adapter = team.factory(max_attempts=1)(team.config.account("acme-mastodon"))
    now = team.clock.now()
    entry = queue_post(
        team.store, adapter, "Breakfast is served #f1", ALICE, now, due_at=now + timedelta(minutes=1)
    )
    team.advance(61)
    team.world.faults.set("acme-mastodon", "500")
    (delivery,) = await send_due_posts(team.store, adapter, "acme-mastodon", team.clock)
    assert delivery.entry.state == "queued" and "will retry" in delivery.entry.error
    team.advance(60)
    assert not (await poller_pass(team.store, adapter, "acme-mastodon", team.clock, grace=GRACE))[0].sent
    team.world.faults.clear("acme-mastodon")
    team.advance(GRACE.total_seconds())  # the server is back, but the post is now too late
    (late,) = await poller_pass(team.store, adapter, "acme-mastodon", team.clock, grace=GRACE)
    await adapter.aclose()
    assert late.entry.state == "missed" and on_server(team.world, "#f1") == 0
    assert team.store.outbox_entry(entry.id).state == "missed"
