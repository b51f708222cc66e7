"""What every part of the store API shares: the engine, the audit of actions, reading helpers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from socialtui.model import Actor, from_record, to_record
from socialtui.store.engine import Engine, Reader, StoreError, Writer
from socialtui.store.safefile import ensure_dir

T = TypeVar("T")


class NotFoundInStore(StoreError):
    """No item, contact or handoff answers to what the operator typed (or more than one does)."""


def iso(moment: datetime) -> str:
    """A UTC time as the engines compare it (`schema.utc` of a stored time)."""
    return moment.isoformat()


def audit_doc(
    actor: Actor, now: datetime, action: str, account: str = "", item: str = "", detail: str = ""
) -> dict[str, Any]:
    from socialtui.model_work import AuditEvent

    event = AuditEvent(
        at=now,
        login=actor.login,
        operator=actor.operator,
        action=action,
        account=account,
        item=item,
        detail=detail,
    )
    return to_record(event)


class StoreBase:
    """The engine beneath, and the two ways to use it: `_write` (one transaction) and `_reader`."""

    engine: Engine
    data_dir: Path

    def _write(self, tables: Sequence[str], body: Callable[[Writer], T]) -> T:
        """One transaction over `tables` (named truth first, derived tables after: see files_engine).
        `body` may run again after a lost connection, so it changes nothing but the writer."""
        return self.engine.transact(tables, body)

    def _read(self, body: Callable[[Reader], T]) -> T:
        with self.engine.read() as reader:
            return body(reader)

    def _all(self, table: str, cls: type[T]) -> dict[str, T]:
        return self._read(lambda r: {key: from_record(cls, doc) for key, doc in r.scan(table)})

    def private_dir(self, name: str) -> Path:
        """A sub-directory of the local data dir (`sessions`), group-only like the rest."""
        path = self.data_dir / name
        ensure_dir(path)
        return path


__all__ = ["StoreBase", "NotFoundInStore", "audit_doc", "iso"]
