"""The files engine's layout, and the upgrade of a data dir written by an older socialtui.

Schema 1 kept each table group in one file of the data dir (`ops.json`, `items.json`, `posts.json`,
`home.json`, `answered.json`, `sync.json`). Schema 2 keeps each table in `tables/TABLE/`, split per
account where the table says so (`files.TableFiles`), and says so in `store.json`.

The upgrade runs once, by the first process of the new socialtui to use the data dir, under a lock
of its own and the locks of the old files (so an older socialtui still running finishes its write
first and writes nothing meanwhile):

1. every old file is read and checked first: one that is corrupt or from a newer socialtui stops the
   upgrade before anything is written, and is left untouched;
2. each old file's tables are written into `tables/` (each partition atomically, fsynced);
3. each old file is replaced by a stub that holds no data and says "schema 2": an older socialtui
   refuses the data dir as written by a newer one, instead of seeing an empty store (a fresh data dir
   gets the stubs too, for the same reason);
4. `store.json` is written last: until it is there, a killed upgrade is simply run again (the old
   files that are already stubs were copied whole before they became stubs).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import orjson

from socialtui.store import schema
from socialtui.store.engine import StoreCorrupt, StoreTooNew
from socialtui.store.files import GROUP_FILE_VERSION, META_TABLE, SCHEMA_VERSION, SINGLE, FileLock, TableFiles
from socialtui.store.safefile import ensure_dir, read_bytes, write_atomic

TABLES_DIR = "tables"
LAYOUT_FILE = "store.json"
STUB_LAYOUT = "tables"
OLD_GROUPS = tuple(group for group, tables in schema.GROUPS.items() if not schema.TABLES[tables[0]].log)


def check_layout(path: Path, raw: bytes) -> None:
    """Refuse a `store.json` that is not ours (StoreCorrupt) or from a newer socialtui (StoreTooNew)."""
    try:
        layout = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise StoreCorrupt(f"{path} is not valid JSON ({exc}); socialtui will not overwrite it") from exc
    version = layout.get("schema") if isinstance(layout, dict) else None
    if not isinstance(version, int):
        raise StoreCorrupt(
            f"{path} does not say which store schema the data dir holds; it will not be overwritten"
        )
    if version > SCHEMA_VERSION:
        raise StoreTooNew(
            f"{path.parent} was written by a newer socialtui (store schema {version}; this one "
            f"understands up to {SCHEMA_VERSION}). Upgrade socialtui; nothing was changed."
        )


def part_of(spec: schema.Table, doc: Any) -> str:
    """The partition a document of `spec` belongs in: `ACCOUNT`, `ACCOUNT.DAY` (the day of its `at`,
    UTC) for a table split per day too, or `SINGLE`."""
    if not spec.per_account or spec.account is None:
        return SINGLE
    account = spec.account(doc)
    if not spec.per_day or spec.at is None:
        return account
    try:
        day = spec.at(doc)[:10]
    except (KeyError, TypeError, AttributeError):
        day = ""
    return f"{account}.{day}"


def parts_for(
    spec: schema.Table,
    parts: Iterable[str],
    account: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> list[str]:
    """Which of a table's partitions can hold documents of `account` whose `at` is in [since, until)."""
    if not spec.per_account:
        return [SINGLE]
    out = []
    for part in parts:
        owner, day = part.rsplit(".", 1) if spec.per_day and "." in part else (part, "")
        if account is not None and owner != account:
            continue
        if day and ((since and day < since[:10]) or (until and day > until[:10])):
            continue
        out.append(part)
    return out


def _read_old(path: Path) -> dict[str, Any] | None:
    """An old group file's tables; None if there is none, or it is a stub already."""
    raw = read_bytes(path)
    if raw is None:
        return None
    try:
        data = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise StoreCorrupt(
            f"{path} is not valid JSON ({exc}); socialtui will not overwrite it. "
            "Restore it from a backup or move it aside."
        ) from exc
    if not isinstance(data, dict):
        raise StoreCorrupt(f"{path} does not hold a socialtui store; it will not be overwritten")
    meta = data.get(META_TABLE, {}).get("schema", {})
    version = meta.get("version", GROUP_FILE_VERSION)
    if not isinstance(version, int):
        raise StoreCorrupt(f"{path}: schema version {version!r} is not a number")
    if meta.get("layout") == STUB_LAYOUT and version <= SCHEMA_VERSION:
        return None
    if version > GROUP_FILE_VERSION:
        raise StoreTooNew(
            f"{path} was written by a newer socialtui (store schema {version}; this one "
            f"understands up to {SCHEMA_VERSION}). Upgrade socialtui; the file was not changed."
        )
    for table, docs in data.items():
        if table != META_TABLE and not isinstance(docs, dict):
            raise StoreCorrupt(f"{path}: table {table!r} is not a table; the file will not be overwritten")
    return data


def _copy_table(root: Path, table: str, docs: dict[str, Any]) -> None:
    spec = schema.TABLES[table]
    if table in ("own", "home"):
        # Posts were keyed `ACCOUNT\0ID` before the engine contract (PostgreSQL text holds no NUL).
        docs = {
            schema.post_key(*key.split("\0", 1)) if "\0" in key else key: doc for key, doc in docs.items()
        }
    parts: dict[str, dict[str, Any]] = {}
    for key, doc in docs.items():
        parts.setdefault(part_of(spec, doc), {})[key] = doc
    files = TableFiles(root, table)
    ensure_dir(files.directory)
    for part in files.parts():  # left by an upgrade killed before it finished: the old file rules
        if part not in parts:
            files.save(part, {})
    for part in sorted(parts):
        files.save(part, parts[part])


def upgrade(data_dir: Path) -> None:
    """Bring the data dir to the current layout (see the module's docstring); a no-op once done."""
    root = data_dir / TABLES_DIR
    ensure_dir(root)
    layout = data_dir / LAYOUT_FILE
    with FileLock(data_dir / "upgrade.lock").hold(exclusive=True), ExitStack() as old_locks:
        raw = read_bytes(layout)
        if raw is not None:
            check_layout(layout, raw)
            return
        for group in sorted(OLD_GROUPS):
            old_locks.enter_context(FileLock(data_dir / f"{group}.lock").hold(exclusive=True))
        old = {group: _read_old(data_dir / f"{group}.json") for group in OLD_GROUPS}
        for table, spec in schema.TABLES.items():
            if not spec.log:
                ensure_dir(root / table)
        for group, data in old.items():
            if data is None:
                continue
            for table in schema.GROUPS[group]:
                _copy_table(root, table, data.get(table, {}))
        for group in OLD_GROUPS:
            stub = {
                META_TABLE: {
                    "schema": {
                        "version": SCHEMA_VERSION,
                        "file": group,
                        "layout": STUB_LAYOUT,
                        "moved_to": f"{TABLES_DIR}/",
                    }
                }
            }
            write_atomic(data_dir / f"{group}.json", orjson.dumps(stub))
        write_atomic(layout, orjson.dumps({"schema": SCHEMA_VERSION, "layout": STUB_LAYOUT}))


__all__ = ["upgrade", "check_layout", "part_of", "parts_for", "TABLES_DIR", "LAYOUT_FILE"]
