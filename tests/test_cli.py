"""The command line, on an empty and on a filled store: what scripts and operators see."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from socialtui.cli import main, unix_login
from socialtui.clock import FixedClock
from socialtui.model import AccountHealth, Actor, Author, Item, Post, item_id
from socialtui.store import Store

NOW = datetime(2026, 11, 18, 14, 0, tzinfo=UTC)  # a Wednesday

CONFIG = """
[team]
data_dir = "data"
timezone = "Europe/London"
poll_interval = "30s"
claim_ttl = "10m"

[operators]
{login} = "Night lead"

[[accounts]]
id = "acme-mastodon"
network = "mastodon"
server = "https://mastodon.example"
handle = "@acme@mastodon.example"
token_env = "ACME_TOKEN"
active_hours = "always"
max_quiet = "4h"
reply_within = "30m"

[[accounts]]
id = "acme-bluesky"
network = "bluesky"
server = "https://bsky.example"
handle = "acme.bsky.example"
app_password_env = "ACME_BSKY"
active_hours = "always"
max_quiet = "4h"
reply_within = "30m"
"""


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(login=unix_login()))
    return path


def run(config_path: Path, *args: str, now: datetime = NOW) -> tuple[int, str, str]:
    import contextlib
    import io

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["--config", str(config_path), *args], clock=FixedClock(now))
    return code, stdout.getvalue(), stderr.getvalue()


def mention(n: int, account: str, minutes_ago: float, text: str = "Is the shop open on Sunday?") -> Item:
    if account == "acme-mastodon":
        author = Author("mastodon", f"sam{n}@example.org", f"9{n}", f"Sam {n}")
        remote = f"01HQ{n:022d}"
    else:
        author = Author("bluesky", f"kim{n}.example.com", f"did:plc:kim{n}", f"Kim {n}")
        remote = f"at://did:plc:kim{n}/app.bsky.feed.post/3k{n:011d}"
    post = Post(account, remote, author, text, NOW - timedelta(minutes=minutes_ago), url=f"https://x/{n}")
    return Item(item_id(account, remote), account, "mention", post)


def own_post(account: str, minutes_ago: float, reply_to: str = "") -> Post:
    handle = "acme@mastodon.example" if account == "acme-mastodon" else "acme.bsky.example"
    network = "mastodon" if account == "acme-mastodon" else "bluesky"
    return Post(
        account,
        f"own-{account}-{minutes_ago}",
        Author(network, handle, "1"),
        "hello",
        NOW - timedelta(minutes=minutes_ago),
        reply_to=reply_to,
        own=True,
    )


def fill(config_path: Path) -> tuple[Store, list[Item]]:
    store = Store(config_path.parent / "data")
    items = [
        mention(1, "acme-mastodon", 72, "The app crashed again after the update"),
        mention(2, "acme-mastodon", 25),
        mention(3, "acme-bluesky", 5, "Love the new colours!"),
        mention(4, "acme-bluesky", 300),
    ]
    store.put_items(items)
    store.put_own_posts(
        [own_post("acme-mastodon", 40), own_post("acme-bluesky", 260, reply_to=items[3].post.remote_id)]
    )
    for account in ("acme-mastodon", "acme-bluesky"):
        store.set_health(AccountHealth(account=account, state="ok", last_sync_at=NOW, last_ok_at=NOW))
    return store, items


# --- empty store ---------------------------------------------------------------------------------


def test_every_command_on_an_empty_data_dir_prints_an_empty_state(config_path: Path) -> None:
    code, text, err = run(config_path, "status")
    assert code == 0 and err == ""
    assert "never synced" in text
    code, text, _ = run(config_path, "status", "--json")
    data = json.loads(text)
    assert data["unanswered"] == [] and [a["id"] for a in data["accounts"]] == [
        "acme-mastodon",
        "acme-bluesky",
    ]
    code, line, _ = run(config_path, "check")
    assert code == 3 and line.startswith("UNKNOWN")
    assert run(config_path, "handoff", "show")[1].strip() == "No handoff notes."
    assert run(config_path, "handoff", "ack")[1].strip() == "Nothing to acknowledge."
    assert "No notes yet" in run(config_path, "note", "@sam@example.org")[1]
    code, text, _ = run(config_path, "report")
    assert code == 0 and "Traceback" not in text
    code, _, err = run(config_path, "done", "abcd1234")
    assert code == 1 and "no item 'abcd1234'" in err


# --- filled store --------------------------------------------------------------------------------


def test_status_json_has_the_contract_keys(config_path: Path) -> None:
    store, items = fill(config_path)
    store.claim(items[0], Actor("ops2", "Ops Two"), NOW - timedelta(minutes=1), timedelta(minutes=10))
    code, text, _ = run(config_path, "status", "--json")
    data = json.loads(text)
    assert code == 0
    assert {"generated_at", "operator", "accounts", "unanswered"} <= set(data)
    assert data["operator"] == "Night lead"
    for account in data["accounts"]:
        assert {
            "id",
            "network",
            "handle",
            "unanswered",
            "late",
            "oldest_unanswered_s",
            "quiet_s",
            "max_quiet_s",
            "quiet_state",
            "health",
        } <= set(account)
    by_id = {a["id"]: a for a in data["accounts"]}
    assert by_id["acme-mastodon"]["unanswered"] == 2 and by_id["acme-mastodon"]["late"] == 1
    assert by_id["acme-mastodon"]["oldest_unanswered_s"] == 72 * 60
    assert by_id["acme-bluesky"]["unanswered"] == 1, "the item answered from another app is not in the queue"
    assert by_id["acme-bluesky"]["quiet_s"] == 260 * 60 and by_id["acme-bluesky"]["quiet_state"] == "breach"
    assert by_id["acme-mastodon"]["quiet_state"] == "ok"
    first = data["unanswered"][0]
    assert {"item", "account", "author", "text", "url", "age_s", "state", "claimed_by"} <= set(first)
    assert first["item"] == items[0].id and first["state"] == "late" and first["claimed_by"] == "Ops Two"
    assert [u["item"] for u in data["unanswered"]] == [items[0].id, items[1].id, items[2].id], "oldest first"


def test_check_is_critical_with_late_items_and_a_breached_gap(config_path: Path) -> None:
    fill(config_path)
    code, line, _ = run(config_path, "check")
    assert code == 2
    assert line.startswith("CRITICAL: ")
    assert "1 late item" in line and "acme-mastodon" in line
    assert "acme-bluesky quiet 4h20m of 4h" in line
    assert "\n" not in line.strip()


def test_check_is_ok_when_all_is_answered(config_path: Path) -> None:
    store, items = fill(config_path)
    actor = Actor("alice", "Alice")
    for item in items:
        store.mark_done(item, "thanked", actor, NOW)
    store.put_own_posts([own_post("acme-bluesky", 1)])
    code, line, _ = run(config_path, "check")
    assert (code, line.split(":")[0]) == (0, "OK")


def test_done_takes_the_item_out_of_the_queue_and_is_audited(config_path: Path) -> None:
    store, items = fill(config_path)
    code, text, _ = run(config_path, "done", items[0].id[:5], "--reason", "spam")
    assert code == 0 and "done (spam)" in text
    data = json.loads(run(config_path, "status", "--json")[1])
    assert items[0].id not in [u["item"] for u in data["unanswered"]]
    event = store.audit_events()[-1]
    assert (event.action, event.item, event.detail, event.login) == (
        "done",
        items[0].id,
        "spam",
        unix_login(),
    )


def test_operator_override_is_shown_but_the_login_is_audited(config_path: Path) -> None:
    store, items = fill(config_path)
    run(config_path, "--operator", "Demo Dana", "done", items[1].id, "--reason", "thanked")
    event = store.audit_events()[-1]
    assert event.operator == "Demo Dana" and event.login == unix_login()


def test_notes_are_added_and_listed(config_path: Path) -> None:
    fill(config_path)
    assert run(config_path, "note", "@sam1@example.org", "Prefers", "DMs")[0] == 0
    code, text, _ = run(config_path, "note", "sam1@example.org")
    assert code == 0 and "Sam 1" in text and "Prefers DMs" in text and "Night lead" in text


def test_handoff_write_show_ack(config_path: Path, tmp_path: Path) -> None:
    fill(config_path)
    store = Store(tmp_path / "data")
    store.write_handoff("Watch acme-bluesky: quiet all evening", Actor("dayshift", "Day shift"), NOW)
    code, text, _ = run(config_path, "handoff", "show")
    assert "Watch acme-bluesky" in text and "nobody yet" in text
    shown = json.loads(run(config_path, "handoff", "show", "--json")[1])
    assert len(shown) == 1
    assert "Acknowledged" in run(config_path, "handoff", "ack")[1]
    assert run(config_path, "handoff", "show")[1].strip() == "No handoff notes waiting for you."
    assert "Night lead" in run(config_path, "handoff", "show", "--all")[1]
    code, text, _ = run(config_path, "handoff", "write", "All", "calm")
    assert code == 0 and "written" in text


def test_report_json_and_audit(config_path: Path) -> None:
    store, items = fill(config_path)
    run(config_path, "done", items[1].id, "--reason", "spam")
    data = json.loads(run(config_path, "report", "--since", "24h", "--json")[1])
    assert "accounts" in data and "operators" in data
    audit = run(config_path, "report", "--audit")[1]
    assert "done" in audit and items[1].id in audit
    code, _, err = run(config_path, "report", "--since", "yesterday")
    assert code == 2 and "--since" in err


def test_a_bad_config_exits_2_naming_file_key_and_value(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(CONFIG.format(login="x").replace('max_quiet = "4h"', 'max_quiet = "4 hours"', 1))
    code, out, err = run(path, "status")
    assert code == 2 and out == ""
    assert str(path) in err and "accounts[0].max_quiet" in err and "4 hours" in err


def test_a_missing_config_exits_2(tmp_path: Path) -> None:
    code, _, err = run(tmp_path / "nope.toml", "status")
    assert code == 2 and "nope.toml" in err


def test_hostile_text_reaches_the_terminal_inert(config_path: Path) -> None:
    store, _ = fill(config_path)
    nasty = "\x1b[2J\x1b]0;pwned\x07[bold red]hi[/] \u202egnp.exe\u200b ok"
    store.put_items([mention(9, "acme-mastodon", 3, nasty)])
    text = run(config_path, "status")[1]
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text and "\u200b" not in text
    assert "[bold red]hi[/]" in text, "markup-like text is shown as it was written"


# --- several processes at once, through the command line -------------------------------------------


def test_eight_concurrent_handoff_writes_lose_nothing(config_path: Path, tmp_path: Path) -> None:
    env = {**os.environ, "SOCIALTUI_NOW": NOW.isoformat()}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "socialtui",
                "--config",
                str(config_path),
                "--operator",
                f"op{n}",
                "handoff",
                "write",
                "--text-only",
                f"note number {n}",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(8)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    notes = Store(tmp_path / "data").handoffs()
    assert sorted(n.text for n in notes) == sorted(f"note number {n}" for n in range(8))
    assert len([e for e in Store(tmp_path / "data").audit_events() if e.action == "handoff"]) == 8


def test_a_contact_dossier_has_notes_tags_and_history_across_accounts(config_path: Path) -> None:
    store, items = fill(config_path)
    # Sam 1 also wrote to the Bluesky account? Different network: a different person. Write twice on Mastodon.
    again = mention(1, "acme-mastodon", 30, "Still broken, day three")
    again = Item(
        item_id("acme-mastodon", "second"), again.account, "reply", replace(again.post, remote_id="second")
    )
    store.put_items([again])
    store.put_own_posts([replace(own_post("acme-mastodon", 20), remote_id="r2", reply_to="second")])
    assert run(config_path, "note", "@sam1@example.org", "--tag", "VIP", "--tag", "repeat-complaint")[0] == 0
    run(config_path, "note", "@sam1@example.org", "Refund promised on the 3rd")
    text = run(config_path, "note", "sam1@example.org")[1]
    assert "tags: repeat-complaint, vip" in text
    assert "Refund promised on the 3rd" in text
    assert "history with our accounts (2 items)" in text
    assert "(no reply): The app crashed" in text and "(answered): Still broken, day three" in text
    assert "mastodon:sam1@example.org" in run(config_path, "contacts", "refund")[1]
    assert "mastodon:sam1@example.org" in run(config_path, "contacts", "--tag", "vip")[1]
    assert run(config_path, "contacts", "nobody-like-this")[1].strip() == "No contacts match."
    run(config_path, "note", "@sam1@example.org", "--untag", "vip")
    assert "tags: repeat-complaint\n" in run(config_path, "note", "sam1@example.org")[1]


def test_demo_leaves_nothing_behind_when_its_terminal_hangs_up(tmp_path: Path) -> None:
    import signal
    import time

    env = {**os.environ, "TMPDIR": str(tmp_path), "TERM": "xterm-256color"}
    # Nobody reads its output: never a pipe that could fill up and stall it.
    proc = subprocess.Popen(
        [sys.executable, "-m", "socialtui", "demo"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Wait on what can be seen: the sandbox has written its config into the throw-away dir.
        deadline = time.monotonic() + 30
        while not any((p / "config.toml").exists() for p in tmp_path.glob("socialtui-demo-*")):
            assert time.monotonic() < deadline and proc.poll() is None, "the demo did not start"
            time.sleep(0.05)
        proc.send_signal(signal.SIGHUP)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not any(p.name.startswith("socialtui-demo-") for p in tmp_path.iterdir()), (
        "the throw-away dir is gone"
    )


def test_report_since_takes_a_date_in_the_team_s_time_zone(config_path: Path) -> None:
    fill(config_path)
    code, text, err = run(config_path, "report", "--since", "2026-11-18", "--json")
    assert code == 0, err
    assert json.loads(text)["since"].startswith("2026-11-18T00:00:00")  # London is on UTC in November
    code, _, err = run(config_path, "report", "--since", "2026-12-01")
    assert code == 2 and "in the future" in err


def test_status_and_check_without_tones_count_exactly_as_the_full_overview(config_path: Path) -> None:
    """`status` and `check` skip rating tones (VADER never loads), yet count, order and judge every
    item exactly as the full overview does: items open, due, late, done, replied to, sent, claimed."""
    from socialtui import tone
    from socialtui.config import load_config
    from socialtui.model import OutboxEntry
    from socialtui.overview import build_overview

    store, items = fill(config_path)
    more = [
        mention(5, "acme-mastodon", 20, "This is the worst service, terrible, I am furious"),
        mention(6, "acme-mastodon", 90, "Thanks, great, love it"),
        mention(7, "acme-bluesky", 50, "Where is my refund?"),
        mention(8, "acme-bluesky", 29),
        mention(9, "acme-mastodon", 600),
    ]
    store.put_items(more)
    actor = Actor("alice", "Alice")
    store.mark_done(more[1], "thanked", actor, NOW)
    store.claim(more[2], actor, NOW, timedelta(minutes=10))
    entry = OutboxEntry(
        id="key-9",
        item=more[4].id,
        account="acme-mastodon",
        text="Sorry!",
        login="alice",
        operator="Alice",
        created_at=NOW,
        updated_at=NOW,
        in_reply_to=more[4].post.remote_id,
    )
    store.outbox_add(entry, actor, NOW)
    store.outbox_update(replace(entry, state="sent", sent_at=NOW, remote_id="r9"), actor, "sent")
    config = load_config(config_path)

    full = build_overview(config, store, NOW)
    fast = build_overview(config, store, NOW, tones=False)
    assert [(e.item.id, e.state, e.age_s, e.waited_s, e.claim) for e in fast.queue] == [
        (e.item.id, e.state, e.age_s, e.waited_s, e.claim) for e in full.queue
    ]
    counts = [(a.account.id, a.unanswered, a.due, a.late, a.oldest_waited_s) for a in full.accounts]
    assert [(a.account.id, a.unanswered, a.due, a.late, a.oldest_waited_s) for a in fast.accounts] == counts
    assert {e.state for e in full.queue} == {"ok", "due", "late"}
    assert any(e.tone.negative for e in full.queue)  # the full overview did rate them
    assert all(e.tone == tone.NEUTRAL for e in fast.queue)
    assert fast.check() == full.check()
    assert more[1].id not in {e.item.id for e in full.queue}  # done
    assert more[4].id not in {e.item.id for e in full.queue}  # sent
    assert items[3].id not in {e.item.id for e in full.queue}  # replied to from the app

    tone._vader.cache_clear()
    tone.rater_for.cache_clear()  # a cached rater holds VADER
    code, out, _ = run(config_path, "status")
    assert code == 0 and tone._vader.cache_info().currsize == 0  # VADER never loaded for the text
    for account_id, unanswered, _due, late, _ in counts:
        assert any(line.split()[:3] == [account_id, str(unanswered), str(late)] for line in out.splitlines())
    code, out, _ = run(config_path, "check")
    assert (code, out.strip()) == full.check()
    assert tone._vader.cache_info().currsize == 0
    code, out, _ = run(config_path, "status", "--json")
    assert code == 0 and tone._vader.cache_info().currsize == 1  # `--json` carries the tones
    assert [e["tone"] for e in json.loads(out)["unanswered"]] == [e.tone.label for e in full.queue]


def test_status_and_check_load_nothing_they_do_not_need(config_path: Path) -> None:
    """A fresh `status` or `check` process (as cron, monitoring and the shell run them) never imports
    the dashboard, the HTTP client, the sandbox, VADER or dateutil (nor wcwidth, for plain ASCII):
    start-up is most of its time."""
    fill(config_path)[0].close()
    heavy = (
        "textual",
        "httpx",
        "socialtui.sandbox",
        "socialtui.networks",
        "vaderSentiment",
        "dateutil",
        "wcwidth",
    )
    probe = (
        "import sys\n"
        "from socialtui.cli import main\n"
        f"code = main(['--config', {str(config_path)!r}, sys.argv[1]])\n"
        f"heavy = {heavy!r}\n"
        "print('LOADED', sorted({m.split('.')[0] if not m.startswith('socialtui.') else '.'.join(m.split('.')[:2])"
        " for m in sys.modules if any(m == h or m.startswith(h + '.') for h in heavy)}))\n"
    )
    env = {**os.environ, "SOCIALTUI_NOW": NOW.isoformat()}
    for command in ("status", "check"):
        result = subprocess.run(
            [sys.executable, "-c", probe, command], env=env, capture_output=True, text=True
        )
        assert "LOADED" in result.stdout, result.stderr
        assert result.stdout.strip().splitlines()[-1] == "LOADED []", (command, result.stdout[-300:])


def test_only_the_named_commands_parser_is_built_and_an_unknown_one_lists_them_all(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from socialtui.cli import _command_in, build_parser

    assert _command_in(["--config", "status", "check", "--json"]) == "check"  # a value, then the command
    assert _command_in(["--operator=Al", "-h"]) is None
    status_only = build_parser(only="status")
    assert status_only.parse_args(["status", "--all"]).all is True
    with pytest.raises(Exception, match="invalid choice"):
        status_only.parse_args(["check"])  # not built: main never asks this parser for it
    assert main(["sttaus"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'sttaus'" in err and "'status', 'check'" in err and "'store'" in err
