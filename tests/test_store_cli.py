"""`socialtui store check` and `socialtui store migrate`: a files store moved into PostgreSQL whole,
or not at all.

The migration is engine-specific on purpose: its source is a files store and its target a PostgreSQL
database by definition. `store check` runs on both engines.
"""

from __future__ import annotations

import contextlib
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from socialtui.cli import main, unix_login
from socialtui.clock import FixedClock
from socialtui.model import Actor, Author, Item, OutboxEntry, Post, item_id
from socialtui.store import Store
from socialtui.store.postgres import PgEngine, PgWriter
from socialtui.store.schema import DATA_TABLES

NOW = datetime(2026, 11, 18, 14, 0, tzinfo=UTC)
ACTOR = Actor("alice", "Alice")

CONFIG = """
[team]
data_dir = "data"
timezone = "Europe/London"

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


def mention(n: int, minutes_ago: float = 30) -> Item:
    author = Author("mastodon", f"sam{n}@example.org", f"9{n}", f"Sam {n}")
    remote = f"01HQ{n:022d}"
    post = Post("acme-mastodon", remote, author, f"Question {n}?", NOW - timedelta(minutes=minutes_ago))
    return Item(item_id("acme-mastodon", remote), "acme-mastodon", "mention", post)


def populate(data_dir: Path) -> Store:
    """A files store with a bit of everything an operator leaves behind."""
    store = Store(data_dir)
    items = [mention(n) for n in range(6)]
    store.put_items(items)
    us = Author("mastodon", "acme@mastodon.example", "1", "Acme")
    store.put_own_posts(
        [
            Post(
                "acme-mastodon",
                "own-1",
                us,
                "Yes, open 10-4",
                NOW - timedelta(minutes=5),
                reply_to=items[0].post.remote_id,
                own=True,
            )
        ]
    )
    store.mark_done(items[1], "spam", ACTOR, NOW)
    store.add_note("@sam3@example.org", "Ordered twice by mistake", ACTOR, NOW)
    store.write_handoff("Quiet night; sam3 waits for a refund", ACTOR, NOW)
    store.claim(items[2], ACTOR, NOW, timedelta(minutes=10))  # after the handoff, which releases claims
    store.outbox_add(
        OutboxEntry(
            id="key-4",
            item=items[4].id,
            account="acme-mastodon",
            text="On its way!",
            login="alice",
            operator="Alice",
            created_at=NOW,
            updated_at=NOW,
        ),
        ACTOR,
        NOW,
    )
    return store


def everything(store: Store) -> dict[str, Any]:
    return {
        "items": sorted(store.items(), key=lambda i: i.id),
        "own": store.own_posts(),
        "states": store.states(),
        "claims": store.claims(NOW),
        "contacts": store.contacts(),
        "handoffs": store.handoffs(),
        "outbox": store.outbox(),
        "answered": store.answered(),
        "audit": store.audit_events(),
    }


def target_counts(url: str) -> dict[str, int]:
    engine = PgEngine(url)
    try:
        return {c.table: c.rows for c in engine.info().counts}
    finally:
        engine.close()


@pytest.mark.files_only("the source of a migration is a files store")
def test_migrate_copies_every_table_and_the_copy_reads_back_the_same(
    config_path: Path, tmp_path: Path, pg_url: str
) -> None:
    source = populate(tmp_path / "data")
    before = everything(source)
    assert before["states"] and before["claims"] and before["contacts"] and before["handoffs"]
    assert before["outbox"] and len(before["audit"]) >= 4

    code, stdout, stderr = run(config_path, "store", "migrate", "--to", pg_url)

    assert (code, stderr) == (0, "")
    copy = Store(tmp_path / "elsewhere", engine=PgEngine(pg_url))
    assert everything(copy) == before
    counts = target_counts(pg_url)
    lines = {
        line.split()[0]: line.split()[1:]
        for line in stdout.splitlines()[1:]
        if line and not line.startswith("migrated")
    }
    for table in [*DATA_TABLES, "audit"]:
        assert lines[table] == [str(counts[table]), str(counts[table])]
    assert f"migrated: {sum(counts.values())} documents" in stdout
    assert 'set [team] store = "' in stdout


@pytest.mark.files_only("the source of a migration is a files store")
def test_migrating_twice_refuses_and_changes_nothing(config_path: Path, tmp_path: Path, pg_url: str) -> None:
    populate(tmp_path / "data")
    assert run(config_path, "store", "migrate", "--to", pg_url)[0] == 0
    counts = target_counts(pg_url)
    Store(tmp_path / "data").add_note("@sam5@example.org", "New since the migration", ACTOR, NOW)

    code, stdout, stderr = run(config_path, "store", "migrate", "--to", pg_url)

    assert code == 1
    assert "already holds data" in stderr and "target is unchanged" in stderr
    assert target_counts(pg_url) == counts


@pytest.mark.files_only("the source of a migration is a files store")
def test_a_mismatch_rolls_the_whole_copy_back(
    config_path: Path, tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(tmp_path / "data")
    real_put_many = PgWriter.put_many

    def drop_one(self: PgWriter, table: str, docs: Any) -> None:
        if table == "contacts":
            docs = dict(list(docs.items())[1:])
        real_put_many(self, table, docs)

    monkeypatch.setattr(PgWriter, "put_many", drop_one)

    code, stdout, stderr = run(config_path, "store", "migrate", "--to", pg_url)

    assert code == 1
    assert "contacts: 1 in the source, 0 in the target" in stderr
    assert set(target_counts(pg_url).values()) == {0}


def test_check_a_clean_store(config_path: Path, tmp_path: Path, store_engine: str) -> None:
    store = populate(tmp_path / "data")

    code, stdout, stderr = run(config_path, "store", "check")

    assert (code, stderr) == (0, "")
    assert f"engine          {store_engine}" in stdout
    location = tmp_path / "data" if store_engine == "files" else store.engine.info().location
    assert f"location        {location}" in stdout
    assert "problems: none" in stdout
    assert any(line.split() == ["items", "6"] for line in stdout.splitlines())


def test_check_names_a_document_that_is_not_its_model(config_path: Path, tmp_path: Path) -> None:
    store = populate(tmp_path / "data")
    store.engine.transact(["contacts"], lambda w: w.put("contacts", "mastodon:broken", {"notes": 7}))

    code, stdout, stderr = run(config_path, "store", "check")

    assert code == 1
    assert "contacts mastodon:broken: not a Contact" in stdout
    assert "problems: 1" in stdout


def test_check_names_an_answered_item_with_an_unknown_reason(config_path: Path, tmp_path: Path) -> None:
    store = populate(tmp_path / "data")
    store.engine.transact(
        ["answered"],
        lambda w: w.put(
            "answered", "acme-mastodon x", {"account": "acme-mastodon", "at": NOW.isoformat(), "by": "magic"}
        ),
    )

    code, stdout, _ = run(config_path, "store", "check")

    assert code == 1
    assert "answered acme-mastodon x: the reason 'magic'" in stdout


@pytest.mark.files_only("the source of a migration is a files store")
def test_an_unreachable_target_is_named_without_its_password(config_path: Path, tmp_path: Path) -> None:
    populate(tmp_path / "data")

    code, stdout, stderr = run(config_path, "store", "migrate", "--to", "postgresql://u:s3cret@127.0.0.1:1/x")

    assert code == 1
    assert "not migrated" in stderr and "127.0.0.1" in stderr
    assert "s3cret" not in stdout + stderr


@pytest.mark.files_only("the source of a migration is a files store")
def test_the_password_may_come_from_the_environment(
    config_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(tmp_path / "data")
    monkeypatch.setenv("STORE_PW", "s3cret")

    code, stdout, stderr = run(
        config_path, "store", "migrate", "--to", "postgresql://u@127.0.0.1:1/x", "--password-env", "STORE_PW"
    )

    assert code == 1
    assert "s3cret" not in stdout + stderr
    assert (
        run(
            config_path, "store", "migrate", "--to", "postgresql://u@127.0.0.1:1/x", "--password-env", "NOPE"
        )[0]
        == 1
    )
