"""Every time a person reads is in the team's zone, labelled (`status`, a failing account's row in
the dashboard and in `status`, the audit, the handoff draft, a refused claim); JSON stays UTC."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from socialtui.cli import main, unix_login
from socialtui.clock import FixedClock
from socialtui.config import load_config
from socialtui.model import AccountHealth, Actor, Author, Item, Post, item_id
from socialtui.store import Store

NOW = datetime(2026, 11, 18, 14, 0, tzinfo=UTC)  # 15:00 CET in Paris
FAILED_AT = NOW - timedelta(minutes=20)  # 14:40 CET, 13:40 UTC
CONFIG = """
[team]
data_dir = "data"
timezone = "Europe/Paris"

[operators]
{login} = "Night lead"

[[accounts]]
id = "acme"
network = "mastodon"
server = "https://mastodon.example"
handle = "@acme@mastodon.example"
token_env = "ACME_TOKEN"
"""


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(login=unix_login()))
    store = Store(tmp_path / "data")
    post = Post(
        "acme", "r1", Author("mastodon", "sam@example.org", "1", "Sam"), "hello?", NOW - timedelta(hours=1)
    )
    store.put_items([Item(item_id("acme", "r1"), "acme", "mention", post)])
    store.set_health(
        AccountHealth(
            "acme", "unreachable", since=FAILED_AT, error="server error 500", last_sync_at=FAILED_AT
        )
    )
    return path


def run(config_path: Path, *args: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["--config", str(config_path), *args], clock=FixedClock(NOW))
    return code, stdout.getvalue(), stderr.getvalue()


def test_status_reads_in_the_team_zone_and_its_json_stays_utc(config_path: Path) -> None:
    code, out, _ = run(config_path, "status")
    assert out.splitlines()[0].startswith("socialtui status  2026-11-18 15:00 CET  operator "), out
    [row] = [line for line in out.splitlines() if line.startswith("acme ")]
    assert "server error since 14:40 CET: 500" in row, row
    assert "Z" not in row.split("server error", 1)[1]
    code, out, _ = run(config_path, "status", "--json")
    data = json.loads(out)
    assert data["generated_at"] == "2026-11-18T14:00:00+00:00"
    [account] = data["accounts"]
    assert "13:40 UTC" in account["health_detail"] and "CET" not in out


def test_the_audit_and_the_handoff_draft_read_in_the_team_zone(config_path: Path) -> None:
    store = Store(config_path.parent / "data")
    store.audit(Actor("ben", "Ben"), NOW - timedelta(minutes=5), "note", "acme", "", "called back")
    _, out, _ = run(config_path, "report", "--audit", "--since", "1h")
    assert "2026-11-18 14:55:00 CET Ben (ben) note acme called back" in out, out
    _, out, _ = run(config_path, "report", "--audit", "--since", "1h", "--json")
    assert json.loads(out)[0]["at"].startswith("2026-11-18T13:55:00")
    code, out, err = run(config_path, "handoff", "write", "Bye")
    assert code == 0, err
    [note] = store.handoffs()
    [failing] = [a for a in note.accounts if a.account == "acme"]
    assert failing.health_detail == "server error since 14:40 CET: 500"
    from socialtui.handoff import draft_handoff

    config = load_config(config_path)
    draft = draft_handoff(config, store, Actor(unix_login(), "Night lead"), NOW)
    assert "# Handoff from Night lead, 2026-11-18 15:00 CET." in draft
    assert "- acme: server error since 14:40 CET: 500" in draft


def test_a_failing_accounts_row_in_the_dashboard_reads_in_the_team_zone(config_path: Path) -> None:
    from socialtui.overview import build_overview
    from socialtui.tui.widgets.accounts import block, strip_lines

    config = load_config(config_path)
    [row] = build_overview(config, Store(config_path.parent / "data"), NOW).accounts
    narrow = [line.plain for line in strip_lines(row, 80, NOW, tz=config.team.tz)]
    assert "server error since 14:40 CET" in narrow[1], narrow
    wide = " ".join(line.plain for line in block(row, 80, NOW, tz=config.team.tz))
    assert "server error since 14:40 CET" in wide, wide


def test_a_refused_reply_names_the_claim_time_in_the_team_zone(config_path: Path) -> None:
    store = Store(config_path.parent / "data")
    [item] = store.items()
    store.claim(item, Actor("ben", "Ben"), NOW - timedelta(minutes=2), timedelta(minutes=10))
    code, _, err = run(config_path, "reply", item.id, "hi")
    assert code != 0 and f"{item.id} is claimed by Ben since 14:58 CET (--force to reply anyway)" in err, err


def test_an_http_500_reads_as_a_server_error_and_no_answer_as_unreachable() -> None:
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")
    five_hundred = AccountHealth(
        "acme", "unreachable", since=FAILED_AT, error="server error 502: Bad gateway"
    )
    assert five_hundred.describe(paris) == "server error since 14:40 CET: 502: Bad gateway"
    silent = AccountHealth("acme", "unreachable", since=FAILED_AT, error="connection refused")
    assert silent.describe(paris) == "unreachable since 14:40 CET: connection refused"
    assert silent.summary == "unreachable since 13:40 UTC: connection refused"


def test_the_check_line_reads_in_the_team_zone(config_path: Path) -> None:
    store = Store(config_path.parent / "data")
    until = NOW + timedelta(minutes=10)
    store.set_health(AccountHealth("acme", "rate_limited", since=NOW, until=until, last_sync_at=NOW))
    code, out, _ = run(config_path, "check")
    assert "acme rate limited until 15:10 CET" in out and "Z" not in out.split("until", 1)[1], out


def test_a_rate_limited_account_not_polled_by_sync_reads_in_the_team_zone(config_path: Path) -> None:
    import asyncio
    from types import SimpleNamespace

    from socialtui.sync import AccountPoller

    config = load_config(config_path)
    store = Store(config_path.parent / "data")
    store.set_health(AccountHealth("acme", "rate_limited", since=NOW, until=NOW + timedelta(minutes=10)))
    adapter = SimpleNamespace(requests=0)  # never asked: the cycle stops before any request
    poller = AccountPoller(config.accounts[0], config, store, FixedClock(NOW), adapter)  # type: ignore[arg-type]
    result = asyncio.run(poller.cycle())
    assert not result.ok and result.error == "rate limited until 15:10:00 CET; not polled", result.error


def test_a_reply_refused_for_another_operators_queued_reply_reads_in_the_team_zone(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from socialtui.model import OutboxEntry
    from socialtui.store import AlreadyQueued

    store = Store(config_path.parent / "data")
    [item] = store.items()
    queued = OutboxEntry(
        id="k1", item=item.id, account="acme", text="on it", login="ben", operator="Ben",
        created_at=NOW - timedelta(minutes=3), updated_at=NOW - timedelta(minutes=3),
        in_reply_to=item.post.remote_id, target=item.post,
    )  # fmt: skip
    store.outbox_add(queued, Actor("ben", "Ben"), NOW - timedelta(minutes=3))
    monkeypatch.setenv("ACME_TOKEN", "t")  # refused before any request
    code, _, err = run(config_path, "reply", item.id, "hi")
    assert (
        code != 0 and "already has a reply queued by Ben (queued 14:57:00 CET); nothing was queued" in err
    ), err
    assert "Z)" not in err
    # Without a zone (the store knows none), the same refusal says UTC, labelled.
    assert "(queued 13:57:00 UTC)" in str(AlreadyQueued(queued))


def test_a_rate_limit_met_while_polling_reads_in_the_team_zone(config_path: Path) -> None:
    import asyncio
    from types import SimpleNamespace

    from socialtui.networks.errors import RateLimited
    from socialtui.sync import AccountPoller

    config = load_config(config_path)
    poller = AccountPoller(
        config.accounts[0],
        config,
        Store(config_path.parent / "data"),
        FixedClock(NOW),
        SimpleNamespace(requests=0),  # type: ignore[arg-type]
    )

    async def limited(now: datetime, result: object) -> None:
        raise RateLimited(NOW + timedelta(minutes=5))

    poller._poll = limited  # type: ignore[method-assign]
    result = asyncio.run(poller.cycle())
    assert result.error == "rate limited until 15:05:00 CET", result.error
    assert str(RateLimited(NOW + timedelta(minutes=5))) == "rate limited until 14:05:00 UTC"


def test_moments_in_an_audit_lines_detail_read_in_the_team_zone(config_path: Path) -> None:
    from zoneinfo import ZoneInfo

    from socialtui.timespec import local_times_in

    store = Store(config_path.parent / "data")
    detail = "2026-11-18T15:00:00+00:00 -> 2026-11-18T16:30:00+00:00"  # as the store writes a moved post
    store.audit(Actor("ben", "Ben"), NOW - timedelta(minutes=5), "post-moved", "acme", "", detail)
    _, out, _ = run(config_path, "report", "--audit", "--since", "1h")
    assert "post-moved acme 2026-11-18 16:00 CET -> 2026-11-18 17:30 CET" in out, out
    _, out, _ = run(config_path, "report", "--audit", "--since", "1h", "--json")
    assert json.loads(out)[0]["detail"] == detail  # JSON: as stored, UTC
    paris = ZoneInfo("Europe/Paris")
    assert local_times_in("due 2026-11-18T14:00:00Z: hi", paris) == "due 2026-11-18 15:00 CET: hi"
    assert local_times_in("a T-shirt, 2026-11-18", paris) == "a T-shirt, 2026-11-18"
