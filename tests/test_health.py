"""Health that tells the truth: a poller that stopped or hangs, accounts that never synced, accounts
that could not be polled at all, against the sandbox network and the command line."""

from __future__ import annotations

import asyncio
import contextlib
import io
from datetime import timedelta
from pathlib import Path

import pytest
from sandbox_env import make_team, socket_team

from socialtui import care
from socialtui.cli import main
from socialtui.clock import FixedClock
from socialtui.model import Actor
from socialtui.outbox import deliver, queue_reply
from socialtui.overview import build_overview
from socialtui.sync import account_lease


def run(config: Path, clock: FixedClock, *args: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["--config", str(config), *args], clock=clock)
    return code, stdout.getvalue(), stderr.getvalue()


async def test_a_hung_poller_that_keeps_its_leases_is_seen_as_stale(tmp_path: Path) -> None:
    team = make_team(tmp_path)  # poll_interval 10s
    results = await team.syncer().run_once()
    assert results and all(r.ok for r in results)
    overview = build_overview(team.config, team.store, team.clock.now())
    assert [a.sync.level for a in overview.accounts] == [care.OK] * len(overview.accounts)
    # A `socialtui sync` service hangs: it holds every lease and polls nothing.
    interval = team.config.team.poll_interval.total_seconds()
    hung = [account_lease(team.store, a.id, interval) for a in team.config.accounts]
    assert all(lease.try_acquire() for lease in hung)
    try:
        team.advance(31)
        # A dashboard (or `sync --once`) cannot take over: the leases are held.
        assert await team.syncer().run_once() == []
        overview = build_overview(team.config, team.store, team.clock.now())
        assert [a.sync.level for a in overview.accounts] == [care.WARNING] * len(overview.accounts)
        code, line = overview.check()
        assert "acme-mastodon not synced for 31s" in line
        code, out, _ = run(team.config.path, team.clock, "check")
        assert "acme-mastodon not synced for 31s" in out and code in (care.WARNING, care.CRITICAL)
        code, out, _ = run(team.config.path, team.clock, "status")
        assert code == 0 and "stale: last synced 31s ago (WARNING)" in out
        team.advance(70)
        overview = build_overview(team.config, team.store, team.clock.now())
        assert [a.sync.level for a in overview.accounts] == [care.CRITICAL] * len(overview.accounts)
        code, out, _ = run(team.config.path, team.clock, "check")
        assert code == care.CRITICAL and "acme-mastodon not synced for 1m;" in out
        code, out, _ = run(team.config.path, team.clock, "status")
        assert code == 0 and "stale: last synced 1m ago (CRITICAL)" in out
    finally:
        for lease in hung:
            lease.release()
    # The service is gone: the next pass polls again and the verdict is fresh.
    assert all(r.ok for r in await team.syncer().run_once())
    overview = build_overview(team.config, team.store, team.clock.now())
    assert [a.sync.level for a in overview.accounts] == [care.OK] * len(overview.accounts)
    assert "not synced" not in overview.check()[1]


async def test_an_account_never_polled_successfully_has_an_unknown_gap(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    token = next(a for a in team.config.accounts if a.id == "acme-mastodon").secret_file
    assert token is not None
    Path(token).write_text("")  # an empty token file: the account cannot be polled
    results = await team.syncer().run_once()
    failed = [r for r in results if not r.ok]
    assert [r.account for r in failed] == ["acme-mastodon"]
    overview = build_overview(team.config, team.store, team.clock.now())
    row = next(a for a in overview.accounts if a.account.id == "acme-mastodon")
    assert row.gap.state == "unknown"
    code, line = overview.check()
    assert "acme-mastodon quiet gap unknown (never synced successfully)" in line
    assert "acme-mastodon quiet 7d" not in line
    # Not a breach: the other accounts' late items make this CRITICAL, never this account's gap.
    assert not [g for g in line.split("; ") if g.startswith("acme-mastodon quiet ") and " of " in g]
    code, out, _ = run(team.config.path, team.clock, "status")
    row = next(line for line in out.splitlines() if line.startswith("acme-mastodon "))
    assert " unknown " in row and "breach" not in row and " of 4h" not in row, row


def test_sync_once_fails_when_an_account_cannot_be_polled(tmp_path: Path) -> None:
    with socket_team(tmp_path) as team:
        clock = FixedClock(team.clock.now())
        code, out, _ = run(team.config.path, clock, "sync", "--once")
        assert code == 0, out
        secret = next(a for a in team.config.accounts if a.id == "acme-mastodon").secret_file
        assert secret is not None
        Path(secret).write_text("\n")  # empty
        code, out, _ = run(team.config.path, clock, "sync", "--once")
        assert code == 1
        assert "acme-mastodon: failed:" in out and "acme-bluesky: ok" in out
        Path(secret).unlink()  # missing
        code, out, _ = run(team.config.path, clock, "sync", "--once")
        assert code == 1 and "acme-mastodon: failed:" in out and "does not exist" in out


def test_sync_once_fails_when_a_secret_variable_is_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[team]\ndata_dir = "data"\n\n[[accounts]]\nid = "acme-mastodon"\nnetwork = "mastodon"\n'
        'server = "https://mastodon.example"\nhandle = "@acme@mastodon.example"\n'
        'token_env = "SOCIALTUI_TEST_UNSET_TOKEN"\nmax_quiet = "4h"\nreply_within = "30m"\n'
    )
    monkeypatch.delenv("SOCIALTUI_TEST_UNSET_TOKEN", raising=False)
    clock = FixedClock(care_now())
    code, out, _ = run(path, clock, "sync", "--once")
    assert code == 1
    assert "acme-mastodon: failed:" in out and "SOCIALTUI_TEST_UNSET_TOKEN is not set" in out
    code, out, _ = run(path, clock, "check")
    assert code == 3 and "acme-mastodon quiet gap unknown" in out


def care_now():  # noqa: ANN201
    from sandbox_env import NOW

    return NOW - timedelta(0)


ACTOR = Actor("ops", "Ops")


async def _first_item(team, account: str):  # noqa: ANN001, ANN202
    assert all(r.ok for r in await team.syncer().run_once())
    overview = build_overview(team.config, team.store, team.clock.now())
    return next(e.item for e in overview.queue if e.item.account == account)


async def _our_replies(team, item) -> list:  # noqa: ANN001
    adapter = team.factory()(team.config.account(item.account))
    try:
        thread = await adapter.fetch_thread(item.post)
    finally:
        await adapter.aclose()
    return [p for p in thread if p.reply_to == item.post.remote_id and p.author.handle.startswith("acme")]


async def test_a_reply_refused_for_auth_is_reported_then_sent_once_when_the_account_recovers(
    tmp_path: Path,
) -> None:
    team = make_team(tmp_path)
    item = await _first_item(team, "acme-mastodon")
    adapter = team.factory()(team.config.account("acme-mastodon"))
    team.world.faults.set("acme-mastodon", "expired")  # the token was revoked
    try:
        entry = queue_reply(team.store, team.config, adapter, item, "Thanks, on it!", ACTOR, team.clock.now())
        delivery = await deliver(team.store, adapter, item, entry.id, team.clock)
    finally:
        await adapter.aclose()
    assert (delivery.entry.state, delivery.entry.failure) == ("failed", "auth")
    assert "run `socialtui login acme-mastodon`" in delivery.entry.error  # says what to do
    code, line = build_overview(team.config, team.store, team.clock.now()).check()
    assert code == care.CRITICAL and "1 reply failed on acme-mastodon" in line
    code, out, _ = run(team.config.path, team.clock, "status")
    assert "1 reply failed" in out and "socialtui login acme-mastodon" in out

    team.advance(60)
    results = await team.syncer().run_once()  # still refused: nothing is sent again
    assert [r.ok for r in results if r.account == "acme-mastodon"] == [False]
    assert team.store.outbox_entry(entry.id).state == "failed"  # type: ignore[union-attr]

    team.world.faults.set("acme-mastodon", "none")  # a new token, say
    team.advance(60)
    assert all(r.ok for r in await team.syncer().run_once())
    sent = team.store.outbox_entry(entry.id)
    assert sent is not None and sent.state == "sent" and sent.auth_retried
    assert len(await _our_replies(team, item)) == 1
    team.advance(60)
    await team.syncer().run_once()
    assert len(await _our_replies(team, item)) == 1, "sent once, never twice"
    code, line = build_overview(team.config, team.store, team.clock.now()).check()
    assert "reply failed" not in line


async def test_a_failed_reply_is_reported_until_discarded(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    item = await _first_item(team, "acme-mastodon")
    adapter = team.factory()(team.config.account("acme-mastodon"))
    team.world.faults.set("acme-mastodon", "expired")
    try:
        entry = queue_reply(team.store, team.config, adapter, item, "Thanks!", ACTOR, team.clock.now())
        await deliver(team.store, adapter, item, entry.id, team.clock)
    finally:
        await adapter.aclose()
    code, out, _ = run(team.config.path, team.clock, "check")
    assert code == 2 and "1 reply failed on acme-mastodon" in out
    code, out, err = run(team.config.path, team.clock, "reply", item.id, "--discard")
    assert code == 0 and "Discarded the failed reply" in out, err
    code, out, _ = run(team.config.path, team.clock, "check")
    assert "reply failed" not in out
    assert team.store.outbox_entry(entry.id).state == "discarded"  # type: ignore[union-attr]
    code, _, err = run(team.config.path, team.clock, "reply", item.id, "--discard")
    assert code == 1 and "no failed reply" in err
    # Discarded is final: the account recovering sends nothing.
    team.world.faults.set("acme-mastodon", "none")
    await team.syncer().run_once()
    assert await _our_replies(team, item) == []


@pytest.mark.parametrize("network", ["mastodon", "bluesky"])
def test_a_reply_from_another_app_not_yet_synced_is_found_on_the_server(tmp_path: Path, network: str) -> None:
    with socket_team(tmp_path) as team:
        account = f"acme-{network}"
        item = asyncio.run(_first_item(team, account))
        # The brand answers from the network's own app; no sync has seen it yet.
        brand = "acme" if network == "mastodon" else "acme.sandbox.bsky"
        team.world.post_as(network, brand, "Answered from the phone app", reply_to=item.post.remote_id)
        code, _, err = run(team.config.path, team.clock, "reply", item.id, "Thanks!")
        assert code == 1 and "answered meanwhile on the server" in err, err
        assert len(asyncio.run(_our_replies(team, item))) == 1, "not answered twice"
        # The reply found is in the store now: every operator sees the item answered.
        queue = build_overview(team.config, team.store, team.clock.now()).queue
        assert item.id not in {e.item.id for e in queue}
        # --force replies anyway, as documented.
        code, out, err = run(team.config.path, team.clock, "reply", item.id, "Thanks!", "--force")
        assert code == 0 and "Sent:" in out, err
        assert len(asyncio.run(_our_replies(team, item))) == 2


async def test_a_mastodon_401_while_polling_says_to_run_login(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    assert all(r.ok for r in await team.syncer().run_once())
    team.world.faults.set("acme-mastodon", "expired")  # the token was revoked on the server
    team.advance(60)
    results = {r.account: r for r in await team.syncer().run_once()}
    assert not results["acme-mastodon"].ok
    assert "run `socialtui login acme-mastodon`" in results["acme-mastodon"].error
    assert team.store.health()["acme-mastodon"].state == "auth"
    code, out, _ = run(team.config.path, team.clock, "status")
    row = next(line for line in out.splitlines() if line.startswith("acme-mastodon "))
    assert "auth refused" in row and "run `socialtui login acme-mastodon`" in row


@pytest.mark.parametrize("network", ["mastodon", "bluesky"])
async def test_looking_on_the_server_before_sending_is_one_request(tmp_path: Path, network: str) -> None:
    from socialtui.outbox import answered_on_server

    team = make_team(tmp_path)
    account = f"acme-{network}"
    item = await _first_item(team, account)
    adapter = team.factory()(team.config.account(account))
    try:
        await adapter.verify()  # signed in (a Bluesky session), as before any reply
        before = team.world.stats.requests(account)
        assert await answered_on_server(team.store, adapter, item) is None
        assert team.world.stats.requests(account) - before == 1
        brand = "acme" if network == "mastodon" else "acme.sandbox.bsky"
        team.world.post_as(network, brand, "Answered from the phone app", reply_to=item.post.remote_id)
        before = team.world.stats.requests(account)
        found = await answered_on_server(team.store, adapter, item)
        assert found is not None and found.text == "Answered from the phone app"
        assert team.world.stats.requests(account) - before == 1
    finally:
        await adapter.aclose()


async def _refused_for_auth(team, item):  # noqa: ANN001, ANN202
    adapter = team.factory()(team.config.account(item.account))
    team.world.faults.set(item.account, "expired")
    try:
        entry = queue_reply(team.store, team.config, adapter, item, "Thanks, on it!", ACTOR, team.clock.now())
        delivery = await deliver(team.store, adapter, item, entry.id, team.clock)
    finally:
        await adapter.aclose()
    assert (delivery.entry.state, delivery.entry.failure) == ("failed", "auth")
    return entry


async def test_a_reply_refused_for_auth_is_not_sent_when_answered_from_another_app_meanwhile(
    tmp_path: Path,
) -> None:
    team = make_team(tmp_path)
    item = await _first_item(team, "acme-mastodon")
    entry = await _refused_for_auth(team, item)
    # While the token was bad, someone answered from the phone app.
    team.world.post_as("mastodon", "acme", "Answered from the phone app", reply_to=item.post.remote_id)
    team.world.faults.set("acme-mastodon", "none")
    team.advance(60)
    assert all(r.ok for r in await team.syncer().run_once())
    assert len(await _our_replies(team, item)) == 1, "the phone's answer only"
    assert team.store.outbox_entry(entry.id).state == "discarded"  # type: ignore[union-attr]
    assert "reply failed" not in build_overview(team.config, team.store, team.clock.now()).check()[1]


async def test_a_reply_refused_for_auth_is_sent_again_only_once(tmp_path: Path) -> None:
    from socialtui.outbox import resend_after_auth

    team = make_team(tmp_path)
    item = await _first_item(team, "acme-mastodon")
    entry = await _refused_for_auth(team, item)
    # The account seemed to recover, but the one re-send is refused again (the token revoked again).
    adapter = team.factory()(team.config.account("acme-mastodon"))
    try:
        [again] = await resend_after_auth(team.store, adapter, "acme-mastodon", team.clock)
    finally:
        await adapter.aclose()
    assert again.entry.state == "failed" and again.entry.auth_retried
    team.world.faults.set("acme-mastodon", "none")
    for _ in range(2):  # the account works again, pass after pass: the reply is not sent a second time
        team.advance(60)
        assert all(r.ok for r in await team.syncer().run_once())
    assert await _our_replies(team, item) == []
    assert team.store.outbox_entry(entry.id).state == "failed"  # type: ignore[union-attr]
    code, line = build_overview(team.config, team.store, team.clock.now()).check()
    assert code == care.CRITICAL and "1 reply failed on acme-mastodon" in line, "still reported"
