"""The store API on both engines: the same promises, whichever keeps the tables."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from socialtui.model import Actor, Author, Item, OutboxEntry, Post, item_id
from socialtui.store import AlreadyQueued, Store
from socialtui.store.engine import Query
from socialtui.store.follow import Follower

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ALICE = Actor("alice", "Alice")
BOB = Actor("bob", "Bob")


@pytest.fixture(params=["files", "postgresql"])
def engine_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """ "" for the files engine in tmp_path, or a fresh PostgreSQL database's URL."""
    return request.getfixturevalue("pg_url") if request.param == "postgresql" else ""


_OPENED: list[Store] = []


@pytest.fixture(autouse=True)
def _close_stores() -> Iterator[None]:
    """Every store a test opens is closed after it (a PostgreSQL engine holds connections)."""
    yield
    while _OPENED:
        _OPENED.pop().close()


def open_store(data_dir: Path, url: str) -> Store:
    if url:
        from socialtui.store.postgres import PgEngine

        store = Store(data_dir, engine=PgEngine(url))
    else:
        store = Store(data_dir)
    _OPENED.append(store)
    return store


def make_item(n: int, account: str = "acme", at: datetime = NOW) -> Item:
    author = Author(network="mastodon", handle=f"user{n % 7}@example.org", display_name=f"User {n}")
    post = Post(
        remote_id=str(n),
        account=account,
        author=author,
        text=f"hello {n}",
        created_at=at,
        url=f"https://x/{n}",
    )
    return Item(id=item_id(account, str(n)), account=account, kind="mention", post=post)


def entry_for(item: Item, key: str, actor: Actor) -> OutboxEntry:
    return OutboxEntry(
        id=key,
        item=item.id,
        account=item.account,
        text="thanks!",
        login=actor.login,
        operator=actor.operator,
        created_at=NOW,
        updated_at=NOW,
        in_reply_to=item.post.remote_id,
    )


def test_actions_answer_items_and_the_open_snapshot_leaves_them_out(tmp_path: Path, engine_url: str) -> None:
    store = open_store(tmp_path, engine_url)
    items = [make_item(n) for n in range(5)]
    assert store.put_items(items) == 5
    assert store.put_items(items) == 0, "a poll that re-reads is no news"
    store.mark_done(items[0], "spam", ALICE, NOW)
    reply = Post(
        remote_id="r1",
        account="acme",
        author=items[1].post.author,
        text="hi",
        created_at=NOW,
        own=True,
        reply_to=items[1].post.remote_id,
    )
    store.put_own_posts([reply])
    store.outbox_add(entry_for(items[2], "k2", ALICE), ALICE, NOW)
    sent = store.outbox_entry("k2")
    from dataclasses import replace

    store.outbox_update(replace(sent, state="sent", remote_id="x", updated_at=NOW), ALICE, "reply-sent")
    open_ids = {item.id for item in store.snapshot(NOW, open_only=True).items}
    assert open_ids == {items[3].id, items[4].id}
    store.reopen(items[0], ALICE, NOW)
    store.reopen(items[1], ALICE, NOW)  # replied to by the account: reopening a state changes nothing
    assert {item.id for item in store.snapshot(NOW, open_only=True).items} == {
        items[0].id,
        items[3].id,
        items[4].id,
    }
    assert [e.action for e in store.audit_events()] == [
        "done",
        "reply-queued",
        "reply-sent",
        "reopen",
        "reopen",
    ]
    assert store.find_item(items[4].id[:5]).id == items[4].id
    assert [i.id for i in store.dossier(items[1].post.author.contact_key).items]


def test_a_second_open_reply_to_an_item_is_refused_naming_who(tmp_path: Path, engine_url: str) -> None:
    store = open_store(tmp_path, engine_url)
    item = make_item(1)
    store.put_items([item])
    first = store.outbox_add(entry_for(item, "k-alice", ALICE), ALICE, NOW)
    assert store.outbox_add(entry_for(item, "k-alice", ALICE), ALICE, NOW) == first, (
        "same key: the same entry"
    )
    with pytest.raises(AlreadyQueued, match="Alice"):
        store.outbox_add(entry_for(item, "k-bob", BOB), BOB, NOW)
    assert [e.id for e in store.outbox()] == ["k-alice"]
    assert [e.action for e in store.audit_events()] == ["reply-queued"], "nothing audited for the refusal"


def _racer(data_dir: str, url: str, who: str, items: int, start, results) -> None:  # type: ignore[no-untyped-def]
    store = open_store(Path(data_dir), url)
    actor = Actor(who, who)
    start.wait()
    won = 0
    for n in range(items):
        try:
            store.outbox_add(entry_for(make_item(n), f"{who}-{n}", actor), actor, NOW, check_answered=True)
            won += 1
        except AlreadyQueued:
            pass
    results.put((who, won))


def test_two_processes_replying_to_the_same_items_at_once_queue_one_reply_each(
    tmp_path: Path, engine_url: str
) -> None:
    store = open_store(tmp_path, engine_url)
    count = 50
    store.put_items([make_item(n) for n in range(count)])
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(2), ctx.Queue()
    procs = [
        ctx.Process(target=_racer, args=(str(tmp_path), engine_url, who, count, start, results))
        for who in ("a", "b")
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0
    won = dict(results.get(timeout=5) for _ in procs)
    per_item: dict[str, int] = {}
    for entry in store.outbox():
        per_item[entry.item] = per_item.get(entry.item, 0) + 1
    assert len(per_item) == count and set(per_item.values()) == {1}, "exactly one reply per item"
    assert sum(won.values()) == count


def test_retention_takes_the_work_of_answered_items_with_them(tmp_path: Path, engine_url: str) -> None:
    store = open_store(tmp_path, engine_url)
    old = NOW - timedelta(days=30)
    answered, unanswered = make_item(1, at=old), make_item(2, at=old)
    store.put_items([answered, unanswered])
    store.claim(answered, ALICE, old, timedelta(minutes=10))
    store.mark_done(answered, "thanked", ALICE, old)
    store.start_shift(ALICE, old)
    store.end_shift(ALICE, old + timedelta(hours=8))
    removed = store.prune(NOW, timedelta(days=14))
    assert [i.id for i in store.items()] == [unanswered.id], "unanswered items stay, whatever their age"
    assert store.states() == {} and store.answered() == {}
    assert removed["items"] == 1 and removed["states"] == 1 and removed["shifts"] == 1
    assert store.shifts() == []


def test_a_follower_sees_only_what_changed(tmp_path: Path, engine_url: str) -> None:
    store = open_store(tmp_path, engine_url)
    store.put_items([make_item(n) for n in range(3)])
    other = open_store(tmp_path, engine_url)  # another dashboard
    follower = Follower(other.engine, ["items", "states"])
    assert follower.refresh() == {"items"}
    assert follower.refresh() == set()
    assert not follower.wait(0.3)
    store.mark_done(make_item(1), "spam", ALICE, NOW)
    assert follower.wait(30.0)
    assert follower.refresh() == {"states"}
    assert set(follower.objects("states")) == {make_item(1).id}
    store.reopen(make_item(1), ALICE, NOW)
    follower.wait(5.0)
    assert follower.refresh() == {"states"} and follower.objects("states") == {}
    assert os.environ.get("SOCIALTUI_STORE") is None or engine_url


def test_follow_hands_over_what_changes_gives_a_part_at_a_time(tmp_path: Path, engine_url: str) -> None:
    """`Engine.follow` (what the dashboard reads with, so that it never holds every document at
    once) hands over, in parts with each key once, what `changes` gives; deletions included."""
    store = open_store(tmp_path, engine_url)
    days = [NOW - timedelta(days=d) for d in range(3)]  # several partitions on the files engine
    store.put_items([make_item(n, "acme" if n % 2 else "beta", days[n % 3]) for n in range(12)])
    engine = store.engine

    def followed(token: object) -> tuple[object, dict[str, dict[str, object]]]:
        got: dict[str, dict[str, object]] = {}

        def take(table: str, docs: object, _whole: bool) -> None:
            assert isinstance(docs, dict) or hasattr(docs, "items")
            part = got.setdefault(table, {})
            assert not set(part) & set(docs)  # type: ignore[arg-type]
            part.update(docs)  # type: ignore[arg-type]

        return engine.follow(token, ["items", "states"], take), got

    first, everything = followed(None)
    _, changes = engine.changes(None, ["items", "states"])
    ids = {make_item(n, "acme" if n % 2 else "beta").id for n in range(12)}
    assert set(everything["items"]) == set(changes["items"]) == ids
    assert everything["items"] == changes["items"]
    store.mark_done(make_item(1, "acme", days[1]), "spam", ALICE, NOW)
    store.reopen(make_item(1, "acme", days[1]), ALICE, NOW)
    store.mark_done(make_item(2, "beta", days[2]), "spam", ALICE, NOW)
    _, later = followed(first)
    state_id = make_item(2, "beta", days[2]).id
    assert later.get("states", {}).get(state_id) is not None
    assert all(doc is None for key, doc in later.get("states", {}).items() if key != state_id)


def test_documents_that_change_account_move_in_one_bulk_write(tmp_path: Path, engine_url: str) -> None:
    """A write of many documents, some of whose account changed (the files engine moves them to
    another partition), leaves each document once, where its account says."""
    store = open_store(tmp_path / "data", engine_url)
    docs = {f"k{n}": {"item": f"k{n}", "account": f"acct{n % 3}", "done": False} for n in range(30)}
    store.engine.transact(["states"], lambda w: w.put_many("states", docs))
    moved = {
        key: {**doc, "account": f"acct{(int(key[1:]) + 1) % 3}"}
        for key, doc in docs.items()
        if int(key[1:]) % 2
    }
    store.engine.transact(["states"], lambda w: w.put_many("states", moved))
    with store.engine.read() as reader:
        for account in ("acct0", "acct1", "acct2"):
            found = dict(reader.scan("states", Query(account=account)))
            assert found == {key: doc for key, doc in {**docs, **moved}.items() if doc["account"] == account}
        assert reader.count("states") == 30


def _write_items(data_dir: str, url: str, first: int, count: int) -> None:
    store = open_store(Path(data_dir), url)
    try:
        store.put_items([make_item(n) for n in range(first, first + count)])
    finally:
        store.close()


def test_a_follower_waiting_is_woken_by_a_write_in_another_process(tmp_path: Path, engine_url: str) -> None:
    """What tells a dashboard of a change at once: the wait returns on the write, not at its timeout
    (how soon is measured by bench/sync.py's live phase, not here)."""
    store = open_store(tmp_path, engine_url)
    store.put_items([make_item(0)])
    follower = Follower(store.engine, ["items", "states"])
    follower.refresh()
    proc = multiprocessing.get_context("spawn").Process(
        target=_write_items, args=(str(tmp_path), engine_url, 1, 1)
    )
    proc.start()
    try:
        assert follower.wait(60.0)  # woken by the write (the timeout is only a guard)
    finally:
        proc.join(60)
    assert proc.exitcode == 0
    follower.refresh()
    assert set(follower.objects("items")) == {make_item(0).id, make_item(1).id}
    assert not follower.wait(0.2)  # nothing since: the wait is not fooled by its own reading


@pytest.mark.parametrize("kernel", [True, False], ids=["inotify", "polling"])
def test_the_files_engine_waits_on_the_kernel_and_polls_without_it(
    tmp_path: Path, kernel: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from socialtui.store import files_engine

    watches: list[object] = []
    real = files_engine._watch

    def watch(dirs: list[str]) -> object:
        made = real(dirs) if kernel else None
        watches.append(made)
        return made

    monkeypatch.setattr(files_engine, "_watch", watch)
    store = open_store(tmp_path, "")
    store.put_items([make_item(0)])
    follower = Follower(store.engine, ["items", "audit"])
    follower.refresh()
    proc = multiprocessing.get_context("spawn").Process(target=_write_items, args=(str(tmp_path), "", 1, 1))
    proc.start()
    try:
        assert follower.wait(60.0)
    finally:
        proc.join(60)
    assert watches and all((w is not None) == kernel for w in watches)
    assert follower.refresh() >= {"items"}


def test_newest_each_is_each_accounts_newest_scan(tmp_path: Path, engine_url: str) -> None:
    """`Reader.newest_each` (one statement on PostgreSQL) finds what a scan for each account's
    newest finds, ties at the same instant included; inside a transaction, its own writes too."""
    store = open_store(tmp_path / "data", engine_url)
    us = Author(network="mastodon", handle="acme@example.org", display_name="Acme")

    def own(account: str, remote: str, at: datetime) -> Post:
        return Post(remote_id=remote, account=account, author=us, text="news", created_at=at, own=True)

    store.put_own_posts(
        [
            own("a", "1", NOW - timedelta(hours=2)),
            own("a", "2", NOW),
            own("a", "3", NOW),  # the same instant as 2
            own("b", "4", NOW - timedelta(days=3)),
        ]
    )
    accounts = ["a", "b", "c", "a"]

    def each_scan(r: object) -> dict[str, object]:
        found = {}
        for account in accounts:
            for _, doc in r.scan("own", Query(account=account, newest=1)):  # type: ignore[attr-defined]
                found[account] = doc
        return found

    with store.engine.read() as reader:
        newest = reader.newest_each("own", accounts)
        assert newest == each_scan(reader) and set(newest) == {"a", "b"}

    def body(w: object) -> tuple[dict[str, object], dict[str, object]]:
        w.put("own", "late", {**newest["b"], "created_at": (NOW + timedelta(minutes=1)).isoformat()})  # type: ignore[attr-defined]
        return w.newest_each("own", accounts), each_scan(w)  # type: ignore[attr-defined]

    inside, scanned = store.engine.transact(["own"], body)
    assert inside == scanned and inside["b"]["created_at"] == (NOW + timedelta(minutes=1)).isoformat()  # type: ignore[index]


def test_holds_any_says_whether_a_table_holds_a_document(tmp_path: Path, engine_url: str) -> None:
    """`Reader.holds_any` (asked at every open, whether the answered index must be made): an empty
    table, a table whose only document is in its last partition, a table emptied again."""
    store = open_store(tmp_path / "data", engine_url)
    with store.engine.read() as reader:
        assert not reader.holds_any("answered")
    done = {"account": "zz", "at": NOW.isoformat(), "by": "done"}
    store.engine.transact(["answered"], lambda w: w.put_many("answered", {"a": {**done, "account": "a"}}))
    store.engine.transact(["answered"], lambda w: w.put("answered", "z", done))
    store.engine.transact(["answered"], lambda w: w.delete("answered", ["a"]))
    with store.engine.read() as reader:
        assert reader.holds_any("answered") and not reader.holds_any("claims")
    store.engine.transact(["answered"], lambda w: w.delete("answered", ["z"]))
    with store.engine.read() as reader:
        assert not reader.holds_any("answered")
        assert reader.holds_any("answered") == any(True for _ in reader.scan("answered"))


def test_a_dossier_finds_an_item_written_where_the_last_read_found_none(
    tmp_path: Path, engine_url: str
) -> None:
    """The files engine skips the partitions a read found without the person's items (the dossier
    reads a few, not the store): one written since is found all the same, by this process or another."""
    store = open_store(tmp_path, engine_url)
    today, yesterday = NOW, NOW - timedelta(days=1)
    store.put_items([make_item(0, at=today), make_item(1, at=yesterday)])  # user0 today, user1 yesterday
    key = make_item(0).post.author.contact_key
    assert [item.id for item in store.dossier(key).items] == [make_item(0).id]
    for n, writer in ((7, store), (14, open_store(tmp_path, engine_url))):  # user0 again, yesterday
        writer.put_items([make_item(n, at=yesterday)])
        assert make_item(n).id in {item.id for item in store.dossier(key).items}


def test_a_first_note_about_an_author_the_caller_names_reads_no_item(
    tmp_path: Path, engine_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(tmp_path / "data", engine_url)
    kim = Author("bluesky", "kim.example.com", "did:plc:kim", "Kim")
    post = Post("acme", "at://did:plc:kim/app.bsky.feed.post/1", kim, "hi", NOW)
    store.put_items([Item(item_id("acme", post.remote_id), "acme", "mention", post)])
    # The dashboard names the item's author: nobody looks for them through the items.
    monkeypatch.setattr(Store, "_author_of", lambda *_: pytest.fail("looked through the items"))
    contact = store.add_note(kim.contact_key, "prefers DMs", ALICE, NOW, author=kim)
    assert (contact.key, contact.handle, contact.display_name) == (
        "bluesky:did:plc:kim",
        "kim.example.com",
        "Kim",
    )
    again = store.add_note(kim.contact_key, "still", ALICE, NOW, author=kim)
    assert [n.text for n in again.notes] == ["prefers DMs", "still"]
    monkeypatch.undo()
    # Without the author, the first note finds them through the items, as before.
    sam = make_item(3)
    store.put_items([sam])
    found = store.add_note(sam.post.author.contact_key, "hello", ALICE, NOW)
    assert (found.handle, found.display_name) == ("user3@example.org", "User 3")
