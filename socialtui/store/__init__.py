"""The shared store: the one API through which every process reads and writes the team's data.

The API is split by concern (`items`: items and posts; `work`: states, claims, contacts, drafts;
`shifts`: handoffs and shifts; `outbox`; `journal`: the audit and the poller's bookkeeping;
`retention`; `follow`: what changed since) and written once over the engine contract
(`engine.py`). Two engines keep the tables: `files` (TinyDB files in the data dir, the default) and
`postgresql` (`[team] store = "postgresql:///socialtui"`). Nothing outside this package knows which
one is running.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from socialtui.store.base import NotFoundInStore
from socialtui.store.engine import (
    Conflict,
    Engine,
    StoreBusy,
    StoreCorrupt,
    StoreError,
    StoreTooNew,
    StoreUnavailable,
    StoreWriteFailed,
)
from socialtui.store.items import Dossier, ItemsMixin, QueueCounts, Snapshot
from socialtui.store.journal import JournalMixin
from socialtui.store.outbox import AlreadyQueued, AnsweredMeanwhile, NotChangeable, OutboxMixin
from socialtui.store.retention import RetentionMixin
from socialtui.store.shifts import ShiftsMixin
from socialtui.store.work import WorkMixin

if TYPE_CHECKING:
    from socialtui.config import Config

STORE_ENV = "SOCIALTUI_STORE"
"""If set, the store every socialtui process of this environment uses, whatever the config says
(a PostgreSQL URL; the test suite runs itself on PostgreSQL this way)."""


def __getattr__(name: str) -> object:
    # The files engine's schema version, imported when asked for: a process on PostgreSQL never
    # loads the files engine (TinyDB and the file locks).
    if name == "SCHEMA_VERSION":
        from socialtui.store.files import SCHEMA_VERSION

        return SCHEMA_VERSION
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_shared: dict[tuple[str, str | None], Engine] = {}
_shared_lock = threading.Lock()


def engine_for(data_dir: Path | str, url: str = "", password: str | None = None) -> Engine:
    """The engine for a data dir and the config's `[team] store` (`SOCIALTUI_STORE` first). A
    database engine is shared by every Store of the process (its pool is thread-safe)."""
    url = os.environ.get(STORE_ENV, "").strip() or url
    if not url:
        from socialtui.store.files_engine import FilesEngine

        return FilesEngine(data_dir)
    with _shared_lock:
        engine = _shared.get((url, password))
        if engine is None:
            from socialtui.store.postgres import PgEngine

            engine = _shared[(url, password)] = PgEngine(url, password=password)
        return engine


def open_store(config: Config) -> Store:
    """The team's store as the config says."""
    from socialtui.config import store_password

    team = config.team
    password = store_password(team) if team.store else None
    return Store(team.data_dir, engine=engine_for(team.data_dir, team.store, password))


__all__ = [
    "open_store",
    "engine_for",
    "STORE_ENV",
    "Store",
    "Snapshot",
    "QueueCounts",
    "Dossier",
    "StoreError",
    "StoreBusy",
    "StoreCorrupt",
    "StoreTooNew",
    "StoreWriteFailed",
    "StoreUnavailable",
    "Conflict",
    "AlreadyQueued",
    "AnsweredMeanwhile",
    "NotChangeable",
    "SCHEMA_VERSION",
    "NotFoundInStore",
]


class Store(ItemsMixin, WorkMixin, ShiftsMixin, OutboxMixin, JournalMixin, RetentionMixin):
    """The team's store. Thread-safe; safe across processes, Unix users and (PostgreSQL) hosts.

    `data_dir` is this host's data dir (the files engine's tables, and always the network sessions
    and leases of the files engine); `engine` another engine to keep the tables in."""

    def __init__(self, data_dir: Path | str, *, engine: Engine | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.engine = engine if engine is not None else engine_for(self.data_dir)
        try:
            self._ensure_answered()
        except StoreError:
            pass  # a store we cannot read (too new, corrupt) says so at its first use, not here

    def close(self) -> None:
        """Let go of the engine, unless other Stores of the process share it (a database's)."""
        if self.engine not in _shared.values():
            self.engine.close()
