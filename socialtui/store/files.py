"""One TinyDB file shared by several processes of several Unix users.

TinyDB rewrites its whole file on every change and knows nothing of other processes. Here every
transaction holds an OS lock on a side file (`NAME.lock`: the data file itself is replaced on every
write, so it cannot carry the lock) around the whole read-modify-write: shared for reads, exclusive for
writes. A write goes to a temporary file that replaces the old one after fsync, so a reader or a killed
writer only ever sees a whole file. A process keeps the parsed file in memory and reloads it when the
file on disk changed (another process replaced it).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Table

SCHEMA_VERSION = 1
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
    open_shared,
    read_bytes,
    write_atomic,
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
                delay = min(delay * 2, 0.05)


class KeyedTable(Table):
    """A TinyDB table whose documents are keyed by our own string ids (item ids, account ids...)."""

    document_id_class = str  # type: ignore[assignment]

    def raw(self) -> Mapping[str, dict[str, Any]]:
        """The documents by key, without copying: read-only for the caller."""
        return self._read_table()

    def get_key(self, key: str) -> dict[str, Any] | None:
        return self._read_table().get(key)

    def put(self, key: str, doc: dict[str, Any]) -> None:
        self.put_many({key: doc})

    def put_many(self, docs: Mapping[str, dict[str, Any]]) -> None:
        if not docs:
            return

        def updater(table: dict[str, Any]) -> None:
            table.update(docs)

        self._update_table(updater)

    def remove_keys(self, keys: Iterator[str] | list[str] | set[str]) -> int:
        keys = list(keys)
        removed = 0

        def updater(table: dict[str, Any]) -> None:
            nonlocal removed
            for key in keys:
                if table.pop(key, None) is not None:
                    removed += 1

        if keys:
            self._update_table(updater)
        return removed

    def remove_where(self, predicate: Callable[[dict[str, Any]], bool]) -> int:
        removed = 0

        def updater(table: dict[str, Any]) -> None:
            nonlocal removed
            for key in [k for k, doc in table.items() if predicate(doc)]:
                del table[key]
                removed += 1

        self._update_table(updater)
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
    """One TinyDB file of the store (`ops.json`, `items.json`, ...): locked, atomic, reloaded on change."""

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
        version = meta.get("version", SCHEMA_VERSION)
        if not isinstance(version, int):
            raise StoreCorrupt(f"{self.path}: schema version {version!r} is not a number")
        if version > SCHEMA_VERSION:
            raise StoreTooNew(
                f"{self.path} was written by a newer socialtui (store schema {version}; this one "
                f"understands up to {SCHEMA_VERSION}). Upgrade socialtui; the file was not changed."
            )

    def _save(self, data: dict[str, Any], lock_fd: int) -> None:
        data.setdefault(META_TABLE, {})["schema"] = {"version": SCHEMA_VERSION, "file": self.name}
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
