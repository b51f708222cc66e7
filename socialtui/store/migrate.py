"""Moving a store between engines, and checking one: `socialtui store migrate` and `store check`.

Both go through the engine contract only, so they work between any two engines (files to
PostgreSQL is the common case: a team that outgrew one host).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from socialtui.model import from_record
from socialtui.store.engine import Doc, Engine, EngineInfo, Reader, StoreError, Writer
from socialtui.store.follow import MODELS
from socialtui.store.schema import DATA_TABLES, TABLES

LOG_TABLES = tuple(name for name, table in TABLES.items() if table.log)
ANSWERED_BY = ("done", "reply", "sent")
"""Why an item is answered (`items.answered_doc`): marked done, an own reply, a reply sent."""


class CopyMismatch(StoreError):
    """The target did not hold what was copied into it; the copy was rolled back."""


def copy_store(source: Engine, target: Engine) -> list[tuple[str, int, int]]:
    """Copy every table of `source` into the empty `target` in one target transaction, documents as
    they are. Returns (table, source count, target count) for every table.

    Refuses (`StoreError`) a target that holds any document, and raises `CopyMismatch` when a
    table's count differs after the copy: inside the transaction, so nothing is left half-copied."""
    with source.read() as reader:
        data = {table: dict(reader.scan(table)) for table in DATA_TABLES}
        source_counts = {table: reader.count(table) for table in DATA_TABLES}
    logs = {table: list(source.log(table)) for table in LOG_TABLES}
    for table, docs in logs.items():
        source_counts[table] = len(docs)
    for table in DATA_TABLES:
        if len(data[table]) != source_counts[table]:
            raise CopyMismatch(f"{table}: read {len(data[table])} documents of {source_counts[table]}")
    tables = [*DATA_TABLES, *LOG_TABLES]

    def body(w: Writer) -> dict[str, int]:
        held = [f"{table} ({n})" for table in tables if (n := w.count(table))]
        if held:
            raise StoreError(
                f"the target store already holds data ({', '.join(held)}): migrate only into an empty store"
            )
        for table in DATA_TABLES:
            if data[table]:
                w.put_many(table, data[table])
        for table, docs in logs.items():
            for doc in docs:
                w.append(table, doc)
        counts = {table: w.count(table) for table in tables}
        # An engine whose writer does not see its own appends (the files engine commits the log
        # first) counts the log after the commit instead.
        counts.update({t: -1 for t in LOG_TABLES if counts[t] == 0 and source_counts[t]})
        _refuse_mismatch(source_counts, counts)
        return counts

    target_counts = target.transact(tables, body)
    for table in LOG_TABLES:
        if target_counts[table] == -1:
            target_counts[table] = sum(1 for _ in target.log(table))
    _refuse_mismatch(source_counts, target_counts)
    return [(table, source_counts[table], target_counts[table]) for table in tables]


def _refuse_mismatch(source_counts: dict[str, int], target_counts: dict[str, int]) -> None:
    wrong = [
        f"{table}: {n} in the source, {target_counts[table]} in the target"
        for table, n in source_counts.items()
        if target_counts[table] not in (n, -1)
    ]
    if wrong:
        raise CopyMismatch("the copy does not match (" + "; ".join(wrong) + "); nothing was saved")


@dataclass(frozen=True)
class StoreCheck:
    """What `socialtui store check` reports: the engine's own account and the integrity problems."""

    info: EngineInfo
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        info = self.info
        size = "unknown" if info.size_bytes is None else _size(info.size_bytes)
        out = [
            f"engine          {info.engine}",
            f"location        {info.location}",
            f"schema version  {info.schema_version}",
            f"size            {size}",
            "",
            f"{'TABLE':<16} {'DOCUMENTS':>9}",
            *(f"{c.table:<16} {c.rows:>9}" for c in info.counts),
            "",
        ]
        out.extend(f"note: {note}" for note in info.notes)
        if self.problems:
            out.append(f"problems: {len(self.problems)}")
            out.extend(f"  {problem}" for problem in self.problems)
        else:
            out.append("problems: none")
        return out


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


MAX_PROBLEMS_PER_KIND = 20
"""A store broken in a thousand places names the first few of each kind and counts the rest."""


def check_store(engine: Engine) -> StoreCheck:
    """The engine's report (`Engine.info`) and integrity checks through the contract: documents
    that do not decode into their model, more than one open outbox entry per item, answered items
    whose reason is unknown."""
    info = engine.info()
    problems = list(info.problems)
    with engine.read() as reader:
        problems.extend(_undecodable(reader, engine))
        problems.extend(_open_outbox_twice(reader))
        problems.extend(_unknown_answers(reader))
    return StoreCheck(info, tuple(problems))


def _capped(found: list[str], kind: str) -> list[str]:
    if len(found) <= MAX_PROBLEMS_PER_KIND:
        return found
    return [*found[:MAX_PROBLEMS_PER_KIND], f"... and {len(found) - MAX_PROBLEMS_PER_KIND} more {kind}"]


def _decodes(cls: type, doc: Doc) -> str:
    """'' if `doc` decodes into `cls`, else why not."""
    try:
        from_record(cls, doc)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return ""


def _undecodable(reader: Reader, engine: Engine) -> list[str]:
    found = []
    for table, cls in MODELS.items():
        if TABLES[table].log:
            rows: list[tuple[str, Doc]] = [(f"#{n + 1}", doc) for n, doc in enumerate(engine.log(table))]
        else:
            rows = list(reader.scan(table))
        for key, doc in rows:
            why = _decodes(cls, doc)
            if why:
                found.append(f"{table} {key}: not a {cls.__name__} ({why})")
    return _capped(found, "undecodable documents")


def _open_outbox_twice(reader: Reader) -> list[str]:
    field, values = TABLES["outbox"].unique_open_ref or ("state", ())
    open_per_item = Counter(
        str(doc.get("item")) for _, doc in reader.scan("outbox") if doc.get(field) in values
    )
    found = [
        f"outbox: {n} open entries ({'/'.join(values)}) for the item {item}"
        for item, n in open_per_item.items()
        if n > 1
    ]
    return _capped(found, "items with several open outbox entries")


def _unknown_answers(reader: Reader) -> list[str]:
    found = [
        f"answered {key}: the reason {doc.get('by')!r} is none of {', '.join(ANSWERED_BY)}"
        for key, doc in reader.scan("answered")
        if doc.get("by") not in ANSWERED_BY
    ]
    return _capped(found, "answered items with an unknown reason")


__all__ = ["copy_store", "check_store", "StoreCheck", "CopyMismatch"]
