"""Live: the Mastodon stream brings a mention into the store at once; polling is the safety net.

Over a real socket (the sandbox on 127.0.0.1 serves the streaming API). Each test waits on what the
store holds, never on a fixed sleep; the timeouts only bound a failing test. How fast a mention
arrives is measured in bench/sync.py, not here."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sandbox_env import SandboxTeam, socket_team

from socialtui.model import AccountHealth
from socialtui.networks.errors import AuthRefused, NetworkError, RateLimited, ServerError
from socialtui.store import Store
from socialtui.sync import Syncer

ACCOUNT = "acme-mastodon"
NOTIFICATIONS = "GET /api/v1/notifications"


def _syncer(team: SandboxTeam, poll_interval: timedelta) -> Syncer:
    config = replace(team.config, team=replace(team.config.team, poll_interval=poll_interval))
    return Syncer(config, team.store, team.clock, team.factory(), accounts=[ACCOUNT])


async def _until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def _health(store: Store) -> AccountHealth:
    return store.health().get(ACCOUNT) or AccountHealth(account=ACCOUNT)


def _mention(team: SandboxTeam, text: str) -> str:
    """A stranger mentions the brand; returns the status id."""
    brand = team.world.brands[ACCOUNT]
    posted = team.world.post_as("mastodon", "sam@example.org", f"{brand.handle} {text}")
    return str(posted["id"])


def _stored(store: Store, status_id: str) -> int:
    return len([i for i in store.items() if i.account == ACCOUNT and i.post.remote_id == status_id])


async def test_a_streamed_mention_is_stored_at_once_and_the_poll_adds_no_double(tmp_path: Path) -> None:
    with socket_team(tmp_path) as team:
        syncer = _syncer(team, timedelta(minutes=10))  # no poll comes in the test's time by itself
        stop = asyncio.Event()
        task = asyncio.create_task(syncer.run(stop))
        try:
            await _until(lambda: _health(team.store).mode == "live", "the stream to be up")
            assert "live" in _health(team.store).summary
            polled = team.world.stats.requests(ACCOUNT, NOTIFICATIONS)
            status_id = await asyncio.to_thread(_mention, team, "is the shop open on Sunday?")
            await _until(lambda: _stored(team.store, status_id) == 1, "the streamed mention in the store")
            assert team.world.stats.requests(ACCOUNT, NOTIFICATIONS) == polled, "brought by the stream"
            # The safety-net poll sees the same notification: the same item id, nothing doubled.
            syncer.poll_now(ACCOUNT)
            await _until(lambda: team.world.stats.requests(ACCOUNT, NOTIFICATIONS) > polled, "a poll")
            await _until(lambda: not syncer.pollers[ACCOUNT].catch_up, "the poll to end")
            assert _stored(team.store, status_id) == 1
        finally:
            stop.set()
            await task
        team.store.close()


async def test_a_dropped_stream_falls_back_to_polling_and_the_reconnect_catches_up(tmp_path: Path) -> None:
    with socket_team(tmp_path) as team:
        syncer = _syncer(team, timedelta(minutes=10))
        stop = asyncio.Event()
        task = asyncio.create_task(syncer.run(stop))
        try:
            await _until(lambda: _health(team.store).mode == "live", "the stream to be up")
            team.world.faults.set(ACCOUNT, "drop")  # open streams closed, new ones refused (503)
            await _until(lambda: _health(team.store).mode == "polling", "polling mode")
            assert not syncer.pollers[ACCOUNT].live
            assert syncer.pollers[ACCOUNT].interval() == 600.0, "back to poll_interval"
            # Posted while the stream is down, with the next poll ten minutes away:
            status_id = await asyncio.to_thread(_mention, team, "anyone there?")
            polled = team.world.stats.requests(ACCOUNT, NOTIFICATIONS)
            team.world.faults.set(ACCOUNT, "none")
            # The stream comes back after its backoff, and a catch-up poll fetches what it missed.
            await _until(lambda: _stored(team.store, status_id) == 1, "the missed mention, caught up")
            assert team.world.stats.requests(ACCOUNT, NOTIFICATIONS) > polled
            await _until(lambda: _health(team.store).mode == "live", "live again")
            assert syncer.pollers[ACCOUNT].interval() == 600.0  # max(poll_interval, 5 min)
            assert _stored(team.store, status_id) == 1
        finally:
            stop.set()
            await task
        team.store.close()


async def test_while_live_the_poll_slows_to_the_safety_net(tmp_path: Path) -> None:
    with socket_team(tmp_path) as team:
        syncer = _syncer(team, timedelta(seconds=10))
        stop = asyncio.Event()
        task = asyncio.create_task(syncer.run(stop))
        try:
            await _until(lambda: _health(team.store).mode == "live", "the stream to be up")
            assert syncer.pollers[ACCOUNT].interval() == 300.0
        finally:
            stop.set()
            await task
        team.store.close()


async def test_a_stream_refused_for_our_token_says_so(tmp_path: Path) -> None:
    with socket_team(tmp_path) as team:
        account = team.config.account(ACCOUNT)
        adapter = team.factory()(account)
        await adapter.verify()
        team.world.faults.set(ACCOUNT, "expired", count=1)
        with pytest.raises(AuthRefused):
            async for _ in adapter.stream_items():
                pass
        await adapter.aclose()
        team.store.close()


async def test_a_stream_that_hangs_at_its_handshake_is_given_up(tmp_path: Path) -> None:
    with socket_team(tmp_path) as team:
        adapter = team.factory()(team.config.account(ACCOUNT))
        await adapter.verify()
        team.world.faults.set(ACCOUNT, "stall", count=1, seconds=30)
        with pytest.raises(NetworkError):
            async for _ in adapter.stream_items(open_timeout=0.5):
                pass
        await adapter.aclose()
        team.store.close()


async def test_an_open_stream_gone_silent_past_its_heartbeat_is_noticed(tmp_path: Path) -> None:
    """A server that completes the handshake and then answers nothing, not even our pings (a hung
    server, a proxy that dropped the connection): the stream fails instead of waiting forever."""
    import base64
    import hashlib

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b":", 1)[1].strip()
            for line in request.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        await writer.drain()
        try:
            await reader.read()  # never answers; until the client gives up
        finally:
            writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with socket_team(tmp_path) as team:
        adapter = team.factory()(team.config.account(ACCOUNT))
        await adapter.verify()
        adapter.streaming_url = f"ws://127.0.0.1:{port}"
        opened: list[bool] = []
        with pytest.raises(NetworkError):
            async for _ in adapter.stream_items(
                lambda: opened.append(True), ping_every=0.2, ping_timeout=0.5
            ):
                pass
        assert opened == [True], "it was open, then went silent"
        await adapter.aclose()
        team.store.close()
    server.close()
    await server.wait_closed()


@pytest.mark.parametrize(
    ("fault", "error"), [("429", RateLimited), ("500", ServerError), ("drop", ServerError)]
)
async def test_a_refused_stream_raises_the_typed_failure(tmp_path: Path, fault: str, error: type) -> None:
    with socket_team(tmp_path) as team:
        adapter = team.factory()(team.config.account(ACCOUNT))
        await adapter.verify()
        team.world.faults.set(ACCOUNT, fault, count=1)
        with pytest.raises(error):
            async for _ in adapter.stream_items():
                pass
        await adapter.aclose()
        team.store.close()
