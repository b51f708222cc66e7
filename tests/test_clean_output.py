"""Clean output: a server's error text with terminal control sequences never reaches the store's
health, a log line or the terminal as it came (cleaned where it enters and again where it is printed)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from sandbox_env import socket_team

from socialtui.cli import main
from socialtui.clock import FixedClock
from socialtui.model import AccountHealth
from socialtui.sandbox.faults import HOSTILE_ERROR

CONTROL = ("\x1b", "\x07", "\x9b", "\r")


def run(config: Path, clock: FixedClock, *args: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["--config", str(config), *args], clock=clock)
    return code, stdout.getvalue(), stderr.getvalue()


def assert_inert(text: str) -> None:
    assert not any(c in text for c in CONTROL), repr(text)
    assert "]0;pwned" not in text and "[2J" not in text


@pytest.mark.parametrize("account", ["acme-mastodon", "acme-bluesky"])
def test_a_hostile_error_body_comes_out_clean_on_status(tmp_path: Path, account: str) -> None:
    assert "\x1b]0;" in HOSTILE_ERROR and "\x1b[2J" in HOSTILE_ERROR
    with socket_team(tmp_path) as team:
        clock = FixedClock(team.clock.now())
        team.world.faults.set(account, "hostile")
        code, out, err = run(team.config.path, clock, "sync", "--once")
        assert code == 1
        assert f"{account}: failed: HTTP 400: Bad request: try again" in out
        assert_inert(out + err)
        health = team.store.health()[account]
        assert "Bad request" in health.error
        assert_inert(health.error)  # cleaned where it entered: the HTTP error mapping
        code, out, err = run(team.config.path, clock, "status")
        assert code == 0 and "Bad request: try again" in out
        assert_inert(out + err)
        for args in (("check",), ("status", "--json")):
            _, out, err = run(team.config.path, clock, *args)
            assert_inert(out + err)


def test_the_cli_cleans_what_an_older_store_holds(tmp_path: Path) -> None:
    # A health written before the mapping cleaned errors: the CLI cleans it again where it prints.
    with socket_team(tmp_path) as team:
        clock = FixedClock(team.clock.now())
        team.store.set_health(
            AccountHealth("acme-mastodon", "unreachable", since=clock.now(), error=HOSTILE_ERROR)
        )
        code, out, err = run(team.config.path, clock, "status")
        assert "Bad request" in out
        assert_inert(out + err)


def test_a_hostile_error_body_comes_out_clean_on_reply(tmp_path: Path) -> None:
    # `reply` prints the server's refusal, and `status` lists the failed reply with it: both cleaned.
    from socialtui.overview import build_overview

    with socket_team(tmp_path) as team:
        clock = FixedClock(team.clock.now())
        assert run(team.config.path, clock, "sync", "--once")[0] == 0
        queue = build_overview(team.config, team.store, clock.now()).queue
        item = next(e.item for e in queue if e.item.account == "acme-mastodon")
        team.world.faults.set("acme-mastodon", "hostile")
        code, out, err = run(team.config.path, clock, "reply", item.id, "Thanks!")
        assert code == 1 and "reply failed: HTTP 400: Bad request: try again" in err
        assert_inert(out + err)
        entry = next(e for e in team.store.outbox() if e.item == item.id)
        assert entry.state == "failed" and "Bad request" in entry.error
        assert_inert(entry.error)  # cleaned where it entered
        _, out, err = run(team.config.path, clock, "status")
        assert "FAILED REPLIES (1)" in out and "Bad request" in out
        assert_inert(out + err)
        for args in (("status", "--json"), ("check",)):
            _, out, err = run(team.config.path, clock, *args)
            assert_inert(out + err)


def test_check_prints_a_store_error_as_one_clean_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A database server's message, quoted by the store, is a stranger's text too.
    from socialtui import overview
    from socialtui.store import StoreError

    def refuse(*_: object, **__: object) -> None:
        raise StoreError("the store's database said: \x1b]0;pwned\x07boom\x1b[2J\nsecond line")

    monkeypatch.setattr(overview, "build_status_overview", refuse)
    monkeypatch.setattr(overview, "build_overview", refuse)
    with socket_team(tmp_path) as team:
        code, out, err = run(team.config.path, FixedClock(team.clock.now()), "check")
    assert code == 3 and out.startswith("UNKNOWN: the store's database said:") and "boom" in out
    assert out.count("\n") == 1, "one line for monitoring"
    assert_inert(out + err)
