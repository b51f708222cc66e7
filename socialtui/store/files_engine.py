"""The files engine: the store as JSON files in the data dir, shared by several processes of several
Unix users of one group. The embedded default: no server, what the demo and a small team use.

Each table of `schema.TABLES` is a directory of `tables/` (see `files.TableFiles`): one file per
account for the tables that grow with the traffic (`items/brand00.json`, `own/`, `home/`,
`answered/`, `states/`, `drafts/`), one file (`_.json`) for the others; the audit is `audit.jsonl`,
appended to. A new mention rewrites its account's items file; an operator's keypress rewrites a file
of operators' work, never the megabytes of the post cache.

A transaction locks the tables it writes (`tables/TABLE.lock`), always in one order (so two never
deadlock), and saves the partition files it changed in the order the tables were named, so that a
killed writer leaves a safe prefix (the store API names the truth before what is derived from it).
The audit lines are appended once the data is saved, still under the locks: a failure there is
reported as what it is, a change saved without its audit line. Readers take no lock at all.

Beside each items partition, `.PART.json.tally`: its summary (what `status` counts of each item),
and beside the outbox its entries not sent, each made from a known version of the file (see
`files.TableFiles.summary`): derived data, never trusted for another version of the file, made again
by any reader that finds it stale.
Beside a large partition, `.PART.json.delta`: what its latest version changed from the one before
(`files.TableFiles.delta`), so that a dashboard that read the version before takes the change
without decoding the whole file; trusted only between the two versions it names.

A data dir written by an older socialtui (schema 1: one file per table group) is upgraded on first
use (`upgrade.py`)."""

from __future__ import annotations

import fcntl
import heapq
import os
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import datetime
from itertools import compress, islice, repeat
from operator import not_
from pathlib import Path
from typing import Any, TypeVar

import orjson

from socialtui.store import schema, upgrade
from socialtui.store.engine import (
    Changes,
    Conflict,
    Doc,
    Engine,
    EngineInfo,
    Group,
    Lease,
    Query,
    Reader,
    StoreError,
    StoreWriteFailed,
    TableCount,
    Take,
    Tally,
    Writer,
    _utc_iso,
    author_key,
    tallies,
)
from socialtui.store.files import (
    SCHEMA_VERSION,
    SINGLE,
    FileLock,
    PartKeys,
    TableFiles,
    file_signature,
    part_keys,
    part_of_filename,
    save_together,
    with_keys,
)
from socialtui.store.safefile import ensure_dir, open_read, open_shared, read_bytes, write_atomic
from socialtui.store.upgrade import LAYOUT_FILE, TABLES_DIR

T = TypeVar("T")

WAIT_STEP = 0.1
"""Seconds between looks at the files' signatures while waiting for a change."""
AUDIT_FILE = "audit.jsonl"
WATCH_DEBOUNCE_MS = 20
"""How long inotify events are gathered before the waiter looks (a transaction replaces several files)."""
WATCH_STEP_MS = 10
WATCH_SAFETY = 2.0
"""Seconds between looks at the signatures even when the kernel said nothing (a write from another
host over a network file system, which inotify never sees)."""


def _watch(dirs: list[str]) -> Any:
    """A kernel watch on `dirs` (not recursive), or None where `watchfiles` is missing or the system
    refuses (no inotify watches left): the caller then polls."""
    try:
        from watchfiles._rust_notify import RustNotify
    except ImportError:
        return None
    try:
        return RustNotify(dirs, False, False, 0, False, True)
    except Exception:  # "OS file watch limit reached", a directory gone meanwhile
        return None


class AuditNotWritten(StoreWriteFailed):
    """The change was saved, but its audit line could not be appended. Never "nothing was changed"."""


def _matches(spec: schema.Table, key: str, doc: Doc, q: Query, refs: set[str] | None) -> bool:
    if q.prefix is not None and not key.startswith(q.prefix):
        return False
    if q.account is not None and (spec.account is None or spec.account(doc) != q.account):
        return False
    if (q.since or q.until) and spec.at is not None:
        at = spec.at(doc)
        if (q.since and at < q.since) or (q.until and at >= q.until):
            return False
    if refs is not None and (spec.ref is None or spec.ref(doc) not in refs):
        return False
    if q.unless_field is not None and doc.get(q.unless_field[0]) in q.unless_field[1]:
        return False
    return True


def _select(
    spec: schema.Table, docs: Mapping[str, Doc], q: Query, excluded: Collection[str] | None
) -> list[tuple[str, Doc]]:
    refs = set(q.refs) if q.refs is not None else None
    if (
        q.prefix is None
        and q.account is None
        and not q.since
        and not q.until
        and refs is None
        and q.unless_field is None
    ):
        rows = [(k, d) for k, d in docs.items() if excluded is None or k not in excluded]
    else:
        rows = [
            (k, d)
            for k, d in docs.items()
            if (excluded is None or k not in excluded) and _matches(spec, k, d, q, refs)
        ]
    if q.newest is not None and spec.at is not None:
        at = spec.at
        rows.sort(key=lambda row: at(row[1]), reverse=True)
        rows = rows[: q.newest]
    return rows


ITEM_SUMMARY_FORMAT = 3
"""The shape of an items partition's summary (`_item_rows`); 1 (unmarked): a row per item."""


def _item_rows(docs: Mapping[str, Doc]) -> dict[str, Any]:
    """An items partition's summary: what `tally_open` reads of each item, by column and by group.

    {"networks": [...], "handles": [...] (the authors' `author_key`, each once), "groups": [[account,
    kind, keys, received at, authors], ...]}: per (account, kind), its items' keys, received times
    (as `tally_rows` compares them: `+00:00`) and authors (indexes into the two author columns),
    sorted by (received at, key). Parsed at a first look for every open item: the account, kind and
    author are not repeated per item, and a group's counts and earliest are read off its sorted
    columns."""
    authors: dict[tuple[str, str], int] = {}
    groups: dict[tuple[str, str], list[tuple[str, str, int]]] = {}
    for key, doc in docs.items():
        at = doc["post"]["created_at"]
        if at.endswith("Z"):
            at = at[:-1] + "+00:00"
        author = authors.setdefault(author_key(doc), len(authors))
        groups.setdefault((doc.get("account", ""), doc.get("kind", "")), []).append((at, key, author))
    out: list[list[Any]] = []
    for (account, kind), rows in groups.items():
        rows.sort()
        out.append([account, kind, [r[1] for r in rows], [r[0] for r in rows], [r[2] for r in rows]])
    return {"networks": [a[0] for a in authors], "handles": [a[1] for a in authors], "groups": out}


def _tally_summaries(
    summaries: Iterable[tuple[str, Mapping[str, Any]]],
    answered: Collection[str],
    edges: Mapping[Group, Sequence[datetime]],
    others: Collection[tuple[str, str]],
    head: int,
) -> tuple[dict[Group, Tally], list[tuple[str, str]]]:
    """`tally_rows` over the items partitions' summaries ((partition, `_item_rows`)), the items in
    `answered` left out: the tally, and the `head` earliest as (key, partition). Per group of a
    partition, its open items are picked in C (`compress`) and counted by bisection of its sorted
    times, not one by one in Python."""
    cuts = {group: [_utc_iso(e) for e in instants] for group, instants in edges.items()}
    found: dict[Group, tuple[list[str], list[int], list[tuple[str, str] | None]]] = {}
    others = set(others)
    ours = {handle for _, handle in others}
    done = answered if isinstance(answered, (set, frozenset)) else set(answered)
    kept: list[Iterator[tuple[str, str, str]]] = []
    for part, summary in summaries:
        handles = summary["handles"]
        mine = None  # the indexes of our own accounts among its authors (looked for in C first)
        if others and not ours.isdisjoint(handles):
            pairs = zip(summary["networks"], handles, strict=True)
            mine = {n for n, author in enumerate(pairs) if author in others}
        for account, kind, keys, ats, who in summary["groups"]:
            group = (account, kind)
            entry = found.get(group)
            if entry is None:
                cut = cuts.get(group)
                if cut is None:
                    continue
                entry = found[group] = (cut, [0] * (len(cut) + 1), [None] * (len(cut) + 1))
            gone: set[str] | frozenset[str] = done
            if mine:  # our own accounts' posts among them (rare): those left, picked one by one
                keep = [key not in done and author not in mine for key, author in zip(keys, who, strict=True)]
                keys = list(compress(keys, keep))
                ats = list(compress(ats, keep))
                gone = frozenset()
            elif gone.isdisjoint(keys):
                gone = frozenset()
            cut, counts, first = entry
            start = 0
            for bucket, edge in enumerate([*cut, None]):
                end = len(ats) if edge is None else bisect_left(ats, edge, start)
                if end > start:
                    # Its answered ones found in C: counted off, and the first open one is the
                    # first of them not answered (sorted).
                    some = keys if start == 0 and end == len(keys) else keys[start:end]
                    counts[bucket] += end - start - (len(gone.intersection(some)) if gone else 0)
                    at = next(compress(range(start, end), map(not_, map(gone.__contains__, some))), None)
                    if at is not None:
                        seen = first[bucket]
                        if seen is None or (ats[at], keys[at]) < seen:
                            first[bucket] = (ats[at], keys[at])
                start = end
            if head:  # each sorted: the head is merged from their fronts, its open ones picked lazily
                rows = zip(ats, keys, repeat(part))
                kept.append(compress(rows, map(not_, map(gone.__contains__, keys))) if gone else rows)
    tally = tallies(found)
    earliest = list(islice(heapq.merge(*kept), head))
    return tally, [(key, part) for _, key, part in earliest]


UNSENT = ("state", ("sent",))
"""`Query.unless_field` of the outbox's entries not sent: what a first look and `queue_counts` read of
the outbox (a sent reply has answered its item already)."""


def _unsent_rows(docs: Mapping[str, Doc]) -> list[Any]:
    """The outbox's summary: its entries not sent, [key, document] (the outbox keeps every reply
    sent within retention: at 50,000 replies a 9 MB file, parsed for a few entries in flight)."""
    field, values = UNSENT
    return [[key, doc] for key, doc in docs.items() if doc.get(field) not in values]


def _unsent_only(q: Query) -> bool:
    """Whether `q` asks for the outbox's entries not sent (of some items, `refs`, or all)."""
    return (
        q.unless_field is not None
        and q.unless_field[0] == UNSENT[0]
        and tuple(q.unless_field[1]) == UNSENT[1]
        and replace(q, unless_field=None, refs=None) == Query()
    )


def _wanted(spec: schema.Table, parts: Iterable[str], q: Query | None) -> list[str]:
    if q is None:
        return upgrade.parts_for(spec, parts)
    return upgrade.parts_for(spec, parts, q.account, q.since, q.until)


class _FilesView(Reader):
    """Reads without any lock: each partition as its file was at some moment since the call began
    (files are only ever replaced whole), or the transaction's own copy of the tables it writes."""

    def __init__(self, engine: FilesEngine, tx: Mapping[str, _TableTx] | None = None) -> None:
        self.engine = engine
        self._tx = tx or {}

    def _parts(self, table: str, q: Query | None = None) -> Iterator[Mapping[str, Doc]]:
        """The partitions of `table` that can hold documents matching `q` (its account and times)."""
        spec = schema.TABLES[table]
        if spec.log:
            raise StoreError(f"{table} is a log: read it with `log()`")
        tx = self._tx.get(table)
        if tx is not None:
            yield from tx.partitions(q)
            return
        files = self.engine.table_files(table)
        if not spec.per_account:
            yield files.load(SINGLE)
        elif not spec.per_day and q is not None and q.account is not None:
            yield files.load(q.account)  # its one file: no need to list the others
        else:
            refs = q.refs if q is not None and files.ref is not None else None
            for part in _wanted(spec, files.parts(), q):
                if refs is not None and not files.may_hold(part, refs):
                    continue
                yield files.load(part)

    def _holding(self, table: str, keys: Collection[str]) -> Iterator[Mapping[str, Doc]]:
        """The partitions of `table` that may hold one of `keys` (`TableFiles.may_hold_keys`: a
        partition read before, and not replaced since, is not read again to learn it holds none)."""
        tx = self._tx.get(table)
        if tx is not None:
            yield from (tx.docs(part) for part in tx.holding(keys))
            return
        spec = schema.TABLES[table]
        if spec.log or not spec.per_account:
            yield from self._parts(table)
            return
        files = self.engine.table_files(table)
        for part in files.holding(files.parts(), keys):
            yield files.load(part)

    def get(self, table: str, key: str) -> Doc | None:
        for docs in self._holding(table, (key,)):
            doc = docs.get(key)
            if doc is not None:
                return doc
        return None

    def get_many(self, table: str, keys: Collection[str]) -> dict[str, Doc]:
        out: dict[str, Doc] = {}
        if not keys:
            return out
        for docs in self._holding(table, keys):
            out.update((key, docs[key]) for key in keys if key in docs)
        return out

    def _unsent(self) -> list[tuple[str, Doc]] | None:
        """The outbox's entries not sent, from its summary (`_unsent_rows`), or None when it cannot
        tell (a transaction that changed the outbox already: its own copy is read)."""
        files = self.engine.table_files("outbox")
        tx = self._tx.get("outbox")
        if files.summarize is None or (tx is not None and SINGLE in tx.changed):
            return None
        # Within a transaction the lock is held: the summary is of the version the transaction
        # reads (or made from it, if the last writer died before leaving it).
        return [(key, doc) for key, doc in files.summary(SINGLE)]

    def scan(self, table: str, query: Query | None = None) -> Iterator[tuple[str, Doc]]:
        q = query or Query()
        if table == "outbox" and _unsent_only(q):
            unsent = self._unsent()
            if unsent is not None:
                if q.refs is not None:
                    ref, refs = schema.TABLES[table].ref, set(q.refs)
                    assert ref is not None
                    unsent = [(key, doc) for key, doc in unsent if ref(doc) in refs]
                return iter(unsent)
        excluded = self.keys(q.unless_in) if q.unless_in else None
        spec = schema.TABLES[table]
        rows: list[tuple[str, Doc]] = []
        if q.newest is not None and spec.per_day and q.account is not None and table not in self._tx:
            # The newest few of one account: its day files newest first, as far as they are needed
            # (a day's documents are all newer than the days before it).
            files = self.engine.table_files(table)
            for part in sorted(_wanted(spec, files.parts(), q), reverse=True):
                rows += _select(spec, files.load(part), replace(q, newest=None), excluded)
                if len(rows) >= q.newest:
                    break
        else:
            for docs in self._parts(table, q):
                rows += _select(spec, docs, replace(q, newest=None), excluded)
        if q.newest is not None and spec.at is not None:
            at = spec.at
            rows.sort(key=lambda row: at(row[1]), reverse=True)
            rows = rows[: q.newest]
        return iter(rows)

    def _keys_by_part(self, table: str) -> Iterator[Collection[str]]:
        """Each partition's keys in turn: of the transaction's copy, or of the file as it is now,
        its documents not kept (`TableFiles.keys_of`)."""
        spec = schema.TABLES[table]
        if table in self._tx or spec.log:
            yield from (docs.keys() for docs in self._parts(table))
            return
        files = self.engine.table_files(table)
        for part in _wanted(spec, files.parts(), None) if spec.per_account else [SINGLE]:
            yield files.keys_of(part)

    def keys(self, table: str, query: Query | None = None) -> set[str]:
        if query is None:
            out: set[str] = set()
            for keys in self._keys_by_part(table):
                out.update(keys)
            return out
        return {key for key, _ in self.scan(table, query)}

    def tally_open(
        self,
        edges: Mapping[Group, Sequence[datetime]],
        others: Collection[tuple[str, str]] = (),
        head: int = 0,
    ) -> tuple[dict[Group, Tally], list[tuple[str, Doc]]]:
        """The items' partitions' summaries counted (`TableFiles.summary`, kept by the writers: no
        partition parsed but those changed since their summary, and those of the head)."""
        files = self.engine.table_files("items")
        if not edges or files.summarize is None or "items" in self._tx or "answered" in self._tx:
            return super().tally_open(edges, others, head)
        answered = self.keys("answered")
        tally, earliest = _tally_summaries(
            ((part, files.summary(part)) for part in files.parts()), answered, edges, others, head
        )
        # Each partition of the head read once (the items' partitions are not kept decoded: asked
        # for each of its items, a day's file was parsed again for each).
        loaded: dict[str, Mapping[str, Doc]] = {}
        found: list[tuple[str, Doc]] = []
        for key, part in earliest:
            docs = loaded.get(part)
            if docs is None:
                docs = loaded[part] = files.load(part)
            doc = docs.get(key)
            if doc is None:  # its partition changed since its summary was read: read it all again
                return super().tally_open(edges, others, head)
            found.append((key, doc))
        return tally, found

    def newest_each(self, table: str, accounts: Iterable[str]) -> dict[str, Doc]:
        """As `Reader.newest_each`, with one listing of the table's files for all the accounts (a
        look per account listed the whole directory each time)."""
        spec = schema.TABLES[table]
        if not spec.per_day or spec.at is None or table in self._tx:
            return super().newest_each(table, accounts)
        files = self.engine.table_files(table)
        accounts = list(accounts)
        days: dict[str, list[str]] = {account: [] for account in accounts}
        for part in upgrade.parts_for(spec, files.parts()):
            owner = part.rsplit(".", 1)[0]
            if owner in days:
                days[owner].append(part)
        at = spec.at
        out: dict[str, Doc] = {}
        for account in accounts:
            # Its day files newest first, as far as needed (a day's documents are all newer than the
            # days before it); the newest of the first day that has any, as `scan(newest=1)` finds it.
            for part in sorted(days[account], reverse=True):
                rows = _select(spec, files.load(part), Query(account=account), None)
                if rows:
                    out[account] = max(rows, key=lambda row: at(row[1]))[1]
                    break
        return out

    def holds_any(self, table: str) -> bool:
        """The partitions' keys in turn, up to the first that holds a document (the files of a big
        table, sorted by time to find its newest document, took a tenth of a second of every open)."""
        return any(self._keys_by_part(table))

    def count(self, table: str) -> int:
        if schema.TABLES[table].log:
            return sum(1 for _ in self.engine.log(table))
        return sum(len(docs) for docs in self._parts(table))


class _TableTx:
    """One table inside a write transaction: the partitions it read (as cached) and changed (copies,
    so that readers in other threads keep the committed version until the save)."""

    def __init__(self, files: TableFiles, spec: schema.Table) -> None:
        self.files = files
        self.spec = spec
        self.read: dict[str, dict[str, Doc]] = {}
        self.changed: dict[str, dict[str, Doc]] = {}
        self.current: set[str] = set()
        """Partitions whose file was found unchanged since this process indexed it (`holding`): the
        lock is held, so they stay so until the save."""

    def docs(self, part: str) -> dict[str, Doc]:
        if part in self.changed:
            return self.changed[part]
        if part not in self.read:
            self.read[part] = self.files.load(part)
        return self.read[part]

    def all_parts(self) -> list[str]:
        if not self.spec.per_account:
            return [SINGLE]
        return sorted(set(self.files.parts()) | set(self.changed))

    def holding(self, keys: Collection[str]) -> list[str]:
        """The partitions that may hold one of `keys`: those this transaction read or changed that
        do, and those on disk that may (`TableFiles.holding`)."""
        out, unread = [], []
        for part in self.all_parts():
            docs = self.changed.get(part, self.read.get(part))
            if docs is None:
                unread.append(part)
            elif any(key in docs for key in keys):
                out.append(part)
        return sorted(out + self.files.holding(unread, keys, self.current))

    def partitions(self, q: Query | None = None) -> Iterator[dict[str, Doc]]:
        for part in _wanted(self.spec, self.all_parts(), q):
            yield self.docs(part)

    def part_of(self, doc: Doc) -> str:
        return upgrade.part_of(self.spec, doc)

    def mutable(self, part: str) -> dict[str, Doc]:
        if part not in self.changed:
            self.changed[part] = dict(self.docs(part))
        return self.changed[part]

    def to_save(self) -> list[tuple[TableFiles, str, dict[str, Doc], Mapping[str, Doc] | None]]:
        """The partitions whose content changed (in one order), to save, with what they replace."""
        out: list[tuple[TableFiles, str, dict[str, Doc], Mapping[str, Doc] | None]] = []
        for part in sorted(self.changed):
            docs = self.changed[part]
            if part in self.read and docs == self.read[part]:
                continue
            out.append((self.files, part, docs, self.read.get(part)))
        return out


class _FilesWriter(_FilesView, Writer):
    def __init__(self, engine: FilesEngine, tx: Mapping[str, _TableTx]) -> None:
        super().__init__(engine, tx)
        self.appended: list[Doc] = []

    def _table(self, table: str) -> _TableTx:
        tx = self._tx.get(table)
        if tx is None:
            raise StoreError(f"{table} was not named by the transaction that writes it")
        return tx

    def put(self, table: str, key: str, doc: Doc) -> None:
        self.put_many(table, {key: doc})

    def put_many(self, table: str, docs: Mapping[str, Doc]) -> None:
        if not docs:
            return
        tx = self._table(table)
        if tx.spec.unique_open_ref is not None:
            self._check_unique(tx.spec, self._open_candidates(tx), docs)
        by_part: dict[str, dict[str, Doc]] = {}
        for key, doc in docs.items():
            by_part.setdefault(tx.part_of(doc), {})[key] = doc
        if tx.spec.per_account:
            # A document whose account changed moves: it leaves the partition it was in. (Each
            # partition's keys are matched once against all the keys written: a bulk write of many
            # partitions stays linear.)
            destination = {key: part for part, batch in by_part.items() for key in batch}
            for part in tx.holding(destination.keys()):
                current = tx.docs(part)
                moved = [key for key in current.keys() & destination.keys() if destination[key] != part]
                if moved:
                    target = tx.mutable(part)
                    for key in moved:
                        del target[key]
        for part, batch in by_part.items():
            tx.mutable(part).update(batch)

    def _open_candidates(self, tx: _TableTx) -> Mapping[str, Doc]:
        """The documents among which the open ones of a `unique_open_ref` table are: the outbox's
        entries not sent (its summary: a reply's check reads the few in flight, not every reply sent
        within retention), else all of them."""
        field, values = tx.spec.unique_open_ref or ("", ())
        if tx.spec.name == "outbox" and field == UNSENT[0] and not set(values) & set(UNSENT[1]):
            rows = self._unsent()
            if rows is not None:
                return dict(rows)
        existing: dict[str, Doc] = {}
        for part_docs in tx.partitions():
            existing.update(part_docs)
        return existing

    @staticmethod
    def _check_unique(spec: schema.Table, existing: Mapping[str, Doc], docs: Mapping[str, Doc]) -> None:
        if spec.unique_open_ref is None:
            return
        field, values = spec.unique_open_ref
        ref = spec.ref
        assert ref is not None
        open_refs = {ref(d): k for k, d in existing.items() if d.get(field) in values and k not in docs}
        for key, doc in docs.items():
            if doc.get(field) not in values:
                continue
            other = open_refs.get(ref(doc))
            if other is not None and other != key:
                raise Conflict(f"{spec.name}: {ref(doc)} already has an open entry ({other})")
            open_refs[ref(doc)] = key

    def delete(self, table: str, keys: Collection[str]) -> int:
        tx = self._table(table)
        wanted = set(keys)
        removed = 0
        if not wanted:
            return 0
        for part in tx.holding(wanted):
            present = [key for key in wanted if key in tx.docs(part)]
            if present:
                target = tx.mutable(part)
                for key in present:
                    del target[key]
                removed += len(present)
                wanted.difference_update(present)
        return removed

    def append(self, table: str, doc: Doc) -> None:
        if not schema.TABLES[table].log:
            raise StoreError(f"{table} is not a log")
        self.appended.append(doc)


class FileLease(Lease):
    """An exclusive, non-blocking flock on `leases/NAME.lock`: the kernel drops it when its holder
    dies, so the next process to ask takes it over at once."""

    def __init__(self, directory: Path, name: str, ttl: float = 30.0) -> None:
        super().__init__(name=name, ttl=ttl)
        self.path = directory / f"{name}.lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = open_shared(self.path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def renew(self) -> bool:
        return self._fd is not None  # an flock lasts as long as its holder

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class FilesEngine(Engine):
    name = "files"

    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir)
        ensure_dir(self.data_dir)
        self.tables_dir = self.data_dir / TABLES_DIR
        self._tables: dict[str, TableFiles] = {}
        self.audit_path = self.data_dir / AUDIT_FILE
        self._audit_lock = FileLock(self.data_dir / "audit.lock")
        self._ready = False
        self._ready_lock = threading.Lock()

    def table_files(self, table: str, write: bool = False) -> TableFiles:
        """The files of a (non-log) table. A reader of a data dir that nothing was written to yet
        creates nothing (and sees no files); the first writer makes the layout."""
        files = self._tables.get(table)
        if files is not None:
            return files
        if not self._open(write):
            return TableFiles(self.tables_dir, table)  # nothing there: every read is empty
        # The day-partitioned tables (items, own posts, home timelines) are most of the store: a
        # process that read them once would hold them decoded for good (a dashboard keeps what it
        # needs of them, decoded its own way). Read again when asked; the small tables are kept,
        # but those that grow with the store's history too (`Table.kept`: states, answered).
        spec = schema.TABLES[table]
        files = TableFiles(self.tables_dir, table, keep=spec.kept and not spec.per_day)
        if spec.per_day:  # a dossier's reads (by ref) skip what holds none of it
            files.ref = spec.ref
        if table == "items":
            files.summarize = _item_rows
            files.summary_format = ITEM_SUMMARY_FORMAT
        elif table == "outbox":
            files.summarize = _unsent_rows
        ensure_dir(files.directory)  # and refuse a symbolic link planted in its place
        return self._tables.setdefault(table, files)

    # -- the layout, and the upgrade from schema 1 ---------------------------------------------------

    def _open(self, write: bool) -> bool:
        """Check the data dir's layout (once per engine), upgrading a data dir of schema 1 first;
        False for a reader of a data dir that holds no store yet.

        Not done in `__init__`: a store that cannot be read (too new, corrupt) says so at its use."""
        if self._ready:
            return True
        with self._ready_lock:
            if self._ready:
                return True
            if not self._layout_current():
                if not write and not any(
                    os.path.lexists(self.data_dir / f"{group}.json") for group in upgrade.OLD_GROUPS
                ):
                    return False
                upgrade.upgrade(self.data_dir)
                self._layout_current()
            ensure_dir(self.tables_dir)  # refuses a symbolic link planted in its place
            self._ready = True
            return True

    def _layout_current(self) -> bool:
        raw = read_bytes(self.data_dir / LAYOUT_FILE)
        if raw is None:
            return False
        upgrade.check_layout(self.data_dir / LAYOUT_FILE, raw)
        return True

    # -- transactions -------------------------------------------------------------------------------

    def transact(self, tables: Sequence[str], body: Callable[[Writer], T]) -> T:
        order: list[str] = []
        logged = False
        for name in tables:
            spec = schema.TABLES[name]
            if spec.log:
                logged = True
            elif name not in order:
                order.append(name)
        files = {name: self.table_files(name, write=True) for name in order}
        with ExitStack() as locks:
            for name in sorted(order):  # one order for every transaction: no deadlock
                locks.enter_context(files[name].lock.hold(exclusive=True))
            tx = {name: _TableTx(files[name], schema.TABLES[name]) for name in order}
            writer = _FilesWriter(self, tx)
            result = body(writer)
            if writer.appended and not logged:
                raise StoreError("the transaction appends to the audit without naming it")
            # In the order named: a killed writer leaves a safe prefix. The audit lines follow once
            # the files are in place, and are made durable with them.
            audit = (lambda: self._append_log(writer.appended, sync=False)) if writer.appended else None
            save_together([change for name in order for change in tx[name].to_save()], then=audit)
        return result

    def read(self) -> Any:
        @contextmanager
        def view() -> Iterator[Reader]:
            yield _FilesView(self)

        return view()

    # -- change detection ---------------------------------------------------------------------------

    def _audit_signature(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.audit_path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size)

    def changes(self, token: Any, tables: Collection[str]) -> tuple[Any, Changes]:
        """The token: per table, its directory's signature and, per partition, the file's signature
        and the keys it held (so that a key gone from a changed partition, or a partition gone, is
        reported deleted)."""
        changed: Changes = {}

        def take(table: str, docs: Mapping[str, Doc | None], _whole: bool) -> None:
            changed.setdefault(table, {}).update(docs)

        return self.follow(token, tables, take), changed

    def follow(self, token: Any, tables: Collection[str], take: Take) -> Any:
        """`changes` a partition at a time: each changed partition's documents are handed over as
        soon as it is read, then let go (a dashboard's first reading decodes every item and post;
        had they all been parsed first, the peak would stay as the process's size). A document
        that moved partitions is handed over present, never gone.

        Nothing read here is kept decoded (`TableFiles.load(keep=False)`: the follower has its own
        objects); the keys of each partition, which the token holds to tell what went, serve this
        process's lookups by key as well (`TableFiles.note_keys`)."""
        old = token or {}
        new: dict[str, Any] = {}
        for table in sorted(set(tables)):
            if schema.TABLES[table].log:
                offset = self._audit_offset(old.get(table))
                events, end = self._read_log_from(offset)
                st = self._audit_signature()
                new[table] = (st[0] if st else None, end)
                take(table, {f"{offset}+{i}": doc for i, doc in enumerate(events)}, False)
                continue
            files = self.table_files(table)
            previous_token: tuple[Any, dict[str, tuple[Any, PartKeys]]] = old.get(table) or (None, {})
            before: dict[str, tuple[Any, PartKeys]] = previous_token[1]
            directory = files.directory_signature()
            if (
                token is not None
                and directory is not None
                and directory[2]
                and directory == previous_token[0]
            ):
                new[table] = previous_token  # no file of the table was replaced since
                continue
            now = files.signatures()
            parts: dict[str, tuple[Any, PartKeys]] = {}
            gone: set[str] = set()
            present: set[str] = set()
            for part, (_, keys) in before.items():
                if part not in now:
                    gone.update(keys)
                    files.forget(part)  # its file went (retention): nothing known of it is of use
            for part, signature in now.items():
                previous = before.get(part)
                if previous is not None and previous[0] == signature:
                    parts[part] = previous
                    files.note_keys(part, previous)
                    continue
                delta = files.delta(part, previous[0], signature) if previous is not None else None
                if previous is not None and delta is not None:
                    put, removed = delta  # what changed since the version we read: no need to read it all
                    parts[part] = (signature, with_keys(previous[1], put, removed))
                    files.note_keys(part, parts[part])
                    present.update(put)
                    gone.update(removed)
                    if put:
                        take(table, put, False)
                    continue
                docs = files.load(part, keep=False)
                parts[part] = (signature, part_keys(docs))
                files.note_keys(part, parts[part])
                present.update(docs)
                if previous is not None:
                    gone.update(key for key in previous[1] if key not in docs)
                if docs:
                    take(table, docs, False)
            new[table] = (directory, parts)
            if token is None and not present and not gone:
                take(table, {}, False)  # the first look at an empty table: it is there, empty
            elif gone - present:
                take(table, dict.fromkeys(gone - present), False)
        return new

    def _audit_offset(self, previous: Any) -> int:
        if previous is None:
            return 0
        inode, offset = previous
        st = self._audit_signature()
        if st is None or st[0] != inode or st[1] < offset:
            return 0  # pruned (rewritten) since: read it again
        return int(offset)

    def wait(self, token: Any, tables: Collection[str], timeout: float) -> bool:
        """Woken by the kernel (inotify, through `watchfiles`) when a file in the tables' directories
        or the audit is replaced or appended to; without it (not installed, no watches left), looks
        at the files' signatures every `WAIT_STEP` seconds. Either way the answer comes from the
        signatures (no file is opened): a wake-up for a lock file or a temporary file is no change."""
        old = token or {}
        names = sorted(set(tables))

        def moved() -> bool:
            for table in names:
                before = old.get(table)
                if before is None:
                    return True
                if schema.TABLES[table].log:
                    st = self._audit_signature()
                    if st is None or st != before:
                        return True
                    continue
                files = self.table_files(table)
                directory = files.directory_signature()
                if directory is not None and directory[2] and directory == before[0]:
                    continue  # no file of the table was replaced since
                now, parts = files.signatures(), before[1]
                if now.keys() != parts.keys() or any(now[p] != parts[p][0] for p in now):
                    return True
            return False

        directories = {str(self.tables_dir / t): t for t in names if not schema.TABLES[t].log}
        audit = str(self.audit_path)

        def replaced(events: Any) -> bool | None:
            """What the kernel named: True if a file of `tables` is not as the token has it, False
            if none is (a writer's temporary file, a summary, a delta, a version already seen),
            None if it cannot tell (a directory made or gone, a stranger): then every file is
            looked at. A wake-up for each of the files a transaction writes beside its partitions,
            each followed by a look at every partition of the table, was most of a dashboard's
            work while a poller wrote."""
            if not isinstance(events, set):
                return None  # a timeout (the safety look) or a signal
            for _, path in events:
                if not isinstance(path, str):
                    return None
                head, name = os.path.split(path)
                if path == audit:
                    before = old.get(next((t for t in names if schema.TABLES[t].log), ""))
                    if before is None or self._audit_signature() != before:
                        return True
                    continue
                table = directories.get(head)
                if table is None:
                    if name.startswith(".") and head == str(self.data_dir):
                        continue  # the audit's lock, a writer's temporary file
                    return None
                if name.startswith("."):
                    continue  # a temporary file, a summary or a delta: derived, or not in place yet
                part = part_of_filename(name)
                if part is None:
                    return None
                known = old[table][1].get(part)
                if file_signature(path) != (known[0] if known is not None else None):
                    return True
            return False

        deadline = time.monotonic() + timeout
        # Watching starts before the first look, so a change between the two is never missed.
        watch = _watch(self._watched_dirs(names))
        try:
            if moved():
                return True
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                if watch is None:
                    time.sleep(min(WAIT_STEP, remaining))
                    if moved():
                        return True
                    continue
                try:
                    events = watch.watch(
                        WATCH_DEBOUNCE_MS, WATCH_STEP_MS, int(min(remaining, WATCH_SAFETY) * 1000) + 1, None
                    )
                except Exception:  # the watcher broke (the directory went): the signatures still work
                    watch.close()
                    watch = None
                    events = None
                if events == "timeout" and time.monotonic() >= deadline:
                    return False  # the kernel said nothing until the end: no need for a look
                decided = replaced(events)
                if decided or (decided is None and moved()):
                    return True
        finally:
            if watch is not None:
                watch.close()

    def _watched_dirs(self, tables: Collection[str]) -> list[str]:
        """What to watch for `tables`: their directories, and the data dir itself for the audit (or
        while a table's directory does not exist yet)."""
        dirs = {str(self.data_dir)} if any(schema.TABLES[t].log for t in tables) else set()
        for table in tables:
            if schema.TABLES[table].log:
                continue
            directory = self.tables_dir / table
            dirs.add(str(directory) if directory.is_dir() else str(self.data_dir))
        return sorted(dirs)

    # -- leases, the log, info ----------------------------------------------------------------------

    def lease(self, name: str, ttl: float = 30.0) -> Lease:
        directory = self.data_dir / "leases"
        ensure_dir(directory)
        return FileLease(directory, name, ttl)

    def _append_log(self, docs: list[Doc], sync: bool = True) -> Callable[[], None] | None:
        """Append the lines (a single write: appends never interleave). With `sync=False`, returns
        the fsync to run (the caller runs it with its own); raises AuditNotWritten either way."""
        payload = b"".join(orjson.dumps(doc) + b"\n" for doc in docs)
        try:
            with self._audit_lock.hold(exclusive=True):
                fd = open_shared(self.audit_path, os.O_WRONLY | os.O_APPEND)
                try:
                    os.write(fd, payload)
                except BaseException:
                    os.close(fd)
                    raise
        except OSError as exc:
            raise self._audit_failed(exc) from exc

        def finish() -> None:
            try:
                os.fsync(fd)
            except OSError as exc:
                raise self._audit_failed(exc) from exc
            finally:
                os.close(fd)

        if sync:
            finish()
            return None
        return finish

    def _audit_failed(self, exc: OSError) -> AuditNotWritten:
        return AuditNotWritten(
            f"the change was saved, but its audit line could not be appended to "
            f"{self.audit_path}: {exc.strerror}"
        )

    def _read_log_from(self, offset: int) -> tuple[list[Doc], int]:
        fd = open_read(self.audit_path)
        if fd is None:
            return [], 0
        fh = os.fdopen(fd, "rb")
        docs: list[Doc] = []
        with fh:
            fh.seek(offset)
            end = offset
            for line in fh:
                if not line.endswith(b"\n"):
                    break  # cut short by a killed writer (or being written): read it next time
                end += len(line)
                try:
                    doc = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(doc, dict):
                    docs.append(doc)
        return docs, end

    def log(self, table: str, since: datetime | None = None) -> Iterator[Doc]:
        docs, _ = self._read_log_from(0)
        cutoff = since.isoformat() if since else None
        spec = schema.TABLES[table]
        for doc in docs:
            if cutoff is None or (spec.at is not None and spec.at(doc) >= cutoff):
                yield doc

    def prune_log(self, table: str, before: datetime) -> int:
        cutoff = before.isoformat()
        spec = schema.TABLES[table]
        assert spec.at is not None
        with self._audit_lock.hold(exclusive=True):
            docs, _ = self._read_log_from(0)
            keep = [doc for doc in docs if spec.at(doc) >= cutoff]
            if len(keep) == len(docs):
                return 0
            write_atomic(self.audit_path, b"".join(orjson.dumps(doc) + b"\n" for doc in keep))
        return len(docs) - len(keep)

    def info(self) -> EngineInfo:
        counts = []
        problems = []
        size = 0
        reader = _FilesView(self)
        for name in schema.TABLES:
            try:
                counts.append(TableCount(name, reader.count(name)))
            except StoreError as exc:
                problems.append(str(exc))
        paths = [self.audit_path]
        if self.tables_dir.is_dir():
            paths += [p for p in self.tables_dir.glob("*/*.json")]
        for path in paths:
            try:
                size += path.lstat().st_size
            except FileNotFoundError:
                pass
        return EngineInfo(
            engine=self.name,
            location=str(self.data_dir),
            schema_version=SCHEMA_VERSION,
            counts=tuple(counts),
            size_bytes=size,
            problems=tuple(problems),
        )


__all__ = ["FilesEngine", "FileLease", "AuditNotWritten"]
