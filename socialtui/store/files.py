"""The store's files, shared by several processes of several Unix users.

The store (schema 2) keeps each table in its own directory, `tables/TABLE/`, one JSON file per
partition: per account (`items/brand00.json`) for the tables that grow with the accounts' traffic,
a single `_.json` for the others (`TableFiles`). A writer holds an OS lock on a side file
(`tables/TABLE.lock`: the data files are replaced on every write, so they cannot carry the lock)
around its read-modify-write, and replaces only the partition files it changed, each atomically after
fsync. A reader takes no lock: a file is only ever replaced whole, so whatever it opens is one
committed version. A process keeps the partitions it decoded (of the small tables, and not those a
follower read: it keeps them its own way) and decodes a file again only when its identity changed
(`signature`: device, inode, size and a modification time every writer makes strictly greater than
the previous version's, so a reused inode cannot pass for the old file).

`StoreFile` is the layout of schema 1 (one TinyDB file per table group, `ops.json`, `items.json`, ...):
read once to upgrade a data dir written by an older socialtui.
"""

from __future__ import annotations

import fcntl
import os
import re
import threading
import time
from array import array
from bisect import bisect_left, insort
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import orjson
from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Table

SCHEMA_VERSION = 2
"""The store's layout: 1 was one file per table group; 2 is `tables/TABLE/PARTITION.json`."""
GROUP_FILE_VERSION = 1
"""What `StoreFile` (the layout of schema 1) writes and understands."""
META_TABLE = "_meta"
LOCK_TIMEOUT = 10.0


from socialtui.store.engine import (  # noqa: E402  (the errors live with the engine contract)
    StoreBusy,
    StoreCorrupt,
    StoreError,
    StoreTooNew,
    StoreWriteFailed,
)
from socialtui.store.safefile import (  # noqa: E402, F401  (ensure_dir, open_shared: callers import them from here)
    DIR_MODE,
    FILE_MODE,
    ensure_dir,
    open_read,
    open_shared,
    read_bytes,
    read_file,
    write_atomic,
    write_atomic_many,
)


class FileLock:
    """An flock on a side file, shared or exclusive, re-entrant within a thread.

    flock locks belong to an open file description, so threads of one process would not exclude each
    other through it: a thread lock serialises them first.
    """

    def __init__(self, path: Path, timeout: float = LOCK_TIMEOUT) -> None:
        self.path = path
        self.timeout = timeout
        self._thread_lock = threading.RLock()
        self._local = threading.local()
        self._fd: int | None = None

    @contextmanager
    def hold(self, exclusive: bool) -> Iterator[int]:
        """Hold the lock; yields the lock file's descriptor (valid while held)."""
        depth = getattr(self._local, "depth", 0)
        if depth:
            if exclusive and not self._local.exclusive:
                raise StoreError(f"{self.path.name}: a write inside a read transaction")
            self._local.depth = depth + 1
            try:
                yield self._local.fd
            finally:
                self._local.depth -= 1
            return
        if not self._thread_lock.acquire(timeout=self.timeout):
            raise StoreBusy(f"{self.path.name} is busy in this process")
        try:
            fd = open_shared(self.path, os.O_RDWR)
            try:
                self._acquire(fd, exclusive)
                self._local.depth = 1
                self._local.exclusive = exclusive
                self._local.fd = fd
                try:
                    yield fd
                finally:
                    self._local.depth = 0
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        finally:
            self._thread_lock.release()

    def _acquire(self, fd: int, exclusive: bool) -> None:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        deadline = time.monotonic() + self.timeout
        delay = 0.001
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreBusy(
                        f"{self.path.with_suffix('')} has been locked by another process for "
                        f"{self.timeout:.0f}s; try again"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.005)


class KeyedTable(Table):
    """A TinyDB table whose documents are keyed by our own string ids (item ids, account ids...)."""

    document_id_class = str  # type: ignore[assignment]  # TinyDB types document ids as int; ours are strings

    # TinyDB types its documents as keyed by int ids; here `document_id_class` makes them our strings.
    # These two are the only places that say so to the type checker.
    def _documents(self) -> dict[str, dict[str, Any]]:
        return cast("dict[str, dict[str, Any]]", self._read_table())

    def _update(self, updater: Callable[[dict[str, dict[str, Any]]], None]) -> None:
        self._update_table(cast("Callable[[dict[int, Mapping[Any, Any]]], None]", updater))

    def raw(self) -> Mapping[str, dict[str, Any]]:
        """The documents by key, without copying: read-only for the caller."""
        return self._documents()

    def get_key(self, key: str) -> dict[str, Any] | None:
        return self._documents().get(key)

    def put(self, key: str, doc: dict[str, Any]) -> None:
        self.put_many({key: doc})

    def put_many(self, docs: Mapping[str, dict[str, Any]]) -> None:
        if not docs:
            return

        def updater(table: dict[str, dict[str, Any]]) -> None:
            table.update(docs)

        self._update(updater)

    def remove_keys(self, keys: Iterator[str] | list[str] | set[str]) -> int:
        keys = list(keys)
        removed = 0

        def updater(table: dict[str, dict[str, Any]]) -> None:
            nonlocal removed
            for key in keys:
                if table.pop(key, None) is not None:
                    removed += 1

        if keys:
            self._update(updater)
        return removed

    def remove_where(self, predicate: Callable[[dict[str, Any]], bool]) -> int:
        removed = 0

        def updater(table: dict[str, dict[str, Any]]) -> None:
            nonlocal removed
            for key in [k for k, doc in table.items() if predicate(doc)]:
                del table[key]
                removed += 1

        self._update(updater)
        return removed


class _TxStorage(Storage):
    """TinyDB storage that reads and writes the transaction's in-memory copy of the file."""

    def __init__(self, tx: _Transaction) -> None:
        self._tx = tx

    def read(self) -> dict[str, Any]:
        return self._tx.data

    def write(self, data: dict[str, Any]) -> None:
        if not self._tx.writable:
            raise StoreError("a write inside a read transaction")
        self._tx.data = data
        self._tx.dirty = True


class _Transaction:
    def __init__(self, data: dict[str, Any], writable: bool) -> None:
        self.data = data
        self.writable = writable
        self.dirty = False


class _DB(TinyDB):
    table_class = KeyedTable


class StoreFile:
    """One TinyDB file of the layout of schema 1 (`ops.json`, `items.json`, ...): locked, atomic,
    reloaded on change. Only the upgrade (and tests that build an old data dir) still use it."""

    def __init__(self, directory: Path, name: str) -> None:
        self.path = directory / f"{name}.json"
        self.name = name
        self.lock = FileLock(directory / f"{name}.lock")
        self._data: dict[str, Any] | None = None
        self._signature: tuple[int, int, int, bytes] | None = None
        self._local = threading.local()

    # -- public -------------------------------------------------------------------------------------

    @contextmanager
    def read(self) -> Iterator[TinyDB]:
        """A shared-lock view of the file, current as of now. Treat what it returns as read-only."""
        if not os.path.lexists(self.path) and getattr(self._local, "tx", None) is None:
            # Nothing written yet: nothing to lock (and no lock file made by a mere reader).
            yield self._db(_Transaction({}, writable=False))
            return
        with self.lock.hold(exclusive=False) as lock_fd:
            data = self._load(lock_fd)
            yield self._db(_Transaction(data, writable=False))

    @contextmanager
    def write(self) -> Iterator[TinyDB]:
        """An exclusive transaction: every change inside is saved at once, atomically, or not at all."""
        with self.lock.hold(exclusive=True) as lock_fd:
            outer = getattr(self._local, "tx", None)
            if outer is not None:  # nested in a write of our own: one transaction
                yield self._db(outer)
                return
            tx = _Transaction(self._load(lock_fd), writable=True)
            self._local.tx = tx
            try:
                yield self._db(tx)
            except BaseException:
                self._forget()  # TinyDB changed our cached copy in place: read it again next time
                raise
            finally:
                self._local.tx = None
            if tx.dirty:
                self._save(tx.data, lock_fd)

    def signature(self) -> tuple[int, int, int, bytes] | None:
        """What changes whenever a writer replaces the file (inode, time, size and the generation
        token), read without the lock: a caller that caches what it decoded from the file compares
        this to know when to read again. A change racing this call is seen at the next one."""
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return None
        try:
            token = (read_bytes(self.lock.path) or b"")[:16]
        except (OSError, StoreError):
            token = b""  # the next transaction reports what is wrong with the lock file
        return (st.st_ino, st.st_mtime_ns, st.st_size, token)

    # -- internals ----------------------------------------------------------------------------------

    def _db(self, tx: _Transaction) -> TinyDB:
        db = _DB(storage=_TxStorage, tx=tx)
        return db

    def _forget(self) -> None:
        self._data = None
        self._signature = None

    def _stat(self, lock_fd: int) -> tuple[int, int, int, bytes] | None:
        """What tells us whether another process replaced the file since we read it: its inode, time
        and size, and the random generation token every writer leaves in the lock file (inode numbers
        are reused and mtime ticks are coarse, so the stat alone could miss a change)."""
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size, os.pread(lock_fd, 16, 0))

    def _load(self, lock_fd: int) -> dict[str, Any]:
        signature = self._stat(lock_fd)
        if signature is None:
            self._data, self._signature = {}, None
            return self._data
        if self._data is not None and signature == self._signature:
            return self._data
        try:
            raw = read_bytes(self.path) or b""
        except PermissionError as exc:
            raise StoreError(
                f"cannot read {self.path}: permission denied (is your login in the operators' group?)"
            ) from exc
        try:
            data = orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError as exc:
            raise StoreCorrupt(
                f"{self.path} is not valid JSON ({exc}); socialtui will not overwrite it. "
                "Restore it from a backup or move it aside."
            ) from exc
        if not isinstance(data, dict):
            raise StoreCorrupt(f"{self.path} does not hold a socialtui store; it will not be overwritten")
        self._check_version(data)
        self._data, self._signature = data, signature
        return data

    def _check_version(self, data: dict[str, Any]) -> None:
        meta = data.get(META_TABLE, {}).get("schema", {})
        version = meta.get("version", GROUP_FILE_VERSION)
        if not isinstance(version, int):
            raise StoreCorrupt(f"{self.path}: schema version {version!r} is not a number")
        if version > GROUP_FILE_VERSION:
            raise StoreTooNew(
                f"{self.path} was written by a newer socialtui (store schema {version}; this one "
                f"understands up to {GROUP_FILE_VERSION}). Upgrade socialtui; the file was not changed."
            )

    def _save(self, data: dict[str, Any], lock_fd: int) -> None:
        data.setdefault(META_TABLE, {})["schema"] = {"version": GROUP_FILE_VERSION, "file": self.name}
        payload = orjson.dumps(data)
        try:
            write_atomic(self.path, payload, FILE_MODE)
            os.pwrite(lock_fd, os.urandom(16), 0)  # the generation token: see _stat
        except StoreWriteFailed:
            self._forget()
            raise
        except OSError as exc:
            self._forget()
            raise StoreWriteFailed(
                f"saved {self.path}, but could not mark the change in {self.lock.path}: {exc.strerror}"
            ) from exc
        self._data = data
        self._signature = self._stat(lock_fd)


# -- schema 2: one directory per table, one file per partition ------------------------------------

Signature = tuple[int, int, int, int]
"""(device, inode, modification time in ns, size) of one version of a partition file."""

DIR_SETTLED_NS = 100_000_000
"""A directory time this much older than the clock is settled: file times come from a coarse clock
(a tick of up to 10 ms), so a change after it gets a later time."""

SINGLE = ""
"""The partition of a table that is not split (and of a document without an account)."""
_SINGLE_FILE = "_"
_PLAIN_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*(?:\.\d{4}-\d{2}-\d{2})?")  # the config's account ids, a day


def part_filename(part: str) -> str:
    """The file of a partition: the account id as it is (config ids are safe file names), anything
    else hex-encoded behind `~` (a file name no account id can take)."""
    if part == SINGLE:
        return f"{_SINGLE_FILE}.json"
    if _PLAIN_NAME.fullmatch(part):
        return f"{part}.json"
    return f"~{part.encode().hex()}.json"


def part_of_filename(filename: str) -> str | None:
    """The partition a file in a table's directory holds, or None if it is no partition file (a
    temporary file of a writer, a stranger)."""
    if not filename.endswith(".json") or filename.startswith("."):
        return None
    stem = filename[: -len(".json")]
    if stem == _SINGLE_FILE:
        return SINGLE
    if stem.startswith("~"):
        try:
            return bytes.fromhex(stem[1:]).decode()
        except (ValueError, UnicodeDecodeError):
            return None
    return stem if _PLAIN_NAME.fullmatch(stem) else None


def _signature(st: os.stat_result) -> Signature:
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


def file_signature(path: str | Path) -> Signature | None:
    """The signature of the file at `path` as it is now (None: no file there)."""
    try:
        return _signature(os.lstat(path))
    except FileNotFoundError:
        return None


PartKeys = tuple[str, ...]
"""A partition's keys, sorted: what a follower's token holds of each partition it read, and what
`holding` trusts for that version of the file (a frozenset of them took four times the room: 9 MB
at 190,000 documents, held for as long as the follower)."""


def part_keys(keys: Iterable[str]) -> PartKeys:
    return tuple(sorted(keys))


def holds_key(keys: PartKeys, key: str) -> bool:
    at = bisect_left(keys, key)
    return at < len(keys) and keys[at] == key


def with_keys(keys: PartKeys, put: Iterable[str], removed: Iterable[str]) -> PartKeys:
    """`keys` with those of `put` added and those of `removed` taken away (a partition's change, by
    its delta: most change documents it holds already, and the keys stay as they were)."""
    added = {key for key in put if not holds_key(keys, key)}
    taken = {key for key in removed if holds_key(keys, key)}
    if not added and not taken:
        return keys
    out = list(keys)
    for key in taken:
        del out[bisect_left(out, key)]
    for key in added:
        insort(out, key)
    return tuple(out)


class TableFiles:
    """One table of the store: `tables/NAME/PART.json` files, locked together by `tables/NAME.lock`.

    `load` reads a partition without any lock and keeps what it decoded, by the file's signature
    (unless `keep` is off: the bulky tables, whose decoded documents would hold several times their
    files' size in every process that read them once; nor for a follower, which decodes them into
    its own objects: `load(keep=False)`); `save` (under the exclusive lock) replaces one partition
    file atomically. Thread-safe.

    What a process holds besides, per partition, each valid only for the version of the file it was
    made from: the hashes of its documents' refs (`may_hold`: a sorted array, 8 bytes a document),
    and the keys it holds (`holding`): those a follower of this process saw (`note_keys`: its own
    sets, not a copy) or, in a process that looks up keys without following (a poller), the hashes
    of the keys of the partitions it read (`index_keys`).
    """

    def __init__(self, root: Path, name: str, keep: bool = True) -> None:
        self.name = name
        self.keep = keep
        """Keep the decoded partitions (by signature) for the next `load`."""
        self.directory = root / name
        self.lock = FileLock(root / f"{name}.lock")
        self._cache: dict[str, tuple[Signature, dict[str, Any]]] = {}
        self._cache_lock = threading.Lock()
        self._names: dict[str, str | None] = {}
        self.ref: Callable[[dict[str, Any]], str] | None = None
        """The table's `ref` (schema), if its partitions are indexed by it: `may_hold`."""
        self._refs: dict[str, tuple[Signature, array[int]]] = {}
        """Per partition read: the signature of the file, and the hashes of its documents' refs,
        sorted, each once (a frozenset of Python ints took six times the room: 12 MB for the
        100,000 items of a dashboard that never looks one up by ref)."""
        self.index_keys = False
        """Keep, per partition read (not kept, and not by a follower), the hashes of its keys
        (`holding`): turned on by the first lookup by key that met a partition of which nothing is
        known (a writer's, such as the poller's check for the items it already has), so that
        processes that never look up keys, or follow the table, do not pay for the index."""
        self._keys: dict[str, tuple[Signature, frozenset[int]]] = {}
        self._followed: dict[str, tuple[Signature, PartKeys]] = {}
        """Per partition, its keys as a follower of this process last saw them (`note_keys`)."""
        self.summarize: Callable[[Mapping[str, Any]], Any] | None = None
        """What a partition's summary holds (JSON made from its documents), if the table keeps
        summaries: `summary` reads them instead of the partition (the items' tally, `status`)."""
        self.summary_format: int | None = None
        """The shape of what `summarize` makes, written in each summary: one of another shape (an
        older socialtui's, without one) is stale, made again as for another version of the file.
        A summary with a format holds it under "summary", not "rows": a socialtui from before
        formats, still running beside a newer one, finds no rows there and makes its own again
        (rather than reading the newer shape as its rows)."""

    def path(self, part: str) -> Path:
        return self.directory / part_filename(part)

    def signatures(self) -> dict[str, Signature]:
        """The partitions on disk and their signatures, without opening any (a change racing this
        call is seen at the next)."""
        out: dict[str, Signature] = {}
        directory = str(self.directory)  # a Path per file was most of the cost of a look
        for name, part in self._listing():
            try:
                out[part] = _signature(os.lstat(os.path.join(directory, name)))
            except FileNotFoundError:
                continue
        return out

    def parts(self) -> list[str]:
        """The partitions on disk (their names only: nothing is stat-ed)."""
        return sorted(part for _, part in self._listing())

    def directory_signature(self) -> tuple[int, int, bool] | None:
        """(inode, modification time, settled) of the table's directory. Every file a writer puts
        in place changes its time; when the time was settled (older than the clock's coarse steps
        when we looked), an equal signature later means no file of the table was replaced since."""
        looked = time.time_ns()
        try:
            st = os.lstat(self.directory)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, looked - st.st_mtime_ns > DIR_SETTLED_NS)

    def _listing(self) -> list[tuple[str, str]]:
        try:
            entries = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        names = self._names
        out = []
        for name in entries:
            try:
                part = names[name]
            except KeyError:
                part = names[name] = part_of_filename(name)
                if len(names) > 100_000:  # writers' temporary files come and go
                    names.clear()
            if part is not None:
                out.append((name, part))
        return out

    def may_hold(self, part: str, refs: Collection[str]) -> bool:
        """Whether the partition, as its file is now, may hold a document whose ref is one of
        `refs`: False only when a read of this very file found none (a contact's dossier reads the
        few partitions that hold their items, not every item of the store)."""
        known = self._refs.get(part)
        if known is None:
            return True
        try:
            if _signature(os.lstat(self.path(part))) != known[0]:
                return True
        except FileNotFoundError:
            return False
        hashes = known[1]
        if len(refs) * 8 > len(hashes):  # many refs (a dossier's replies): the partition's in C
            return not frozenset(hash(ref) for ref in refs).isdisjoint(hashes)
        end = len(hashes)
        for ref in refs:
            wanted = hash(ref)
            at = bisect_left(hashes, wanted)
            if at < end and hashes[at] == wanted:
                return True
        return False

    def holding(
        self, parts: Collection[str], keys: Collection[str], current: set[str] | None = None
    ) -> list[str]:
        """Those of `parts` that may hold one of `keys`, as their files are now: a partition is left
        out only when a read of this very file (or what this process saved as it) found none of
        them: its documents kept, the keys a follower saw in it (`note_keys`), or the hashes of its
        keys (`index_keys`, turned on here when a partition of which none is known was met).

        `current`: partitions whose index is known to be of their file as it is now (a writer holding
        the lock, that checked them already): not stat-ed again; those found so are added to it."""
        wanted = frozenset(keys)
        hashes: frozenset[int] | None = None
        directory = str(self.directory)
        out = []
        for part in parts:
            known: list[Signature] = []  # the versions of the file of which we know it holds none
            present = False
            if self.keep:
                with self._cache_lock:
                    cached = self._cache.get(part)
                if cached is not None:
                    present = any(key in cached[1] for key in wanted)
                    known.append(cached[0])
            followed = self._followed.get(part)
            if followed is not None and not present:
                present = any(holds_key(followed[1], key) for key in wanted)
                known.append(followed[0])
            indexed = self._keys.get(part)
            if indexed is not None and not present:
                if hashes is None:
                    hashes = frozenset(hash(key) for key in wanted)
                present = not hashes.isdisjoint(indexed[1])
                known.append(indexed[0])
            if not known:
                self.index_keys = True
            if not known or present:
                out.append(part)
                continue
            if current is not None and part in current:
                continue
            try:
                if _signature(os.lstat(os.path.join(directory, part_filename(part)))) not in known:
                    out.append(part)
                elif current is not None:
                    current.add(part)
            except FileNotFoundError:
                continue
        return out

    def keys_of(self, part: str) -> frozenset[str]:
        """The keys of the partition as its file is now: from a kept copy of this version, from a
        follower's keys of this version, or read (nothing kept). What a reader that asks only which
        keys a table holds pays: the dashboard asks which items are answered once, at its first
        reading (35 ms at 60,000 answered items); their keys, kept, held 6 MB for the rest of its
        life, and their documents, kept decoded, had held 23 MB at 50,000."""
        try:
            signature = _signature(os.lstat(self.path(part)))
        except FileNotFoundError:
            return frozenset()
        with self._cache_lock:
            cached = self._cache.get(part)
        if cached is not None and cached[0] == signature:
            return frozenset(cached[1])
        followed = self._followed.get(part)
        if followed is not None and followed[0] == signature:
            return frozenset(followed[1])
        return frozenset(self._load(part, keep=False)[1])

    def note_keys(self, part: str, seen: tuple[Signature, PartKeys]) -> None:
        """A follower of this process saw the partition's file of that signature hold these keys
        (`holding` trusts them for that version of the file, and needs no index of its own); a kept
        copy of an older version is let go (a file is only ever replaced by a newer one, so it
        would never be of use again)."""
        self._followed[part] = seen
        self._keys.pop(part, None)  # an index made before the follower's first look: not needed now
        if self.keep:
            with self._cache_lock:
                cached = self._cache.get(part)
                if cached is not None and cached[0][2] < seen[0][2]:
                    del self._cache[part]

    def _index(self, part: str, signature: Signature, docs: Mapping[str, Any], keys: bool) -> None:
        # A partition a follower of this process follows needs no index of its keys: the follower
        # notes those of each version it reads.
        if keys and self.index_keys and part not in self._followed:
            self._keys[part] = (signature, frozenset(hash(key) for key in docs))
        if self.ref is None:
            return
        ref = self.ref
        try:
            hashes = array("q", sorted({hash(ref(doc)) for doc in docs.values()}))
        except (KeyError, TypeError, AttributeError):  # a document not as written: no index
            self._refs.pop(part, None)
            return
        self._refs[part] = (signature, hashes)

    def load(self, part: str, *, keep: bool = True) -> dict[str, Any]:
        """The partition's documents (read-only for the caller), decoded again only if its file
        changed since we last did.

        `keep=False`: a read for a caller that keeps what it needs of the documents itself (a
        follower, which decodes them into its own objects and notes their keys: `note_keys`; a
        summary): a copy kept of this very version is used, but what is decoded is not kept, nor
        indexed by key, and a kept copy of an older version is let go. (A dashboard's follower kept
        a decoded copy of every small table: the outbox alone, 9 MB of JSON at 50,000 replies,
        held 23 MB.)"""
        return self._load(part, keep)[1]

    # -- summaries: `.PART.json.tally` beside a partition, the rows `summarize` makes of it, with the
    # signature of the file they were made from. The writer puts one in place after the partition
    # (under the table's lock); a reader that finds none, or one of another version of the file,
    # reads the partition and leaves one (best effort: a reader racing a writer may leave one of the
    # version it read, which the next reader finds stale). A summary is used only when its
    # signature is the partition's as stat-ed before the summary was read: a killed writer, or a
    # lost summary, costs a parse, never a wrong row.

    def summary_path(self, part: str) -> Path:
        return self.directory / f".{part_filename(part)}.tally"

    def summary(self, part: str) -> Any:
        """The summary rows of the partition as its file is now (see above)."""
        assert self.summarize is not None
        try:
            signature = _signature(os.lstat(self.path(part)))
        except FileNotFoundError:
            return []
        try:
            raw = read_bytes(self.summary_path(part))
            if raw is not None:
                data = orjson.loads(raw)
                if self.summary_format is None and tuple(data["signature"]) == signature:
                    return data["rows"]
                if data.get("format") == self.summary_format and tuple(data["signature"]) == signature:
                    return data["summary"]
        except (OSError, StoreError, ValueError, KeyError, TypeError):
            pass  # unreadable or odd: made again below
        read, docs = self._load(part, keep=False)
        rows = self.summarize(docs)
        if read is not None:
            self._write_summary(part, read, rows)
        return rows

    def _write_summary(self, part: str, signature: Signature, rows: Any) -> None:
        """Put the summary in place (the one atomic writer: a reader sees a whole one; no fsync, it is
        a cache its signature checks); errors are let go (a read-only data dir, a planted link: every
        reader parses the partition)."""
        try:
            write_atomic(
                self.summary_path(part),
                orjson.dumps(
                    {"signature": list(signature), "rows": rows}
                    if self.summary_format is None
                    else {"signature": list(signature), "format": self.summary_format, "summary": rows}
                ),
                durable=False,
            )
        except StoreError:
            pass

    def _load(self, part: str, keep: bool = True) -> tuple[Signature | None, dict[str, Any]]:
        """(the signature of the file read, its documents): `load`; no file: (None, {})."""
        path = self.path(part)
        with self._cache_lock:
            cached = self._cache.get(part)
        if cached is not None:
            try:
                if _signature(os.lstat(path)) == cached[0]:
                    return cached
            except FileNotFoundError:
                pass
        try:
            found = read_file(path)
        except PermissionError as exc:
            raise StoreError(
                f"cannot read {path}: permission denied (is your login in the operators' group?)"
            ) from exc
        if found is None:
            with self._cache_lock:
                self._cache.pop(part, None)
            return None, {}
        signature = _signature(found[0])
        if cached is not None and cached[0] == signature:
            return cached
        docs = self._decode(path, found[1])
        self._index(part, signature, docs, keys=keep and not self.keep)
        if self.keep:
            with self._cache_lock:
                if keep:
                    self._cache[part] = (signature, docs)
                elif cached is not None and self._cache.get(part) is cached:
                    del self._cache[part]  # of an older version: never of use again
        return signature, docs

    def _decode(self, path: Path, raw: bytes) -> dict[str, Any]:
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise StoreCorrupt(
                f"{path} is not valid JSON ({exc}); socialtui will not overwrite it. "
                "Restore it from a backup or move it aside."
            ) from exc
        if not isinstance(data, dict) or not isinstance(data.get("docs"), dict):
            raise StoreCorrupt(
                f"{path} does not hold a part of a socialtui store; it will not be overwritten"
            )
        version = data.get("schema")
        if not isinstance(version, int):
            raise StoreCorrupt(f"{path}: schema version {version!r} is not a number")
        if version > SCHEMA_VERSION:
            raise StoreTooNew(
                f"{path} was written by a newer socialtui (store schema {version}; this one "
                f"understands up to {SCHEMA_VERSION}). Upgrade socialtui; the file was not changed."
            )
        return data["docs"]

    def save(self, part: str, docs: dict[str, Any]) -> None:
        """Replace the partition's file with `docs` (the caller holds the lock exclusively and gives
        up `docs`: it becomes what readers of this process share)."""
        save_together([(self, part, docs, None)])

    # -- deltas: `.PART.json.delta` beside a partition, what its latest version changed from the one
    # before (the documents put, the keys gone) and the signatures of both. The writer puts one in
    # place after the partition (under the table's lock) when the file is large and the change
    # small: a follower that read the version before takes the change from it instead of decoding
    # the whole partition again (the poller's page of 40 into a day file of thousands of items,
    # read by every dashboard). Derived data, like a summary: used only when both signatures are
    # those the follower knows, so a killed writer or a lost delta costs a parse, never a change.

    DELTA_MIN_BYTES = 32_768
    """A partition file smaller than this is read whole (a delta would save little)."""

    def delta_path(self, part: str) -> Path:
        return self.directory / f".{part_filename(part)}.delta"

    def delta(
        self, part: str, since: Signature, signature: Signature
    ) -> tuple[dict[str, Any], list[str]] | None:
        """(documents put, keys gone) from the version of the partition whose signature is `since`
        to that whose signature is `signature`, if the writer of the latter left them; else None."""
        try:
            raw = read_bytes(self.delta_path(part))
            if raw is None:
                return None
            data = orjson.loads(raw)
            if tuple(data["since"]) != since or tuple(data["signature"]) != signature:
                return None
            docs, gone = data["docs"], data["gone"]
        except (OSError, StoreError, ValueError, KeyError, TypeError):
            return None
        if not isinstance(docs, dict) or not isinstance(gone, list):
            return None
        return docs, gone

    def _write_delta(
        self,
        part: str,
        since: Signature,
        signature: Signature,
        before: Mapping[str, Any],
        docs: Mapping[str, Any],
    ) -> None:
        put = {key: doc for key, doc in docs.items() if before.get(key) is not doc and before.get(key) != doc}
        gone = [key for key in before if key not in docs]
        if (len(put) + len(gone)) * 4 > len(docs):
            return  # most of it changed: the follower reads the file
        try:
            write_atomic(
                self.delta_path(part),
                orjson.dumps({"since": list(since), "signature": list(signature), "docs": put, "gone": gone}),
                durable=False,
            )
        except StoreError:
            pass  # as for a summary: every follower reads the partition

    def _prepared(self, part: str, docs: dict[str, Any]) -> tuple[Path, bytes, int, Signature | None]:
        """(path, payload, modification time, the signature of the version it replaces)."""
        path = self.path(part)
        payload = orjson.dumps({"schema": SCHEMA_VERSION, "table": self.name, "part": part, "docs": docs})
        try:
            st = os.lstat(path)
            previous, since = st.st_mtime_ns, _signature(st)
        except FileNotFoundError:
            previous, since = 0, None
        except OSError as exc:
            raise StoreWriteFailed(f"could not save {path}: {exc.strerror}; nothing was changed") from exc
        # Strictly greater than the version it replaces, whatever the clock does: see `_signature`.
        return path, payload, max(time.time_ns(), previous + 1), since

    def _saved(
        self,
        part: str,
        docs: dict[str, Any],
        since: Signature | None = None,
        before: Mapping[str, Any] | None = None,
        size: int = 0,
    ) -> None:
        try:
            signature = _signature(os.lstat(self.path(part)))
        except OSError:
            self.forget(part)
            return
        self._index(part, signature, docs, keys=not self.keep)
        if self.keep:
            with self._cache_lock:
                self._cache[part] = (signature, docs)
        if since is not None and before is not None and size >= self.DELTA_MIN_BYTES:
            self._write_delta(part, since, signature, before, docs)
        if self.summarize is not None:
            self._write_summary(part, signature, self.summarize(docs))

    def forget(self, part: str | None = None) -> None:
        with self._cache_lock:
            if part is None:
                self._cache.clear()
                self._refs.clear()
                self._keys.clear()
                self._followed.clear()
            else:
                self._cache.pop(part, None)
                self._refs.pop(part, None)
                self._keys.pop(part, None)
                self._followed.pop(part, None)


def save_together(
    changes: Sequence[tuple[TableFiles, str, dict[str, Any], Mapping[str, Any] | None]],
    then: Callable[[], Callable[[], None] | None] | None = None,
) -> None:
    """Save partitions of several tables (their locks held exclusively), in the order given, as one
    `write_atomic_many` (see there for what a crash leaves, and `then`). A change may name the
    documents of the version it replaces (as read under the lock): a delta is left for followers
    (`TableFiles.delta`)."""
    if not changes:
        if then is not None:
            finish = then()
            if finish is not None:
                finish()
        return
    prepared = [(change, change[0]._prepared(change[1], change[2])) for change in changes]
    try:
        write_atomic_many([(path, payload, mtime) for _, (path, payload, mtime, _) in prepared], then=then)
    except BaseException:
        for files, part, *_ in changes:
            files.forget(part)
        raise
    for (files, part, docs, before), (_, payload, _, since) in prepared:
        files._saved(part, docs, since, before, len(payload))
