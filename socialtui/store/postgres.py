"""The PostgreSQL engine: the store's tables in one database, for a team across hosts.

Everything lives in the schema `socialtui`: one SQL table per store table (`schema.TABLES`) with the
document as jsonb beside the fields the table indexes (`account`, `at`, `ref`), the audit as an
append-only log, and the engine's bookkeeping (`meta` with the schema version, `migrations`,
`tombstones` for deletions, `commits` to settle a commit whose answer was lost, `leases`).

Roles. The database's owner (the account that runs `socialtui` first, or a deploy step) creates and
migrates the schema. A DBA who wants operators to log in as themselves creates a group role:

    CREATE ROLE socialtui_operators NOLOGIN;
    CREATE ROLE alice LOGIN IN ROLE socialtui_operators;

and the next time the owner starts socialtui (or calls `PgEngine.grant_operators()`) the role gets
SELECT/INSERT/UPDATE/DELETE on the data tables but only SELECT and INSERT on the audit: operators
add to the audit trail, never change or remove it (`prune_log`, the retention, is the owner's job).

How the contract maps onto PostgreSQL:

- `transact`: one transaction, READ COMMITTED, with transaction-scoped advisory locks taken as the
  body touches a named table: a key's lock before it is read or written (`get`, `put`, `delete`),
  a ref's lock before a query by ref (an item's outbox entries), the whole table's lock before any
  other query (retention, a rebuild). A key lock holds the table's lock shared, a table lock holds
  it exclusive: writers of different keys run side by side, a read-modify-write of one key (a
  claim, an item's outbox) takes turns, and every lock is taken before its read, so each read sees
  what the writer before committed. The audit is appended without a lock. A deadlock between two
  bodies (they lock in the order they run) runs the loser again; readers never wait. A lost
  connection before COMMIT runs the body again (with backoff, for `retry_for` seconds); a
  connection lost during COMMIT is settled by inserting the transaction's row in
  `socialtui.commits` ourselves: that waits for the lost transaction to end, then says whether
  it committed.
- `changes`: every row carries the id (xid8) of the transaction that last wrote it; the token is
  the snapshot (`pg_current_snapshot()`) the previous answer was read in, and what changed since is
  what that snapshot could not see. Deletions leave a tombstone row, kept for `CHANGES_KEPT` and
  then pruned on the retention timer (`prune_changes`); `meta` remembers the newest xid pruned, and
  a token whose snapshot's xmin is not above it (a follower asleep for longer than that) gets
  `Everything`: a full re-read that replaces what the follower holds, since it may have missed a
  deletion whose tombstone is gone.
- `wait`: a dedicated connection LISTENs on the channel `socialtui`; each write transaction sends a
  NOTIFY naming the tables it wrote, delivered at its commit.
- `lease`: a row with an expiry in server time, taken over only once expired.
"""

from __future__ import annotations

import functools
import os
import random
import re
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import orjson
import psycopg
from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb, set_json_dumps, set_json_loads

from socialtui.store.engine import (
    Changes,
    Conflict,
    Doc,
    Engine,
    EngineInfo,
    Everything,
    Lease,
    Query,
    Reader,
    StoreBusy,
    StoreCorrupt,
    StoreError,
    StoreTooNew,
    StoreUnavailable,
    StoreWriteFailed,
    TableCount,
    Take,
    Tally,
    Writer,
)
from socialtui.store.schema import TABLES, Table

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

T = TypeVar("T")

SCHEMA = "socialtui"
CHANNEL = "socialtui"
OPERATORS_ROLE = "socialtui_operators"
MIGRATION_LOCK = 0x50C1A1  # pg_advisory_xact_lock(key): one migrating process at a time
TABLE_LOCK_SPACE = 0x50C1  # pg_advisory_xact_lock(space, hashtext(table)): a table (shared: its keys)
KEY_LOCK_SPACE = 0x50C2
OPEN_LOCK_SPACE = 0x50C3
"""pg_advisory_xact_lock(space, hashtext(account)): the `items.open` triggers (migration 4)."""
MAX_KEY_LOCKS = 128
"""Past this many key locks in one transaction, a writer takes the whole table instead: the server's
lock table holds max_locks_per_transaction (64 by default) times max_connections in all."""  # pg_advisory_xact_lock(space, hashtext("table|k|key" or "table|r|ref")): a key or a ref of a table
LOCK_TIMEOUT = "10s"  # as long as the files engine waits for a lock
LOG_PAGE = 1000
BULK_ROWS = 500
"""From this many documents in one `put_many`, rows go in through COPY."""
CHANGES_FORGOTTEN = "changes_forgotten_upto"
"""The `meta` key holding the newest xid whose tombstones were pruned (text, an xid8)."""
FIRST_CHECK_AFTER = 1.0
"""Seconds idle after which the engine's first connection is checked before use (`PgEngine._sound`)."""
ENGINE_TABLES = ("meta", "migrations", "tombstones", "commits", "leases")


# -- the schema and its migrations ---------------------------------------------------------------------


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _table_ddl(table: Table) -> str:
    """CREATE statements for one store table as its spec reads now: a migration that adds a table
    calls this; changing an existing table's fields needs a migration of its own (with a backfill)."""
    name = f"{SCHEMA}.{table.name}"
    if table.log:
        return (
            f"CREATE TABLE {name} (id bigserial PRIMARY KEY, doc jsonb NOT NULL, at timestamptz,"
            f" xid xid8 NOT NULL DEFAULT pg_current_xact_id());\n"
            f"CREATE INDEX {table.name}_at ON {name} (at);\n"
            f"CREATE INDEX {table.name}_xid ON {name} (xid);\n"
        )
    ddl = (
        f'CREATE TABLE {name} (key text COLLATE "C" PRIMARY KEY, doc jsonb NOT NULL, account text,'
        f' at timestamptz, ref text COLLATE "C", xid xid8 NOT NULL DEFAULT pg_current_xact_id());\n'
        f"CREATE INDEX {table.name}_xid ON {name} (xid);\n"
    )
    for column, extractor in (("account", table.account), ("at", table.at), ("ref", table.ref)):
        if extractor is not None:
            ddl += f"CREATE INDEX {table.name}_{column} ON {name} ({column});\n"
    if table.unique_open_ref is not None:
        state, values = table.unique_open_ref
        ddl += (
            f"CREATE UNIQUE INDEX {table.name}_open_ref ON {name} (ref)"
            f" WHERE doc->>{_literal(state)} IN ({', '.join(_literal(v) for v in values)});\n"
        )
    return ddl


_V1_TABLES = (
    "items", "own", "home", "answered", "states", "claims", "contacts", "drafts", "handoff_drafts",
    "handoffs", "shifts", "outbox", "cursors", "health", "audit",
)  # fmt: skip

MIGRATIONS: list[str] = [
    # 1: the engine's bookkeeping and the store's tables
    f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE {SCHEMA}.meta (key text PRIMARY KEY, value jsonb NOT NULL);
CREATE TABLE {SCHEMA}.migrations (
    version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now(), applied_by text NOT NULL);
CREATE TABLE {SCHEMA}.tombstones (
    tbl text NOT NULL, key text COLLATE "C" NOT NULL,
    xid xid8 NOT NULL DEFAULT pg_current_xact_id(), PRIMARY KEY (tbl, key));
CREATE INDEX tombstones_xid ON {SCHEMA}.tombstones (xid);
CREATE TABLE {SCHEMA}.commits (id uuid PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());
CREATE INDEX commits_at ON {SCHEMA}.commits (at);
CREATE TABLE {SCHEMA}.leases (name text PRIMARY KEY, holder text NOT NULL, expires_at timestamptz NOT NULL);
"""
    + "".join(_table_ddl(TABLES[name]) for name in _V1_TABLES),
    # 2: tombstones say when they were laid, so that old ones can be pruned
    f"""
ALTER TABLE {SCHEMA}.tombstones ADD COLUMN at timestamptz NOT NULL DEFAULT now();
CREATE INDEX tombstones_at ON {SCHEMA}.tombstones (at);
""",
    # 3: what `status` and `check` count the items by, as columns the server keeps (generated from
    # the document: no writer sets them) and one index holding all of it: the counts are read from
    # the index, no item's JSON is read (0.2 s at 50,000 items). Rewrites the items table once.
    f"""
ALTER TABLE {SCHEMA}.items
    ADD COLUMN kind text GENERATED ALWAYS AS (doc->>'kind') STORED,
    ADD COLUMN author_network text
        GENERATED ALWAYS AS (coalesce(doc->'post'->'author'->>'network', '')) STORED,
    ADD COLUMN author_handle text GENERATED ALWAYS AS
        (lower(ltrim(btrim(coalesce(doc->'post'->'author'->>'handle', '')), '@'))) STORED;
CREATE INDEX items_tally ON {SCHEMA}.items (account, kind, at) INCLUDE (key, author_network, author_handle);
""",
    # 4: what `status`, `check` and the dashboard read stays bounded as the store grows.
    # - `items.open`: not answered, kept by the server (triggers on both tables), so that counting
    #   the open items reads the open items only, from one partial index, without an anti-join
    #   against `answered` (35 ms at 10,000 items; linear in the whole store). A new item and a
    #   change of its `answered` row in two concurrent transactions would each miss the other's
    #   row: a lock per account (shared for the items, exclusive for `answered`) orders them, and
    #   a lock per account (not per key) keeps a bulk write to a handful of locks.
    # - each account's newest own post from an index (`status`'s quiet gaps: a sort of every
    #   account's posts before).
    # - the outbox entries not sent from a partial index (the sent ones, one per reply ever sent
    #   within the retention, are most of the table).
    f"""
ALTER TABLE {SCHEMA}.items ADD COLUMN open boolean NOT NULL DEFAULT true;
UPDATE {SCHEMA}.items t SET open = false FROM {SCHEMA}.answered a WHERE a.key = t.key;
CREATE FUNCTION {SCHEMA}.item_arrives() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared({OPEN_LOCK_SPACE}, hashtext(coalesce(NEW.account, '')));
    NEW.open := NOT EXISTS (SELECT 1 FROM {SCHEMA}.answered a WHERE a.key = NEW.key);
    RETURN NEW;
END $$;
CREATE TRIGGER items_open BEFORE INSERT ON {SCHEMA}.items
    FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.item_arrives();
CREATE FUNCTION {SCHEMA}.answered_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM pg_advisory_xact_lock({OPEN_LOCK_SPACE}, hashtext(coalesce(NEW.account, '')));
        UPDATE {SCHEMA}.items SET open = false WHERE key = NEW.key AND open;
    ELSE
        PERFORM pg_advisory_xact_lock({OPEN_LOCK_SPACE}, hashtext(coalesce(OLD.account, '')));
        UPDATE {SCHEMA}.items SET open = true WHERE key = OLD.key AND NOT open;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER answered_open AFTER INSERT OR DELETE ON {SCHEMA}.answered
    FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.answered_changes();
DROP INDEX {SCHEMA}.items_tally;
CREATE INDEX items_open ON {SCHEMA}.items (account, kind, at) INCLUDE (key, author_network, author_handle)
    WHERE open;
CREATE INDEX own_newest ON {SCHEMA}.own (account, at DESC NULLS LAST, key DESC);
ALTER TABLE {SCHEMA}.outbox ADD COLUMN state text GENERATED ALWAYS AS (doc->>'state') STORED;
CREATE INDEX outbox_unsent ON {SCHEMA}.outbox (key) WHERE state IS DISTINCT FROM 'sent';
""",
]
SCHEMA_VERSION = len(MIGRATIONS)


# -- connection strings --------------------------------------------------------------------------------


def _without_password(url: str) -> tuple[str, str | None]:
    """(the connection string without its password, the password it held)."""
    if "://" in url:
        parts = urlsplit(url)
        password = unquote(parts.password) if parts.password is not None else None
        netloc = parts.netloc
        if password is not None:
            userinfo, _, hostport = netloc.rpartition("@")
            user = userinfo.partition(":")[0]
            netloc = f"{user}@{hostport}" if user else hostport
        query = parse_qsl(parts.query, keep_blank_values=True)
        if any(key == "password" for key, _ in query):
            password = next(value for key, value in query if key == "password")
            kept = [(key, value) for key, value in query if key != "password"]
            parts = parts._replace(query=urlencode(kept, safe="/", quote_via=quote))
        if password is None:
            return url, None
        # Not urlunsplit: it drops the empty host of `postgresql:///db?host=/socket/dir`.
        query_part = f"?{parts.query}" if parts.query else ""
        return f"{parts.scheme}://{netloc}{parts.path}{query_part}", password
    params = conninfo_to_dict(url)
    given = params.pop("password", None)
    return make_conninfo("", **params), str(given) if given is not None else None


def _host(url: str) -> str:
    params = conninfo_to_dict(url)
    host = params.get("host") or params.get("hostaddr") or "the local socket"
    port = params.get("port")
    return f"{host}:{port}" if port else str(host)


_NUL_ESCAPE = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")
"""A JSON `\\u0000` escape (not an escaped backslash followed by `u0000`)."""


def _dumps(doc: Any) -> bytes:
    """A document as jsonb takes it: jsonb cannot hold U+0000, which a stranger's text may carry
    (`bell\\x07 nul\\x00`), so it is kept as U+FFFD, the replacement character (no one reads a NUL)."""
    data = orjson.dumps(doc)
    if b"\\u0000" in data:
        data = _NUL_ESCAPE.sub(rb"\1\\ufffd", data)
    return data


def _configure(conn: psycopg.Connection) -> None:
    """Every connection: orjson for jsonb, and a bounded wait for locks (then `StoreBusy`)."""
    set_json_loads(orjson.loads, conn)
    set_json_dumps(_dumps, conn)
    conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")


# -- readers and writers -------------------------------------------------------------------------------


def _table(name: str) -> Table:
    try:
        return TABLES[name]
    except KeyError:
        raise StoreError(f"no such store table: {name!r}") from None


def _ident(name: str) -> sql.Identifier:
    return sql.Identifier(SCHEMA, name)


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _at(table: Table, doc: Doc) -> str | None:
    return (table.at(doc) or None) if table.at is not None else None


_NOT_OURS = (
    # The author's (network, normalized handle): generated columns (migration 3).
    " AND (t.author_network, t.author_handle) NOT IN (SELECT * FROM unnest(%s::text[], %s::text[]))"
)
_OPEN_WHERE = " WHERE t.open" + _NOT_OURS
"""Open items (not answered: `items.open`, migration 4), not written by our own accounts (the
`others` given)."""
_COLUMNS = {("items", "answered"): "open", ("outbox", "state"): "state"}
"""What the server keeps in a column of its own (migration 4): (items, answered) for `Query.unless_in`
(the items not answered are `items.open`); (outbox, state) for `Query.unless_field`."""


class PgReader(Reader):
    """Reads on one connection, inside the transaction its owner began."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def get(self, table: str, key: str) -> Doc | None:
        return self.get_many(table, [key]).get(key)

    def get_many(self, table: str, keys: Collection[str]) -> dict[str, Doc]:
        spec = _table(table)
        if not keys:
            return {}
        self._lock(table, keys=keys)
        key = sql.SQL("id::text") if spec.log else sql.SQL("key")
        rows = self.conn.execute(
            sql.SQL("SELECT {key}, doc FROM {t} WHERE {key} = ANY(%s)").format(key=key, t=_ident(table)),
            (list(keys),),
        ).fetchall()
        return dict(rows)

    def scan(self, table: str, query: Query | None = None) -> Iterator[tuple[str, Doc]]:
        return iter(self._select(table, query, with_docs=True))

    def keys(self, table: str, query: Query | None = None) -> set[str]:
        return {key for key, _ in self._select(table, query, with_docs=False)}

    def count(self, table: str) -> int:
        _table(table)
        self._lock(table)
        row = self.conn.execute(sql.SQL("SELECT count(*) FROM {t}").format(t=_ident(table))).fetchone()
        return int(row[0]) if row else 0

    def holds_any(self, table: str) -> bool:
        """One row looked for, in no order (`scan(newest=1)` sorted the whole table: 100,000 rows
        of `answered` at 200,000 items, at every open)."""
        _table(table)
        self._lock(table)
        statement = sql.SQL("SELECT EXISTS (SELECT 1 FROM {t})").format(t=_ident(table))
        row = self.conn.execute(statement).fetchone()
        return bool(row and row[0])

    def newest_each(self, table: str, accounts: Iterable[str]) -> dict[str, Doc]:
        """One statement (a round trip per account was most of `status`'s wait on a loaded server)."""
        spec = _table(table)
        wanted = list(dict.fromkeys(accounts))
        if spec.log or spec.account is None or spec.at is None or not wanted:
            return super().newest_each(table, wanted)
        self._lock(table)
        statement = sql.SQL(
            "SELECT a.account, n.doc FROM unnest(%s::text[]) AS a(account) CROSS JOIN LATERAL"
            " (SELECT t.doc FROM {t} t WHERE t.account = a.account"
            " ORDER BY t.at DESC NULLS LAST, t.key DESC LIMIT 1) AS n"
        ).format(t=_ident(table))
        return dict(self.conn.execute(statement, (wanted,)).fetchall())

    def _lock(self, table: str, keys: Collection[str] = (), refs: Collection[str] = ()) -> None:
        """A reader takes no locks (see PgWriter)."""

    def _select(self, table: str, query: Query | None, *, with_docs: bool) -> list[tuple[str, Any]]:
        spec = _table(table)
        q = query or Query()
        if q.refs is not None:  # only rows of these refs: their locks cover it
            if not q.refs:
                return []
            self._lock(table, refs=q.refs)
        else:
            self._lock(table)
        where: list[sql.Composable] = []
        params: list[Any] = []

        def needs(field_name: str, present: bool) -> None:
            if not present:
                raise StoreError(f"the {table} table has no {field_name} field to query")

        if q.account is not None:
            needs("account", spec.account is not None)
            where.append(sql.SQL("t.account = %s"))
            params.append(q.account)
        if q.since is not None:
            needs("time", spec.at is not None)
            where.append(sql.SQL("t.at >= %s::timestamptz"))
            params.append(q.since)
        if q.until is not None:
            needs("time", spec.at is not None)
            where.append(sql.SQL("t.at < %s::timestamptz"))
            params.append(q.until)
        if q.refs is not None:
            needs("ref", spec.ref is not None)
            where.append(sql.SQL("t.ref = ANY(%s)"))
            params.append(list(q.refs))
        if q.prefix is not None:
            needs("key", not spec.log)
            where.append(sql.SQL("t.key LIKE %s"))
            params.append(_like_prefix(q.prefix))
        if q.unless_in is not None:
            needs("key", not spec.log and not _table(q.unless_in).log)
            if (table, q.unless_in) in _COLUMNS:
                where.append(sql.SQL("t.{}").format(sql.Identifier(_COLUMNS[(table, q.unless_in)])))
            else:
                where.append(
                    sql.SQL("NOT EXISTS (SELECT 1 FROM {other} o WHERE o.key = t.key)").format(
                        other=_ident(q.unless_in)
                    )
                )
        if q.unless_field is not None:
            field_name, values = q.unless_field
            column = _COLUMNS.get((table, field_name))
            if column is not None and values:
                # Literals, in the form of the partial index's predicate (`outbox_unsent`): the
                # planner uses the index only for a condition it can match with it.
                where.append(
                    sql.SQL(" AND ").join(
                        sql.SQL("t.{} IS DISTINCT FROM {}").format(
                            sql.Identifier(column), sql.Literal(str(v))
                        )
                        for v in sorted(values)
                    )
                )
            else:
                where.append(sql.SQL("(t.doc->>%s IS NULL OR NOT t.doc->>%s = ANY(%s))"))
                params += [field_name, field_name, list(values)]
        key = sql.SQL("t.id::text") if spec.log else sql.SQL("t.key")
        value = sql.SQL("t.doc" if with_docs else "NULL")
        statement = sql.SQL("SELECT {key}, {value} FROM {t} t").format(key=key, value=value, t=_ident(table))
        if where:
            statement += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where)
        if q.newest is not None:
            needs("time", spec.at is not None)
            statement += sql.SQL(" ORDER BY t.at DESC NULLS LAST, 1 DESC LIMIT %s")
            params.append(q.newest)
        return self.conn.execute(statement, params).fetchall()

    # -- the counts `status` and `check` need: count queries, no item leaves the server ----------------

    _OPEN_ITEMS = (
        # Each group's instants cast once (not once per item); then, per group, its open items
        # from the partial index `items_open` (an index-only scan in time order, no item's JSON
        # read, no answered item visited) counted per bucket.
        "WITH e AS MATERIALIZED (SELECT account, kind, edges::timestamptz[] AS edges"
        " FROM unnest(%s::text[], %s::text[], %s::text[]) AS u(account, kind, edges))"
        " SELECT e.account, e.kind, c.b, c.n, c.first FROM e CROSS JOIN LATERAL"
        " (SELECT o.b, count(*) AS n, min(o.at) AS first FROM"
        " (SELECT width_bucket(t.at, e.edges) AS b, t.at FROM {items} t"
        + _OPEN_WHERE
        + " AND t.account = e.account AND t.kind = e.kind ORDER BY t.at) AS o GROUP BY o.b) AS c"
    )
    _FIRST_KEYS = (
        # The smallest key among the open items of a group received at its bucket's first instant.
        "SELECT f.account, f.kind, f.b, min(t.key)"
        " FROM unnest(%s::text[], %s::text[], %s::int[], %s::timestamptz[]) AS f(account, kind, b, at)"
        " JOIN {items} t ON t.at = f.at AND t.account = f.account AND t.kind = f.kind"
        + _OPEN_WHERE
        + " GROUP BY f.account, f.kind, f.b"
    )
    _HEAD = (
        # The groups as a semi-join: the planner walks the items by time and stops at the head.
        " FROM {items} t WHERE (t.account, t.kind) IN (SELECT * FROM unnest(%s::text[], %s::text[]))"
        " AND" + _OPEN_WHERE.removeprefix(" WHERE") + " ORDER BY t.at, t.key LIMIT %s"
    )

    def _open_params(
        self, edges: Mapping[tuple[str, str], Sequence[datetime]], others: Collection[tuple[str, str]]
    ) -> list[Any]:
        self._lock("items")
        self._lock("answered")
        groups = sorted(edges)
        others = sorted(set(others))
        return [
            [account for account, _ in groups],
            [kind for _, kind in groups],
            ["{" + ",".join(f'"{at.isoformat()}"' for at in edges[group]) + "}" for group in groups],
            [network for network, _ in others] or [""],
            [handle for _, handle in others] or [""],
        ]

    def tally_open(
        self,
        edges: Mapping[tuple[str, str], Sequence[datetime]],
        others: Collection[tuple[str, str]] = (),
        head: int = 0,
    ) -> tuple[dict[tuple[str, str], Tally], list[tuple[str, Doc]]]:
        if not edges:
            return {}, []
        params = self._open_params(edges, others)
        # Per group and bucket: the count and the earliest time; then the earliest's key.
        statement = sql.SQL(self._OPEN_ITEMS).format(items=_ident("items"), answered=_ident("answered"))
        rows = self.conn.execute(statement, params).fetchall()
        counts: dict[tuple[str, str], list[int]] = {}
        firsts: dict[tuple[str, str, int], datetime] = {}
        for account, kind, bucket, count, earliest in rows:
            group = (account, kind)
            if group not in counts:
                counts[group] = [0] * (len(edges[group]) + 1)
            counts[group][bucket] = int(count)
            firsts[(account, kind, bucket)] = earliest
        keys: dict[tuple[str, str, int], str] = {}
        if firsts:
            wanted = sorted(firsts)
            statement = sql.SQL(self._FIRST_KEYS).format(items=_ident("items"), answered=_ident("answered"))
            found = self.conn.execute(
                statement,
                [
                    [w[0] for w in wanted],
                    [w[1] for w in wanted],
                    [w[2] for w in wanted],
                    [firsts[w] for w in wanted],
                    params[3],
                    params[4],
                ],
            ).fetchall()
            keys = {(account, kind, bucket): key for account, kind, bucket, key in found}
        first: dict[tuple[str, str], list[tuple[datetime, str] | None]] = {
            group: [None] * len(counts[group]) for group in counts
        }
        for (account, kind, bucket), earliest in firsts.items():
            first[(account, kind)][bucket] = (earliest, keys[(account, kind, bucket)])
        tally = {group: Tally(tuple(counts[group]), tuple(first[group])) for group in counts}
        if head <= 0:
            return tally, []
        statement = sql.SQL("SELECT t.key, t.doc" + self._HEAD).format(
            items=_ident("items"), answered=_ident("answered")
        )
        head_params = [params[0], params[1], params[3], params[4], head]
        return tally, [(key, doc) for key, doc in self.conn.execute(statement, head_params).fetchall()]


class PgWriter(PgReader, Writer):
    """Reads and writes of one `transact`: only the named tables may be written."""

    def __init__(self, conn: psycopg.Connection, tables: Collection[str]) -> None:
        super().__init__(conn)
        self.tables = frozenset(tables)
        self.written: set[str] = set()
        self._whole: set[str] = set()  # tables locked exclusive
        self._shared: set[str] = set()  # tables locked shared
        self._held: set[str] = set()  # keys and refs locked ("table|k|key", "table|r|ref")
        self._appends: dict[str, list[Doc]] = {}
        """Log lines not sent yet: they go with the transaction's last statement (`final`), or before
        a read of their table in this transaction."""

    def _lock(self, table: str, keys: Collection[str] = (), refs: Collection[str] = ()) -> None:
        """Lock before reading or writing a named table (see the module's docstring). Reads of a
        table the transaction did not name take no lock: it only looks."""
        if table in self._appends:  # every read goes through here: it sees the lines appended
            self.conn.execute(*self._insert_lines(table, self._appends.pop(table)))
        if table not in self.tables or TABLES[table].log or table in self._whole:
            return
        if not keys and not refs:
            self.conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (TABLE_LOCK_SPACE, table))
            self._whole.add(table)
            return
        wanted = sorted(
            ({f"{table}|k|{key}" for key in keys} | {f"{table}|r|{ref}" for ref in refs}) - self._held
        )
        if not wanted:
            return
        if len(wanted) + len(self._held) > MAX_KEY_LOCKS:
            # a bulk write (an import, a first sync of a big account): one table lock instead of
            # thousands of key locks, which would exhaust the server's lock table
            self._lock(table)
            return
        # One round trip (a pipeline) for the table's shared lock, then its keys' locks, in that
        # order; unnest keeps the order given: the same sorted order in every transaction.
        with self.conn.pipeline():
            if table not in self._shared:
                self.conn.execute(
                    "SELECT pg_advisory_xact_lock_shared(%s, hashtext(%s))", (TABLE_LOCK_SPACE, table)
                )
            self.conn.execute(
                "SELECT count(pg_advisory_xact_lock(%s, hashtext(k))) FROM unnest(%s::text[]) AS k",
                (KEY_LOCK_SPACE, wanted),
            )
        self._shared.add(table)
        self._held.update(wanted)

    def put(self, table: str, key: str, doc: Doc) -> None:
        self.put_many(table, {key: doc})

    def put_many(self, table: str, docs: Mapping[str, Doc]) -> None:
        spec = self._writable(table, log=False)
        if not docs:
            return
        refs = {spec.ref(doc) for doc in docs.values()} - {""} if spec.ref is not None else set()
        self._lock(table, keys=docs.keys(), refs=refs)
        statement = sql.SQL(
            "WITH revived AS (DELETE FROM {tombstones} WHERE tbl = %s AND key = %s)"
            " INSERT INTO {t} AS t (key, doc, account, at, ref) VALUES (%s, %s, %s, %s::timestamptz, %s)"
            " ON CONFLICT (key) DO UPDATE SET doc = EXCLUDED.doc, account = EXCLUDED.account,"
            " at = EXCLUDED.at, ref = EXCLUDED.ref, xid = pg_current_xact_id()"
        ).format(tombstones=_ident("tombstones"), t=_ident(table))
        rows = [
            (
                key,
                Jsonb(doc),
                spec.account(doc) if spec.account is not None else None,
                _at(spec, doc),
                spec.ref(doc) if spec.ref is not None else None,
            )
            for key, doc in docs.items()
        ]
        if len(rows) >= BULK_ROWS:
            self._put_bulk(table, rows)
        else:
            with self.conn.cursor() as cursor:
                cursor.executemany(statement, [(table, row[0], *row) for row in rows])
        self.written.add(table)

    def _put_bulk(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        """Many rows at once (a first sync, a migration): COPY into a temporary table, then one
        upsert and one tombstone sweep, instead of a statement per row."""
        self.conn.execute(
            'CREATE TEMP TABLE IF NOT EXISTS socialtui_load (key text COLLATE "C", doc jsonb,'
            ' account text, at timestamptz, ref text COLLATE "C") ON COMMIT DELETE ROWS'
        )
        self.conn.execute("TRUNCATE socialtui_load")
        with self.conn.cursor() as cursor:
            with cursor.copy("COPY socialtui_load (key, doc, account, at, ref) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        self.conn.execute(
            sql.SQL(
                "DELETE FROM {tombstones} d USING socialtui_load l WHERE d.tbl = %s AND d.key = l.key"
            ).format(tombstones=_ident("tombstones")),
            (table,),
        )
        self.conn.execute(
            sql.SQL(
                "INSERT INTO {t} AS t (key, doc, account, at, ref) SELECT key, doc, account, at, ref"
                " FROM socialtui_load ON CONFLICT (key) DO UPDATE SET doc = EXCLUDED.doc,"
                " account = EXCLUDED.account, at = EXCLUDED.at, ref = EXCLUDED.ref, xid = pg_current_xact_id()"
            ).format(t=_ident(table))
        )

    def delete(self, table: str, keys: Collection[str]) -> int:
        self._writable(table, log=False)
        if not keys:
            return 0
        self._lock(table, keys=keys)
        row = self.conn.execute(
            sql.SQL(
                "WITH gone AS (DELETE FROM {t} WHERE key = ANY(%s) RETURNING key),"
                " buried AS (INSERT INTO {tombstones} (tbl, key) SELECT %s, key FROM gone"
                " ON CONFLICT (tbl, key) DO UPDATE SET xid = pg_current_xact_id(), at = now())"
                " SELECT count(*) FROM gone"
            ).format(t=_ident(table), tombstones=_ident("tombstones")),
            (list(keys), table),
        ).fetchone()
        count = int(row[0]) if row else 0
        if count:
            self.written.add(table)
        return count

    def append(self, table: str, doc: Doc) -> None:
        self._writable(table, log=True)
        self._appends.setdefault(table, []).append(doc)
        self.written.add(table)

    @staticmethod
    def _insert_lines(table: str, docs: list[Doc]) -> tuple[sql.Composed, tuple[Any, ...]]:
        """An INSERT of log lines, in the order given (the ids follow it)."""
        spec = _table(table)
        statement = sql.SQL(
            "INSERT INTO {t} (doc, at) SELECT d, a FROM unnest(%s::jsonb[], %s::timestamptz[])"
            " WITH ORDINALITY AS u(d, a, n) ORDER BY n"
        ).format(t=_ident(table))
        return statement, ([Jsonb(doc) for doc in docs], [_at(spec, doc) for doc in docs])

    def final(self, commit_id: uuid.UUID) -> tuple[sql.Composed, tuple[Any, ...]]:
        """The transaction's last statement, one round trip: the log lines still to send, the row
        that settles a lost COMMIT (`socialtui.commits`), and the NOTIFY of the tables written."""
        parts: list[sql.Composable] = []
        params: list[Any] = []
        for n, table in enumerate(sorted(self._appends)):
            statement, values = self._insert_lines(table, self._appends[table])
            parts.append(
                sql.SQL("{name} AS ({statement})").format(name=sql.Identifier(f"l{n}"), statement=statement)
            )
            params += values
        self._appends.clear()
        parts.append(sql.SQL("c AS (INSERT INTO socialtui.commits (id) VALUES (%s) RETURNING 1)"))
        params += [commit_id, CHANNEL, ",".join(sorted(self.written))]
        return sql.SQL("WITH {} SELECT pg_notify(%s, %s) FROM c").format(sql.SQL(", ").join(parts)), tuple(
            params
        )

    def _writable(self, table: str, *, log: bool) -> Table:
        spec = _table(table)
        if table not in self.tables:
            raise StoreError(f"a write to {table} in a transaction that named only {sorted(self.tables)}")
        if spec.log != log:
            raise StoreError(f"{table} is {'a log: append to it' if spec.log else 'not a log'}")
        return spec


# -- leases --------------------------------------------------------------------------------------------


def _holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{random.getrandbits(32):08x}"


@dataclass
class PgLease(Lease):
    """A row in `socialtui.leases`, ours while it has not expired (server time)."""

    engine: PgEngine | None = field(default=None, repr=False)
    holder: str = field(default_factory=_holder_name)
    _held_until: float = field(default=0.0, repr=False)
    """Our own clock's (monotonic) bound for `held`: taken before the statement, so on the safe side."""

    @property
    def held(self) -> bool:
        return time.monotonic() < self._held_until

    def try_acquire(self) -> bool:
        started = time.monotonic()
        row = self._engine._run(
            lambda conn: conn.execute(
                "INSERT INTO socialtui.leases AS l (name, holder, expires_at)"
                " VALUES (%s, %s, now() + make_interval(secs => %s))"
                " ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at"
                " WHERE l.expires_at < now() OR l.holder = EXCLUDED.holder"
                " RETURNING holder",
                (self.name, self.holder, self.ttl),
            ).fetchone()
        )
        self._held_until = started + self.ttl if row else 0.0
        return row is not None

    def renew(self) -> bool:
        started = time.monotonic()
        row = self._engine._run(
            lambda conn: conn.execute(
                "UPDATE socialtui.leases SET expires_at = now() + make_interval(secs => %s)"
                " WHERE name = %s AND holder = %s RETURNING 1",
                (self.ttl, self.name, self.holder),
            ).fetchone()
        )
        self._held_until = started + self.ttl if row else 0.0
        return row is not None

    def release(self) -> None:
        self._held_until = 0.0
        self._engine._run(
            lambda conn: conn.execute(
                "DELETE FROM socialtui.leases WHERE name = %s AND holder = %s", (self.name, self.holder)
            )
        )

    @property
    def _engine(self) -> PgEngine:
        assert self.engine is not None
        return self.engine


# -- the engine ----------------------------------------------------------------------------------------


class _Again(Exception):
    """The transaction was rolled back as a deadlock's loser: run the body again."""


class _Lost(Exception):
    """The connection went away; `during_commit`: after COMMIT was sent (the outcome is unknown)."""

    def __init__(self, cause: psycopg.Error, *, during_commit: bool = False, result: Any = None) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.during_commit = during_commit
        self.result = result


def _is_pool_timeout(exc: BaseException) -> bool:
    """A `psycopg_pool.PoolTimeout` (the pool is imported only once a second connection is needed)."""
    pool = sys.modules.get("psycopg_pool")
    return pool is not None and isinstance(exc, pool.PoolTimeout)


def _is_lost(exc: psycopg.Error, conn: psycopg.Connection | None) -> bool:
    if _is_pool_timeout(exc):
        return True
    if conn is not None and (conn.closed or conn.broken):
        return True
    # No connection yet (connecting failed), or the server is going away (57P01..57P03, class 08).
    sqlstate = getattr(exc, "sqlstate", None) or ""
    return isinstance(exc, psycopg.OperationalError) and (
        conn is None or sqlstate.startswith("08") or sqlstate in ("57P01", "57P02", "57P03")
    )


class PgEngine(Engine):
    """The store's tables in a PostgreSQL database (see the module's docstring)."""

    name = "postgresql"

    def __init__(
        self,
        url: str,
        *,
        password: str | None = None,
        application_name: str = "socialtui",
        retry_for: float = 10.0,
        max_connections: int = 4,
    ) -> None:
        self.url, url_password = _without_password(url)
        self._password = password if password is not None else url_password
        self.host = _host(self.url)
        self.retry_for = retry_for
        self._kwargs: dict[str, Any] = {"application_name": application_name, "autocommit": True}
        if self._password:
            self._kwargs["password"] = self._password
        self._listen_lock = threading.Lock()
        self._listener: psycopg.Connection | None = None
        self._max_connections = max_connections
        # The connection that migrated is kept and used first: a one-shot command (`status`,
        # `check`) opens one connection and no pool (a second connection, the pool's threads and
        # its import were a fifth of `status` on PostgreSQL). The pool comes when two threads
        # want a connection at once, or the first one broke.
        self._first: psycopg.Connection | None = None
        self._first_lock = threading.Lock()
        self._first_used = time.monotonic()
        self._pool_lock = threading.Lock()
        self._pool: ConnectionPool | None = None
        self._pruned = False
        """The old commit markers are pruned by the process's first write (a reading command, such as
        `status`, writes nothing)."""
        try:
            conn = psycopg.connect(self.url, **self._kwargs)
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(self._unreachable(exc, "")) from exc
        try:
            if not _current(conn):
                migrate(conn)
            _configure(conn)
        except BaseException as exc:
            conn.close()
            if isinstance(exc, psycopg.OperationalError):
                raise StoreUnavailable(self._unreachable(exc, "")) from exc
            if isinstance(exc, psycopg.Error):
                raise StoreError(f"the store's database at {self.host}: {self._scrub(exc)}") from exc
            raise
        self._first = conn

    def _pooled(self) -> ConnectionPool:
        """The pool, opened on first use (`_connection`); `PoolTimeout` if no connection could be made."""
        with self._pool_lock:
            if self._pool is None:
                from psycopg_pool import ConnectionPool, PoolTimeout

                pool = ConnectionPool(
                    self.url,
                    kwargs=self._kwargs,
                    min_size=1,
                    max_size=self._max_connections,
                    open=False,
                    configure=_configure,
                    check=ConnectionPool.check_connection,
                    name="socialtui",
                    timeout=self.retry_for,
                )
                try:
                    pool.open(wait=True, timeout=self.retry_for)
                except PoolTimeout:
                    pool.close()
                    raise  # a lost connection to the caller: retried, or reported unreachable
                self._pool = pool
            return self._pool

    def _sound(self, conn: psycopg.Connection) -> bool:
        """Is the first connection usable? After a pause, asked of the server (as the pool checks
        its connections): a server restarted meanwhile is found here, not by the work."""
        if conn.closed or conn.broken:
            return False
        if time.monotonic() - self._first_used < FIRST_CHECK_AFTER:
            return True
        try:
            conn.execute("")
        except psycopg.Error:
            return False
        return True

    @contextmanager
    def _connection(self, timeout: float) -> Iterator[psycopg.Connection]:
        """A connection for one piece of work: the first one if it is free and sound, else one of
        the pool's. Left idle (rolled back) when given back; a broken first one is dropped."""
        first = self._first
        if first is not None and self._first_lock.acquire(blocking=False):
            try:
                if first is self._first and self._sound(first):
                    try:
                        yield first
                    finally:
                        _rollback(first)
                        self._first_used = time.monotonic()
                        if first.closed or first.broken:
                            self._first = None
                            first.close()
                    return
                self._first = None
                first.close()
            finally:
                self._first_lock.release()
        with self._pooled().connection(timeout=timeout) as conn:
            yield conn

    # -- the contract ---------------------------------------------------------------------------------

    def transact(self, tables: Sequence[str], body: Callable[[Writer], T]) -> T:
        names = sorted({_table(name).name for name in tables})
        if not self._pruned:
            self._pruned = True
            self._run(prune_commits)
        deadline = time.monotonic() + self.retry_for
        delay = 0.1
        while True:
            commit_id = uuid.uuid4()
            try:
                return self._attempt(names, body, commit_id, deadline)
            except _Again:
                # Two bodies locked the same keys in opposite orders: this one lost; run it again.
                if time.monotonic() > deadline:
                    raise StoreBusy(
                        f"{', '.join(names)}: kept deadlocking with another writer; nothing was changed"
                    ) from None
                time.sleep(random.uniform(0, 0.01))
            except _Lost as lost:
                if lost.during_commit:
                    committed = self._settle(names, commit_id, deadline)
                    if committed:
                        return lost.result
                    if committed is None:
                        raise StoreUnavailable(
                            f"the store's database at {self.host} went away while saving: "
                            f"{self._scrub(lost.cause)}; the change may or may not have been saved"
                        ) from lost.cause
                if time.monotonic() + delay > deadline:
                    raise StoreUnavailable(self._unreachable(lost.cause)) from lost.cause
                time.sleep(delay)
                delay *= 2

    @contextmanager
    def read(self) -> Iterator[Reader]:
        """A consistent view (REPEATABLE READ, READ ONLY) of the latest committed data."""
        try:
            with self._connection(self.retry_for) as conn:
                conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                yield PgReader(conn)
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(self._unreachable(exc, "")) from exc
        except psycopg.Error as exc:
            raise StoreError(f"reading the store: {self._scrub(exc)}") from exc

    def changes(self, token: Any, tables: Collection[str]) -> tuple[str, Changes]:
        found: Changes = {}
        wholes: list[bool] = []

        def take(table: str, docs: Mapping[str, Doc | None], whole: bool) -> None:
            if whole and not wholes:
                wholes.append(True)
            found.setdefault(table, {}).update(docs)

        snapshot = self.follow(token, tables, take)
        return snapshot, Everything(found) if wholes else found

    FOLLOW_PART = 2000
    """Rows decoded and handed over at a time by `follow`."""

    def follow(self, token: Any, tables: Collection[str], take: Take) -> str:
        """`changes` read in one snapshot, each table handed over `FOLLOW_PART` rows at a time (the
        rows are decoded as they are fetched). Read again whole after a lost connection: a reader
        that decodes parts as they come gets some twice (harmless: the same documents)."""
        names = sorted({_table(name).name for name in tables})
        self._check_token(token)

        def work(conn: psycopg.Connection) -> str:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            # The first statement: the transaction's snapshot, the one the rows below are read in,
            # and whether the token is too old to say what changed (`_FORGOTTEN`).
            snapshot, forgotten = conn.execute(  # type: ignore[misc]  # this statement always returns one row
                sql.SQL("SELECT pg_current_snapshot()::text, ") + (_FORGOTTEN if token else sql.SQL("true")),
                {"token": token} if token else None,
            ).fetchone()
            if forgotten or not names:
                self._follow_whole(conn, names, take)
            else:
                self._follow_since(conn, token, names, take)
            conn.execute("COMMIT")
            return str(snapshot)

        return self._run(work)

    def _follow_whole(self, conn: psycopg.Connection, names: list[str], take: Take) -> None:
        """Every row of each table, a table at a time, `FOLLOW_PART` rows per round trip (a server-
        side cursor: a client-side one has libpq hold the whole table's rows at once, and a
        dashboard's first reading of a busy store kept the 60 MB of them as its size)."""
        for name in names:
            key = sql.SQL("id::text") if TABLES[name].log else sql.SQL("key")
            take(name, {}, True)  # every table asked for is answered, changed or not
            with conn.cursor(name=f"follow_{name}") as cursor:
                cursor.itersize = self.FOLLOW_PART
                cursor.execute(sql.SQL("SELECT {key}, doc FROM {t}").format(key=key, t=_ident(name)))
                while rows := cursor.fetchmany(self.FOLLOW_PART):
                    take(name, dict(rows), True)

    def _follow_since(self, conn: psycopg.Connection, token: str, names: list[str], take: Take) -> None:
        """What the token's snapshot could not see, of every table and its tombstones, in one
        statement (a statement per table and one for the tombstones were most of a follower's
        round trips, each paid on every change, by every dashboard)."""
        handed: dict[str, set[str]] = {}
        for name in names:
            handed[name] = set()
            take(name, {}, False)  # every table asked for is answered, changed or not
        buried: list[tuple[str, str]] = []
        # Planned for this token (`_CUSTOM_PLAN`), never from a plan kept for any token.
        cursor = conn.execute(
            _since_statement(tuple(names)), {"token": token, "tables": names}, prepare=_CUSTOM_PLAN
        )
        while rows := cursor.fetchmany(self.FOLLOW_PART):
            parts: dict[str, dict[str, Doc | None]] = {}
            for name, key, doc, tombstone in rows:
                if tombstone:
                    buried.append((name, key))
                else:
                    parts.setdefault(name, {})[key] = doc
            for name, part in parts.items():
                handed[name].update(part)
                take(name, part, False)
        gone: dict[str, dict[str, Doc | None]] = {}
        for name, key in buried:
            if key not in handed[name]:  # a key deleted and written again is present
                gone.setdefault(name, {})[key] = None
        for name, docs in gone.items():
            take(name, docs, False)

    def wait(self, token: Any, tables: Collection[str], timeout: float) -> bool:
        names = {_table(name).name for name in tables}
        self._check_token(token)
        if token is None:
            return True
        deadline = time.monotonic() + timeout
        with self._listen_lock:
            conn = self._listening()
            try:
                for _ in conn.notifies(timeout=0):
                    pass  # commits before the check below: it covers them
                if self._changed_since(conn, token, sorted(names)):
                    return True
                while (left := deadline - time.monotonic()) > 0:
                    for notice in conn.notifies(timeout=left):
                        if names.intersection(notice.payload.split(",")):
                            return True
            except psycopg.Error:
                # Not listening for a while: anything may have changed. The next wait reconnects.
                self._close_listener()
                return True
        return False

    def lease(self, name: str, ttl: float = 30.0) -> Lease:
        return PgLease(name, ttl, engine=self)

    def log(self, table: str, since: datetime | None = None) -> Iterator[Doc]:
        if not _table(table).log:
            raise StoreError(f"{table} is not a log table")
        statement = sql.SQL(
            "SELECT id, doc FROM {t} WHERE id > %s AND (%s::timestamptz IS NULL OR at >= %s::timestamptz)"
            " ORDER BY id LIMIT %s"
        ).format(t=_ident(table))
        last = 0
        while True:
            # A page per statement: no connection is held while the caller works through a page.
            def page(conn: psycopg.Connection, after: int = last) -> list[Any]:
                return conn.execute(statement, (after, since, since, LOG_PAGE)).fetchall()

            rows = self._run(page)
            for _, doc in rows:
                yield doc
            if len(rows) < LOG_PAGE:
                return
            last = rows[-1][0]

    def prune_log(self, table: str, before: datetime) -> int:
        if not _table(table).log:
            raise StoreError(f"{table} is not a log table")
        statement = sql.SQL("DELETE FROM {t} WHERE at < %s").format(t=_ident(table))
        return self._run(lambda conn: conn.execute(statement, (before,)).rowcount)

    def prune_changes(self, keep: timedelta) -> int:
        """Drop the tombstones laid more than `keep` ago (server time) and remember the newest xid
        dropped, in one transaction. Under the operators' role (no right to write `meta`) nothing
        is pruned: that is the owner's job, like the audit's retention."""

        def work(conn: psycopg.Connection) -> int:
            try:
                with conn.transaction():
                    count, upto = conn.execute(
                        "WITH gone AS (DELETE FROM socialtui.tombstones"
                        " WHERE at < now() - make_interval(secs => %s) RETURNING xid)"
                        " SELECT count(*), max(xid)::text FROM gone",
                        (keep.total_seconds(),),
                    ).fetchone()  # type: ignore[misc]  # these statements always return one row
                    if upto is not None:
                        conn.execute(
                            "INSERT INTO socialtui.meta AS m (key, value) VALUES (%s, to_jsonb(%s::text))"
                            " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
                            " WHERE (m.value #>> '{}')::xid8 < (EXCLUDED.value #>> '{}')::xid8",
                            (CHANGES_FORGOTTEN, upto),
                        )
                    return int(count)
            except errors.InsufficientPrivilege:
                return 0

        return self._run(work)

    def info(self) -> EngineInfo:
        def work(conn: psycopg.Connection) -> EngineInfo:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            problems: list[str] = []
            version = schema_version(conn)
            counts = []
            for name, table in TABLES.items():
                row = conn.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.{name}",)).fetchone()
                if row is None or row[0] is None:
                    problems.append(f"the table {SCHEMA}.{name} is missing")
                    continue
                (rows,) = conn.execute(sql.SQL("SELECT count(*) FROM {t}").format(t=_ident(name))).fetchone()  # type: ignore[misc]  # these statements always return one row
                counts.append(TableCount(name, int(rows)))
                problems.extend(_open_ref_problems(conn, table))
            (size,) = conn.execute("SELECT pg_database_size(current_database())").fetchone()  # type: ignore[misc]  # these statements always return one row
            conn.execute("COMMIT")
            return EngineInfo(
                engine=self.name,
                location=self.url,
                schema_version=version,
                counts=tuple(counts),
                size_bytes=int(size),
                problems=tuple(problems),
            )

        return self._run(work)

    def close(self) -> None:
        with self._listen_lock:
            self._close_listener()
        with self._first_lock:
            first, self._first = self._first, None
            if first is not None:
                first.close()
        with self._pool_lock:
            if self._pool is not None:
                self._pool.close()

    def __del__(self) -> None:
        # An engine dropped without `close()` lets its first connection go quietly, as the pool
        # did with its own (psycopg warns of a connection deleted while open).
        first = getattr(self, "_first", None)
        if first is not None and not first.closed:
            first.close()

    # -- beyond the contract --------------------------------------------------------------------------

    def grant_operators(self) -> bool:
        """Give the `socialtui_operators` role its rights (the owner's job); False if no such role."""
        return self._run(lambda conn: grant_operators(conn, force=True))

    # -- transactions ---------------------------------------------------------------------------------

    def _attempt(
        self, names: list[str], body: Callable[[Writer], T], commit_id: uuid.UUID, deadline: float
    ) -> T:
        conn: psycopg.Connection | None = None
        try:
            with self._connection(max(0.1, deadline - time.monotonic())) as conn:
                try:
                    conn.execute("BEGIN")
                    writer = PgWriter(conn, names)
                    result = body(writer)
                    if writer.written:
                        conn.execute(*writer.final(commit_id))
                except BaseException:
                    _rollback(conn)
                    raise
                try:
                    self._commit(conn)
                except psycopg.Error as exc:
                    if _is_lost(exc, conn):
                        raise _Lost(exc, during_commit=bool(writer.written), result=result) from exc
                    raise
                return result
        except errors.UniqueViolation as exc:
            raise Conflict(self._conflict_message(exc)) from exc
        except (errors.DeadlockDetected, errors.SerializationFailure) as exc:
            raise _Again() from exc
        except errors.LockNotAvailable as exc:
            raise StoreBusy(
                f"{', '.join(names)}: another process held the lock too long; nothing was changed"
            ) from exc
        except psycopg.Error as exc:
            if _is_lost(exc, conn):
                raise _Lost(exc) from exc
            raise StoreWriteFailed(
                f"the store's database refused the change: {self._scrub(exc)}; nothing was changed"
            ) from exc

    def _commit(self, conn: psycopg.Connection) -> None:
        """COMMIT (a method of its own: tests lose the connection here)."""
        conn.execute("COMMIT")

    def _settle(self, names: list[str], commit_id: uuid.UUID, deadline: float) -> bool | None:
        """Did the transaction whose COMMIT lost its answer commit? None: we could not find out."""
        delay = 0.1
        while True:
            conn: psycopg.Connection | None = None
            try:
                with self._connection(max(0.1, deadline - time.monotonic())) as conn:
                    conn.execute("BEGIN")
                    # Our insert of the lost transaction's id waits while that transaction is still
                    # running (it inserted the same key), then finds it taken only if it committed.
                    row = conn.execute(
                        "INSERT INTO socialtui.commits (id) VALUES (%s) ON CONFLICT DO NOTHING RETURNING 1",
                        (commit_id,),
                    ).fetchone()
                    conn.execute("ROLLBACK")
                    return row is None
            except psycopg.Error:
                if time.monotonic() + delay > deadline:
                    return None
                time.sleep(delay)
                delay *= 2

    # -- connections ----------------------------------------------------------------------------------

    def _run(self, work: Callable[[psycopg.Connection], T]) -> T:
        """`work` on a pooled connection, again after a lost connection (idempotent work only)."""
        deadline = time.monotonic() + self.retry_for
        delay = 0.1
        while True:
            conn: psycopg.Connection | None = None
            try:
                with self._connection(max(0.1, deadline - time.monotonic())) as conn:
                    try:
                        return work(conn)
                    finally:
                        _rollback(conn)
            except errors.LockNotAvailable as exc:
                raise StoreBusy(f"the store's database is busy: {self._scrub(exc)}") from exc
            except psycopg.Error as exc:
                if not _is_lost(exc, conn):
                    raise StoreError(f"the store's database at {self.host}: {self._scrub(exc)}") from exc
                if time.monotonic() + delay > deadline:
                    raise StoreUnavailable(self._unreachable(exc, "")) from exc
                time.sleep(delay)
                delay *= 2

    def _listening(self) -> psycopg.Connection:
        if self._listener is None or self._listener.closed:
            try:
                conn = psycopg.connect(self.url, **self._kwargs)
                conn.execute(f"LISTEN {CHANNEL}")
            except psycopg.Error as exc:
                raise StoreUnavailable(self._unreachable(exc, "")) from exc
            self._listener = conn
        return self._listener

    def _close_listener(self) -> None:
        if self._listener is not None:
            with suppress(psycopg.Error):
                self._listener.close()
            self._listener = None

    def _changed_since(self, conn: psycopg.Connection, token: str, names: list[str]) -> bool:
        checks = [
            sql.SQL("EXISTS (SELECT 1 FROM {t} WHERE ").format(t=_ident(name)) + _SINCE + sql.SQL(")")
            for name in names
        ]
        checks.append(
            sql.SQL("EXISTS (SELECT 1 FROM {t} WHERE tbl = ANY(%(tables)s) AND ").format(
                t=_ident("tombstones")
            )
            + _SINCE
            + sql.SQL(")")
        )
        checks.append(_FORGOTTEN)
        row = conn.execute(
            sql.SQL("SELECT ") + sql.SQL(" OR ").join(checks),
            {"token": token, "tables": names},
            prepare=_CUSTOM_PLAN,
        ).fetchone()
        return bool(row and row[0])

    # -- messages -------------------------------------------------------------------------------------

    def _check_token(self, token: Any) -> None:
        if token is not None and not (isinstance(token, str) and token.count(":") == 2):
            raise StoreError(f"not a change token of the PostgreSQL engine: {token!r}")

    def _scrub(self, exc: BaseException) -> str:
        message = str(exc).strip()
        if self._password:
            message = message.replace(self._password, "***")
        return message

    def _unreachable(self, exc: BaseException, outcome: str = "; nothing was changed") -> str:
        return f"the store's database at {self.host} is unreachable: {self._scrub(exc)}{outcome}"

    def _conflict_message(self, exc: errors.UniqueViolation) -> str:
        table = exc.diag.table_name or "a table"
        spec = TABLES.get(table)
        if spec is not None and spec.unique_open_ref is not None:
            state, values = spec.unique_open_ref
            return (
                f"{table}: another entry for the same {('item' if table == 'outbox' else 'ref')} is already "
                f"{' or '.join(values)}; nothing was changed"
            )
        return f"{table}: {self._scrub(exc)}; nothing was changed"


_CUSTOM_PLAN = False
"""`prepare=` for the statements that ask what changed since a token (`_SINCE`): never a prepared
statement, so that the server plans each for its token. psycopg prepares a statement run five
times, and the server then may keep a generic plan, made without the token: for `_SINCE` it cannot
tell that few rows are that new, and for an EXISTS it expects to find one in the first rows of a
sequential scan. The `wait` check ran so: at 200,000 items 20-65 ms of the server's CPU per check
(under load), for every dashboard at every change; on 200,000 rows, 15 ms with the generic plan,
0.2 ms planned for the token (the `xid` index)."""

# Rows (and tombstones) that a token's snapshot could not see: what changed since it was taken.
_SINCE = sql.SQL(
    "xid >= pg_snapshot_xmin(%(token)s::pg_snapshot) AND NOT pg_visible_in_snapshot(xid, %(token)s::pg_snapshot)"
)


@functools.lru_cache(maxsize=64)
def _since_statement(names: tuple[str, ...]) -> sql.Composed:
    """The rows of `names` and their tombstones that a token's snapshot could not see, as (table,
    key, doc, tombstone) (`%(token)s`, `%(tables)s`: the names as a list)."""
    parts = [
        sql.SQL("SELECT {name}::text, {key}, doc, false FROM {t} WHERE ").format(
            name=sql.Literal(name),
            key=sql.SQL("id::text") if TABLES[name].log else sql.SQL("key"),
            t=_ident(name),
        )
        + _SINCE
        for name in names
    ]
    parts.append(
        sql.SQL("SELECT tbl, key, NULL::jsonb, true FROM {t} WHERE tbl = ANY(%(tables)s) AND ").format(
            t=_ident("tombstones")
        )
        + _SINCE
    )
    return sql.SQL(" UNION ALL ").join(parts)


# The token's snapshot may have missed a deletion whose tombstone was pruned since.
_FORGOTTEN = sql.SQL(
    "EXISTS (SELECT 1 FROM socialtui.meta WHERE key = {key}"
    " AND pg_snapshot_xmin(%(token)s::pg_snapshot) <= (value #>> '{{}}')::xid8)"
).format(key=sql.Literal(CHANGES_FORGOTTEN))


def _rollback(conn: psycopg.Connection) -> None:
    if not conn.closed and not conn.broken and conn.info.transaction_status != TransactionStatus.IDLE:
        with suppress(psycopg.Error):
            conn.execute("ROLLBACK")


def _open_ref_problems(conn: psycopg.Connection, table: Table) -> list[str]:
    if table.unique_open_ref is None:
        return []
    problems = []
    index = f"{table.name}_open_ref"
    found = conn.execute(
        "SELECT 1 FROM pg_indexes WHERE schemaname = %s AND indexname = %s", (SCHEMA, index)
    ).fetchone()
    if found is None:
        problems.append(
            f"the unique index {SCHEMA}.{index} is missing: two open entries per ref are possible"
        )
    state, values = table.unique_open_ref
    rows = conn.execute(
        sql.SQL(
            "SELECT ref, count(*) FROM {t} WHERE doc->>%s = ANY(%s) GROUP BY ref HAVING count(*) > 1"
        ).format(t=_ident(table.name)),
        (state, list(values)),
    ).fetchall()
    problems.extend(f"{table.name}: {n} open entries for {ref}" for ref, n in rows)
    return problems


# -- migrations and rights -----------------------------------------------------------------------------


def schema_version(conn: psycopg.Connection) -> int:
    """The database's schema version: 0 for a database without our schema."""
    row = conn.execute("SELECT to_regclass('socialtui.meta')").fetchone()
    if row is None or row[0] is None:
        return 0
    row = conn.execute("SELECT value FROM socialtui.meta WHERE key = 'schema_version'").fetchone()
    if row is None or not isinstance(row[0], int):
        raise StoreCorrupt("socialtui.meta holds no schema_version: the schema is not socialtui's")
    return row[0]


def migrate(conn: psycopg.Connection) -> int:
    """Bring the schema to `SCHEMA_VERSION` (one process at a time; all or nothing); returns the
    version found. A newer schema raises `StoreTooNew` and is left alone."""
    found = schema_version(conn)
    if found > SCHEMA_VERSION:
        raise _too_new(found)
    if found == SCHEMA_VERSION:
        grant_operators(conn)
        return found
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        found = schema_version(conn)  # another process may have migrated while we waited
        if found > SCHEMA_VERSION:
            raise _too_new(found)
        for version in range(found + 1, SCHEMA_VERSION + 1):
            conn.execute(MIGRATIONS[version - 1])
            conn.execute(
                "INSERT INTO socialtui.migrations (version, applied_by) VALUES (%s, current_user)", (version,)
            )
        conn.execute(
            "INSERT INTO socialtui.meta (key, value) VALUES ('schema_version', %s)"
            " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            (Jsonb(SCHEMA_VERSION),),
        )
    grant_operators(conn)
    return found


def _current(conn: psycopg.Connection) -> bool:
    """In one round trip, what `migrate` would find at its first look: is the schema this socialtui's
    version and, if the operators' role exists, does it hold its rights? False (let `migrate` look
    and act) for anything else, a database without our schema included."""
    tables = [*TABLES, *ENGINE_TABLES]
    try:
        row = conn.execute(
            "SELECT m.value, (SELECT bool_and(has_table_privilege(r.oid, format('socialtui.%%I', t), 'SELECT'))"
            " FROM pg_roles r, unnest(%s::text[]) t WHERE r.rolname = %s)"
            " FROM socialtui.meta m WHERE m.key = 'schema_version'",
            (tables, OPERATORS_ROLE),
        ).fetchone()
    except (errors.UndefinedTable, errors.InvalidSchemaName, errors.InsufficientPrivilege):
        return False
    # No role: nothing to grant (NULL); a role without its rights: `grant_operators` gives them.
    return row is not None and row[0] == SCHEMA_VERSION and row[1] is not False


def _too_new(found: int) -> StoreTooNew:
    return StoreTooNew(
        f"the store's database has schema version {found}, newer than this socialtui knows "
        f"({SCHEMA_VERSION}): upgrade socialtui; nothing was changed"
    )


def prune_commits(conn: psycopg.Connection) -> None:
    """Forget the commit markers older than a week: a lost COMMIT is settled within seconds."""
    with suppress(errors.InsufficientPrivilege):
        conn.execute("DELETE FROM socialtui.commits WHERE at < now() - interval '7 days'")


def grant_operators(conn: psycopg.Connection, *, force: bool = False) -> bool:
    """Grant `socialtui_operators` its rights if the role exists and lacks them (the schema's owner
    does; anyone else leaves them alone). False if there is no such role."""
    row = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (OPERATORS_ROLE,)).fetchone()
    if row is None:
        return False
    data = [name for name, table in TABLES.items() if not table.log]
    logs = [name for name, table in TABLES.items() if table.log]
    tables = [*data, *logs, *ENGINE_TABLES]
    granted = conn.execute(
        "SELECT bool_and(has_table_privilege(%s, format('socialtui.%%I', t), 'SELECT')) FROM unnest(%s::text[]) t",
        (OPERATORS_ROLE, tables),
    ).fetchone()
    if granted and granted[0] and not force:
        return True

    def idents(names: Sequence[str]) -> sql.Composable:
        return sql.SQL(", ").join(_ident(name) for name in names)

    role = sql.Identifier(OPERATORS_ROLE)
    try:
        with conn.transaction():
            # GRANTs racing in two sessions fail ("tuple concurrently updated"): one at a time.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {s} TO {r}").format(s=sql.Identifier(SCHEMA), r=role))
            conn.execute(
                sql.SQL("GRANT SELECT ON {t} TO {r}").format(t=idents(["meta", "migrations"]), r=role)
            )
            conn.execute(
                sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {t} TO {r}").format(
                    t=idents([*data, "tombstones", "commits", "leases"]), r=role
                )
            )
            conn.execute(sql.SQL("GRANT SELECT, INSERT ON {t} TO {r}").format(t=idents(logs), r=role))
            conn.execute(
                sql.SQL("REVOKE UPDATE, DELETE, TRUNCATE ON {t} FROM {r}").format(t=idents(logs), r=role)
            )
            conn.execute(
                sql.SQL("GRANT USAGE ON ALL SEQUENCES IN SCHEMA {s} TO {r}").format(
                    s=sql.Identifier(SCHEMA), r=role
                )
            )
    except errors.InsufficientPrivilege:
        if force:
            raise
    return True


__all__ = [
    "PgEngine",
    "PgLease",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "migrate",
    "schema_version",
    "grant_operators",
]
