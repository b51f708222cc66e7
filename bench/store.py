"""Store benchmark: a team's worth of data, and the operations operators wait on.

The store: 20 accounts x 2,000 cached posts (a quarter of them the account's own posts and replies
over the retention period, the rest its home timeline), 2,000 open items, 2,000 answered ones (1,500
by a reply sent through the outbox, 500 marked done), 300 contacts with notes and 60 handoffs.

    python bench/store.py [--accounts 20] [--posts 2000] [--open-items 2000] [--own-share 0.25]
    python bench/store.py --engine postgresql [--url URL] --items 10000 --contention

`--engine postgresql` starts a throw-away cluster (tests/pgcluster.py) unless `--url` names a database
(it must be empty). `--items N` sets the total of items (half open, half answered) and scales the
posts (N/2 per account, at most 10,000: retention bounds the cache), contacts and handoffs from it.

The set-up writes in bulk, as a first sync or a migration does (one transaction per table, COPY on
PostgreSQL), and prints how long each part took (`# set-up: ...`); a PostgreSQL store is vacuumed
and analyzed after it, as autovacuum would within a minute.

Prints `name  figure  budget  ok|OVER` lines:
    action_commit_p50 / action_commit_p95   an operator action (done, claim, note) committed
    status_end_to_end / check_end_to_end     `socialtui status` / `check` as a new process, median of
                                             5 (their CPU time is printed beside them: on a loaded
                                             machine the wall clock also waits for a core); the
                                             package's bytecode is compiled first, as an install has it
    queue_computation                        the unanswered queue from a loaded snapshot, median of 20
                                             (5 above 20,000 items)

and with `--contention` (10 dashboards following the store (`--followers`), a poller writing a page of
40 items every 0.5 s, 10 operators (`--operators`) each acting once every 1-3 s at random (a human pace: read the item, press a
key), for `--seconds`). Each actor is a process of its own (multiprocessing, spawn), as each
operator's dashboard is on the shared server: it opens its own store, times its own operations with
the wall clock and sends them back when stopped. A dashboard follows as the TUI does: `Follower`
(engine.wait + changes), never spinning; it notes when it first saw each key of `states`/`claims`.
`--threads` runs the older variant: every actor a thread of this one process (operators every ~0.3
s), which mostly measures the GIL. The machine's load average is printed at start and end:
    contention_action_commit_p95             an operator's action committed, under that load
    contention_seen_by_follower_p95          from an action's commit to a follower's refresh showing it
    contention_poller_page_p50 / _p95        a page of 40 new items written
and, per kind of action and for the slowest twentieth, where an operator's action went: waiting for
the tables' locks, in fsyncs, in the rest of the write, and the rest (reading, deciding, encoding:
mostly the process's own CPU, or waiting for a core), beside its CPU time.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import queue as queue_module
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from socialtui import care
from socialtui.config import ConfigError, load_config
from socialtui.model import (
    Actor,
    Author,
    Contact,
    ContactNote,
    HandoffNote,
    Item,
    OutboxEntry,
    Post,
    from_record,
    item_id,
    to_record,
)
from socialtui.store import Store, StoreError
from socialtui.store.base import audit_doc
from socialtui.store.engine import Engine, Query
from socialtui.store.follow import Follower

ROOT = Path(__file__).resolve().parent.parent
EngineFactory = Callable[[], Engine | None]
"""A new engine over the bench's store (None: the files engine of the data dir)."""

NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
POSTS_CAP = 10_000
ACCOUNT_TEMPLATE = """
[[accounts]]
id = "brand{n:02d}"
network = "{network}"
server = "https://{network}.example"
handle = "{handle}"
{secret} = "BRAND{n:02d}_SECRET"
active_hours = "Mon-Fri 08:00-20:00, Sat-Sun 10:00-16:00"
timezone = "{tz}"
max_quiet = "4h"
reply_within = "30m"
"""
ZONES = ("Europe/London", "America/New_York", "Europe/Berlin", "Asia/Tokyo", "Australia/Sydney")


def account_handle(n: int) -> tuple[str, str, str]:
    """(network, handle in the config, handle as authors carry it)."""
    if n % 2 == 0:
        return "mastodon", f"@brand{n:02d}@mastodon.example", f"brand{n:02d}@mastodon.example"
    return "bluesky", f"brand{n:02d}.bsky.example", f"brand{n:02d}.bsky.example"


def write_config(directory: Path, accounts: int, store_url: str | None = None) -> Path:
    store = f'store = "{store_url}"\n' if store_url else ""
    parts = [f'[team]\ndata_dir = "{directory / "data"}"\ntimezone = "Europe/London"\n{store}']
    for n in range(accounts):
        network, handle, _ = account_handle(n)
        secret = "token_env" if network == "mastodon" else "app_password_env"
        parts.append(
            ACCOUNT_TEMPLATE.format(
                n=n, network=network, handle=handle, secret=secret, tz=ZONES[n % len(ZONES)]
            )
        )
    path = directory / "config.toml"
    path.write_text("\n".join(parts))
    return path


def build_store(
    directory: Path,
    *,
    accounts: int = 20,
    posts: int = 2000,
    open_items: int = 2000,
    answered_per_open: int = 1,
    own_share: float = 0.25,
    contacts: int = 300,
    handoffs: int = 60,
    now: datetime = NOW,
    engine: EngineFactory = lambda: None,
    store_url: str | None = None,
) -> tuple[Path, Store]:
    """Write a config and fill its store. Returns (config path, store)."""
    config_path = write_config(directory, accounts, store_url)
    store = Store(directory / "data", engine=engine())
    phases: list[str] = []
    started = time.perf_counter()

    def phase(name: str) -> None:
        nonlocal started
        phases.append(f"{name} {time.perf_counter() - started:.1f}s")
        started = time.perf_counter()

    actor = Actor("bench", "Bench")
    per_account_open = open_items // accounts
    own_count = int(posts * own_share)
    home_count = posts - own_count
    items: list[Item] = []
    own: list[Post] = []
    home: list[Post] = []
    states = {}
    outbox = {}
    for n in range(accounts):
        account = f"brand{n:02d}"
        network, _, author_handle = account_handle(n)
        us = Author(network, author_handle, f"us{n}", f"Brand {n}")
        span = timedelta(days=13)
        # Per account: `per_account_open` open items and `answered_per_open` times as many answered
        # (every other one by an own reply, the others marked done), interleaved over the period;
        # own posts are those replies plus the account's own posts.
        answered = per_account_open * answered_per_open
        done_so_far = 0
        for k in range(per_account_open + answered):
            crowd = k % 400
            stranger = Author(
                network,
                f"person{crowd}@crowd.example" if network == "mastodon" else f"person{crowd}.crowd.example",
                f"p{crowd}",
                f"Person {crowd}",
            )
            at = now - span * (k / (per_account_open + answered)) - timedelta(minutes=3)
            remote = f"{account}-in-{k:06d}"
            text = f"Question {k} about the order I placed last week, is it on its way?"
            post = Post(account, remote, stranger, text, at, url=f"https://x.example/{remote}")
            item = Item(item_id(account, remote), account, "mention" if k % 3 else "reply", post)
            items.append(item)
            if k % (1 + answered_per_open) == 0:  # interleaved: open and answered items over the period
                continue
            done_so_far += 1
            if done_so_far % 2 == 1:
                states[item.id] = {
                    "item": item.id,
                    "account": account,
                    "done": True,
                    "reason": "thanked",
                    "login": "bench",
                    "operator": "Bench",
                    "at": (at + timedelta(minutes=5)).isoformat(),
                }
                continue
            reply = Post(
                account,
                f"{account}-re-{k:06d}",
                us,
                "Thanks for asking! It ships today.",
                at + timedelta(minutes=20),
                reply_to=remote,
                own=True,
            )
            own.append(reply)
            key = f"key-{account}-{k}"
            outbox[key] = to_record(
                OutboxEntry(
                    id=key,
                    item=item.id,
                    account=account,
                    text=reply.text,
                    login="bench",
                    operator="Bench",
                    created_at=at,
                    updated_at=at,
                    state="sent",
                    sent_at=reply.created_at,
                    remote_id=reply.remote_id,
                    in_reply_to=remote,
                )
            )
        plain = max(own_count - sum(1 for p in own if p.account == account), 0)
        for k in range(plain):
            own.append(
                Post(
                    account,
                    f"{account}-own-{k:06d}",
                    us,
                    f"News from Brand {n}, part {k}",
                    now - span * (k / max(plain, 1)) - timedelta(minutes=40),
                    own=True,
                )
            )
        for k in range(home_count):
            friend = Author(network, f"friend{k % 150}@elsewhere.example", f"f{k % 150}", f"Friend {k % 150}")
            home.append(
                Post(
                    account,
                    f"{account}-home-{k:06d}",
                    friend,
                    f"Something worth reading, number {k}, with a link https://example.org/{k}",
                    now - span * (k / home_count),
                )
            )
    phase("generated")
    # Bulk, as a first sync or a migration writes: one transaction per table (COPY on PostgreSQL).
    store.put_items(items)
    phase("items")
    store.put_own_posts(own)
    phase("own posts")
    store.put_home_posts(home)
    phase("home timelines")

    def work(w):  # type: ignore[no-untyped-def]
        w.put_many("states", states)
        w.put_many("outbox", outbox)

    store.engine.transact(["states", "outbox"], work)
    store.rebuild_answered()
    phase("states, outbox, answered")
    # The contacts' notes in one transaction: as `add_note` leaves them (two notes each, audited),
    # without resolving each handle again (that made the set-up quadratic in the contacts).
    contact_docs = {}
    audit = []
    for c in range(contacts):
        handle = f"person{c}@crowd.example"
        key = f"mastodon:{handle}"
        notes = tuple(
            ContactNote(text=text, login=actor.login, operator=actor.operator, at=now)
            for text in (f"Regular; prefers short answers ({c})", "Asked about refunds before")
        )
        name = f"Person {c}" if c < 400 else ""  # the crowd's first 400 wrote items
        contact_docs[key] = to_record(
            Contact(key=key, network="mastodon", handle=handle, display_name=name, notes=notes)
        )
        audit += [audit_doc(actor, now, "note", "", "", f"{key}: {note.text}") for note in notes]

    def contacts_body(w):  # type: ignore[no-untyped-def]
        w.put_many("contacts", contact_docs)
        for doc in audit:
            w.append("audit", doc)

    store.engine.transact(["contacts", "audit"], contacts_body)
    phase("contacts")
    # The handoffs in one transaction too, as `write_handoff` leaves them (one transaction each
    # rewrote the growing handoffs file every time: quadratic on the files engine).
    handoff_docs = {}
    handoff_audit = []
    for h in range(handoffs):
        at = now - timedelta(hours=8 * h)
        note = HandoffNote(
            id=f"{at.strftime('%Y%m%dT%H%M%S')}-{h:06x}",
            login=actor.login,
            operator=actor.operator,
            at=at,
            text=f"Shift {h}: all calm, watch brand03 in the evening",
        )
        handoff_docs[note.id] = to_record(note)
        handoff_audit.append(audit_doc(actor, at, "handoff", "", "", f"{note.id}: {note.text}"))

    def handoffs_body(w):  # type: ignore[no-untyped-def]
        w.put_many("handoffs", handoff_docs)
        for doc in handoff_audit:
            w.append("audit", doc)

    store.engine.transact(["handoffs", "audit"], handoffs_body)
    phase("handoffs")
    print(f"# set-up: {', '.join(phases)}", flush=True)
    return config_path, store


def report(metric: str, value: float, unit: str, budget: float) -> None:
    verdict = "ok" if value <= budget else "OVER"
    print(f"{metric:<36} {value:>9.1f} {unit:<2}  {budget:>6g} {unit:<2}  {verdict}", flush=True)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(len(ordered) * share + 0.5) - 1))]


def act(store: Store, kind: str, item: Item, actor: Actor, reason: str = "handled") -> bool:
    """One operator action as the dashboard makes it: `done`, `claim` or `note` on the item. Whether
    a follower of states and claims can see it (a note is in the contacts table; a claim that returns
    someone else's claim in force changed nothing)."""
    if kind == "done":
        store.mark_done(item, reason, actor, NOW)
        return True
    if kind == "claim":
        return store.claim(item, actor, NOW, timedelta(minutes=10)).operator == actor.operator
    author = item.post.author  # the dashboard names the item's author
    store.add_note(author.contact_key, "Follow up tomorrow", actor, NOW, author=author)
    return False


def contention_threads(engine: EngineFactory, data_dir: Path, seconds: float, followers_n: int = 10) -> None:
    """10 followers, one poller and 10 operators as threads of this process, each with its own store."""
    operators_n, page, page_every, act_every = 10, 40, 0.5, 0.3
    tables = ["items", "states", "claims", "outbox"]
    stores: list[Store] = []

    def new_store() -> Store:
        store = Store(data_dir, engine=engine())
        stores.append(store)
        return store

    lock = threading.Lock()
    actions: list[tuple[str, str, float]] = []  # (table, item id, committed at)
    commit_ms: list[float] = []
    seen_ms: list[float] = []
    page_ms: list[float] = []
    errors: list[str] = []
    stop = threading.Event()  # the poller and the operators
    stop_following = threading.Event()  # later: followers may still see the last actions

    setup = new_store()
    # Neither done nor claimed: the action phase before claimed some, and a claim of an item
    # claimed already changes nothing (the claim in force is returned), so no follower could see it.
    states, claims = setup.states(), setup.claims(NOW)
    open_items = [i for i in setup.items() if i.id not in states and i.id not in claims]
    random.Random(7).shuffle(open_items)

    followers = [Follower(new_store().engine, tables) for _ in range(followers_n)]
    for follower in followers:
        follower.refresh()  # a dashboard that has loaded the store already

    def follow(follower: Follower) -> None:
        pending: list[tuple[str, str, float]] = []
        taken = 0
        while not stop_following.is_set():
            follower.wait(1.0)
            follower.refresh()
            seen_at = time.perf_counter()
            with lock:
                pending.extend(actions[taken:])
                taken = len(actions)
            if not pending:
                continue
            current = {t: follower.objects(t) for t in ("states", "claims")}
            still = []
            for table, key, committed in pending:
                if key in current[table]:
                    with lock:
                        seen_ms.append(max(0.0, seen_at - committed) * 1000)
                else:
                    still.append((table, key, committed))
            pending = still

    def poll(store: Store) -> None:
        n = 0
        while not stop.is_set():
            started = time.perf_counter()
            batch = []
            for _ in range(page):
                author = Author(
                    "mastodon", f"new{n % 500}@crowd.example", f"n{n % 500}", f"Newcomer {n % 500}"
                )
                remote = f"brand00-live-{n:07d}"
                post = Post("brand00", remote, author, f"Live question {n}?", NOW - timedelta(seconds=30))
                batch.append(Item(item_id("brand00", remote), "brand00", "mention", post))
                n += 1
            try:
                store.put_items(batch)
            except StoreError as exc:
                errors.append(f"poller: {exc}")
            page_ms.append((time.perf_counter() - started) * 1000)
            stop.wait(max(0.0, page_every - (time.perf_counter() - started)))

    def operate(number: int, store: Store) -> None:
        actor = Actor(f"op{number}", f"Operator {number}")
        mine = open_items[number::operators_n]
        rng = random.Random(number)
        while not stop.is_set() and mine:
            stop.wait(rng.uniform(0.5, 1.5) * act_every)
            item = mine.pop()
            kind = rng.choice(("done", "claim", "note"))
            started = time.perf_counter()
            try:
                act(store, kind, item, actor)
            except StoreError as exc:
                errors.append(f"operator {number}: {exc}")
                continue
            committed = time.perf_counter()
            commit_ms.append((committed - started) * 1000)
            if kind != "note":  # notes are in the contacts table, which the followers do not follow
                with lock:
                    actions.append(("states" if kind == "done" else "claims", item.id, committed))

    threads = [threading.Thread(target=follow, args=(f,), daemon=True) for f in followers]
    threads.append(threading.Thread(target=poll, args=(new_store(),), daemon=True))
    threads += [
        threading.Thread(target=operate, args=(n, new_store()), daemon=True) for n in range(operators_n)
    ]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads[followers_n:]:
        thread.join(timeout=15)
    grace = time.perf_counter() + 5
    while time.perf_counter() < grace and len(seen_ms) < len(actions) * followers_n:
        time.sleep(0.1)
    stop_following.set()
    for thread in threads[:followers_n]:
        thread.join(timeout=15)
    expected = len(actions) * followers_n
    print(
        f"# contention: {seconds:g}s, {len(commit_ms)} operator actions, {len(page_ms)} pages of {page}, "
        f"{len(seen_ms)} of {expected} (action, follower) sightings, {len(errors)} errors",
        flush=True,
    )
    for line in errors[:5]:
        print(f"#   {line}")
    if commit_ms:
        report("contention_action_commit_p95", percentile(commit_ms, 0.95), "ms", 25)
    if seen_ms:
        report("contention_seen_by_follower_p95", percentile(seen_ms, 0.95), "ms", 1000)
    if len(seen_ms) < expected:
        print(
            f"contention_seen_by_follower_missed   {expected - len(seen_ms)} sightings not seen within 5 s of the end  OVER"
        )
    if page_ms:
        report("contention_poller_page_p50", statistics.median(page_ms), "ms", 50)
        report("contention_poller_page_p95", percentile(page_ms, 0.95), "ms", 50)
    for store in stores:
        store.close()


# -- contention with one process per actor ------------------------------------------------------------

PAGE, PAGE_EVERY, ACT_EVERY = 40, 0.5, (1.0, 3.0)
FOLLOWED = ("items", "states", "claims", "outbox")


def open_engine(url: str | None) -> Engine | None:
    """The bench's engine in a process of its own (None: the files engine of the data dir)."""
    if url is None:
        return None
    from socialtui.store.postgres import PgEngine

    return PgEngine(url, max_connections=2)


def run_timed(
    argv: list[str], env: dict[str, str], codes: tuple[int, ...] = (0,), runs: int = 5
) -> tuple[float, float] | subprocess.CompletedProcess[str]:
    """`argv` run `runs` times as a new process: (median wall ms, median CPU ms), or the completed
    process of the first run whose exit status is not one of `codes`."""
    wall, cpu = [], []
    for _ in range(runs):
        before = os.times()
        t = time.perf_counter()
        result = subprocess.run(argv, env=env, capture_output=True, text=True)
        wall.append((time.perf_counter() - t) * 1000)
        after = os.times()
        cpu.append(
            (after.children_user + after.children_system - before.children_user - before.children_system)
            * 1000
        )
        if result.returncode not in codes:
            return result
    return statistics.median(wall), statistics.median(cpu)


def load_line() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def actor_main(
    role: str, number: int, data_dir: str, url: str | None, work: Any, start: Any, stop: Any, out: Any
) -> None:
    """One actor of the contention scenario, in its own process: ready, wait for `start`, act until
    `stop`, then put its timings on `out` as (role, number, result, errors, CPU seconds while acting)."""
    errors: list[str] = []
    result: Any = None
    try:
        store = Store(Path(data_dir), engine=open_engine(url))
        if role == "follower":
            result = _follow(store, start, stop, out, number)
        elif role == "poller":
            out.put(("ready", role, number))
            _started(start)
            result = _poll(store, stop, errors)
        else:
            # The operator acts from a dashboard that has loaded the store already (its tables read
            # once, as each dashboard's follower has them): the first action is not a cold start.
            Follower(store.engine, FOLLOWED).refresh()
            out.put(("ready", role, number))
            _started(start)
            result = _operate(store, number, work, stop, errors)
        store.close()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, never lost
        errors.append(f"{role} {number}: {type(exc).__name__}: {exc}")
        out.put(("ready", role, number))
    out.put(("done", role, number, result, errors, time.process_time() - _ACTING_SINCE[0]))


_ACTING_SINCE = [0.0]
"""This actor's CPU time when the scenario started: what it spends acting is reported beside its
timings (a figure the machine's load does not change, unlike the wall clock)."""


def _started(start: Any) -> None:
    start.wait()
    _ACTING_SINCE[0] = time.process_time()


def _follow(store: Store, start: Any, stop: Any, out: Any, number: int) -> dict[str, float]:
    """A dashboard: the store loaded, then wait + refresh; the wall-clock time each new key of
    `states` and `claims` was first seen."""
    # The keys that changed, as the dashboard asks for them (`Follower.changes`): a copy of the whole
    # states table and a set of its keys per refresh, to find its new keys, grew with the store
    # (50,000 states at 200,000 items), which the TUI (`tui/data.py`) does not pay.
    follower = Follower(store.engine, FOLLOWED, track=("states", "claims"))
    follower.refresh()  # the dashboard has loaded the store already
    known = {t: set(follower.objects(t)) for t in ("states", "claims")}
    follower.changes()  # what the load brought: known already
    seen: dict[str, float] = {}
    out.put(("ready", "follower", number))
    _started(start)
    while not stop.is_set():
        if not follower.wait(1.0):
            continue
        follower.refresh()
        now = time.time()
        for table, keys in follower.changes()[0].items():
            for key in keys - known[table]:
                known[table].add(key)
                seen.setdefault(f"{table}|{key}", now)
    return seen


def _poll(store: Store, stop: Any, errors: list[str]) -> list[float]:
    page_ms = []
    n = 0
    while not stop.is_set():
        started = time.perf_counter()
        batch = []
        for _ in range(PAGE):
            author = Author("mastodon", f"new{n % 500}@crowd.example", f"n{n % 500}", f"Newcomer {n % 500}")
            remote = f"brand00-live-{n:07d}"
            post = Post("brand00", remote, author, f"Live question {n}?", NOW - timedelta(seconds=30))
            batch.append(Item(item_id("brand00", remote), "brand00", "mention", post))
            n += 1
        try:
            store.put_items(batch)
        except StoreError as exc:
            errors.append(f"poller: {exc}")
        page_ms.append((time.perf_counter() - started) * 1000)
        stop.wait(max(0.0, PAGE_EVERY - (time.perf_counter() - started)))
    return page_ms


class _Parts:
    """Where an operator's action goes, in this process (files engine): the wall time spent waiting
    for the tables' locks, in the fsyncs (the files', the directories' and the audit's), in the rest
    of the write (temporary files, renames, summaries, deltas), and the process's CPU time."""

    def __init__(self) -> None:
        self.lock = self.sync = self.write = 0.0
        self.fsync_longest = 0.0
        """The longest single fsync call (in any thread) since the last `now()`: against `sync`, tells
        the disk's wait from the wait for the fsync threads to get a core."""
        try:
            from socialtui.store import files, safefile
        except ImportError:
            return
        parts = self
        real_acquire, real_many = files.FileLock._acquire, safefile.write_atomic_many
        real_together = getattr(safefile, "_together", None)  # fsyncs in a pool of threads (before fops)

        def acquire(lock: Any, fd: int, exclusive: bool) -> None:
            t = time.perf_counter()
            try:
                real_acquire(lock, fd, exclusive)
            finally:
                parts.lock += time.perf_counter() - t

        def together(call: Any, fds: Any) -> None:
            t = time.perf_counter()
            try:
                real_together(call, fds)  # type: ignore[misc]
            finally:
                parts.sync += time.perf_counter() - t

        def many(*args: Any, **kwargs: Any) -> None:
            t = time.perf_counter()
            try:
                real_many(*args, **kwargs)
            finally:
                parts.write += time.perf_counter() - t

        real_fsync = os.fsync

        def fsync(fd: int) -> None:
            t = time.perf_counter()
            try:
                real_fsync(fd)
            finally:
                took = time.perf_counter() - t
                parts.fsync_longest = max(parts.fsync_longest, took)
                if real_together is None:  # every fsync in the writer's thread: their sum
                    parts.sync += took

        os.fsync = fsync
        files.FileLock._acquire = acquire  # type: ignore[method-assign]
        if real_together is not None:
            safefile._together = together
        safefile.write_atomic_many = many
        files.write_atomic_many = many  # type: ignore[attr-defined]

    def now(self) -> tuple[float, float, float, float, float]:
        longest, self.fsync_longest = self.fsync_longest, 0.0
        return (self.lock, self.sync, self.write, time.process_time(), longest)


def _operate(
    store: Store, number: int, mine: list[Item], stop: Any, errors: list[str]
) -> list[tuple[str, float, float, tuple[float, ...]]]:
    """An operator: every 1-3 s, done, claim or note on one of `mine`. Returns (table|key or "",
    commit ms, committed at wall clock, (kind, lock wait ms, fsync ms, other write ms, CPU ms, longest fsync call ms)) per
    action."""
    actor = Actor(f"op{number}", f"Operator {number}")
    rng = random.Random(number)
    parts = _Parts()
    done = []
    while mine and not stop.wait(rng.uniform(*ACT_EVERY)):
        item = mine.pop()
        kind = rng.choice(("done", "claim", "note"))
        before = parts.now()
        started = time.perf_counter()
        try:
            visible = act(store, kind, item, actor)
        except StoreError as exc:
            errors.append(f"operator {number}: {exc}")
            continue
        ms = (time.perf_counter() - started) * 1000
        after = parts.now()
        lock, sync, write, cpu, longest = (1000 * (a - b) for a, b in zip(after, before, strict=True))
        key = f"{'states' if kind == 'done' else 'claims'}|{item.id}" if visible else ""
        done.append((key, ms, time.time(), (kind, lock, sync, write - sync, cpu, longest)))
    return done


def _breakdown(actions: list[tuple[str, float, float, tuple[Any, ...]]]) -> None:
    """Where the operators' actions went: per kind, and for the slowest twentieth, the medians of
    the wall time and of its parts (see `_Parts`)."""
    groups: dict[str, list[tuple[float, tuple[Any, ...]]]] = {}
    for _, ms, _, parts in actions:
        groups.setdefault(parts[0], []).append((ms, parts))
    slow = sorted(actions, key=lambda a: a[1])[-max(1, len(actions) // 20) :]
    groups["slowest 5%"] = [(ms, parts) for _, ms, _, parts in slow]
    kinds = ", ".join(f"{k} {sum(1 for a in slow if a[3][0] == k)}" for k in sorted({a[3][0] for a in slow}))
    print(f"#   the slowest 5%: {kinds}; {', '.join(f'{a[1]:.0f}' for a in slow)} ms", flush=True)
    for name, rows in groups.items():
        wall = statistics.median(ms for ms, _ in rows)
        lock, sync, write, cpu, longest = (statistics.median(p[i] for _, p in rows) for i in range(1, 6))
        other = statistics.median(ms - p[1] - p[2] - p[3] for ms, p in rows)
        print(
            f"#   {name:<10} n={len(rows):<4} wall {wall:6.1f} ms = lock wait {lock:5.1f} + fsync {sync:5.1f} "
            f"+ rest of the write {write:5.1f} + the rest {other:5.1f} (medians); CPU {cpu:5.1f} ms; "
            f"longest fsync call {longest:5.1f} ms",
            flush=True,
        )


def contention_processes(
    url: str | None, data_dir: Path, seconds: float, followers_n: int = 10, operators_n: int = 10
) -> None:
    """Followers, one poller and operators, each a process with its own store (see the docstring)."""
    setup = Store(data_dir, engine=open_engine(url))
    # Neither done nor claimed: the action phase before claimed some, and a claim of an item
    # claimed already changes nothing (the claim in force is returned), so no follower could see it.
    states, claims = setup.states(), setup.claims(NOW)
    open_items = [i for i in setup.items() if i.id not in states and i.id not in claims]
    setup.close()
    random.Random(7).shuffle(open_items)
    per_operator = int(seconds / ACT_EVERY[0]) + 2
    context = multiprocessing.get_context("spawn")
    start, stop, out = context.Event(), context.Event(), context.Queue()
    stop_following = context.Event()  # later: the dashboards may still see the last actions
    roles = [("follower", n, None) for n in range(followers_n)] + [("poller", 0, None)]
    roles += [("operator", n, open_items[n::operators_n][:per_operator]) for n in range(operators_n)]
    processes = [
        context.Process(
            target=actor_main,
            args=(
                role,
                n,
                str(data_dir),
                url,
                work,
                start,
                stop_following if role == "follower" else stop,
                out,
            ),
            daemon=True,
        )
        for role, n, work in roles
    ]
    for process in processes:
        process.start()
    results: list[tuple[str, int, Any, list[str], float]] = []
    ready = 0
    while ready < len(processes):  # every dashboard loaded, every store open
        message = out.get(timeout=300)
        if message[0] == "ready":
            ready += 1
        else:
            results.append(message[1:])
    print(f"# contention start: {load_line()}", flush=True)
    start.set()
    time.sleep(seconds)
    print(f"# contention end:   {load_line()}", flush=True)
    stop.set()
    stopped = time.time()
    time.sleep(2.0)  # the last actions reach the dashboards (seen-by budget: 1 s)
    stop_following.set()
    while len(results) < len(processes):
        try:
            message = out.get(timeout=30)
        except queue_module.Empty:
            break
        if message[0] == "done":
            results.append(message[1:])
    for process in processes:
        process.join(timeout=10)
        if process.is_alive():
            process.terminate()

    errors = [e for _, _, _, errs, _ in results for e in errs]
    page_ms = [ms for role, _, result, _, _ in results if role == "poller" and result for ms in result]
    actions = [a for role, _, result, _, _ in results if role == "operator" and result for a in result]
    sightings = [result for role, _, result, _, _ in results if role == "follower" and result is not None]
    cpu = {
        role: sum(c for r, _, _, _, c in results if r == role) for role in ("follower", "poller", "operator")
    }
    commit_ms = [ms for _, ms, _, _ in actions]
    followed = [(key, at) for key, _, at, _ in actions if key]
    seen_ms = [max(0.0, (seen[key] - at) * 1000) for seen in sightings for key, at in followed if key in seen]
    expected = len(followed) * followers_n
    print(
        f"# contention (processes): {seconds:g}s, {len(commit_ms)} operator actions, {len(page_ms)} pages of {PAGE}, "
        f"{len(seen_ms)} of {expected} (action, follower) sightings, {len(results)} of {len(processes)} actors "
        f"reported, {len(errors)} errors",
        flush=True,
    )
    for line in errors[:5]:
        print(f"#   {line}")
    print(
        f"# CPU while acting: followers {cpu['follower']:.1f} s, poller {cpu['poller']:.1f} s "
        f"({cpu['poller'] * 1000 / max(len(page_ms), 1):.0f} ms a page), operators {cpu['operator']:.1f} s "
        f"({cpu['operator'] * 1000 / max(len(commit_ms), 1):.0f} ms an action), of {seconds * (os.cpu_count() or 1):.0f} s "
        "on all cores",
        flush=True,
    )
    if actions:
        print(f"# operator actions ({followers_n} followers, {operators_n} operators):", flush=True)
        _breakdown(actions)
    if commit_ms:
        report("contention_action_commit_p50", statistics.median(commit_ms), "ms", 25)
        report("contention_action_commit_p95", percentile(commit_ms, 0.95), "ms", 25)
    if seen_ms:
        report("contention_seen_by_follower_p95", percentile(seen_ms, 0.95), "ms", 1000)
    if len(seen_ms) < expected:
        print(
            f"contention_seen_by_follower_missed   {expected - len(seen_ms)} sightings not seen within 2 s of the end  OVER"
        )
        for key, at in followed:
            missed = sum(1 for seen in sightings if key not in seen)
            if missed:
                print(
                    f"#   {key}: committed {stopped - at:+.2f} s before the end, not seen by {missed} followers"
                )
    if page_ms:
        report("contention_poller_page_p50", statistics.median(page_ms), "ms", 50)
        report("contention_poller_page_p95", percentile(page_ms, 0.95), "ms", 50)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engine", choices=("files", "postgresql"), default="files")
    parser.add_argument("--url", help="postgresql: an empty database to use instead of a throw-away cluster")
    parser.add_argument(
        "--items", type=int, help="total items (half open); scales posts, contacts and handoffs"
    )
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--posts", type=int, default=2000, help="cached posts per account")
    parser.add_argument("--open-items", type=int, default=2000)
    parser.add_argument("--own-share", type=float, default=0.25)
    parser.add_argument("--contention", action="store_true", help="also run the contention scenario")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the contention scenario runs")
    parser.add_argument(
        "--threads",
        action="store_true",
        help="contention: every actor a thread of this process (the older variant)",
    )
    parser.add_argument(
        "--followers",
        type=int,
        default=10,
        help="followers in the contention scenario (0: none, to tell their load apart)",
    )
    parser.add_argument(
        "--operators",
        type=int,
        default=10,
        help="operators in the contention scenario (processes; the --threads variant keeps 10)",
    )
    args = parser.parse_args()
    contacts, handoffs = 300, 60
    if args.items:
        args.open_items = args.items // 2
        # The post cache is bounded by the retention period, not by how many items came in: it
        # grows with the items up to POSTS_CAP per account (200,000 posts for 20 accounts).
        args.posts = max(min(args.items // 2, POSTS_CAP), 1)
        contacts = max(args.items * 300 // 4000, 1)
        handoffs = max(args.items * 60 // 4000, 1)
    cluster = None
    url = args.url
    if args.engine == "postgresql" and url is None:
        sys.path.insert(0, str(ROOT / "tests"))
        from pgcluster import PgCluster

        cluster = PgCluster().start()
        url = cluster.create_database("bench")
    try:
        return run(args, url, contacts, handoffs)
    finally:
        if cluster is not None:
            cluster.stop()


def run(args: argparse.Namespace, url: str | None, contacts: int, handoffs: int) -> int:
    def engine() -> Engine | None:
        if url is None:
            return None
        from socialtui.store.postgres import PgEngine

        return PgEngine(url, max_connections=2)

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        started = time.perf_counter()
        config_path, store = build_store(
            directory,
            accounts=args.accounts,
            posts=args.posts,
            open_items=args.open_items,
            own_share=args.own_share,
            contacts=contacts,
            handoffs=handoffs,
            engine=engine,
            store_url=url,
        )
        info = store.engine.info()
        counts = ", ".join(f"{c.table} {c.rows}" for c in info.counts if c.rows)
        size = f"{info.size_bytes / 1e6:.1f} MB" if info.size_bytes is not None else "?"
        print(f"# {info.engine}: built in {time.perf_counter() - started:.1f}s, {size}: {counts}", flush=True)
        store.close()
        if url is not None:
            # Statistics and the visibility map, as autovacuum leaves them within a minute of a
            # bulk load: without statistics the planner takes the fresh tables for empty, and
            # without the visibility map an index-only scan (the open items' counts) reads the
            # table too. (The set-up's answered rows update their items' `open` flag: dead rows
            # that autovacuum would clear as well.)
            import psycopg

            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")
        try:
            config = load_config(config_path)
            status_ok = True
        except ConfigError:
            # `[team] store` is new: a branch whose config loader does not know it yet cannot run
            # `socialtui status` on the database; measure the rest.
            config_path = write_config(directory, args.accounts)
            config = load_config(config_path)
            status_ok = url is None

        # An operator action: a fresh process's store, as each dashboard has its own.
        store = Store(directory / "data", engine=engine())
        actor = Actor("alice", "Alice")
        # 200 open items, read as such (decoding every item took minutes at 200,000).
        with store.engine.read() as reader:
            rows = list(reader.scan("items", Query(unless_in="answered", newest=200)))
        open_items = [from_record(Item, doc) for _, doc in rows]
        timings = []
        for n, item in enumerate(open_items):
            t = time.perf_counter()
            act(store, ("done", "claim", "note")[n % 3], item, actor, "spam")
            timings.append((time.perf_counter() - t) * 1000)
        report("action_commit_p50", statistics.median(timings), "ms", 25)
        report("action_commit_p95", percentile(timings, 0.95), "ms", 25)

        if status_ok:
            env = {**os.environ, "SOCIALTUI_NOW": NOW.isoformat()}
            # An installed socialtui has its bytecode; a checkout run with PYTHONDONTWRITEBYTECODE
            # would compile every module on each start (about 100 ms): compile it once, as pip does.
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "socialtui")], check=True)
            for command, codes in (("status", (0,)), ("check", (0, 1, 2, 3))):
                argv = [sys.executable, "-m", "socialtui", "--config", str(config_path), command]
                timed = run_timed(argv, env, codes)
                if isinstance(timed, subprocess.CompletedProcess):
                    print(timed.stderr, file=sys.stderr)
                    return 1
                wall, cpu = timed
                # CPU time beside the wall clock: on a loaded machine the wall clock also waits for a core.
                print(f"# {command}: CPU time median {cpu:.0f} ms; {load_line()}", flush=True)
                report(f"{command}_end_to_end", wall, "ms", 300)
            # How much of that a process pays before it reads anything: the interpreter's start, our
            # modules' import, and (PostgreSQL) the driver's.
            floor = ["pass", "import socialtui.cli"]
            if url is not None:
                floor.append("import socialtui.cli, psycopg")
            parts = []
            for code in floor:
                timed = run_timed([sys.executable, "-c", code], env)
                if isinstance(timed, subprocess.CompletedProcess):
                    print(timed.stderr, file=sys.stderr)
                    return 1
                parts.append(f"`python -c '{code}'` {timed[1]:.0f} ms")
            print(f"# CPU time medians: {'; '.join(parts)}", flush=True)
        else:
            print("status: n/a (config key not on this branch)")

        snap = store.snapshot(NOW)
        queue_runs = []
        for _ in range(20 if len(snap.items) <= 20_000 else 5):
            t = time.perf_counter()
            queue = care.unanswered_queue(
                snap.items,
                snap.own_posts,
                snap.states,
                config.accounts,
                NOW,
                claims=snap.claims,
                outbox=snap.outbox,
            )
            queue_runs.append((time.perf_counter() - t) * 1000)
        print(f"# queue: {len(queue)} unanswered of {len(snap.items)} items, {len(snap.own_posts)} own posts")
        report("queue_computation", statistics.median(queue_runs), "ms", 50)
        store.close()

        if args.contention:
            if args.threads:
                contention_threads(engine, directory / "data", args.seconds, args.followers)
            else:
                contention_processes(url, directory / "data", args.seconds, args.followers, args.operators)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
