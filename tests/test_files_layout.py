"""The files engine's own promises (engine-specific, as they are about its files): a write rewrites
only the files of what it changed, readers never wait for a writer, and a data dir written by an
older socialtui (one file per table group) is upgraded without losing anything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from socialtui.model import Actor, Author, Item, OutboxEntry, Post, item_id, to_record
from socialtui.store import Store, StoreCorrupt, StoreTooNew
from socialtui.store.files import SCHEMA_VERSION, FileLock, StoreFile, TableFiles, part_keys, with_keys
from socialtui.store.files_engine import FilesEngine
from socialtui.store.follow import Follower

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ALICE = Actor("alice", "Alice")
pytestmark = pytest.mark.files_only(
    "the files engine's own files: partitions, rewrites, the old layout's upgrade"
)


def make_item(n: int, account: str = "acme", days_ago: int = 0) -> Item:
    author = Author("mastodon", f"person{n % 5}@example.org", str(n % 5), f"Person {n % 5}")
    post = Post(account, str(n), author, f"question {n}", NOW - timedelta(days=days_ago, minutes=n))
    return Item(item_id(account, str(n)), account, "mention", post)


def identity(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return (st.st_ino, st.st_mtime_ns)


def tables(data: Path) -> Path:
    return data / "tables"


# -- a write rewrites its partition only -------------------------------------------------------------


def test_a_new_mention_rewrites_its_accounts_items_file_of_the_day_only(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.put_items(
        [make_item(n, account, n % 3) for n in range(20) for account in ("acme", "brand", "shop")]
    )
    store.mark_done(make_item(1, "shop", 1), "spam", ALICE, NOW)
    files = sorted(p for p in tables(tmp_path).glob("*/*.json"))
    assert len([p for p in files if p.parent.name == "items"]) == 9, "3 accounts x 3 days"
    before = {p: identity(p) for p in files}
    store.put_items([make_item(100, "brand")])
    changed = {p.relative_to(tmp_path).as_posix() for p in files if identity(p) != before[p]}
    assert changed == {"tables/items/brand.2026-11-21.json"}
    assert len(Store(tmp_path).items("brand")) == 21
    with Store(tmp_path).engine.read() as reader:
        from socialtui.store.engine import Query

        since = (NOW - timedelta(hours=2)).isoformat()
        assert {k for k, _ in reader.scan("items", Query(account="brand", since=since))} == {
            make_item(n, "brand").id for n in (*range(0, 20, 3), 100)
        }


def test_an_operator_action_never_rewrites_the_post_cache(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.put_items([make_item(n, account) for n in range(5) for account in ("acme", "brand")])
    own = Post("acme", "r1", Author("mastodon", "acme@x", "1"), "ours", NOW, own=True)
    store.put_own_posts([own])
    store.put_home_posts([Post("acme", "h1", Author("mastodon", "f@x", "2"), "hi", NOW)])
    files = sorted(p for p in tables(tmp_path).glob("*/*.json"))
    before = {p: identity(p) for p in files}
    store.mark_done(make_item(2, "brand"), "spam", ALICE, NOW)
    store.claim(make_item(3, "acme"), ALICE, NOW, timedelta(minutes=5))
    changed = {p.relative_to(tmp_path).as_posix() for p in files if identity(p) != before[p]}
    new = {p.relative_to(tmp_path).as_posix() for p in tables(tmp_path).glob("*/*.json")} - {
        p.relative_to(tmp_path).as_posix() for p in files
    }
    assert changed | new == {"tables/states/brand.json", "tables/answered/brand.json", "tables/claims/_.json"}


def test_each_version_of_a_file_has_a_newer_time_so_a_reused_inode_is_never_taken_for_it(
    tmp_path: Path,
) -> None:
    files = TableFiles(tmp_path, "claims")
    files.directory.mkdir()
    other = TableFiles(tmp_path, "claims")  # another process's view
    with files.lock.hold(exclusive=True):
        files.save("", {"a": {"n": 1}})
    assert other.load("") == {"a": {"n": 1}}
    times = []
    for n in range(2, 30):  # same size each time, faster than the clock ticks on some systems
        with files.lock.hold(exclusive=True):
            files.save("", {"a": {"n": n % 10}})
        times.append(os.stat(files.path("")).st_mtime_ns)
        assert other.load("") == {"a": {"n": n % 10}}
    assert times == sorted(set(times)), "strictly increasing"


# -- readers never wait for a writer -----------------------------------------------------------------


READER = textwrap.dedent(
    """
    import sys, time
    from socialtui.store import Store
    started = time.monotonic()
    print(len(Store(sys.argv[1]).items()), round(time.monotonic() - started, 3), flush=True)
    """
)


def test_a_reader_decodes_while_a_writer_holds_every_lock(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.put_items([make_item(n, account) for n in range(50) for account in ("acme", "brand")])
    held = [
        FileLock(tables(tmp_path) / f"{table}.lock", timeout=0.2) for table in ("items", "answered", "states")
    ]
    for lock in held:
        lock.timeout = 0.2
    with held[0].hold(exclusive=True), held[1].hold(exclusive=True), held[2].hold(exclusive=True):
        result = subprocess.run(
            [sys.executable, "-c", READER, str(tmp_path)], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        count, _ = result.stdout.split()
        assert int(count) == 100
        assert len(Store(tmp_path).snapshot(NOW, open_only=True).items) == 100


def test_a_reader_in_another_thread_keeps_the_committed_version_until_the_save(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.put_items([make_item(1)])
    seen = []

    def body(w) -> None:  # type: ignore[no-untyped-def]
        w.put("items", make_item(2).id, to_record(make_item(2)))
        seen.append(sorted(i.id for i in store.items()))  # a reader while the write is under way

    store.engine.transact(["items"], body)
    assert seen == [[make_item(1).id]], "the uncommitted change is not visible to readers"
    assert {i.id for i in store.items()} == {make_item(1).id, make_item(2).id}


def test_a_follower_rereads_only_the_changed_partition_and_sees_deletions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path)
    store.put_items([make_item(n, account) for n in range(10) for account in ("acme", "brand", "shop")])
    follower = Follower(Store(tmp_path).engine, ["items"])
    follower.refresh()
    assert len(follower.objects("items")) == 30
    loaded: list[str] = []
    real_load = TableFiles.load

    mine = follower.engine.table_files("items")  # type: ignore[attr-defined]

    def counting(self: TableFiles, part: str, **how):  # type: ignore[no-untyped-def]
        if self is mine:  # the follower's, not the writer's
            loaded.append(f"{self.name}/{part}")
        return real_load(self, part, **how)

    monkeypatch.setattr(TableFiles, "load", counting)
    store.put_items([make_item(99, "brand")])
    store.engine.transact(["items"], lambda w: w.delete("items", [make_item(3, "shop").id]))
    assert follower.wait(30.0)
    assert follower.refresh() == {"items"}
    assert sorted(loaded) == ["items/brand.2026-11-21", "items/shop.2026-11-21"]
    objects = follower.objects("items")
    assert make_item(99, "brand").id in objects and make_item(3, "shop").id not in objects
    assert len(objects) == 30


def test_the_outbox_entries_not_sent_are_read_without_parsing_the_outbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outbox keeps every reply sent within retention; what a first look and `status` read of it
    (the entries not sent) comes from the summary beside it, made by each writer. A summary left
    behind by a writer killed after its outbox file, or cut short, is found out: the outbox is read
    and the summary made again."""
    from socialtui.store.engine import Query
    from socialtui.store.files import _signature

    store = Store(tmp_path)
    items = [make_item(n) for n in range(6)]
    store.put_items(items)

    def entry(n: int, state: str) -> OutboxEntry:
        return OutboxEntry(
            f"key{n}", items[n].id, "acme", f"reply {n}", "alice", "Alice", NOW, NOW, state, str(n)
        )

    for n, state in enumerate(["sent", "sent", "queued", "sent", "failed"]):
        store.outbox_add(entry(n, state), ALICE, NOW)
    Store(tmp_path)  # (entries written sent: the next open makes their items answered, once)
    unsent = Query(unless_field=("state", ("sent",)))
    outbox = tables(tmp_path) / "outbox" / "_.json"
    summary = tables(tmp_path) / "outbox" / "._.json.tally"
    parsed: list[Path] = []
    real_decode = TableFiles._decode

    def decoding(self: TableFiles, path: Path, raw: bytes):  # type: ignore[no-untyped-def]
        parsed.append(path)
        return real_decode(self, path, raw)

    monkeypatch.setattr(TableFiles, "_decode", decoding)

    def fresh_unsent() -> list[str]:
        with Store(tmp_path).engine.read() as reader:  # another process: nothing decoded yet
            return sorted(key for key, _ in reader.scan("outbox", unsent))

    assert fresh_unsent() == ["key2", "key4"] and outbox not in parsed
    with Store(tmp_path).engine.read() as reader:
        assert len(list(reader.scan("outbox"))) == 5  # any other question reads the outbox itself
    assert outbox in parsed
    old = summary.read_bytes()
    store.outbox_add(entry(5, "queued"), ALICE, NOW)
    summary.write_bytes(old)  # as if the writer had died between the outbox and its summary
    parsed.clear()
    assert fresh_unsent() == ["key2", "key4", "key5"] and outbox in parsed
    made = json.loads(summary.read_bytes())
    assert made["signature"] == list(_signature(os.lstat(outbox)))
    summary.write_bytes(old[: len(old) // 2])
    assert fresh_unsent() == ["key2", "key4", "key5"]


def test_the_head_of_the_queue_reads_each_of_its_partitions_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first look counts the open items from the summaries and decodes only the head of the
    queue: each partition holding some of it is parsed once, not once per item of the head (the
    items' partitions are not kept decoded)."""
    store = Store(tmp_path)
    store.put_items([make_item(n, account) for n in range(12) for account in ("acme", "brand")])
    parsed: list[str] = []
    real_decode = TableFiles._decode

    def decoding(self: TableFiles, path: Path, raw: bytes):  # type: ignore[no-untyped-def]
        parsed.append(path.name)
        return real_decode(self, path, raw)

    monkeypatch.setattr(TableFiles, "_decode", decoding)
    fresh = Store(tmp_path)  # another process: nothing decoded yet
    groups = [(account, "mention") for account in ("acme", "brand")]
    snapshot, counts = fresh.first_look(NOW, 20, NOW - timedelta(hours=1), groups)
    assert counts == {"acme": 12, "brand": 12} and len(snapshot.items) == 20
    items_parsed = sorted(name for name in parsed if name.startswith(("acme.", "brand.")))
    assert items_parsed == ["acme.2026-11-21.json", "brand.2026-11-21.json"]


# -- corrupt and newer files ---------------------------------------------------------------------------


def test_a_corrupt_partition_is_refused_and_never_overwritten(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.put_items([make_item(1, "brand")])
    path = tables(tmp_path) / "items" / "brand.2026-11-21.json"
    path.write_bytes(b'{"schema": 2, "docs": {"x": ')
    store = Store(tmp_path)
    with pytest.raises(StoreCorrupt, match="brand.2026-11-21.json is not valid JSON"):
        store.put_items([make_item(2, "brand")])
    with pytest.raises(StoreCorrupt):
        store.items()
    with pytest.raises(StoreCorrupt):  # a key may be in any account's file: the table is refused
        store.put_items([make_item(3, "acme")])
    assert path.read_bytes() == b'{"schema": 2, "docs": {"x": '
    assert [i.id for i in store.items("acme")] == [], "an account's own file is still read alone"


def test_a_data_dir_of_a_newer_layout_is_refused_and_left_alone(tmp_path: Path) -> None:
    Store(tmp_path).put_items([make_item(1)])
    (tmp_path / "store.json").write_text(json.dumps({"schema": SCHEMA_VERSION + 1}))
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    store = Store(tmp_path)
    with pytest.raises(StoreTooNew, match="newer socialtui"):
        store.items()
    with pytest.raises(StoreTooNew):
        store.mark_done(make_item(1), "spam", ALICE, NOW)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


# -- the upgrade from one file per table group --------------------------------------------------------


def write_old_layout(data: Path) -> dict[str, object]:
    """A data dir as the previous socialtui wrote it (schema 1), with something in every table."""
    items = [make_item(n, account) for n in range(6) for account in ("acme", "brand")]
    us = Author("mastodon", "acme@x", "1")
    own = Post("acme", "r1", us, "thanks", NOW, reply_to="1", own=True)
    home = Post("brand", "h1", Author("mastodon", "f@x", "2"), "hello", NOW)
    entry = OutboxEntry(
        id="key-1",
        item=items[2].id,
        account="acme",
        text="hi",
        login="alice",
        operator="Alice",
        created_at=NOW,
        updated_at=NOW,
        state="queued",
    )
    groups = {
        "items": {"items": {i.id: to_record(i) for i in items}},
        "posts": {"own": {"acme\0r1": to_record(own)}},  # the oldest keys: with a NUL
        "home": {"home": {"brand h1": to_record(home)}},
        "answered": {
            "answered": {
                item_id("acme", "1"): {"account": "acme", "at": NOW.isoformat(), "by": "reply"},
                items[3].id: {"account": "brand", "at": NOW.isoformat(), "by": "done"},
            }
        },
        "ops": {
            "states": {
                items[3].id: {
                    "item": items[3].id,
                    "account": "brand",
                    "done": True,
                    "reason": "spam",
                    "login": "alice",
                    "operator": "Alice",
                    "at": NOW.isoformat(),
                }
            },
            "outbox": {"key-1": dict(to_record(entry), state="queued")},
            "contacts": {
                "mastodon:sam@x": {"key": "mastodon:sam@x", "network": "mastodon", "handle": "sam@x"}
            },
        },
        "sync": {"cursors": {"acme:mentions": {"value": "123"}}},
    }
    for group, content in groups.items():
        with StoreFile(data, group).write() as db:
            for table, docs in content.items():
                db.table(table).put_many(docs)
    (data / "audit.jsonl").write_text(
        json.dumps({"at": "2026-11-21T11:00:00Z", "login": "alice", "operator": "Alice", "action": "note"})
        + "\n"
    )
    return {"items": {i.id for i in items}, "done": items[3].id, "entry": entry}


def test_a_data_dir_of_the_old_layout_opens_with_everything_in_it(tmp_path: Path) -> None:
    old = write_old_layout(tmp_path)
    store = Store(tmp_path)
    assert {i.id for i in store.items()} == old["items"]
    assert {i.id for i in store.items("brand")} == {make_item(n, "brand").id for n in range(6)}
    assert set(store.states()) == {old["done"]}
    assert [p.remote_id for p in store.own_posts()] == ["r1"]
    with store.engine.read() as reader:
        assert reader.keys("own") == {"acme r1"}, "keyed the new way"
        assert reader.keys("home") == {"brand h1"}
        assert reader.get("cursors", "acme:mentions") == {"value": "123"}
    assert set(store.answered()) == {item_id("acme", "1"), old["done"]}
    assert [e.id for e in store.outbox()] == ["key-1"]
    assert "mastodon:sam@x" in store.contacts()
    assert [e.action for e in store.audit_events()] == ["note"]
    assert sorted(p.name for p in (tables(tmp_path) / "items").glob("*.json")) == [
        "acme.2026-11-21.json",
        "brand.2026-11-21.json",
    ]
    # The one-open-reply rule holds across the upgrade.
    other = OutboxEntry(
        id="key-2",
        item=old["entry"].item,
        account="acme",
        text="again",
        login="bob",
        operator="Bob",  # type: ignore[attr-defined]
        created_at=NOW,
        updated_at=NOW,
    )
    with pytest.raises(Exception, match="already has a reply"):
        store.outbox_add(other, ALICE, NOW)


def test_after_the_upgrade_an_older_socialtui_refuses_the_data_dir_instead_of_seeing_it_empty(
    tmp_path: Path,
) -> None:
    write_old_layout(tmp_path)
    Store(tmp_path).items()
    for group in ("ops", "items", "posts", "home", "answered", "sync"):
        old_reader = StoreFile(tmp_path, group)  # what the previous socialtui opens
        with pytest.raises(StoreTooNew, match="newer socialtui"):
            with old_reader.read():
                pass
        with pytest.raises(StoreTooNew):
            with old_reader.write():
                pass
        assert (
            json.loads((tmp_path / f"{group}.json").read_text())["_meta"]["schema"]["version"]
            == SCHEMA_VERSION
        )


def test_a_fresh_data_dir_is_refused_by_an_older_socialtui_too(tmp_path: Path) -> None:
    Store(tmp_path).put_items([make_item(1)])
    with pytest.raises(StoreTooNew):
        with StoreFile(tmp_path, "ops").read():
            pass


class Killed(BaseException):
    """The process dies here (nothing after it runs, not even an `except Exception`)."""


def test_an_upgrade_killed_half_way_is_run_again_and_loses_nothing(tmp_path: Path) -> None:
    old = write_old_layout(tmp_path)
    from socialtui.store import upgrade

    real_write = upgrade.write_atomic
    calls = []

    def dies_on_the_third_stub(path, data, *args, **kwargs):  # type: ignore[no-untyped-def]
        if path.suffix == ".json" and path.parent == tmp_path:
            calls.append(path.name)
            if len(calls) == 3:
                raise Killed
        return real_write(path, data, *args, **kwargs)

    upgrade.write_atomic = dies_on_the_third_stub  # type: ignore[assignment]
    try:
        with pytest.raises(Killed):
            Store(tmp_path).items()
    finally:
        upgrade.write_atomic = real_write  # type: ignore[assignment]
    assert not (tmp_path / "store.json").exists()
    store = Store(tmp_path)
    assert {i.id for i in store.items()} == old["items"]
    assert set(store.states()) == {old["done"]}
    assert [e.id for e in store.outbox()] == ["key-1"]
    assert (tmp_path / "store.json").exists()


def test_a_second_open_does_not_upgrade_again(tmp_path: Path) -> None:
    write_old_layout(tmp_path)
    Store(tmp_path).items()
    files = sorted(tables(tmp_path).glob("*/*.json"))
    before = {p: identity(p) for p in files}
    time.sleep(0.01)
    assert len(Store(tmp_path).items()) == 12
    assert {p: identity(p) for p in files} == before


def test_an_audit_line_that_cannot_be_written_is_reported_as_such_with_the_change_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from socialtui.store.files_engine import AuditNotWritten

    store = Store(tmp_path)
    store.put_items([make_item(1)])
    real_write = os.write

    def audit_disk_full(fd: int, data: bytes) -> int:
        if bytes(data[:6]) == b'{"at":':  # an audit line; the tables' files start with their schema
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", audit_disk_full)
    with pytest.raises(AuditNotWritten, match="the change was saved"):
        store.mark_done(make_item(1), "spam", ALICE, NOW)
    monkeypatch.setattr(os, "write", real_write)
    assert set(Store(tmp_path).states()) == {make_item(1).id}
    assert Store(tmp_path).audit_events() == []


def test_a_follower_misses_no_change_however_quickly_they_follow_each_other(tmp_path: Path) -> None:
    """A dashboard looks at a table's directory before its files: changes made within one tick of
    the file system's clock, or long after the last one, are all seen."""
    writer = Store(tmp_path)
    writer.put_items([make_item(0, "acme")])
    follower = Follower(Store(tmp_path).engine, ["items", "states"])
    follower.refresh()
    for n in range(1, 25):
        if n % 8 == 0:
            time.sleep(0.15)  # the directory's time settles: the look at the directory alone decides
            assert follower.refresh() == set()
            assert not follower.wait(0.0), "nothing changed"
        writer.put_items([make_item(n, ("acme", "brand")[n % 2])])
        assert follower.wait(30.0), f"change {n} not seen"
        follower.refresh()
        assert make_item(n, ("acme", "brand")[n % 2]).id in follower.objects("items")
    assert len(follower.objects("items")) == 25


def test_a_writer_skips_the_partitions_it_knows_hold_none_of_its_keys_but_sees_what_others_wrote(
    tmp_path: Path,
) -> None:
    """The poller's check for the items it has reads only the partitions it has not read as they
    are now (`TableFiles.holding`); a partition another process replaced since is read again."""
    poller, other = Store(tmp_path), Store(tmp_path)
    poller.put_items([make_item(n, account, n % 4) for n in range(40) for account in ("acme", "brand")])
    assert poller.put_items([make_item(100, "acme")]) == 1  # every partition read (and indexed) once
    loads: list[str] = []
    items = poller.engine.table_files("items")  # type: ignore[attr-defined]
    real_load = items.load
    items.load = lambda part, **how: loads.append(part) or real_load(part, **how)
    assert poller.put_items([make_item(101, "acme")]) == 1
    assert loads == ["acme.2026-11-21"], "only the partition written to"
    # Another process adds a key to a partition the poller indexed without it: read again.
    added = make_item(200, "brand", 3)
    assert other.put_items([added]) == 1
    loads.clear()
    post = Post("brand", "200", added.post.author, "edited", added.post.created_at)
    assert poller.put_items([Item(added.id, "brand", "mention", post)]) == 0, "an item it has"
    assert loads == ["brand.2026-11-18"]
    found = [doc for part in items.parts() for key, doc in real_load(part).items() if key == added.id]
    assert [doc["post"]["text"] for doc in found] == ["edited"], "once, changed"
    with Store(tmp_path).engine.read() as reader:
        assert reader.get("items", added.id)["post"]["text"] == "edited"


def test_a_follower_takes_a_small_change_to_a_large_partition_from_its_delta_and_never_a_wrong_one(
    tmp_path: Path,
) -> None:
    """The writer leaves what a version changed beside a large partition (`TableFiles.delta`); a
    follower that read the version before takes it from there, any other reads the file."""
    writer = Store(tmp_path)
    engine = writer.engine
    writer.put_items([make_item(n) for n in range(300)])  # one day file of acme, well over 32 kB
    follower = Follower(Store(tmp_path).engine, ["items"])
    follower.refresh()
    items = follower.engine.table_files("items")  # type: ignore[attr-defined]
    loads: list[str] = []
    real_load = items.load
    items.load = lambda part, **how: loads.append(part) or real_load(part, **how)

    def expect(keys: set[str], read_whole: bool) -> None:
        loads.clear()
        assert follower.refresh() == {"items"}
        assert set(follower.objects("items")) == keys
        assert loads == (["acme.2026-11-21"] if read_whole else [])

    keys = {make_item(n).id for n in range(300)}
    writer.put_items([make_item(n) for n in range(300, 303)])
    engine.transact(["items"], lambda w: w.delete("items", [make_item(5).id]))
    keys = (keys | {make_item(n).id for n in range(300, 303)}) - {make_item(5).id}
    expect(keys, read_whole=True)  # two versions since its last look: the delta is of the last only
    edited = Item(make_item(7).id, "acme", "reply", make_item(7).post)
    writer.put_items([edited, make_item(303)])
    expect(keys | {make_item(303).id}, read_whole=False)  # an item changed, one added
    assert follower.objects("items")[edited.id].kind == "reply"
    engine.transact(["items"], lambda w: w.delete("items", [make_item(8).id]))
    keys = (keys | {make_item(303).id}) - {make_item(8).id}
    expect(keys, read_whole=False)
    writer.put_items([make_item(304)])
    delta = items.delta_path("acme.2026-11-21")
    delta.write_bytes(delta.read_bytes()[:-5])  # cut short: not trusted
    expect(keys | {make_item(304).id}, read_whole=True)


def test_a_waiting_follower_is_not_woken_by_the_files_beside_the_partitions(tmp_path: Path) -> None:
    """Temporary files, summaries and deltas come and go beside the partitions with every write: the
    kernel's word for them costs a waiting follower nothing (no look at every partition); a
    partition replaced wakes it."""
    pytest.importorskip("watchfiles")
    import threading

    writer = Store(tmp_path)
    writer.put_items([make_item(n) for n in range(3)])
    follower = Follower(Store(tmp_path).engine, ["items", "states"])
    follower.refresh()
    items = follower.engine.table_files("items")  # type: ignore[attr-defined]
    looks: list[int] = []
    real_signatures = items.signatures
    items.signatures = lambda: looks.append(1) or real_signatures()
    stop = threading.Event()

    def churn() -> None:
        n = 0
        while not stop.wait(0.02):
            (items.directory / f".churn{n % 3}.tmp").write_bytes(b"x" * n)
            n += 1

    thread = threading.Thread(target=churn)
    thread.start()
    try:
        assert not follower.wait(0.6)
        assert len(looks) <= 1, "looked at the partitions for files that are none"
        writer.put_items([make_item(9)])
        assert follower.wait(30.0)
    finally:
        stop.set()
        thread.join()
    assert follower.refresh() == {"items"}
    assert make_item(9).id in follower.objects("items")


# -- what a process holds of the files ---------------------------------------------------------------


def _held(engine: object) -> dict[str, tuple[list[str], list[str]]]:
    """Per table: the partitions it keeps decoded, and those it keeps the hashes of the keys of."""
    out = {}
    for name, files in engine._tables.items():  # type: ignore[attr-defined]
        decoded, indexed = sorted(files._cache), sorted(files._keys)
        if decoded or indexed:
            out[name] = (decoded, indexed)
    return out


def _outbox_entry(item: Item, n: int, state: str = "queued") -> OutboxEntry:
    return OutboxEntry(
        f"key{n}", item.id, item.account, f"reply {n}", "alice", "Alice", NOW, NOW, state, item.post.remote_id
    )


def test_a_reader_that_only_follows_keeps_no_decoded_partition_nor_index_by_key(tmp_path: Path) -> None:
    """A dashboard between actions: its follower decodes what it reads into its own objects, so the
    engine keeps nothing decoded (the outbox, 9 MB of JSON at 50,000 replies, was held as 23 MB),
    nor an index of the keys (the follower's own serve its lookups); of the refs, a sorted array
    of their hashes (8 bytes a document)."""
    from array import array

    writer = Store(tmp_path)
    items = [make_item(n, account, n % 3) for n in range(30) for account in ("acme", "brand")]
    writer.put_items(items)
    for item in items[:4]:
        writer.mark_done(item, "handled", ALICE, NOW)
    for n, item in enumerate(items[4:10]):
        writer.outbox_add(_outbox_entry(item, n, "sent" if n % 2 else "queued"), ALICE, NOW)
    writer.add_note(items[0].post.author.contact_key, "regular", ALICE, NOW)
    Store(tmp_path)  # (entries written sent: the next open makes their items answered, once)
    engine = FilesEngine(tmp_path)  # a dashboard's, that only follows
    follower = Follower(engine, ["items", "states", "outbox", "contacts", "claims"])
    follower.refresh()
    assert len(follower.objects("outbox")) == 6 and len(follower.objects("states")) == 4
    writer.mark_done(items[5], "handled", ALICE, NOW)
    writer.outbox_add(_outbox_entry(items[12], 12), ALICE, NOW)
    assert follower.refresh() == {"states", "outbox"}
    assert _held(engine) == {}
    refs = engine.table_files("items")._refs  # type: ignore[attr-defined]
    assert len(refs) == 6 and all(isinstance(hashes, array) for _, hashes in refs.values())
    assert sum(len(hashes) for _, hashes in refs.values()) == 5 * 6, "each author once a partition"


def test_lookups_after_a_follow_only_read_see_what_other_processes_wrote_since(tmp_path: Path) -> None:
    """The keys a follower saw serve lookups by key (a partition it saw without the key is not
    read again), and only for the version of the file it saw: another process's write since, or a
    writer killed before its delta (the one left is of the version before), is read."""
    writer = Store(tmp_path)
    writer.put_items([make_item(n, account) for n in range(300) for account in ("acme", "brand")])
    engine = Store(tmp_path).engine
    follower = Follower(engine, ["items", "states"])
    follower.refresh()
    items = engine.table_files("items")  # type: ignore[attr-defined]
    loads: list[str] = []
    real_load = items.load
    items.load = lambda part, **how: loads.append(part) or real_load(part, **how)

    def get(key: str) -> object:
        with engine.read() as reader:
            doc = reader.get("items", key)
        return None if doc is None else doc["post"]["text"]

    assert get(make_item(7, "brand").id) == "question 7"
    assert loads == ["brand.2026-11-21"], "the acme partition is known not to hold it"
    loads.clear()
    # Another process adds, edits and removes; the follower has not looked since.
    writer.put_items(
        [
            make_item(400, "acme"),
            Item(make_item(8).id, "acme", "mention", replace_text(make_item(8), "edited")),
        ]
    )
    engine_writer = writer.engine
    engine_writer.transact(["items"], lambda w: w.delete("items", [make_item(9, "brand").id]))
    assert get(make_item(400).id) == "question 400"
    assert get(make_item(8).id) == "edited"
    assert get(make_item(9, "brand").id) is None
    assert get("acme nothing") is None
    # The follower takes the change from the delta; a writer killed before its own delta leaves
    # the one before, which is not trusted.
    follower.refresh()
    loads.clear()
    assert get(make_item(9, "brand").id) is None and loads == []
    delta = items.delta_path("acme.2026-11-21")
    old_delta = delta.read_bytes()
    writer.put_items([make_item(401, "acme")])
    engine_writer.transact(["items"], lambda w: w.delete("items", [make_item(10).id]))
    delta.write_bytes(old_delta)  # as if the writer of the last version had died before its delta
    assert follower.refresh() == {"items"}
    assert make_item(401).id in follower.objects("items")
    assert make_item(10).id not in follower.objects("items")
    loads.clear()
    assert get(make_item(401).id) == "question 401" and get(make_item(10).id) is None
    assert get(make_item(11, "brand").id) == "question 11"
    assert loads == ["acme.2026-11-21", "brand.2026-11-21"]
    assert _held(engine) == {}


def replace_text(item: Item, text: str) -> Post:
    post = item.post
    return Post(post.account, post.remote_id, post.author, text, post.created_at)


def test_a_lookup_by_ref_after_a_follow_only_read_finds_what_others_wrote_since(tmp_path: Path) -> None:
    """A contact's dossier reads the partitions whose refs' hashes (kept from the follower's read)
    may hold the contact, and any partition replaced since."""
    writer = Store(tmp_path)
    writer.put_items([make_item(n, account, n % 4) for n in range(40) for account in ("acme", "brand")])
    store = Store(tmp_path)
    follower = Follower(store.engine, ["items", "own"])
    follower.refresh()
    items = store.engine.table_files("items")  # type: ignore[attr-defined]
    loads: list[str] = []
    real_load = items.load
    items.load = lambda part, **how: loads.append(part) or real_load(part, **how)
    person1 = make_item(1).post.author.contact_key
    # person1 wrote n = 1, 6, 11, ...: days 1, 2, 3, 0 in turn, to both accounts.
    expected = {make_item(n, account, n % 4).id for n in range(1, 40, 5) for account in ("acme", "brand")}
    assert {item.id for item in store.dossier(person1).items} == expected
    assert len(loads) == 8, "the 8 partitions that hold them, of 8"
    loads.clear()
    stranger = Author("mastodon", "stranger@example.org", "99", "Stranger")
    assert store.dossier(stranger.contact_key).items == [] and loads == []
    # Another process adds their first item to a partition the index says holds none of theirs.
    post = Post("brand", "900", stranger, "hello", NOW - timedelta(days=2))
    writer.put_items([Item(item_id("brand", "900"), "brand", "mention", post)])
    assert [item.id for item in store.dossier(stranger.contact_key).items] == [item_id("brand", "900")]
    assert loads == ["brand.2026-11-19"]


def test_a_writer_beside_a_follower_reads_what_it_writes_and_keeps_it_only_while_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dashboard's action reads (under the lock) the partitions it writes and keeps them for the
    next; its follower lets a kept copy go once another process replaced the file (never of use
    again). The reply's check against the open entries still holds."""
    from socialtui.store.outbox import AlreadyQueued

    other = Store(tmp_path)
    items = [make_item(n, account) for n in range(10) for account in ("acme", "brand")]
    other.put_items(items)
    store = Store(tmp_path)
    follower = Follower(store.engine, ["items", "states", "outbox"])
    follower.refresh()
    parsed: list[str] = []
    real_decode = TableFiles._decode

    def decoding(self: TableFiles, path: Path, raw: bytes):  # type: ignore[no-untyped-def]
        parsed.append(f"{self.name}/{path.name}")
        return real_decode(self, path, raw)

    monkeypatch.setattr(TableFiles, "_decode", decoding)
    store.mark_done(items[0], "handled", ALICE, NOW)
    store.outbox_add(_outbox_entry(items[2], 1), ALICE, NOW)
    held = _held(store.engine)
    assert held["outbox"] == ([""], [])
    assert "states" not in held and "answered" not in held, "never kept decoded (`Table.kept`)"
    follower.refresh()
    parsed.clear()
    store.mark_done(items[4], "handled", ALICE, NOW)  # its partitions kept: not parsed again
    assert sorted(parsed) == ["answered/acme.json", "states/acme.json"], "but those never kept"
    other.mark_done(items[6], "handled", ALICE, NOW)
    other.outbox_add(_outbox_entry(items[8], 2), ALICE, NOW)
    follower.refresh()
    held = _held(store.engine)
    assert "outbox" not in held and "states" not in held, "older versions, let go"
    with pytest.raises(AlreadyQueued):
        store.outbox_add(_outbox_entry(items[8], 3), ALICE, NOW)
    store.mark_done(items[10], "handled", ALICE, NOW)
    assert set(Store(tmp_path).states()) == {items[n].id for n in (0, 4, 6, 10)}


def test_a_replys_check_reads_the_entries_in_flight_and_no_stale_summary_lets_a_second_through(
    tmp_path: Path,
) -> None:
    """The one-open-reply check reads the outbox's entries not sent from its summary (not every reply
    sent within retention); a summary of another version (its writer died before it) is made again,
    and a transaction that changed the outbox already checks its own copy."""
    from socialtui.store.engine import Conflict
    from socialtui.store.outbox import AlreadyQueued, outbox_doc

    store = Store(tmp_path)
    items = [make_item(n) for n in range(4)]
    store.put_items(items)
    store.outbox_add(_outbox_entry(items[0], 0, "sent"), ALICE, NOW)
    summary = tables(tmp_path) / "outbox" / "._.json.tally"
    old = summary.read_bytes()
    store.outbox_add(_outbox_entry(items[1], 1), ALICE, NOW)
    summary.write_bytes(old)  # as if the writer had died between the outbox and its summary
    other = Store(tmp_path)
    with pytest.raises(AlreadyQueued):
        other.outbox_add(_outbox_entry(items[1], 2), ALICE, NOW)
    engine = other.engine

    def put(*entries: OutboxEntry) -> None:
        engine.transact(["outbox"], lambda w: [w.put("outbox", e.id, outbox_doc(e)) for e in entries])

    with pytest.raises(Conflict):
        put(_outbox_entry(items[1], 3))
    with pytest.raises(Conflict):
        put(_outbox_entry(items[2], 4), _outbox_entry(items[2], 5))  # the second against the first
    put(_outbox_entry(items[0], 6))  # the item's reply was sent: this one is the only one open
    with Store(tmp_path).engine.read() as reader:
        assert sorted(key for key, _ in reader.scan("outbox")) == ["key0", "key1", "key6"]


def test_asking_which_items_are_answered_keeps_their_keys_not_their_documents(tmp_path: Path) -> None:
    """The dashboard asks which items are answered (to leave them undecoded) and the head of the
    queue is the items not answered: the answered table's documents, kept decoded, held 23 MB at
    50,000 answered items, and their keys 6 MB. Nothing of them is kept: each ask reads the files
    as they are (another process's change since included)."""
    writer = Store(tmp_path)
    items = [make_item(n, account) for n in range(20) for account in ("acme", "brand")]
    writer.put_items(items)
    for item in items[:6]:
        writer.mark_done(item, "handled", ALICE, NOW)
    reader = Store(tmp_path)
    answered = reader.engine.table_files("answered")  # type: ignore[attr-defined]
    loads: list[str] = []
    real_load = answered._load
    answered._load = lambda part, *a, **k: loads.append(part) or real_load(part, *a, **k)
    assert reader.answered_ids() == {item.id for item in items[:6]}
    assert _held(reader.engine).get("answered") is None, "no document kept decoded"
    assert sorted(loads) == ["acme", "brand"], "every file read (the open's look at acme's not kept)"
    writer.mark_done(items[6], "handled", ALICE, NOW)  # another process, since: acme's items 0, 3
    writer.reopen(items[0], ALICE, NOW)
    assert reader.answered_ids() == {item.id for item in items[1:7]}
    assert _held(reader.engine).get("answered") is None
    files = reader.engine.table_files("answered")  # type: ignore[attr-defined]
    assert not files._keys and not files._followed, "nor their keys"


@given(
    st.sets(st.text(max_size=3), max_size=20),
    st.lists(st.text(max_size=3), max_size=8),
    st.lists(st.text(max_size=3), max_size=8),
)
def test_a_partitions_keys_follow_its_deltas(keys: set[str], put: list[str], removed: list[str]) -> None:
    """A follower's token keeps each partition's keys sorted (`part_keys`, looked up by bisection)
    and brings them up to date by a delta (`with_keys`): the same keys as the sets' arithmetic."""
    removed = [key for key in removed if key not in put]  # a delta's keys gone are not put again
    assert with_keys(part_keys(keys), put, removed) == part_keys((keys - set(removed)) | set(put))
