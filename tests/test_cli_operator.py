"""Operator commands as a new user met them: `done` respects claims and explains short ids, `note`
refuses a stranger the store has never seen, `check` on a bad config answers monitoring properly."""

from __future__ import annotations

import contextlib
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from socialtui.cli import main, unix_login
from socialtui.clock import FixedClock
from socialtui.model import Actor, Author, Item, Post, item_id
from socialtui.store import Store

NOW = datetime(2026, 11, 18, 14, 0, tzinfo=UTC)
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
    return path


def run(config_path: Path, *args: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["--config", str(config_path), *args], clock=FixedClock(NOW))
    return code, stdout.getvalue(), stderr.getvalue()


def mention(n: int, handle: str, name: str) -> Item:
    post = Post(
        "acme", f"r{n}", Author("mastodon", handle, str(n), name), "hello?", NOW - timedelta(minutes=n)
    )
    return Item(item_id("acme", post.remote_id), "acme", "mention", post)


def test_done_refuses_another_operators_claim_without_force(config_path: Path) -> None:
    store = Store(config_path.parent / "data")
    item = mention(1, "sam@example.org", "Sam Rivers")
    store.put_items([item])
    store.claim(item, Actor("ben", "Ben"), NOW - timedelta(minutes=2), timedelta(minutes=10))
    code, out, err = run(config_path, "done", item.id)
    assert code == 1 and out == ""
    assert f"{item.id} is claimed by Ben since 14:58 CET (--force to mark it done anyway)" in err
    assert item.id not in store.states()
    code, out, _ = run(config_path, "done", item.id, "--force")
    assert code == 0 and store.states()[item.id].done
    # One's own claim is no obstacle.
    other = mention(2, "kim@example.org", "Kim")
    store.put_items([other])
    store.claim(other, Actor(unix_login(), "Night lead"), NOW, timedelta(minutes=10))
    assert run(config_path, "done", other.id)[0] == 0


def test_a_short_item_prefix_says_it_needs_four_characters(config_path: Path) -> None:
    Store(config_path.parent / "data").put_items([mention(1, "sam@example.org", "Sam Rivers")])
    code, _, err = run(config_path, "done", "7")
    assert code == 1 and "an item id prefix needs at least 4 characters" in err


def test_note_refuses_a_contact_never_seen_unless_new(config_path: Path) -> None:
    store = Store(config_path.parent / "data")
    store.put_items([mention(1, "sam@example.org", "Sam Rivers")])
    code, _, err = run(config_path, "note", "Sam Rivera", "called back")
    assert code == 1 and "nobody called 'Sam Rivera' has talked to our accounts" in err
    assert "did you mean @sam@example.org (Sam Rivers)?" in err
    code, _, err = run(config_path, "note", "@nobody@nowhere.example", "hello")
    assert code == 1 and "nobody called '@nobody@nowhere.example'" in err
    assert store.contacts() == {}, "nothing written"
    code, out, _ = run(config_path, "note", "--new", "@nobody@nowhere.example", "press contact, call first")
    assert code == 0 and "Noted for mastodon:nobody@nowhere.example" in out
    # Once known (a dossier), no --new is needed; a known author never needed it.
    assert run(config_path, "note", "@nobody@nowhere.example", "again")[0] == 0
    assert run(config_path, "note", "@sam@example.org", "refund promised")[0] == 0


@pytest.mark.parametrize("content", [None, "[team\n", "[team]\ndata_dir = 3\n"])
def test_check_on_a_missing_or_bad_config_is_unknown_on_one_line_of_stdout(
    tmp_path: Path, content: str | None
) -> None:
    path = tmp_path / "config.toml"
    if content is not None:
        path.write_text(content)
    code, out, err = run(path, "check")
    assert code == 3
    assert out.startswith("UNKNOWN: bad config:") and out.count("\n") == 1 and "config.toml" in out
    assert err == ""
    # Other commands keep exit status 2 and stderr.
    code, out, err = run(path, "status")
    assert code == 2 and out == "" and "config.toml" in err


def test_times_a_person_reads_are_in_the_teams_zone_labelled_and_json_stays_utc(config_path: Path) -> None:
    import json

    store = Store(config_path.parent / "data")
    store.put_items([mention(1, "sam@example.org", "Sam Rivers")])
    run(config_path, "note", "@sam@example.org", "called back")
    dossier = run(config_path, "note", "@sam@example.org")[1]
    assert "- 2026-11-18 15:00 CET Night lead: called back" in dossier
    assert "  2026-11-18 14:59 CET acme mention (no reply)" in dossier
    audit = run(config_path, "report", "--audit")[1]
    assert audit.startswith("2026-11-18 15:00:00 CET Night lead")
    assert run(config_path, "report")[1].startswith(
        "socialtui report  2026-11-17 15:00 CET to 2026-11-18 15:00 CET"
    )
    data = json.loads(run(config_path, "report", "--json")[1])
    assert data["until"] == "2026-11-18T14:00:00+00:00"
    assert json.loads(run(config_path, "report", "--audit", "--json")[1])[0]["at"] == "2026-11-18T14:00:00Z"


def test_reopen_undoes_a_done_and_is_audited(config_path: Path) -> None:
    store = Store(config_path.parent / "data")
    item = mention(1, "sam@example.org", "Sam Rivers")
    store.put_items([item])
    code, _, err = run(config_path, "reopen", item.id)
    assert code == 1 and "is not marked done" in err
    run(config_path, "done", item.id, "--reason", "spam")
    code, out, _ = run(config_path, "reopen", item.id[:5])
    assert code == 0 and f"{item.id} reopened (was done by Night lead: spam)" in out
    assert item.id not in store.states()
    assert [e.action for e in store.audit_events()] == ["done", "reopen"]
