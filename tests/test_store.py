"""The shared store: transactions, several processes at once, crashes, bad files, permissions."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from socialtui.model import Actor, Author, Item, OutboxEntry, Post, item_id
from socialtui.store import (
    NotFoundInStore,
    Store,
    StoreCorrupt,
    StoreError,
    StoreTooNew,
    StoreWriteFailed,
)
from socialtui.store.files import SCHEMA_VERSION, StoreFile

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ALICE = Actor("alice", "Alice")
BOB = Actor("bob", "Bob")


def make_item(n: int, account: str = "acme-mastodon", at: datetime = NOW) -> Item:
    author = Author("mastodon", f"person{n}@example.org", str(n), f"Person {n}")
    post = Post(account, f"{n:020d}", author, f"question {n}", at - timedelta(minutes=n))
    return Item(item_id(account, post.remote_id), account, "mention", post)


def test_an_empty_data_dir_reads_as_empty(tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    assert store.items() == []
    assert store.states() == {}
    assert store.handoffs() == []
    assert store.audit_events() == []
    assert store.health() == {}
    assert store.snapshot(NOW).items == []


def test_operator_actions_are_kept_and_audited(tmp_path: Path) -> None:
    store = Store(tmp_path)
    item = make_item(1)
    store.put_items([item])
    store.claim(item, ALICE, NOW, timedelta(minutes=10))
    store.mark_done(item, "spam", ALICE, NOW)
    assert store.states()[item.id].reason == "spam"
    assert store.claims(NOW) == {}, "done releases the claim"
    actions = [(e.login, e.action, e.item, e.detail) for e in store.audit_events()]
    assert actions == [("alice", "claim", item.id, ""), ("alice", "done", item.id, "spam")]


def test_claims_show_who_holds_them_and_expire(tmp_path: Path) -> None:
    store = Store(tmp_path)
    item = make_item(1)
    store.put_items([item])
    mine = store.claim(item, ALICE, NOW, timedelta(minutes=10))
    theirs = store.claim(item, BOB, NOW + timedelta(minutes=2), timedelta(minutes=10))
    assert theirs == mine and theirs.login == "alice", "Bob is told Alice holds it"
    assert store.claims(NOW + timedelta(minutes=11)) == {}
    bob = store.claim(item, BOB, NOW + timedelta(minutes=11), timedelta(minutes=10))
    assert bob.login == "bob"


def test_items_are_found_by_unambiguous_prefix(tmp_path: Path) -> None:
    store = Store(tmp_path)
    items = [make_item(n) for n in range(50)]
    store.put_items(items)
    target = items[7]
    assert store.find_item(target.id).id == target.id
    assert store.find_item(target.id[:6].upper()).id == target.id
    with pytest.raises(NotFoundInStore, match="no item"):
        store.find_item("zzzzzzzz")


def test_another_process_change_is_seen(tmp_path: Path) -> None:
    first, second = Store(tmp_path), Store(tmp_path)
    item = make_item(1)
    first.put_items([item])
    assert second.states() == {}
    first.mark_done(item, "thanked", ALICE, NOW)
    assert second.states()[item.id].reason == "thanked"
    second.reopen(item, BOB, NOW)
    assert first.states() == {}


def test_files_are_group_shared_and_never_world_readable(tmp_path: Path) -> None:
    data = tmp_path / "shared"
    old_umask = os.umask(0o022)  # a typical login umask: group write would be lost without care
    try:
        store = Store(data)
        store.private_dir("leases")
    finally:
        os.umask(old_umask)
    for directory in (data, data / "leases"):
        mode = stat.S_IMODE(directory.stat().st_mode)
        assert mode & 0o070 == 0o070 and mode & 0o2000, f"{directory.name} is not group-shared: {oct(mode)}"
        assert mode & 0o007 == 0, f"{directory.name} is world-accessible: {oct(mode)}"
    store.put_items([make_item(1)])
    store.mark_done(make_item(1), "spam", ALICE, NOW)
    assert stat.S_IMODE(data.stat().st_mode) & 0o007 == 0
    for path in data.iterdir():
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o007 == 0, f"{path.name} is world-accessible: {oct(mode)}"
        assert mode & 0o060 == 0o060, f"{path.name} is not group read-write: {oct(mode)}"


def test_a_store_from_a_newer_version_is_refused_and_left_alone(tmp_path: Path) -> None:
    ops = tmp_path / "ops.json"
    ops.write_text(json.dumps({"_meta": {"schema": {"version": 99}}, "states": {}}))
    before = ops.read_bytes()
    store = Store(tmp_path)
    with pytest.raises(StoreTooNew, match="newer socialtui"):
        store.states()
    with pytest.raises(StoreTooNew):
        store.mark_done(make_item(1), "spam", ALICE, NOW)
    assert ops.read_bytes() == before


def test_a_corrupt_file_is_refused_and_never_overwritten(tmp_path: Path) -> None:
    ops = tmp_path / "ops.json"
    ops.write_text('{"states": {"x": ')
    store = Store(tmp_path)
    with pytest.raises(StoreCorrupt, match="ops.json is not valid JSON"):
        store.mark_done(make_item(1), "spam", ALICE, NOW)
    assert ops.read_text() == '{"states": {"x": '


def test_a_full_disk_loses_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path)
    first, second = make_item(1), make_item(2)
    store.put_items([first, second])
    store.mark_done(first, "spam", ALICE, NOW)
    real_write = os.write

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(StoreWriteFailed, match="the disk is full; nothing was changed"):
        store.mark_done(second, "thanked", ALICE, NOW)
    monkeypatch.setattr(os, "write", real_write)
    assert set(store.states()) == {first.id}, "the failed change is not half-applied"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")], "no temp file left behind"
    store.mark_done(second, "thanked", ALICE, NOW)
    assert set(Store(tmp_path).states()) == {first.id, second.id}


def test_a_failed_transaction_changes_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.put_items([make_item(1)])

    def body(w) -> None:
        w.delete("items", [make_item(1).id])
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        store.engine.transact(["items"], body)
    assert [i.id for i in store.items()] == [make_item(1).id]


def test_a_cut_short_audit_line_is_skipped(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.audit(ALICE, NOW, "note")
    with open(tmp_path / "audit.jsonl", "a") as fh:
        fh.write('{"at": "2026-11-21T12:00:00Z", "login": "bo')
    assert [e.action for e in store.audit_events()] == ["note"]


def test_handoffs_and_acknowledgements(tmp_path: Path) -> None:
    store = Store(tmp_path)
    note = store.write_handoff("acme-bluesky near a gap", ALICE, NOW)
    assert store.ack_handoffs(ALICE, NOW) == [], "a writer does not acknowledge their own note"
    acked = store.ack_handoffs(BOB, NOW + timedelta(minutes=5))
    assert [n.id for n in acked] == [note.id]
    assert store.handoffs()[0].acked_by("Bob").at == NOW + timedelta(minutes=5)
    assert store.ack_handoffs(BOB, NOW) == [], "acknowledging twice records nothing new"


def test_outbox_entries_are_committed_once(tmp_path: Path) -> None:
    store = Store(tmp_path)
    entry = OutboxEntry(
        id="key-1",
        item="abcd1234",
        account="acme",
        text="hi",
        login="alice",
        operator="Alice",
        created_at=NOW,
        updated_at=NOW,
    )
    assert store.outbox_add(entry, ALICE, NOW) == entry
    retried = replace(entry, text="typed again")
    assert store.outbox_add(retried, ALICE, NOW) == entry, "the same key never makes a second reply"
    assert len(store.outbox()) == 1


def test_prune_keeps_what_is_still_needed(tmp_path: Path) -> None:
    store = Store(tmp_path)
    old_open = make_item(1, at=NOW - timedelta(days=30))
    old_done = make_item(2, at=NOW - timedelta(days=30))
    fresh = make_item(3)
    store.put_items([old_open, old_done, fresh])
    store.mark_done(old_done, "spam", ALICE, NOW - timedelta(days=29))
    author = Author("mastodon", "acme@mastodon.social", "1")
    ancient = Post("acme-mastodon", "p1", author, "old", NOW - timedelta(days=40), own=True)
    last = Post("acme-mastodon", "p2", author, "last", NOW - timedelta(days=20), own=True)
    store.put_own_posts([ancient, last])
    store.prune(NOW, timedelta(days=14))
    assert {i.id for i in store.items()} == {old_open.id, fresh.id}, "unanswered items are never pruned"
    assert [p.remote_id for p in store.own_posts()] == ["p2"], "the latest own post is kept for the gap"


# --- several processes ------------------------------------------------------------------------------


def _note_writer(data_dir: str, worker: int, count: int) -> None:
    store = Store(data_dir)
    actor = Actor(f"op{worker}", f"Operator {worker}")
    for n in range(count):
        store.add_note("@sam@example.org", f"note {worker}-{n}", actor, NOW)
        if n % 5 == 0:
            store.mark_done(make_item(worker * 1000 + n), f"r{worker}", actor, NOW)


def test_eight_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    workers, count = 8, 25
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_note_writer, args=(str(tmp_path), w, count)) for w in range(workers)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    store = Store(tmp_path)
    notes = store.contacts()["mastodon:sam@example.org"].notes
    assert sorted(n.text for n in notes) == sorted(
        f"note {w}-{n}" for w in range(workers) for n in range(count)
    )
    assert len(store.states()) == workers * len(range(0, count, 5))
    audit = store.audit_events()
    assert len(audit) == workers * count + workers * len(range(0, count, 5))
    assert_whole_files(tmp_path)


def assert_whole_files(data_dir: Path, killed: bool = False) -> None:
    """Every file of the store parses, and no writer's temporary file is left behind (but by a
    killed writer, whose temporary file nobody reads)."""
    files = list((data_dir / "tables").glob("*/*.json"))
    assert files
    for path in files:
        assert json.loads(path.read_bytes())["schema"] == SCHEMA_VERSION
    assert killed or not list((data_dir / "tables").glob("*/.*.tmp"))


KILLED_WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from socialtui.model import Actor, Author, Item, Post, item_id
    from socialtui.store import Store

    store = Store(sys.argv[1])
    now = datetime(2026, 11, 21, 12, tzinfo=UTC)
    # A bulky file makes each write long enough for the kill to land inside one.
    author = Author("mastodon", "crowd@example.org", "9")
    store.put_items(
        Item(item_id("a", str(n)), "a", "mention", Post("a", str(n), author, "x" * 400, now)) for n in range(3000)
    )
    actor = Actor("killer", "Killer")
    n = 0
    while True:
        store.add_note("@sam@example.org", f"n{n}", actor, now)
        store.put_items([Item(item_id("b", str(n)), "b", "mention", Post("b", str(n), author, "y", now))])
        print(n, flush=True)
        n += 1
    """
)


@pytest.mark.parametrize("delay", [0.6, 0.9, 1.3])
def test_a_writer_killed_mid_write_leaves_a_valid_store_with_every_reported_write(
    tmp_path: Path, delay: float
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    reports: list[int] = []
    first_report = threading.Event()

    def read_reports() -> None:
        for line in proc.stdout:
            reports.append(int(line))
            first_report.set()

    reader = threading.Thread(target=read_reports, daemon=True)
    reader.start()
    assert first_report.wait(30), "the writer never reported a write"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reader.join(10)
    assert proc.stdout is not None
    proc.stdout.close()
    # It was still writing when killed: a writer that had crashed on its own would prove nothing.
    assert proc.returncode == -signal.SIGKILL, f"the writer stopped by itself ({proc.returncode})"
    reported = reports[-1]
    store = Store(tmp_path)
    notes = {n.text for n in store.contacts()["mastodon:sam@example.org"].notes}
    assert {f"n{n}" for n in range(reported + 1)} <= notes
    items = {i.id for i in store.items()}
    assert {item_id("b", str(n)) for n in range(reported + 1)} <= items
    assert len(items) >= 3000
    assert_whole_files(tmp_path, killed=True)


def test_a_write_inside_a_read_is_refused(tmp_path: Path) -> None:
    ops = StoreFile(tmp_path, "ops")
    with ops.write() as db:
        db.table("states").put("x", {"done": True})
    with ops.read():
        with pytest.raises(StoreError):
            with ops.write():
                pass


def test_posts_keyed_the_old_way_are_rekeyed_once_on_open(tmp_path: Path) -> None:
    post = Post(
        remote_id="9",
        account="acme",
        author=Author(network="mastodon", handle="acme@x"),
        text="ours",
        created_at=NOW,
        own=True,
    )
    from socialtui.model import to_record

    with StoreFile(tmp_path, "posts").write() as db:
        db.table("own").put("acme\0" + "9", to_record(post))
    store = Store(tmp_path)
    with store.engine.read() as reader:
        assert reader.keys("own") == {"acme 9"}
    assert store.put_own_posts([post]) == 0, "the same post, not a second copy"
