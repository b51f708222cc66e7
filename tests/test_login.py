"""`socialtui login`: Mastodon's authorization flow out of band, as an operator does it over SSH."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
from pathlib import Path

import httpx

from socialtui.networks.mastodon import SCOPES
from socialtui.sandbox.server import start
from socialtui.sandbox.world import World


def test_login_writes_a_working_token_readable_by_owner_and_group_only(tmp_path: Path) -> None:
    with start(World(), write_config=tmp_path / "c.toml", traffic=False) as sandbox:
        token_file = tmp_path / "acme-mastodon.token"
        token_file.unlink()  # a fresh install: no token yet
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "socialtui",
                "--config",
                str(sandbox.config_path),
                "login",
                "acme-mastodon",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        url = ""
        while not url:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            if "/oauth/authorize?" in line:
                url = line.strip()
        assert url.startswith(sandbox.url) and "urn%3Aietf%3Awg%3Aoauth%3A2.0%3Aoob" in url
        # The operator opens the address in a browser and logs in as the brand account.
        page = httpx.get(url + "&username=acme").text
        code = re.search(r'class="oauth-code" readonly type="text" value="([^"]+)"', page).group(1)
        out, err = proc.communicate(code + "\n", timeout=30)
        assert proc.returncode == 0, err
        assert "Token written to" in out
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o640
        token = token_file.read_text().strip()
        assert token and token not in out and token not in err, "the token is never printed"
        me = httpx.get(
            f"{sandbox.url}/api/v1/accounts/verify_credentials", headers={"Authorization": f"Bearer {token}"}
        )
        assert me.json()["username"] == "acme"
        # The scopes asked for are the ones socialtui uses (the sandbox checks them per route as
        # Mastodon does), not `read write`: a whole pass of the poller works with them.
        grant = sandbox.world.mastodon_token(token)
        assert grant is not None and sorted(grant.scopes) == sorted(SCOPES.split())
        assert "write" not in grant.scopes and "follow" not in grant.scopes
        synced = subprocess.run(
            [sys.executable, "-m", "socialtui", "--config", str(sandbox.config_path), "sync", "--once"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert synced.returncode == 0, synced.stdout + synced.stderr
        assert "acme-mastodon: ok" in synced.stdout


def test_the_sandbox_refuses_a_route_outside_the_token_scopes(tmp_path: Path) -> None:
    world = World()
    app = world.create_app("reader", ["urn:ietf:wg:oauth:2.0:oob"], ["read:statuses"], None)
    account = world.mastodon_account("acme")
    token = world._issue_mastodon_token(account.id, app.client_id, ["read:statuses"]).token
    with start(world, traffic=False) as sandbox:
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{sandbox.url}/api/v1/timelines/home", headers=auth).status_code == 200
        refused = httpx.post(f"{sandbox.url}/api/v1/statuses", headers=auth, data={"status": "hi"})
        assert refused.status_code == 403
        assert httpx.get(f"{sandbox.url}/api/v1/notifications", headers=auth).status_code == 403


def test_login_explains_what_to_do_for_bluesky(tmp_path: Path) -> None:
    with start(World(), write_config=tmp_path / "c.toml", traffic=False) as sandbox:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "socialtui",
                "--config",
                str(sandbox.config_path),
                "login",
                "acme-bluesky",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 1 and "app password" in result.stderr


async def test_the_scopes_asked_for_are_enough_for_everything_socialtui_does(tmp_path: Path) -> None:
    """The login test proves no more is asked than `SCOPES`; this proves it is not less: a token
    granted exactly `SCOPES` polls, replies, favourites and boosts (the sandbox checks each route's
    scope as Mastodon does; its `sandbox:` tokens are `read write`, so other tests cannot tell)."""
    from sandbox_env import make_team

    from socialtui.model import Actor
    from socialtui.outbox import deliver, queue_reply
    from socialtui.overview import build_overview

    team = make_team(tmp_path)
    brand = team.world.mastodon_account("acme")
    app = team.world.create_app("socialtui", ["urn:ietf:wg:oauth:2.0:oob"], SCOPES.split(), None)
    token = team.world._issue_mastodon_token(brand.id, app.client_id, SCOPES.split()).token
    secret = team.config.account("acme-mastodon").secret_file
    assert secret is not None
    Path(secret).write_text(token + "\n")

    results = await team.syncer().run_once()
    assert results and all(r.ok for r in results), [(r.account, r.error) for r in results]
    queue = build_overview(team.config, team.store, team.clock.now()).queue
    item = next(e.item for e in queue if e.item.account == "acme-mastodon")
    adapter = team.factory()(team.config.account("acme-mastodon"))
    try:
        entry = queue_reply(
            team.store, team.config, adapter, item, "Thanks!", Actor("ops", "Ops"), team.clock.now()
        )
        delivery = await deliver(team.store, adapter, item, entry.id, team.clock)
        assert delivery.entry.state == "sent", delivery.entry.error
        await adapter.favourite(item.post)
        await adapter.boost(item.post)
    finally:
        await adapter.aclose()
    assert team.world.mastodon_token(token) is not None, "the same token throughout"
