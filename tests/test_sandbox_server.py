"""The sandbox over a real socket on loopback, and the config it writes."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from socialtui.clock import FixedClock
from socialtui.config import load_config, read_secret
from socialtui.sandbox import World, start, write_config
from socialtui.sandbox.server import check_loopback, serve

NOW = datetime(2026, 11, 21, 11, 44, tzinfo=UTC)


def test_write_config_is_a_ready_socialtui_config(tmp_path: Path) -> None:
    world = World(FixedClock(NOW).now)
    path = write_config(world, tmp_path / "demo" / "config.toml", "http://127.0.0.1:8765/")
    data = tomllib.loads(path.read_text())
    assert data["team"]["data_dir"] == str(tmp_path / "demo" / "data")
    assert data["team"]["poll_interval"] == "10s"
    accounts = {a["id"]: a for a in data["accounts"]}
    assert set(accounts) == {"acme-mastodon", "acme-bluesky", "nightowl-mastodon", "nightowl-bluesky"}
    assert accounts["acme-mastodon"]["handle"] == "@acme@sandbox.social"
    assert accounts["acme-bluesky"]["handle"] == "acme.sandbox.bsky"
    assert {a["server"] for a in accounts.values()} == {"http://127.0.0.1:8765"}
    assert {a["reply_within"] for a in accounts.values()} <= {"15m", "30m"}
    secrets = {
        Path(accounts["acme-mastodon"]["token_file"]): "sandbox:acme",
        Path(accounts["nightowl-mastodon"]["token_file"]): "sandbox:nightowl",
        Path(accounts["acme-bluesky"]["app_password_file"]): "sandbox",
    }
    for secret, content in secrets.items():
        assert secret.parent == path.parent
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        assert secret.read_text().strip() == content
    assert "sandbox:" not in path.read_text()  # secrets live in their files only

    config = load_config(path)  # the project's own loader accepts it
    assert [a.id for a in config.accounts] == list(accounts)
    assert read_secret(config.account("acme-mastodon")) == "sandbox:acme"
    assert config.account("nightowl-bluesky").active_hours.always


def test_only_loopback_hosts_are_accepted() -> None:
    assert check_loopback("127.0.0.1") == "127.0.0.1"
    assert check_loopback("::1") == "::1"
    assert check_loopback("localhost") == "127.0.0.1"
    for host in ("0.0.0.0", "192.168.1.10", "example.org", "::"):
        with pytest.raises(ValueError, match="loopback"):
            check_loopback(host)
    with pytest.raises(ValueError):
        start(World(), host="0.0.0.0")
    with pytest.raises(ValueError):
        serve(host="10.0.0.1")


def test_start_serves_on_loopback_in_a_thread(tmp_path: Path) -> None:
    world = World()
    sandbox = start(world, port=0, write_config=tmp_path / "config.toml", traffic=True, rate=0.05)
    try:
        url = httpx.URL(sandbox.url)
        assert url.host == "127.0.0.1" and url.port
        assert sandbox.config_path and sandbox.url in sandbox.config_path.read_text()
        with httpx.Client(base_url=sandbox.url, timeout=5) as client:
            instance = client.get("/api/v2/instance")
            assert instance.status_code == 200 and instance.json()["domain"] == "sandbox.social"
            assert "X-RateLimit-Reset" in instance.headers and "Date" in instance.headers
            assert "server" not in instance.headers  # no uvicorn banner
            session = client.post(
                "/xrpc/com.atproto.server.createSession",
                json={"identifier": "acme.sandbox.bsky", "password": "sandbox"},
            )
            assert session.status_code == 200
            # a timeout fault outlasts a real client's timeout
            world.faults.set("acme-mastodon", "timeout", count=1, seconds=1.5)
            with pytest.raises(httpx.ReadTimeout):
                client.get(
                    "/api/v1/notifications", headers={"Authorization": "Bearer sandbox:acme"}, timeout=0.3
                )
            stats = client.get("/_sandbox/stats").json()
            assert stats["accounts"]["acme-mastodon"] == {"GET /api/v1/notifications": 1}

        # Live traffic is flowing: posts keep coming (the seed alone would not make the count grow).
        def posts() -> int:
            with world.lock:
                return len(world.statuses) + len(world.records)

        before = posts()
        deadline = time.monotonic() + 30
        while posts() == before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert posts() > before, "no live traffic"
    finally:
        sandbox.stop()
    assert not sandbox._thread.is_alive()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{sandbox.url}/api/v2/instance", timeout=1)


def test_serve_in_the_foreground_prints_its_url_and_stops_on_interrupt(tmp_path: Path) -> None:
    code = (
        "from socialtui.sandbox import World\n"
        "from socialtui.sandbox.server import serve\n"
        f"serve(port=0, traffic=False, world=World(), write_config={str(tmp_path / 'c.toml')!r})\n"
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        assert line.startswith("sandbox network listening on http://127.0.0.1:"), line + (
            process.stderr.read() if process.poll() is not None and process.stderr else ""
        )
        url = line.split()[-1]
        answer = httpx.get(
            f"{url}/api/v1/accounts/verify_credentials",
            headers={"Authorization": "Bearer sandbox:acme"},
            timeout=5,
        )
        assert answer.json()["acct"] == "acme"
        assert url in (tmp_path / "c.toml").read_text()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.communicate()  # closes its pipes
