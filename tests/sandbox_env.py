"""A team wired to the in-process sandbox network: config, store, clock and adapters over ASGI."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from socialtui.clock import FixedClock
from socialtui.config import Config, load_config
from socialtui.sandbox.app import create_app
from socialtui.sandbox.server import start, write_config
from socialtui.sandbox.traffic import Summary, backfill
from socialtui.sandbox.world import World
from socialtui.store import Store
from socialtui.sync import AdapterFactory, Syncer, default_adapter_factory

# A Wednesday afternoon in Berlin: every sandbox brand account is within its active hours.
NOW = datetime(2026, 11, 18, 14, 0, tzinfo=UTC)
BASE_URL = "http://127.0.0.1:9"  # never dialled: requests go to the app through the ASGI transport


@dataclass
class SandboxTeam:
    clock: FixedClock
    world: World
    summary: Summary
    config: Config
    store: Store
    transport: httpx.ASGITransport

    def factory(self, **options: object) -> AdapterFactory:
        transport = self.transport if isinstance(self.transport, httpx.ASGITransport) else None
        return default_adapter_factory(self.config, self.store, self.clock, transport=transport, **options)

    def syncer(self, **options: object) -> Syncer:
        return Syncer(self.config, self.store, self.clock, self.factory(**options))

    def advance(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))


def make_team(
    tmp_path: Path, *, hostile: bool = False, poll_interval: str | None = None, **world_options: object
) -> SandboxTeam:
    clock = FixedClock(NOW)
    world = World(clock.now, **world_options)
    summary = backfill(world, NOW, hostile=hostile, seed=7)
    path = write_config(world, tmp_path / "config.toml", BASE_URL)
    if poll_interval:
        path.write_text(
            path.read_text().replace('poll_interval = "10s"', f'poll_interval = "{poll_interval}"')
        )
    config = load_config(path)
    store = Store(config.team.data_dir)
    return SandboxTeam(clock, world, summary, config, store, httpx.ASGITransport(app=create_app(world)))


@contextmanager
def socket_team(tmp_path: Path, **world_options: object) -> Iterator[SandboxTeam]:
    """The same team, but the sandbox serves on a real socket on 127.0.0.1: what timeouts need (the
    in-process ASGI transport never times out)."""
    clock = FixedClock(NOW)
    world = World(clock.now, **world_options)
    summary = backfill(world, NOW, hostile=False, seed=7)
    with start(world, write_config=tmp_path / "config.toml", traffic=False) as sandbox:
        config = load_config(sandbox.config_path)
        store = Store(config.team.data_dir)
        yield SandboxTeam(clock, world, summary, config, store, httpx.AsyncHTTPTransport())
