"""`socialtui post --at` and `socialtui schedule`: listed in the account's time, changed, audited;
`check` warns about posts nothing would send."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sandbox_env import NOW, SandboxTeam, make_team

from socialtui.cli import main
from socialtui.clock import FixedClock
from socialtui.model import AccountHealth
from socialtui.sync import account_lease


def run(team: SandboxTeam, *args: str, now: datetime | None = None) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["--config", str(team.config.path), *args], clock=FixedClock(now or team.clock.now()))
    return code, stdout.getvalue(), stderr.getvalue()


@pytest.fixture
def team(tmp_path: Path) -> SandboxTeam:
    team = make_team(tmp_path)
    for account in team.config.accounts:
        team.store.set_health(AccountHealth(account=account.id, state="ok", last_sync_at=NOW, last_ok_at=NOW))
    return team


def scheduled(team: SandboxTeam, *args: str) -> list[dict]:
    code, text, err = run(team, "schedule", *args, "--json")
    assert code == 0, err
    return json.loads(text)


def test_post_at_schedules_in_the_account_zone_and_schedule_lists_it(team: SandboxTeam) -> None:
    zone = team.config.account("acme-mastodon").tz
    code, text, err = run(team, "post", "acme-mastodon", "Weekend opening hours", "--at", "tomorrow 09:00")
    assert code == 0, err
    assert "for Thu 2026-11-19 09:00 CET (in 18h)" in text, text
    code, text, err = run(team, "post", "acme-bluesky", "Hello from the night shift", "--at", "+2h")
    assert code == 0, err
    (first, second) = scheduled(team)  # merged, in order of time
    assert second["account"] == "acme-mastodon" and second["state"] == "scheduled"
    assert datetime.fromisoformat(second["at"]).astimezone(zone).strftime("%H:%M") == "09:00"
    assert first["account"] == "acme-bluesky" and first["text"] == "Hello from the night shift"
    assert [p["id"] for p in scheduled(team, "acme-bluesky")] == [first["id"]]
    code, text, _ = run(team, "schedule")
    assert "Thu 2026-11-19 09:00 CET" in text and "scheduled" in text
    assert [e.action for e in team.store.audit_events()] == ["post-scheduled", "post-scheduled"]


@pytest.mark.parametrize(
    ("when", "says"),
    [("today 08:00", "has passed"), ("whenever", "expected an ISO time"), ("Fri 9am", "not a time of day")],
)
def test_a_past_or_unreadable_when_is_refused_with_what_was_expected(
    team: SandboxTeam, when: str, says: str
) -> None:
    code, text, err = run(team, "post", "acme-mastodon", "hi", "--at", when)
    assert code == 2 and says in err, err
    assert team.store.outbox() == []


def test_move_and_cancel_are_audited_and_refused_when_too_late(team: SandboxTeam) -> None:
    run(team, "post", "acme-mastodon", "First", "--at", "+1h")
    run(team, "post", "acme-mastodon", "Second", "--at", "+2h")
    first, second = scheduled(team)
    code, text, err = run(team, "schedule", "move", first["id"][:6], "Sat", "10:30")
    assert code == 0, err
    assert "Sat 2026-11-21 10:30 CET" in text
    code, text, err = run(team, "schedule", "cancel", second["id"])
    assert code == 0 and "Cancelled" in text, err
    code, _, err = run(team, "schedule", "cancel", second["id"])
    assert code == 1 and "is cancelled" in err
    code, _, err = run(team, "schedule", "move", first["id"], "yesterday")
    assert code == 2 and "expected" in err
    (left,) = scheduled(team)
    assert left["id"] == first["id"]
    assert [p["state"] for p in scheduled(team, "--all")] == ["cancelled", "scheduled"]
    actions = [(e.action, e.login) for e in team.store.audit_events()]
    assert [a for a, _ in actions] == ["post-scheduled", "post-scheduled", "post-moved", "post-cancelled"]


def test_hostile_text_is_listed_as_plain_text(team: SandboxTeam) -> None:
    run(team, "post", "acme-mastodon", "Sale\x1b[2J\x1b]52;c;aGk=\x07 today [b]now[/b]", "--at", "+1h")
    code, text, _ = run(team, "schedule")
    assert "\x1b" not in text and "\x07" not in text and "[b]now[/b]" in text
    (post,) = scheduled(team)
    assert "\x1b" not in post["text"]


def test_check_warns_when_a_post_is_due_soon_and_no_poller_would_send_it(team: SandboxTeam) -> None:
    run(team, "post", "acme-bluesky", "Soon", "--at", "+10m")
    code, line, _ = run(team, "check")
    assert code >= 1 and "acme-bluesky post due in 10m and no poller runs" in line, line
    lease = account_lease(team.store, "acme-bluesky")
    assert lease.try_acquire()
    try:
        code, line, _ = run(team, "check")
        assert "no poller runs" not in line, line
    finally:
        lease.release()
    # Nothing ran: 11 minutes past its time, it is reported missed, not sent silently late.
    code, line, _ = run(team, "check", now=NOW + timedelta(minutes=21))
    # The line names the worst problems first: 21 minutes without a sync are CRITICAL for every
    # account here, so the missed post may be among the "+N more"; the verdict still counts it.
    assert code >= 1 and ("acme-bluesky 1 scheduled post missed" in line or line.rstrip().endswith("more")), (
        line
    )
    code, text, _ = run(team, "schedule", "--json", now=NOW + timedelta(minutes=21))
    assert [p["state"] for p in json.loads(text)] == ["missed"]


def test_status_json_gains_the_next_scheduled_post_and_the_forecast_breach(team: SandboxTeam) -> None:
    run(team, "post", "acme-bluesky", "Later", "--at", "+3h")
    code, text, err = run(team, "status", "--json")
    assert code == 0, err
    accounts = {a["id"]: a for a in json.loads(text)["accounts"]}
    (post,) = scheduled(team)
    assert accounts["acme-bluesky"]["next_scheduled_at"] == post["at"]
    assert accounts["acme-mastodon"]["next_scheduled_at"] is None
    for account in accounts.values():
        assert "breach_at" in account and account["forecast"]


def test_status_text_gives_each_forecast_in_the_team_zone(team: SandboxTeam) -> None:
    from socialtui.overview import build_overview

    run(team, "post", "acme-bluesky", "Later", "--at", "+3h")
    code, text, err = run(team, "status")
    assert code == 0, err
    assert "FORECAST (quiet gaps counting scheduled posts; team time, Europe/Berlin)" in text, text
    overview = build_overview(team.config, team.store, NOW)
    berlin = team.config.team.tz
    for row in overview.accounts:
        assert row.forecast is not None
        line = next(line for line in text.splitlines() if line.startswith(f"  {row.account.id} "))
        # In the team's time, labelled, whatever the account's own zone.
        assert line.endswith(row.forecast.summary(berlin, NOW)), line
        assert "CET" in line, line
    bluesky = next(line for line in text.splitlines() if line.startswith("  acme-bluesky "))
    assert "1 scheduled" in bluesky or "next post" in bluesky, bluesky


def test_the_report_counts_posts_made_and_scheduled_on_time_late_missed_cancelled(team: SandboxTeam) -> None:
    from dataclasses import replace

    from socialtui.model import Author, Post

    for when in ("+1h", "+2h", "+3h", "+4h", "+30h"):
        assert run(team, "post", "acme-bluesky", f"News {when}", "--at", when)[0] == 0
    on_time, late, cancelled, missed, coming = (team.store.outbox_entry(p["id"]) for p in scheduled(team))
    assert on_time and late and cancelled and missed and coming and on_time.due_at and late.due_at
    team.store.outbox_update(replace(on_time, state="sent", sent_at=on_time.due_at + timedelta(seconds=4)))
    team.store.outbox_update(replace(late, state="sent", sent_at=late.due_at + timedelta(minutes=6)))
    assert run(team, "schedule", "cancel", cancelled.id)[0] == 0
    # `missed` is due at +4h and nothing ran: at +5h it is past its 10-minute grace, unmarked.
    handle = team.config.account("acme-bluesky").handle
    news = Post("acme-bluesky", "own-1", Author("bluesky", handle, "1"), "Open today", NOW, own=True)
    reply = replace(news, remote_id="own-2", reply_to="someone")
    team.store.put_own_posts([news, reply])
    later = NOW + timedelta(hours=5)
    code, text, err = run(team, "report", "--since", "24h", "--json", now=later)
    assert code == 0, err
    figures = {p["account"]: p for p in json.loads(text)["posts"]}
    assert figures["acme-bluesky"] == {
        "account": "acme-bluesky",
        "made": 1,  # the reply is not a new post
        "scheduled": 5,  # four due in the window, one still coming
        "on_time": 1,
        "late": 1,
        "missed": 1,
        "cancelled": 1,
    }
    assert figures["acme-mastodon"]["scheduled"] == 0
    code, text, err = run(team, "report", "--since", "24h", now=later)
    assert code == 0, err
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("NEW POSTS"))
    assert lines[header].split()[2:] == ["made", "sched", "on", "time", "late", "missed", "cancelled"]
    row = next(line for line in lines[header:] if line.startswith("  acme-bluesky"))
    assert row.split()[1:] == ["1", "5", "1", "1", "1", "1"]
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]


async def test_the_demo_has_one_account_heading_into_a_gap_and_one_covered(tmp_path: Path) -> None:
    import argparse

    import httpx

    from socialtui.cli import Context
    from socialtui.cli_posts import schedule_demo_posts
    from socialtui.clock import FixedClock
    from socialtui.config import load_config
    from socialtui.overview import build_overview
    from socialtui.sandbox.app import create_app
    from socialtui.sandbox.server import demo_world, write_config
    from socialtui.store import Store
    from socialtui.sync import Syncer, default_adapter_factory

    clock = FixedClock(NOW)
    world = demo_world(clock.now)
    path = write_config(world, tmp_path / "config.toml", "http://127.0.0.1:9")
    config = load_config(path)
    store = Store(config.team.data_dir)
    factory = default_adapter_factory(
        config, store, clock, transport=httpx.ASGITransport(app=create_app(world))
    )
    syncer = Syncer(config, store, clock, factory)
    await syncer.run_once()
    await syncer.close()
    schedule_demo_posts(Context(argparse.Namespace(config=str(path), operator=None), clock))
    overview = build_overview(config, store, NOW)
    forecasts = {a.account.id: a.forecast for a in overview.accounts}
    covered, quiet = forecasts["nightowl-bluesky"], forecasts["nightowl-mastodon"]
    assert covered.breach_at is None and covered.scheduled == 5, covered
    assert (
        quiet.scheduled == 0 and quiet.breach_at is not None and quiet.breach_at - NOW < timedelta(hours=1)
    ), quiet
