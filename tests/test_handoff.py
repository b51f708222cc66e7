"""Handoffs between shifts, as separate processes of separate operators on one data dir."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from socialtui.cli import unix_login
from socialtui.model import AccountHealth, Author, Post
from socialtui.store import Store

T0 = datetime(2026, 11, 18, 6, 0, tzinfo=UTC)
CONFIG = """
[team]
data_dir = "data"
handoff_ack_within = "30m"
poll_interval = "1d"  # the health set below stays fresh: no poller runs in this test

[[accounts]]
id = "acme"
network = "mastodon"
server = "https://mastodon.example"
handle = "@acme@mastodon.example"
token_env = "ACME_TOKEN"
max_quiet = "4h"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    store = Store(tmp_path / "data")
    # A healthy account that posts often: `check` can only complain about the handoff.
    store.set_health(AccountHealth("acme", "ok", last_sync_at=T0, last_ok_at=T0))
    me = Author("mastodon", "acme@mastodon.example", "1")
    store.put_own_posts(
        [Post("acme", f"p{n}", me, "news", T0 + timedelta(minutes=30 * n), own=True) for n in range(16)]
    )
    return path


def sh(config: Path, operator: str, at: datetime, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOCIALTUI_NOW": at.isoformat()}
    return subprocess.run(
        [sys.executable, "-m", "socialtui", "--config", str(config), "--operator", operator, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_handoff_is_read_acknowledged_and_chased(config: Path) -> None:
    assert sh(config, "Ana", T0, "shift", "start").returncode == 0
    wrote = sh(
        config, "Ana", T0 + timedelta(hours=6), "handoff", "write", "acme: refund thread with @sam is open"
    )
    assert wrote.returncode == 0, wrote.stderr

    # Ben and Cat start their shifts: the note comes first.
    t1 = T0 + timedelta(hours=6, minutes=5)
    ben = sh(config, "Ben", t1, "shift", "start")
    assert "1 handoff note(s) to read first" in ben.stdout and "refund thread" in ben.stdout
    assert "refund thread" in sh(config, "Cat", t1, "shift", "start").stdout

    # Within the limit, nothing to chase.
    assert sh(config, "Ben", t1 + timedelta(minutes=20), "check").returncode == 0

    # Ben acknowledges; Ana sees who and when.
    acked = sh(config, "Ben", t1 + timedelta(minutes=25), "handoff", "ack")
    assert "Acknowledged" in acked.stdout
    assert (
        "No handoff notes waiting for you."
        in sh(config, "Ben", t1 + timedelta(minutes=26), "handoff", "show").stdout
    )
    ana = sh(config, "Ana", t1 + timedelta(minutes=27), "handoff", "show", "--all").stdout
    assert "acknowledged by: Ben 12:30 UTC" in ana

    # Cat has not: it stays open for her, and past the limit `check` warns.
    assert "refund thread" in sh(config, "Cat", t1 + timedelta(minutes=40), "handoff", "show").stdout
    late = sh(config, "Cat", t1 + timedelta(minutes=40), "check")
    assert late.returncode == 1, late.stdout
    assert late.stdout.startswith("WARNING: handoff from Ana unacknowledged by Cat for 40m")
    sh(config, "Cat", t1 + timedelta(minutes=41), "handoff", "ack")
    assert sh(config, "Cat", t1 + timedelta(minutes=42), "check").returncode == 0

    audit = Store(config.parent / "data").audit_events()
    assert [(e.operator, e.action) for e in audit if e.action.startswith("handoff")] == [
        ("Ana", "handoff"),
        ("Ben", "handoff-ack"),
        ("Cat", "handoff-ack"),
    ]
    assert {e.login for e in audit} == {unix_login()}, "the audit keeps the real Unix login"
