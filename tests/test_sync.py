"""The shared poller against the sandbox network: backfill, idle cost, latency, faults, leases."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sandbox_env import NOW, make_team, socket_team

from socialtui import care
from socialtui.config import load_config
from socialtui.overview import build_overview
from socialtui.sandbox.server import start
from socialtui.sandbox.world import World
from socialtui.store import Store, open_store
from socialtui.sync import Syncer
from socialtui.sync import account_lease as Lease
from socialtui.tui.data import StoreFollower


@pytest.fixture
def team(tmp_path: Path):
    return make_team(tmp_path)


def queue_remote_ids(team, account: str) -> list[str]:
    snap = team.store.snapshot(team.clock.now())
    queue = care.unanswered_queue(
        snap.items, snap.own_posts, snap.states, team.config.accounts, team.clock.now(), outbox=snap.outbox
    )
    return sorted(e.item.post.remote_id for e in queue if e.item.account == account)


async def test_first_sync_shows_exactly_the_sandbox_unanswered_items(team) -> None:
    results = await team.syncer().run_once()
    assert [r.ok for r in results] == [True] * 4, [r.error for r in results]
    for account in team.config.accounts:
        expected = sorted(team.summary.unanswered[account.id])
        assert expected, f"the sandbox left nothing unanswered on {account.id}"
        # And the talk about the brand that listening found with the account's watch terms.
        talk = sorted(team.summary.talk[account.id])
        assert talk, f"the sandbox left no talk about {account.id}"
        assert queue_remote_ids(team, account.id) == sorted(expected + talk), account.id
    health = team.store.health()
    assert {h.state for h in health.values()} == {"ok"}


async def test_gaps_come_from_own_posts(team) -> None:
    await team.syncer().run_once()
    overview = build_overview(team.config, team.store, NOW)
    gaps = {a.account.id: a.gap for a in overview.accounts}
    assert gaps["nightowl-mastodon"].state == "warn", "the sandbox's quiet account drifts towards its gap"
    assert gaps["nightowl-mastodon"].last_post_at is not None


async def test_an_idle_cycle_costs_at_most_two_requests_per_account(team) -> None:
    syncer = team.syncer()
    syncer.leases = {k: v for k, v in syncer.leases.items()}
    pollers = []
    for account in team.config.accounts:
        assert syncer.leases[account.id].try_acquire()
        pollers.append(syncer._poller(account.id))
    for poller in pollers:
        assert (await poller.cycle()).ok
    team.advance(10)
    costs = {}
    for poller in pollers:
        result = await poller.cycle()
        assert result.ok and result.new_items == 0
        costs[poller.account.id] = result.requests
    await syncer.close()
    assert all(cost <= 2 for cost in costs.values()), costs


async def test_a_new_mention_reaches_the_store_on_the_next_cycle(team) -> None:
    syncer = team.syncer()
    for account in team.config.accounts:
        syncer.leases[account.id].try_acquire()
    poller = syncer._poller("acme-mastodon")
    await poller.cycle()
    team.advance(5)
    team.world.post_as("mastodon", "newcomer@example.org", "@acme@sandbox.social is the shop open today?")
    team.advance(5)
    result = await poller.cycle()
    await syncer.close()
    assert result.new_items == 1
    texts = [i.post.text for i in team.store.items("acme-mastodon")]
    assert any("is the shop open today?" in t for t in texts)


@pytest.mark.parametrize(
    ("fault", "state"),
    [
        ("429", "rate_limited"),
        ("500", "unreachable"),
        ("malformed", "unreachable"),
        ("expired", "auth"),
    ],
)
async def test_a_failing_account_is_shown_failing_while_the_others_go_on(
    team, fault: str, state: str
) -> None:
    syncer = team.syncer(max_attempts=1)
    for account in team.config.accounts:
        syncer.leases[account.id].try_acquire()
    await asyncio.gather(*(syncer._poller(a.id).cycle() for a in team.config.accounts))
    team.world.faults.set("acme-mastodon", fault, seconds=120)
    team.world.post_as("mastodon", "zoe", "@nightowl@sandbox.social still there?")
    team.advance(10)
    results = {
        r.account: r
        for r in await asyncio.gather(*(syncer._poller(a.id).cycle() for a in team.config.accounts))
    }
    assert not results["acme-mastodon"].ok
    assert results["nightowl-mastodon"].ok and results["nightowl-mastodon"].new_items == 1
    health = team.store.health()
    assert health["acme-mastodon"].state == state
    assert health["nightowl-bluesky"].state == "ok"
    if fault == "429":
        assert health["acme-mastodon"].until is not None
        assert results["acme-mastodon"].next_in >= 60, "it waits for the reset, no hammering"
    code, line = build_overview(team.config, team.store, team.clock.now()).check()
    assert "acme-mastodon" in line and code >= 1
    # The fault clears: the next cycle recovers, with no burst of requests.
    team.world.faults.clear("acme-mastodon")
    team.advance(results["acme-mastodon"].next_in)
    recovered = await syncer._poller("acme-mastodon").cycle()
    await syncer.close()
    # One ordinary cycle: items, own posts, the home timeline (up to 3 pages) and listening (one
    # request per watch term) that fell due meanwhile.
    terms = len(team.config.account("acme-mastodon").listen)
    assert recovered.ok and recovered.requests <= 5 + terms
    assert team.store.health()["acme-mastodon"].state == "ok"


async def test_an_expired_bluesky_session_is_refreshed_not_recreated(team) -> None:
    syncer = team.syncer()
    for account in team.config.accounts:
        syncer.leases[account.id].try_acquire()
    poller = syncer._poller("acme-bluesky")
    assert (await poller.cycle()).ok
    team.world.faults.set("acme-bluesky", "expired")
    team.advance(10)
    result = await poller.cycle()
    await syncer.close()
    assert result.ok, result.error
    counts = team.world.stats.snapshot()["accounts"]
    calls = {endpoint: n for per_account in counts.values() for endpoint, n in per_account.items()}
    created = sum(n for endpoint, n in calls.items() if "createSession" in endpoint)
    refreshed = sum(n for endpoint, n in calls.items() if "refreshSession" in endpoint)
    assert (created, refreshed) == (1, 1), calls  # one session, then a refresh: never a second login


async def test_backoff_grows_with_failures_and_is_capped(team) -> None:
    syncer = team.syncer(max_attempts=1)
    syncer.leases["acme-bluesky"].try_acquire()
    poller = syncer._poller("acme-bluesky")
    team.world.faults.set("acme-bluesky", "500")
    waits = []
    for _ in range(12):
        result = await poller.cycle()
        waits.append(result.next_in)
        team.advance(result.next_in)
    await syncer.close()
    assert waits[5] > waits[0]
    assert max(waits) <= 15 * 60
    health = team.store.health()["acme-bluesky"]
    assert health.state == "unreachable" and health.since == NOW, "unreachable since the first failure"


async def test_a_second_syncer_skips_leased_accounts_and_takes_over(team) -> None:
    first, second = team.syncer(), team.syncer()
    for account in team.config.accounts:
        assert first.leases[account.id].try_acquire()
    assert await second.run_once() == [], "every account is polled by the first"
    await first.close()
    results = await second.run_once()
    assert sorted(r.account for r in results) == sorted(a.id for a in team.config.accounts)


def test_a_lease_is_exclusive_between_processes_and_freed_when_the_holder_dies(
    tmp_path: Path, store_engine: str
) -> None:
    store = Store(tmp_path)
    lease = Lease(store, "acme", poll_interval=8.0)  # a database lease lasts 4 s unrenewed
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time\n"
                "from socialtui.store import Store\n"
                "from socialtui.sync import account_lease as Lease\n"
                f"lease = Lease(Store({str(tmp_path)!r}), 'acme', poll_interval=8.0)\n"
                "assert lease.try_acquire()\n"
                "print('held', flush=True)\n"
                "time.sleep(60)\n"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert not lease.try_acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        if store_engine == "files":
            assert lease.try_acquire(), "the kernel frees the lock of a killed holder"
        else:
            assert not lease.try_acquire(), "a database lease outlives its dead holder until it expires"
            deadline = time.monotonic() + 20
            while not lease.try_acquire():
                assert time.monotonic() < deadline, "the dead holder's lease was never taken over"
                time.sleep(0.1)
    finally:
        holder.kill()
        holder.communicate()  # reaps it and closes its pipe
        lease.release()


class _Lines:
    """A process's output lines, read by a thread as they come (never a blocking read in the test)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line)

    def polling(self) -> set[str]:
        return {line.split(": ")[0].split()[-1] for line in list(self.lines) if line.endswith(": polling\n")}


def _wait(condition, what: str, timeout: float = 30.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_two_sync_services_poll_each_account_exactly_once(tmp_path: Path) -> None:
    """Two `socialtui sync` processes on one data dir: the second polls nothing while the first
    runs (checked over several of the first's cycles), then takes every account over when the first
    is killed."""
    with start(World(), write_config=tmp_path / "c.toml", traffic=False) as sandbox:
        config = str(sandbox.config_path)
        text = Path(config).read_text().replace('poll_interval = "10s"', 'poll_interval = "1s"')
        Path(config).write_text(text)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, "-m", "socialtui", "--config", config, "sync"]
        accounts = ["acme-mastodon", "acme-bluesky", "nightowl-mastodon", "nightowl-bluesky"]
        stats = sandbox.world.stats
        first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        second = None
        try:
            first_out = _Lines(first)
            _wait(lambda: len(first_out.polling()) == 4, "the first service to poll every account")
            polled = first_out.polling()
            second = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
            )
            second_out = _Lines(second)
            _wait(lambda: any("socialtui sync:" in line for line in second_out.lines), "the second to start")
            # The second tries the free leases six times per poll interval: let the first poll the
            # Bluesky accounts three more times meanwhile (the Mastodon ones are live: their stream
            # brings the items, and their poll comes every 5 minutes), then look at what the second did.
            polling = [a for a in accounts if a.endswith("-bluesky")]
            before = {a: stats.requests(a) for a in polling}
            _wait(lambda: all(stats.requests(a) >= before[a] + 6 for a in polling), "three more cycles")
            assert second.poll() is None
            assert second_out.polling() == set(), "the second polls nothing while the first holds the leases"
            first.send_signal(signal.SIGKILL)
            first.wait()
            _wait(lambda: len(second_out.polling()) == 4, "the second to take every account over")
            assert second_out.polling() == polled
        finally:
            for proc in (first, second):
                if proc is not None and proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(10)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                if proc is not None and proc.stdout is not None:
                    proc.stdout.close()


def _status(config: str, env: dict[str, str]) -> dict[str, dict[str, object]]:
    out = subprocess.run(
        [sys.executable, "-m", "socialtui", "--config", config, "status", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    return {a["id"]: a for a in json.loads(out)["accounts"]}


def _check(config: str, env: dict[str, str]) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "socialtui", "--config", config, "check"],
        capture_output=True,
        text=True,
        env=env,
    )
    return done.returncode, done.stdout


def test_a_killed_sync_service_leaves_no_account_live(tmp_path: Path) -> None:
    """`socialtui sync` streams acme-mastodon (live: staleness judged by the 5-minute safety net),
    then dies by kill -9 with nobody to take over. Within its confirmation's hold (10 s at a 1 s
    poll interval) status says polling, and status and check say the data is stale by polling's
    rules: not 15 minutes later."""
    with start(World(), write_config=tmp_path / "c.toml", traffic=False) as sandbox:
        config = str(sandbox.config_path)
        text = Path(config).read_text().replace('poll_interval = "10s"', 'poll_interval = "1s"')
        Path(config).write_text(text)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        sync = subprocess.Popen(
            [sys.executable, "-m", "socialtui", "--config", config, "sync"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        try:
            out = _Lines(sync)
            _wait(lambda: any("acme-mastodon: live" in line for line in out.lines), "the stream to be up")
            _wait(lambda: _status(config, env)["acme-mastodon"]["sync_mode"] == "live", "status to say live")
            # Longer than the 1 s poll interval x 3 and than the hold: still live, still fresh (the
            # service confirms it); the Bluesky accounts show the service polls.
            _wait(lambda: sandbox.world.stats.requests("acme-bluesky") >= 12, "a dozen Bluesky polls")
            alive = _status(config, env)["acme-mastodon"]
            assert alive["sync_mode"] == "live" and alive["health_level"] == "OK", alive
            # A dashboard's reader of the store (`StoreFollower`, which reads a change to the
            # health alone without the queue) says live too, and polling once the hold lapses.
            settings = load_config(config)
            store = open_store(settings)
            try:
                follower = StoreFollower(settings, store)

                def mode() -> str:
                    reading = follower.read(datetime.now(UTC))
                    return next(
                        a for a in reading.overview.accounts if a.account.id == "acme-mastodon"
                    ).health.mode

                assert mode() == "live"
                sync.send_signal(signal.SIGKILL)
                sync.wait()
                _wait(lambda: mode() == "polling", "the dashboard's reading to say polling")
            finally:
                store.close()
            _wait(
                lambda: _status(config, env)["acme-mastodon"]["sync_mode"] == "polling",
                "status to say polling",
            )
            dead = _status(config, env)["acme-mastodon"]
            assert dead["health_level"] in ("WARNING", "CRITICAL"), dead
            assert str(dead["health_detail"]).startswith("stale: last synced"), dead
            code, line = _check(config, env)
            assert code in (1, 2) and "acme-mastodon not synced for" in line, (code, line)
        finally:
            if sync.poll() is None:
                sync.kill()
                sync.wait()
            if sync.stdout is not None:
                sync.stdout.close()


def test_retention_is_applied_by_the_poller(team) -> None:
    """The poller prunes (nobody else is asked to): answered items older than `retention` go, open
    ones stay."""
    asyncio.run(team.syncer().run_once())
    items = team.store.items()
    answered = set(team.store.answered())
    assert answered and len(answered) < len(items), "the sandbox's history has both kinds"
    team.advance(timedelta(days=30).total_seconds())
    asyncio.run(team.syncer().run_once())  # the poller's pass, and nothing else
    left = {item.id for item in team.store.items()}
    assert left.isdisjoint(answered), "answered items older than retention were pruned by the poller"
    assert {item.id for item in items if item.id not in answered} <= left, "open items stay"


async def test_a_rate_limited_account_is_not_polled_before_its_reset_even_by_another_process(team) -> None:
    first = team.syncer(max_attempts=1)
    first.leases["acme-mastodon"].try_acquire()
    team.world.faults.set("acme-mastodon", "429", count=1, seconds=120)
    failed = await first._poller("acme-mastodon").cycle()
    await first.close()
    assert team.store.health()["acme-mastodon"].state == "rate_limited"
    before = team.world.stats.requests("acme-mastodon")
    assert before > 0
    team.advance(30)
    second = await team.syncer().run_once()  # a later `sync --once`, a new process in real life
    skipped = next(r for r in second if r.account == "acme-mastodon")
    assert not skipped.ok and "not polled" in skipped.error and failed.next_in >= 90
    assert team.world.stats.requests("acme-mastodon") == before, "no request before the reset"
    team.advance(100)
    third = await team.syncer().run_once()
    assert next(r for r in third if r.account == "acme-mastodon").ok


async def test_a_server_that_stops_answering_times_out_and_the_others_go_on(tmp_path: Path) -> None:
    with socket_team(tmp_path) as team:
        # The first sync with the usual timeouts (a busy machine may take more than 0.5 s to answer);
        # then a short timeout for the account whose server will hang, the usual one for the others.
        assert all(r.ok for r in await team.syncer().run_once())
        short, usual = team.factory(max_attempts=1, timeout=0.5), team.factory(max_attempts=1)
        syncer = Syncer(
            team.config,
            team.store,
            team.clock,
            lambda account: (short if account.id == "acme-mastodon" else usual)(account),
        )
        try:
            for account in team.config.accounts:
                syncer.leases[account.id].try_acquire()
            team.world.faults.set("acme-mastodon", "timeout", seconds=3)
            team.world.post_as("mastodon", "zoe", "@nightowl@sandbox.social still there?")
            cycles = [syncer._poller(a.id).cycle() for a in team.config.accounts]  # type: ignore[union-attr]
            results = {r.account: r for r in await asyncio.gather(*cycles)}
            # The client's timeout (0.5 s) ended the wait, not the server's answer (3 s late).
            assert not results["acme-mastodon"].ok and "timed out" in results["acme-mastodon"].error
            assert results["nightowl-mastodon"].ok and results["nightowl-mastodon"].new_items == 1
            assert team.store.health()["acme-mastodon"].state == "unreachable"
            team.world.faults.clear("acme-mastodon")
            team.advance(results["acme-mastodon"].next_in)
            assert (await syncer._poller("acme-mastodon").cycle()).ok  # type: ignore[union-attr]
        finally:
            await syncer.close()  # its connections, also when an assertion failed
