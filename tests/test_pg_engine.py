"""The PostgreSQL engine on a real server, tested the way it breaks.

Engine-specific on purpose: races between processes, migrations, roles, lost connections and a
stopped server are the PostgreSQL engine's own failure modes; the shared contract suite covers the
rest for every engine.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from pgcluster import PgCluster
from psycopg import errors

from socialtui.store import Store
from socialtui.store.engine import (
    Conflict,
    Everything,
    Query,
    StoreError,
    StoreTooNew,
    StoreUnavailable,
    Writer,
)
from socialtui.store.follow import Follower
from socialtui.store.postgres import OPEN_LOCK_SPACE, SCHEMA_VERSION, PgEngine
from socialtui.store.schema import TABLES


def item(account: str, created_at: str, handle: str = "@ann@example.social") -> dict[str, Any]:
    return {
        "account": account,
        "post": {"created_at": created_at, "author": {"network": "mastodon", "handle": handle}},
    }


def outbox_entry(item_key: str, state: str = "queued", account: str = "acme") -> dict[str, Any]:
    return {"account": account, "item": item_key, "state": state, "updated_at": "2026-11-18T15:00:00Z"}


@pytest.fixture
def engine(pg_url: str) -> Any:
    engine = PgEngine(pg_url, application_name=f"socialtui-test-{uuid.uuid4().hex[:8]}")
    yield engine
    engine.close()


def put(engine: PgEngine, table: str, docs: dict[str, dict[str, Any]]) -> None:
    engine.transact([table], lambda w: w.put_many(table, docs))


# -- the contract's operations ----------------------------------------------------------------------


def test_every_store_table_exists_and_info_reports_it(engine: PgEngine, pg_url: str) -> None:
    info = engine.info()
    assert info.engine == "postgresql"
    assert info.schema_version == SCHEMA_VERSION
    assert [c.table for c in info.counts] == list(TABLES)
    assert info.problems == ()
    assert info.size_bytes and info.size_bytes > 0
    assert info.location == pg_url


def test_put_get_scan_with_every_query_field(engine: PgEngine) -> None:
    put(
        engine,
        "items",
        {
            "m:1": item("acme", "2026-11-18T10:00:00Z", "@ann@example.social"),
            "m:2": item("acme", "2026-11-18T11:00:00Z", "@bob@example.social"),
            "m:3": item("other", "2026-11-18T12:00:00Z", "@ann@example.social"),
            "b:1": item("acme", "2026-11-18T13:00:00Z", "@cat@example.social"),
            "m_x": item("acme", "2026-11-18T09:00:00Z"),
        },
    )
    put(engine, "answered", {"m:2": {"account": "acme", "at": "2026-11-18T11:30:00Z"}})
    with engine.read() as r:
        assert r.get("items", "m:1")["account"] == "acme"  # type: ignore[index]
        assert r.get("items", "nope") is None
        assert set(r.get_many("items", ["m:1", "b:1", "nope"])) == {"m:1", "b:1"}
        assert r.count("items") == 5

        def keys(**query: Any) -> set[str]:
            scanned = {key for key, _ in r.scan("items", Query(**query))}
            assert r.keys("items", Query(**query)) == scanned
            return scanned

        assert keys() == {"m:1", "m:2", "m:3", "b:1", "m_x"}
        assert keys(account="acme") == {"m:1", "m:2", "b:1", "m_x"}
        assert keys(since="2026-11-18T11:00:00+00:00") == {"m:2", "m:3", "b:1"}
        assert keys(until="2026-11-18T11:00:00+00:00") == {"m:1", "m_x"}
        assert keys(refs=["mastodon:bob@example.social", "mastodon:cat@example.social"]) == {"m:2", "b:1"}
        assert keys(refs=[]) == set()
        assert keys(prefix="m:") == {"m:1", "m:2", "m:3"}  # `_` and `%` are no wildcards
        assert keys(prefix="m_") == {"m_x"}
        assert keys(unless_in="answered") == {"m:1", "m:3", "b:1", "m_x"}
        assert keys(account="acme", unless_in="answered", since="2026-11-18T10:00:00+00:00") == {"m:1", "b:1"}
        newest = [key for key, _ in r.scan("items", Query(newest=2))]
        assert newest == ["b:1", "m:3"]
        with pytest.raises(StoreError, match="no ref field"):
            r.keys("answered", Query(refs=["x"]))


def test_put_overwrites_and_delete_counts_what_existed(engine: PgEngine) -> None:
    put(engine, "contacts", {"a": {"n": 1}, "b": {"n": 2}})
    put(engine, "contacts", {"a": {"n": 3}})
    assert engine.transact(["contacts"], lambda w: w.delete("contacts", ["a", "zzz"])) == 1
    with engine.read() as r:
        assert dict(r.scan("contacts")) == {"b": {"n": 2}}


def test_a_write_outside_the_named_tables_is_refused(engine: PgEngine) -> None:
    with pytest.raises(StoreError, match="named only"):
        engine.transact(["contacts"], lambda w: w.put("states", "x", {"account": "a"}))
    with pytest.raises(StoreError, match="append"):
        engine.transact(["audit"], lambda w: w.put("audit", "x", {"at": "2026-11-18T10:00:00Z"}))


def test_changes_report_later_writes_and_deletions_only(engine: PgEngine) -> None:
    put(engine, "contacts", {"a": {"n": 1}, "b": {"n": 2}})
    token, everything = engine.changes(None, ["contacts", "audit"])
    assert everything == {"contacts": {"a": {"n": 1}, "b": {"n": 2}}, "audit": {}}
    again, nothing = engine.changes(token, ["contacts"])
    assert nothing == {"contacts": {}}

    def work(w: Writer) -> None:
        w.put("contacts", "c", {"n": 3})
        w.delete("contacts", ["a"])
        w.append("audit", {"at": "2026-11-18T10:00:00Z", "what": "note"})

    engine.transact(["contacts", "audit"], work)
    later, changed = engine.changes(again, ["contacts", "audit"])
    assert changed["contacts"] == {"c": {"n": 3}, "a": None}
    assert list(changed["audit"].values()) == [{"at": "2026-11-18T10:00:00Z", "what": "note"}]
    assert all(key.isdigit() for key in changed["audit"])
    put(engine, "contacts", {"a": {"n": 4}})  # back from the dead: no tombstone left
    _, revived = engine.changes(later, ["contacts"])
    assert revived == {"contacts": {"a": {"n": 4}}}
    # A token stays valid: asked again, the older one gives everything since it (a superset is fine).
    _, since_again = engine.changes(again, ["contacts"])
    assert since_again["contacts"] == {"a": {"n": 4}, "c": {"n": 3}}


def test_changes_see_a_transaction_that_commits_after_a_later_one_started(
    engine: PgEngine, pg_url: str
) -> None:
    """A slow writer that began before the token was taken and commits after it is not missed."""
    with psycopg.connect(pg_url) as slow:
        slow.execute("INSERT INTO socialtui.contacts (key, doc) VALUES ('slow', '{}')")  # in progress
        put(engine, "contacts", {"fast": {}})
        token, seen = engine.changes(None, ["contacts"])
        assert set(seen["contacts"]) == {"fast"}
        slow.commit()
    _, changed = engine.changes(token, ["contacts"])
    assert set(changed["contacts"]) == {"slow"}


def test_log_is_oldest_first_since_a_time_and_pruned(engine: PgEngine) -> None:
    for hour in (9, 10, 11):
        engine.transact(
            ["audit"], lambda w, h=hour: w.append("audit", {"at": f"2026-11-18T{h:02d}:00:00Z", "h": h})
        )
    assert [d["h"] for d in engine.log("audit")] == [9, 10, 11]
    assert [d["h"] for d in engine.log("audit", since=datetime(2026, 11, 18, 10, tzinfo=UTC))] == [10, 11]
    assert engine.prune_log("audit", datetime(2026, 11, 18, 11, tzinfo=UTC)) == 2
    assert [d["h"] for d in engine.log("audit")] == [11]


def test_log_lines_of_one_transaction_keep_their_order_are_read_back_and_vanish_with_it(
    engine: PgEngine,
) -> None:
    # The lines are sent with the transaction's last statement: a read of the log in the same
    # transaction still sees them, their order is kept, and a body that fails leaves none.
    def work(w: Writer) -> int:
        w.append("audit", {"at": "2026-11-18T09:00:00Z", "n": 1})
        w.append("audit", {"at": "2026-11-18T08:00:00Z", "n": 2})
        seen = w.count("audit")
        w.append("audit", {"at": "2026-11-18T09:00:00Z", "n": 3})
        w.put("states", "item1", {"account": "acme", "done": True})
        return seen

    assert engine.transact(["audit", "states"], work) == 2
    assert [d["n"] for d in engine.log("audit")] == [1, 2, 3]

    def fails(w: Writer) -> None:
        w.append("audit", {"at": "2026-11-18T09:00:00Z", "n": 4})
        w.put("outbox", "r1", outbox_entry("item9"))
        w.put("outbox", "r2", outbox_entry("item9"))  # a second open entry: refused

    with pytest.raises(Conflict):
        engine.transact(["audit", "outbox"], fails)
    assert [d["n"] for d in engine.log("audit")] == [1, 2, 3]


# -- the one-open-reply rule ------------------------------------------------------------------------


def test_a_second_open_outbox_entry_for_an_item_is_a_conflict_and_nothing_is_saved(engine: PgEngine) -> None:
    put(engine, "outbox", {"old": outbox_entry("item1", state="sent")})  # a sent one does not count

    def work(w: Writer) -> None:
        w.put("states", "item1", {"account": "acme", "done": True})
        w.put("outbox", "r1", outbox_entry("item1"))
        w.put("outbox", "r2", outbox_entry("item1", state="sending"))

    with pytest.raises(Conflict, match="item"):
        engine.transact(["states", "outbox"], work)
    with engine.read() as r:
        assert r.count("states") == 0
        assert r.keys("outbox") == {"old"}
    put(engine, "outbox", {"r1": outbox_entry("item1")})
    put(engine, "outbox", {"r1": outbox_entry("item1", state="sent"), "r2": outbox_entry("item1")})


def _race_for_items(url: str, who: str, rounds: int, barrier: Any, results: Any) -> None:
    engine = PgEngine(url)
    outcomes = []
    for n in range(rounds):
        barrier.wait(timeout=30)
        try:
            engine.transact(
                ["outbox"], lambda w, n=n: w.put("outbox", f"{who}-{n}", outbox_entry(f"item{n}"))
            )
            outcomes.append("won")
        except Conflict:
            outcomes.append("conflict")
    engine.close()
    results.put((who, outcomes))


def test_two_processes_racing_for_one_item_one_wins_each_time(engine: PgEngine, pg_url: str) -> None:
    rounds = 20
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    racers = [
        ctx.Process(target=_race_for_items, args=(pg_url, who, rounds, barrier, results)) for who in "ab"
    ]
    for racer in racers:
        racer.start()
    outcomes = dict(results.get(timeout=60) for _ in racers)
    for racer in racers:
        racer.join(timeout=10)
    for n in range(rounds):
        assert sorted([outcomes["a"][n], outcomes["b"][n]]) == ["conflict", "won"], n
    with engine.read() as r:
        assert sorted(doc["item"] for _, doc in r.scan("outbox")) == sorted(f"item{n}" for n in range(rounds))


# -- migrations -------------------------------------------------------------------------------------


def _schema_state(url: str) -> list[Any]:
    with psycopg.connect(url) as conn:
        return [
            conn.execute("SELECT key, value FROM socialtui.meta ORDER BY key").fetchall(),
            conn.execute("SELECT version, applied_by FROM socialtui.migrations ORDER BY version").fetchall(),
            conn.execute(
                "SELECT relname, relkind FROM pg_class WHERE relnamespace = 'socialtui'::regnamespace ORDER BY relname"
            ).fetchall(),
            conn.execute("SELECT count(*) FROM socialtui.contacts").fetchall(),
        ]


def test_a_bulk_write_takes_one_table_lock_not_a_lock_per_key(engine: PgEngine) -> None:
    # the server's lock table holds max_locks_per_transaction (64) per connection in all: a key
    # lock each for a first sync's thousands of posts ran it out of shared memory
    docs = {f"k{n}": item("acme", f"2026-11-18T{n % 24:02}:00:00Z") for n in range(5_000)}

    def locks(w: Any) -> tuple[int, int]:
        """(the engine's advisory locks, the `items.open` trigger's: one per account)."""
        row = w.conn.execute(
            "SELECT count(*) FILTER (WHERE classid <> %s), count(*) FILTER (WHERE classid = %s)"
            " FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()",
            (OPEN_LOCK_SPACE, OPEN_LOCK_SPACE),
        ).fetchone()
        return int(row[0]), int(row[1])

    def write(some: dict[str, Any]) -> Any:
        return lambda w: (w.put_many("items", some), locks(w))[1]

    held, per_account = engine.transact(["items"], write(docs))
    assert 1 <= held <= 2, f"{held} advisory locks held for one bulk write"
    assert per_account == 1, "the items of one account take one lock for their `open` flag"
    with engine.read() as reader:
        assert reader.count("items") == 5_000
    few, per_account = engine.transact(["items"], write({"k1": docs["k1"], "k2": docs["k2"]}))
    assert few == 4, "a small write shares the table and locks its two keys and their one ref"
    assert per_account == 1


def test_a_newer_schema_is_refused_and_left_alone(engine: PgEngine, pg_url: str) -> None:
    put(engine, "contacts", {"a": {}})
    engine.close()
    with psycopg.connect(pg_url) as conn:
        conn.execute(
            "UPDATE socialtui.meta SET value = to_jsonb(%s::int) WHERE key = 'schema_version'",
            (SCHEMA_VERSION + 1,),
        )
    before = _schema_state(pg_url)
    with pytest.raises(StoreTooNew, match=f"version {SCHEMA_VERSION + 1}"):
        PgEngine(pg_url)
    assert _schema_state(pg_url) == before


def _open_engine(url: str, barrier: Any, results: Any) -> None:
    barrier.wait(timeout=30)
    try:
        PgEngine(url).close()
        results.put("ok")
    except StoreError as exc:
        results.put(f"failed: {exc}")


def test_two_processes_starting_at_once_migrate_once(pg_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    starters = [ctx.Process(target=_open_engine, args=(pg_url, barrier, results)) for _ in range(2)]
    for starter in starters:
        starter.start()
    assert [results.get(timeout=60) for _ in starters] == ["ok", "ok"]
    for starter in starters:
        starter.join(timeout=10)
    _meta, migrations, _relations, _contacts = _schema_state(pg_url)
    assert [version for version, _ in migrations] == list(range(1, SCHEMA_VERSION + 1))


# -- wait -------------------------------------------------------------------------------------------


def test_wait_wakes_on_a_commit_elsewhere_and_times_out_otherwise(engine: PgEngine, pg_url: str) -> None:
    token, _ = engine.changes(None, ["contacts", "states"])
    started = time.monotonic()
    assert engine.wait(token, ["contacts"], 0.3) is False
    assert time.monotonic() - started >= 0.3  # no upper bound: a busy machine may be slow to wake it

    other = PgEngine(pg_url)
    committed_at: list[float] = []

    def write_later() -> None:
        time.sleep(0.3)
        put(other, "states", {"x": {"account": "acme"}})  # not a table the follower waits for
        time.sleep(0.2)
        put(other, "contacts", {"a": {}})
        committed_at.append(time.monotonic())

    writer = threading.Thread(target=write_later)
    writer.start()
    assert engine.wait(token, ["contacts"], 60.0) is True, "woken by the commit, not the timeout"
    writer.join()
    other.close()
    assert committed_at, "the write the follower waited for was made"
    # Changes since the token are already there: no need to wait for a notification.
    assert engine.wait(token, ["contacts"], 5.0) is True
    fresh, _ = engine.changes(None, ["contacts"])
    assert engine.wait(fresh, ["contacts"], 0.2) is False


# -- leases -----------------------------------------------------------------------------------------


def test_a_lease_is_exclusive_expires_and_is_lost_to_a_takeover(engine: PgEngine, pg_url: str) -> None:
    other = PgEngine(pg_url)
    mine, theirs = engine.lease("poll:acme", ttl=0.5), other.lease("poll:acme", ttl=0.5)
    assert mine.try_acquire() and mine.held
    assert not theirs.try_acquire() and not theirs.held
    assert mine.renew()
    time.sleep(0.7)
    assert not mine.held  # by our own clock, too
    assert theirs.try_acquire() and theirs.held
    assert not mine.renew() and not mine.held
    mine.release()  # not ours any more: leaves theirs alone
    assert not engine.lease("poll:acme", ttl=5).try_acquire()
    theirs.release()
    assert engine.lease("poll:acme", ttl=5).try_acquire()
    other.close()


# -- roles ------------------------------------------------------------------------------------------


def _create_operator(pg_url: str, login: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "DO $$ BEGIN"
            " IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'socialtui_operators')"
            " THEN CREATE ROLE socialtui_operators NOLOGIN; END IF; END $$"
        )
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (login,)).fetchone() is None:
            conn.execute(f"CREATE ROLE {login} LOGIN IN ROLE socialtui_operators")


def test_operators_append_to_the_audit_but_never_change_it(pg_url: str) -> None:
    PgEngine(pg_url).close()  # the schema first, then the role: the owner's next start grants
    _create_operator(pg_url, "socialtui_test_alice")
    owner = PgEngine(pg_url)
    owner.transact(["audit"], lambda w: w.append("audit", {"at": "2026-11-18T10:00:00Z"}))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("SET ROLE socialtui_test_alice")
        conn.execute("INSERT INTO socialtui.audit (doc, at) VALUES ('{}', now())")
        conn.execute("INSERT INTO socialtui.contacts (key, doc) VALUES ('a', '{}')")
        conn.execute("UPDATE socialtui.contacts SET doc = '{\"n\": 1}'")
        conn.execute("DELETE FROM socialtui.contacts")
        for statement in (
            "UPDATE socialtui.audit SET doc = '{}'",
            "DELETE FROM socialtui.audit",
            "TRUNCATE socialtui.audit",
            "UPDATE socialtui.meta SET value = '2'",
        ):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement)
    # The engine itself, running as the operator: works, and cannot prune the audit.
    operator = PgEngine(f"{pg_url}&options=-c%20role%3Dsocialtui_test_alice")
    operator.transact(
        ["contacts", "audit"],
        lambda w: (w.put("contacts", "b", {}), w.append("audit", {"at": "2026-11-18T10:00:00Z"})),
    )
    with pytest.raises(StoreError, match="permission denied"):
        operator.prune_log("audit", datetime.now(UTC))
    assert len(list(owner.log("audit"))) == 3
    # Nor the change history: pruning it is the owner's job too, and all or nothing.
    operator.transact(["contacts"], lambda w: w.delete("contacts", ["b"]))
    assert operator.prune_changes(timedelta(0)) == 0
    assert _tombstones(pg_url) == ["b"]
    assert owner.prune_changes(timedelta(0)) == 1
    operator.close()
    owner.close()


# -- lost connections and a stopped server ----------------------------------------------------------


def _terminate(pg_url: str, application_name: str) -> int:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (application_name,),
        ).fetchall()
    return len(rows)


def test_a_killed_connection_between_transactions_is_replaced(pg_url: str) -> None:
    engine = PgEngine(pg_url, application_name="socialtui-killed")
    put(engine, "contacts", {"a": {}})
    assert _terminate(pg_url, "socialtui-killed") >= 1
    put(engine, "contacts", {"b": {}})
    assert _terminate(pg_url, "socialtui-killed") >= 1
    with engine.read() as r:
        assert r.keys("contacts") == {"a", "b"}
    engine.close()


def test_a_connection_lost_in_the_body_runs_the_body_again(engine: PgEngine, pg_url: str) -> None:
    calls = []

    def body(w: Writer) -> str:
        calls.append(1)
        w.put("contacts", f"try{len(calls)}", {})
        if len(calls) == 1:
            with psycopg.connect(pg_url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (w.conn.info.backend_pid,))  # type: ignore[attr-defined]
            w.put("contacts", "after", {})  # the connection is gone
        return "done"

    assert engine.transact(["contacts"], body) == "done"
    assert len(calls) == 2
    with engine.read() as r:
        assert r.keys("contacts") == {"try2"}


def test_a_commit_whose_answer_was_lost_is_settled_not_repeated(engine: PgEngine, monkeypatch: Any) -> None:
    calls = []

    def committed_then_lost(conn: psycopg.Connection) -> None:
        conn.execute("COMMIT")
        conn.close()
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(engine, "_commit", committed_then_lost)

    def body(w: Writer) -> int:
        calls.append(1)
        w.append("audit", {"at": "2026-11-18T10:00:00Z"})
        return 42

    assert engine.transact(["audit"], body) == 42
    assert len(calls) == 1
    assert len(list(engine.log("audit"))) == 1


def test_a_commit_lost_before_it_reached_the_server_is_retried(engine: PgEngine, monkeypatch: Any) -> None:
    calls = []
    real_commit = engine._commit

    def lost_first_time(conn: psycopg.Connection) -> None:
        if len(calls) == 1:
            conn.close()  # the server rolls back
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        real_commit(conn)

    monkeypatch.setattr(engine, "_commit", lost_first_time)

    def body(w: Writer) -> None:
        calls.append(1)
        w.append("audit", {"at": "2026-11-18T10:00:00Z"})

    engine.transact(["audit"], body)
    assert len(calls) == 2
    assert len(list(engine.log("audit"))) == 1


def test_a_stopped_server_is_reported_unavailable_in_bounded_time() -> None:
    with PgCluster() as cluster:
        url = cluster.create_database("stopped")
        engine = PgEngine(url, password="s3cret-pw", retry_for=2.0)
        put(engine, "contacts", {"a": {}})
        socket_dir = str(cluster.socket_dir)
        cluster.stop()
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as raised:
            put(engine, "contacts", {"b": {}})
        assert time.monotonic() - started < 8
        message = str(raised.value)
        assert f"the store's database at {socket_dir}" in message
        assert "unreachable" in message and "nothing was changed" in message
        assert "s3cret-pw" not in message
        with pytest.raises(StoreUnavailable):
            PgEngine(url, password="s3cret-pw", retry_for=1.0)
        engine.close()


def test_the_password_stays_out_of_what_we_keep_and_print(pg_url: str) -> None:
    url = pg_url.replace("postgresql:///", "postgresql://:hunter2@/")
    engine = PgEngine(url)  # peer authentication ignores it; the engine must not keep it in the URL
    assert "hunter2" not in engine.url and "hunter2" not in engine.info().location
    engine.close()


def test_a_nul_in_a_strangers_text_is_kept_as_the_replacement_character(engine: PgEngine) -> None:
    """jsonb cannot hold U+0000: the write must not fail on it, and a literal `\\u0000` stays text."""
    docs = {"m:nul": {"account": "acme", "text": "bell\x07 nul\x00 end", "literal": "a \\u0000 b \\\x00"}}
    put(engine, "contacts", docs)
    with engine.read() as r:
        doc = r.get("contacts", "m:nul")
    assert doc == {"account": "acme", "text": "bell\x07 nul\ufffd end", "literal": "a \\u0000 b \\\ufffd"}


# -- the change history: tombstones pruned, a follower that slept too long re-reads ---------------


def _tombstones(pg_url: str) -> list[str]:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        return [key for (key,) in conn.execute("SELECT key FROM socialtui.tombstones ORDER BY key")]


def _age_tombstones(pg_url: str, keys: list[str], by: str = "2 days") -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE socialtui.tombstones SET at = at - %s::interval WHERE key = ANY(%s)", (by, keys))


def test_pruned_tombstones_send_a_follower_that_slept_everything_and_others_what_changed(
    engine: PgEngine, pg_url: str
) -> None:
    answered = {"account": "acme", "at": "2026-11-18T10:00:00Z", "by": "done"}
    put(engine, "answered", {"c:1": answered, "c:2": answered, "c:3": answered})
    asleep = Follower(engine, ["answered"])
    assert asleep.refresh() == {"answered"}
    engine.transact(["answered"], lambda w: w.delete("answered", ["c:1"]))
    _age_tombstones(pg_url, ["c:1"])  # a deletion two days old
    awake = Follower(engine, ["answered"])  # a dashboard that looked after that deletion
    assert set(awake.refresh()) == {"answered"} and set(awake.objects("answered")) == {"c:2", "c:3"}
    engine.transact(["answered"], lambda w: w.delete("answered", ["c:2"]))  # a recent one: kept

    assert engine.prune_changes(timedelta(days=1)) == 1
    assert _tombstones(pg_url) == ["c:2"]

    # The sleeper's token predates the forgotten deletion: it is told to look, and re-reads.
    assert asleep.wait(0.0)
    _, changes = engine.changes(asleep._token, ["answered"])
    assert isinstance(changes, Everything) and set(changes["answered"]) == {"c:3"}
    assert asleep.refresh() == {"answered"}
    assert set(asleep.objects("answered")) == {"c:3"}, "both deletions seen, one of them without a tombstone"
    # The other follower only needs what it has not seen: what changed, the kept tombstone.
    _, changes = engine.changes(awake._token, ["answered"])
    assert not isinstance(changes, Everything) and changes == {"answered": {"c:2": None}}
    assert awake.refresh() == {"answered"} and set(awake.objects("answered")) == {"c:3"}
    # After its re-read the sleeper is an ordinary follower again.
    engine.transact(["answered"], lambda w: w.delete("answered", ["c:3"]))
    _, changes = engine.changes(asleep._token, ["answered"])
    assert not isinstance(changes, Everything) and changes == {"answered": {"c:3": None}}
    assert engine.prune_changes(timedelta(days=1)) == 0, "nothing old enough"


def test_retention_prunes_the_tombstones_through_the_store(pg_url: str, tmp_path: Any) -> None:
    store = Store(tmp_path, engine=PgEngine(pg_url))
    try:
        store.engine.transact(["contacts"], lambda w: w.put_many("contacts", {"a": {}, "b": {}}))
        store.engine.transact(["contacts"], lambda w: w.delete("contacts", ["a", "b"]))
        _age_tombstones(pg_url, ["a"])
        removed = store.prune(datetime.now(UTC), timedelta(days=14))
        assert removed["tombstones"] == 1
        assert _tombstones(pg_url) == ["b"]
    finally:
        store.engine.close()


def test_a_bulk_write_goes_in_whole_revives_deleted_keys_and_is_seen_by_followers(
    engine: PgEngine, pg_url: str
) -> None:
    put(engine, "items", {"m:0": item("acme", "2026-11-18T10:00:00Z")})
    engine.transact(["items"], lambda w: w.delete("items", ["m:0"]))
    token, _ = engine.changes(None, ["items"])
    docs = {f"m:{n}": item("acme", "2026-11-18T10:00:00Z", f"@p{n}@example.social") for n in range(700)}
    docs["m:1"]["post"]["text"] = "nul\x00 inside"
    put(engine, "items", docs)  # over BULK_ROWS: through COPY
    put(engine, "items", {k: docs[k] for k in list(docs)[:600]})  # again, in the same shape: an upsert
    with engine.read() as r:
        assert r.count("items") == 700
        assert r.get("items", "m:1")["post"]["text"] == "nul\ufffd inside"  # type: ignore[index]
        assert r.keys("items", Query(refs=["mastodon:p5@example.social"])) == {"m:5"}
    assert _tombstones(pg_url) == [], "the revived key's tombstone went"
    _, changes = engine.changes(token, ["items"])
    assert len(changes["items"]) == 700 and all(doc is not None for doc in changes["items"].values())


def test_a_version_2_store_gains_the_tally_columns_from_the_items_it_holds(pg_url: str) -> None:
    from socialtui.store.postgres import MIGRATIONS

    with psycopg.connect(pg_url, autocommit=True) as conn:
        with conn.transaction():
            for version in (1, 2):
                conn.execute(MIGRATIONS[version - 1])
                conn.execute(
                    "INSERT INTO socialtui.migrations (version, applied_by) VALUES (%s, current_user)",
                    (version,),
                )
            conn.execute("INSERT INTO socialtui.meta (key, value) VALUES ('schema_version', '2')")
        # Items as a version 2 writer left them: the document and the account and time columns.
        for key, handle, kind in (
            ("a", " @Ann@Example.social", "mention"),
            ("b", "@acme@example.social", "reply"),
            ("c", "@cy@example.social", "mention"),  # answered: not open after migration 4
        ):
            doc = {**item("acme", "2026-11-18T14:00:00+00:00", handle), "kind": kind}
            conn.execute(
                "INSERT INTO socialtui.items (key, doc, account, at) VALUES (%s, %s, 'acme', %s::timestamptz)",
                (key, psycopg.types.json.Jsonb(doc), doc["post"]["created_at"]),
            )
        conn.execute(
            "INSERT INTO socialtui.answered (key, doc, account) VALUES ('c', %s, 'acme')",
            (psycopg.types.json.Jsonb({"account": "acme", "at": "2026-11-18T14:30:00Z", "by": "done"}),),
        )
    engine = PgEngine(pg_url)
    try:
        assert engine.info().schema_version == SCHEMA_VERSION >= 3
        edges = {("acme", "mention"): [datetime(2026, 11, 18, 15, tzinfo=UTC)], ("acme", "reply"): []}
        with engine.read() as reader:
            tally, head = reader.tally_open(edges, {("mastodon", "acme@example.social")}, head=5)
        assert {group: t.counts for group, t in tally.items()} == {("acme", "mention"): (1, 0)}
        assert [key for key, _ in head] == ["a"]
        with engine.read() as reader:
            tally, _ = reader.tally_open(edges, {("mastodon", "ann@example.social")})
        assert {group: t.counts for group, t in tally.items()} == {("acme", "reply"): (1,)}
    finally:
        engine.close()


def _open_flags(pg_url: str) -> dict[str, bool]:
    with psycopg.connect(pg_url) as conn:
        return dict(conn.execute("SELECT key, open FROM socialtui.items ORDER BY key").fetchall())


def test_items_open_follows_answered_whichever_comes_first(engine: PgEngine, pg_url: str) -> None:
    """`items.open` (migration 4) is what the counts and the open-items scan read: it must say
    "not answered" after every order of writes, and a bulk write (COPY) too."""
    answered = {"account": "acme", "at": "2026-11-18T15:00:00Z", "by": "done"}
    put(engine, "items", {"a": item("acme", "2026-11-18T10:00:00Z")})
    put(engine, "answered", {"a": answered, "b": answered})  # b: answered before it arrives
    put(
        engine,
        "items",
        {"b": item("acme", "2026-11-18T11:00:00Z"), "c": item("acme", "2026-11-18T12:00:00Z")},
    )
    assert _open_flags(pg_url) == {"a": False, "b": False, "c": True}
    put(engine, "items", {"a": item("acme", "2026-11-18T10:00:00Z", "@bo@example.social")})  # an upsert
    engine.transact(["answered"], lambda w: w.delete("answered", ["b"]))  # reopened
    assert _open_flags(pg_url) == {"a": False, "b": True, "c": True}
    bulk = {f"m{n:04}": item("acme", "2026-11-18T13:00:00Z") for n in range(600)}  # through COPY
    put(engine, "answered", {"m0001": answered})
    put(engine, "items", bulk)
    flags = _open_flags(pg_url)
    assert [key for key, is_open in flags.items() if not is_open] == ["a", "m0001"]
    with engine.read() as reader:
        assert reader.keys("items", Query(unless_in="answered")) == {
            key for key, is_open in flags.items() if is_open
        }


def test_a_new_item_and_its_answer_in_concurrent_transactions_leave_it_answered(
    engine: PgEngine, pg_url: str
) -> None:
    """Neither transaction sees the other's uncommitted row; the per-account lock of the triggers
    makes the second wait for the first, then see it."""
    answered = {"account": "acme", "at": "2026-11-18T15:00:00Z", "by": "done"}
    with psycopg.connect(pg_url) as first, psycopg.connect(pg_url, autocommit=True) as second:
        first.execute(
            "INSERT INTO socialtui.items (key, doc, account, at) VALUES ('x', %s, 'acme', now())",
            (psycopg.types.json.Jsonb(item("acme", "2026-11-18T10:00:00Z")),),
        )
        done = threading.Event()

        def answer() -> None:
            second.execute(
                "INSERT INTO socialtui.answered (key, doc, account) VALUES ('x', %s, 'acme')",
                (psycopg.types.json.Jsonb(answered),),
            )
            done.set()

        thread = threading.Thread(target=answer)
        thread.start()
        assert not done.wait(0.3), "the answer waits for the item's transaction"
        first.commit()
        thread.join(10)
        assert done.is_set()
    assert _open_flags(pg_url) == {"x": False}
