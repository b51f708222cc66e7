"""The files engine: the store as TinyDB files in the data dir, shared by several processes of several
Unix users of one group. The embedded default: no server, what the demo and a small team use.

Each table group of `schema.TABLES` is one file (`ops.json`, `items.json`, `posts.json`, `home.json`,
`answered.json`, `sync.json`; see `files.StoreFile` for its lock and atomic replacement); the audit is
`audit.jsonl`, appended to. An operator's keypress rewrites `ops.json` (and `answered.json` when it
answers an item), never the megabytes of the post cache.

A transaction locks the files of the tables it writes, always in one order (so two never deadlock),
and saves them in the order the tables were named, so that a killed writer leaves a safe prefix (the
store API names the truth before what is derived from it). The audit lines are appended once the data
is saved, still under the locks: a failure there is reported as what it is, a change saved without
its audit line.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson

from socialtui.store import schema
from socialtui.store.engine import (
    Changes,
    Conflict,
    Doc,
    Engine,
    EngineInfo,
    Lease,
    Query,
    Reader,
    StoreError,
    StoreWriteFailed,
    TableCount,
    Writer,
)
from socialtui.store.files import SCHEMA_VERSION, FileLock, StoreFile
from socialtui.store.safefile import ensure_dir, open_read, open_shared, read_bytes, write_atomic

T = TypeVar("T")

WAIT_STEP = 0.1
"""Seconds between looks at the files' signatures while waiting for a change."""
AUDIT_FILE = "audit.jsonl"


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
    return True


def _select(
    spec: schema.Table, docs: Mapping[str, Doc], q: Query, excluded: Collection[str] | None
) -> list[tuple[str, Doc]]:
    refs = set(q.refs) if q.refs is not None else None
    if q.prefix is None and q.account is None and not q.since and not q.until and refs is None:
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


class _FilesView(Reader):
    """Reads: each table from its file under a shared lock (or the transaction's own copy)."""

    def __init__(self, engine: FilesEngine, dbs: Mapping[str, Any] | None = None) -> None:
        self.engine = engine
        self._dbs = dbs or {}

    @contextmanager
    def _docs(self, table: str) -> Iterator[Mapping[str, Doc]]:
        spec = schema.TABLES[table]
        if spec.log:
            raise StoreError(f"{table} is a log: read it with `log()`")
        db = self._dbs.get(spec.group)
        if db is not None:
            yield db.table(table).raw()
            return
        with self.engine.files[spec.group].read() as db:
            yield db.table(table).raw()

    def get(self, table: str, key: str) -> Doc | None:
        with self._docs(table) as docs:
            return docs.get(key)

    def get_many(self, table: str, keys: Collection[str]) -> dict[str, Doc]:
        with self._docs(table) as docs:
            return {key: docs[key] for key in keys if key in docs}

    def scan(self, table: str, query: Query | None = None) -> Iterator[tuple[str, Doc]]:
        q = query or Query()
        excluded = self.keys(q.unless_in) if q.unless_in else None
        with self._docs(table) as docs:
            rows = _select(schema.TABLES[table], docs, q, excluded)
        return iter(rows)

    def keys(self, table: str, query: Query | None = None) -> set[str]:
        if query is None:
            with self._docs(table) as docs:
                return set(docs)
        return {key for key, _ in self.scan(table, query)}

    def count(self, table: str) -> int:
        if schema.TABLES[table].log:
            return sum(1 for _ in self.engine.log(table))
        with self._docs(table) as docs:
            return len(docs)


class _FilesWriter(_FilesView, Writer):
    def __init__(self, engine: FilesEngine, dbs: Mapping[str, Any]) -> None:
        super().__init__(engine, dbs)
        self.appended: list[Doc] = []

    def _table(self, table: str) -> Any:
        spec = schema.TABLES[table]
        db = self._dbs.get(spec.group)
        if db is None:
            raise StoreError(f"{table} was not named by the transaction that writes it")
        return db.table(table)

    def put(self, table: str, key: str, doc: Doc) -> None:
        self.put_many(table, {key: doc})

    def put_many(self, table: str, docs: Mapping[str, Doc]) -> None:
        if not docs:
            return
        spec = schema.TABLES[table]
        target = self._table(table)
        if spec.unique_open_ref is not None:
            self._check_unique(spec, target.raw(), docs)
        target.put_many(dict(docs))

    @staticmethod
    def _check_unique(spec: schema.Table, existing: Mapping[str, Doc], docs: Mapping[str, Doc]) -> None:
        field, values = spec.unique_open_ref  # type: ignore[misc]
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
        return int(self._table(table).remove_keys(list(keys)))

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
        self.files = {
            group: StoreFile(self.data_dir, group)
            for group, tables in schema.GROUPS.items()
            if not schema.TABLES[tables[0]].log
        }
        self.audit_path = self.data_dir / AUDIT_FILE
        self._audit_lock = FileLock(self.data_dir / "audit.lock")
        self._upgrade_post_keys()

    def _upgrade_post_keys(self) -> None:
        """Posts were keyed `ACCOUNT\\0ID` before the contract (PostgreSQL text holds no NUL). Looked
        for in the bytes, so that opening a store decodes nothing that needs no upgrade."""
        for group, table in (("posts", "own"), ("home", "home")):
            file = self.files[group]
            raw = read_bytes(file.path)
            if raw is None or b'\\u0000' not in raw:
                continue
            with file.write() as db:
                docs = db.table(table).raw()
                old = [key for key in docs if "\0" in key]
                moved = {schema.post_key(*key.split("\0", 1)): docs[key] for key in old}
                db.table(table).remove_keys(old)
                db.table(table).put_many(moved)

    # -- transactions -------------------------------------------------------------------------------

    def transact(self, tables: Sequence[str], body: Callable[[Writer], T]) -> T:
        order: list[str] = []
        logged = False
        for name in tables:
            spec = schema.TABLES[name]
            if spec.log:
                logged = True
            elif spec.group not in order:
                order.append(spec.group)
        with ExitStack() as locks:
            for group in sorted(order):  # one order for every transaction: no deadlock
                locks.enter_context(self.files[group].lock.hold(exclusive=True))
            with ExitStack() as saves:
                dbs: dict[str, Any] = {}
                # Entered in reverse, so that they are saved (on exit) in the order they were named.
                for group in reversed(order):
                    dbs[group] = saves.enter_context(self.files[group].write())
                writer = _FilesWriter(self, dbs)
                result = body(writer)
                if writer.appended and not logged:
                    raise StoreError("the transaction appends to the audit without naming it")
            if writer.appended:
                self._append_log(writer.appended)
        return result

    def read(self) -> Any:
        @contextmanager
        def view() -> Iterator[Reader]:
            yield _FilesView(self)

        return view()

    # -- change detection ---------------------------------------------------------------------------

    def _signatures(self, groups: Collection[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for group in groups:
            if group == "audit":
                try:
                    st = os.stat(self.audit_path)
                    out[group] = (st.st_ino, st.st_size)
                except FileNotFoundError:
                    out[group] = None
            else:
                out[group] = self.files[group].signature()
        return out

    def changes(self, token: Any, tables: Collection[str]) -> tuple[Any, Changes]:
        old = token or {}
        new: dict[str, Any] = {}
        changed: Changes = {}
        groups = {schema.TABLES[t].group for t in tables}
        for group in sorted(groups):
            if group == "audit":
                offset = self._audit_offset(old.get(group))
                events, end = self._read_log_from(offset)
                st = self._signatures(["audit"])["audit"]
                new[group] = (st[0] if st else None, end)
                if "audit" in tables:
                    changed["audit"] = {f"{offset}+{i}": doc for i, doc in enumerate(events)}
                continue
            signature = self.files[group].signature()
            before = old.get(group)
            if before is not None and before[0] == signature and signature is not None:
                new[group] = before
                continue
            keysets: dict[str, frozenset[str]] = {}
            with self.files[group].read() as db:
                for table in schema.GROUPS[group]:
                    docs = db.table(table).raw()
                    keysets[table] = frozenset(docs)
                    if table not in tables:
                        continue
                    out: dict[str, Doc | None] = dict(docs)
                    if before is not None:
                        for gone in before[1].get(table, frozenset()) - keysets[table]:
                            out[gone] = None
                    changed[table] = out
            new[group] = (signature, keysets)
        return new, changed

    def _audit_offset(self, previous: Any) -> int:
        if previous is None:
            return 0
        inode, offset = previous
        st = self._signatures(["audit"])["audit"]
        if st is None or st[0] != inode or st[1] < offset:
            return 0  # pruned (rewritten) since: read it again
        return int(offset)

    def wait(self, token: Any, tables: Collection[str], timeout: float) -> bool:

        groups = sorted({schema.TABLES[t].group for t in tables})
        old = token or {}

        def moved() -> bool:
            now = self._signatures(groups)
            for group in groups:
                before = old.get(group)
                if before is None:
                    return True
                if group == "audit":
                    if now[group] is None or (now[group][0], now[group][1]) != before:
                        return True
                elif now[group] != before[0]:
                    return True
            return False

        deadline = time.monotonic() + timeout
        while True:
            if moved():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(WAIT_STEP, remaining))

    # -- leases, the log, info ----------------------------------------------------------------------

    def lease(self, name: str, ttl: float = 30.0) -> Lease:
        directory = self.data_dir / "leases"
        ensure_dir(directory)
        return FileLease(directory, name, ttl)

    def _append_log(self, docs: list[Doc]) -> None:
        payload = b"".join(orjson.dumps(doc) + b"\n" for doc in docs)
        with self._audit_lock.hold(exclusive=True):
            try:
                fd = open_shared(self.audit_path, os.O_WRONLY | os.O_APPEND)
                try:
                    os.write(fd, payload)
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError as exc:
                raise AuditNotWritten(
                    f"the change was saved, but its audit line could not be appended to "
                    f"{self.audit_path}: {exc.strerror}"
                ) from exc

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
        for path in [*(f.path for f in self.files.values()), self.audit_path]:
            try:
                size += path.stat().st_size
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
