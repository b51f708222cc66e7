"""Network sessions shared by every process: a Bluesky access/refresh token pair per account.

They are secrets: kept in `sessions/` in the data dir, group read-write only, never in the other store
files, never logged. `locked()` is held around a refresh so that one process refreshes at a time and
the others read the fresh session instead of spending the account's createSession allowance.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from socialtui.store.files import FileLock
from socialtui.store.safefile import FILE_MODE, read_bytes, write_atomic

if TYPE_CHECKING:
    from socialtui.store import Store


class FileSessionStore:
    """One account's session in `sessions/ACCOUNT.json`, with its lock beside it."""

    def __init__(self, store: Store, account_id: str) -> None:
        directory = store.private_dir("sessions")
        self.path = directory / f"{account_id}.json"
        self._lock = FileLock(directory / f"{account_id}.lock", timeout=60.0)

    def load(self) -> dict[str, Any] | None:
        raw = read_bytes(self.path)
        if raw is None:
            return None
        try:
            data = json.loads(raw)
        except ValueError:
            return None  # a damaged session is as good as none: log in again
        return data if isinstance(data, dict) else None

    def save(self, data: dict[str, Any]) -> None:
        write_atomic(self.path, json.dumps(data).encode("utf-8"), FILE_MODE)

    @contextmanager
    def locked(self) -> Iterator[None]:
        with self._lock.hold(exclusive=True):
            yield
