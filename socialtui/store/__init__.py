"""The shared store: the one API through which every process reads and writes the team's data.

The API is split by concern (`items`: items and posts; `work`: states, claims, contacts, drafts;
`shifts`: handoffs and shifts; `outbox`; `journal`: the audit and the poller's bookkeeping;
`retention`; `follow`: what changed since) and written once over the engine contract
(`engine.py`). Two engines keep the tables: `files` (TinyDB files in the data dir, the default) and
`postgresql` (`[team] store = "postgresql:///socialtui"`). Nothing outside this package knows which
one is running.
"""

from __future__ import annotations

from pathlib import Path

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
from socialtui.store.files import SCHEMA_VERSION
from socialtui.store.items import Dossier, ItemsMixin, Snapshot
from socialtui.store.journal import JournalMixin
from socialtui.store.outbox import AlreadyQueued, AnsweredMeanwhile, OutboxMixin
from socialtui.store.retention import RetentionMixin
from socialtui.store.shifts import ShiftsMixin
from socialtui.store.work import WorkMixin

__all__ = [
    "Store",
    "Snapshot",
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
    "SCHEMA_VERSION",
    "NotFoundInStore",
]


class Store(ItemsMixin, WorkMixin, ShiftsMixin, OutboxMixin, JournalMixin, RetentionMixin):
    """The team's store. Thread-safe; safe across processes, Unix users and (PostgreSQL) hosts.

    `data_dir` is this host's data dir (the files engine's tables, and always the network sessions
    and leases of the files engine); `engine` another engine to keep the tables in."""

    def __init__(self, data_dir: Path | str, *, engine: Engine | None = None) -> None:
        from socialtui.store.files_engine import FilesEngine

        self.data_dir = Path(data_dir)
        self.engine = engine if engine is not None else FilesEngine(self.data_dir)
        try:
            self._ensure_answered()
        except StoreError:
            pass  # a store we cannot read (too new, corrupt) says so at its first use, not here

    def close(self) -> None:
        self.engine.close()
