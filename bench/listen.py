"""Listening benchmark: what watch terms cost an account's rate-limit budget when nothing happens.

The sandbox's four brand accounts (two Mastodon, two Bluesky, each with two watch terms: a phrase
and a hashtag; one Mastodon server searches hashtags only) on the in-process sandbox network (ASGI,
nothing leaves the process), a week of back-filled traffic with talk about the brands, the config
that `socialtui.sandbox.server.write_config` writes (poll_interval "10s", home_poll_interval "1m",
listen_every at its default "5m"). After the first sync, the fixed clock moves on by poll_interval
and every account runs one cycle, CYCLES times (an hour), with no new traffic.

    python bench/listen.py [--cycles 360]

Prints, against its budget (`<metric>: <value> <unit> (budget <value> <unit>) ok|over`):

    idle_requests_per_cycle_max
        The highest, over the accounts, of the mean requests per mention-poll cycle: items and own
        posts (2), the home timeline every sixth cycle, and listening (one request per term) every
        thirtieth. Budget: 3 (the issue's).

and as `#` lines the per-account figures and the talk items the first sync found. Exit status 1 when
over budget or when a cycle fails.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from socialtui.clock import FixedClock  # noqa: E402
from socialtui.config import load_config  # noqa: E402
from socialtui.listen import IDLE_BUDGET, listen_interval  # noqa: E402
from socialtui.sandbox.app import create_app  # noqa: E402
from socialtui.sandbox.server import write_config  # noqa: E402
from socialtui.sandbox.traffic import backfill  # noqa: E402
from socialtui.sandbox.world import World  # noqa: E402
from socialtui.store import Store  # noqa: E402
from socialtui.sync import Syncer, default_adapter_factory  # noqa: E402

NOW = datetime(2026, 11, 18, 14, 0, tzinfo=UTC)


async def run(cycles: int, tmp: Path) -> int:
    clock = FixedClock(NOW)
    world = World(clock.now)
    summary = backfill(world, NOW, hostile=False, seed=7)
    config = load_config(write_config(world, tmp / "config.toml", "http://127.0.0.1:9"))
    store = Store(config.team.data_dir)
    transport = httpx.ASGITransport(app=create_app(world))
    syncer = Syncer(config, store, clock, default_adapter_factory(config, store, clock, transport=transport))
    pollers = []
    for account in config.accounts:
        assert syncer.leases[account.id].try_acquire()
        pollers.append(syncer._poller(account.id))
    failed = 0
    for poller in pollers:
        failed += not (await poller.cycle()).ok
    talk = {a.id: sum(1 for i in store.items(a.id) if i.kind == "talk") for a in config.accounts}
    costs = {a.id: 0 for a in config.accounts}
    for _ in range(cycles):
        clock.advance(config.team.poll_interval)
        for poller in pollers:
            result = await poller.cycle()
            failed += not result.ok
            costs[poller.account.id] += result.requests
    await syncer.close()
    worst = 0.0
    for account in config.accounts:
        mean = costs[account.id] / cycles
        worst = max(worst, mean)
        every = listen_interval(account, config).total_seconds()
        note = store.health()[account.id].note
        print(
            f"#   {account.id}: {mean:.2f} requests per cycle; {len(account.listen)} terms every {every:.0f} s;"
            f" first sync found {talk[account.id]} talk items (the sandbox made {len(summary.talk[account.id])})"
            + (f"; health note: {note}" if note else "")
        )
    ok = worst <= IDLE_BUDGET
    print(
        f"idle_requests_per_cycle_max: {worst:.2f} requests (budget {IDLE_BUDGET:g} requests) {'ok' if ok else 'over'}"
    )
    if failed:
        print(f"# {failed} cycles failed")
    return 0 if ok and not failed else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=360)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="socialtui-bench-listen-") as tmp:
        return asyncio.run(run(args.cycles, Path(tmp)))


if __name__ == "__main__":
    sys.exit(main())
