"""Following the store: what changed since the last look, decoded once.

A `Follower` keeps the model objects of some tables and asks the engine what changed since its last
token (`Engine.changes`), so that a dashboard pays for what changed, never for the whole store: a
document that came back unchanged is not decoded again, and a table nobody wrote is not read.

What came back unchanged is told by a fingerprint of each document (a hash of its JSON), not by the
document kept beside its object: tens of thousands of items and posts, held twice, were most of a
dashboard's memory. For the same reason a reader may hold only some objects of a table (`hold`: the
dashboard keeps the open items, not the answered ones) and keep others slim (`slim`: an own post
without its text); the fingerprints of all are kept, so what it let go of is not decoded again while
it does not change.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping
from typing import Any

import orjson

from socialtui.model import (
    AccountHealth,
    AuditEvent,
    Claim,
    Contact,
    Draft,
    HandoffDraft,
    HandoffNote,
    Item,
    ItemState,
    OutboxEntry,
    Post,
    Shift,
    from_record,
)
from socialtui.store.engine import Engine

MODELS: dict[str, type] = {
    "items": Item,
    "own": Post,
    "home": Post,
    "states": ItemState,
    "claims": Claim,
    "contacts": Contact,
    "drafts": Draft,
    "handoff_drafts": HandoffDraft,
    "handoffs": HandoffNote,
    "shifts": Shift,
    "outbox": OutboxEntry,
    "health": AccountHealth,
    "audit": AuditEvent,
}


def fingerprint(doc: Any) -> int:
    """What tells a document that came back unchanged from one that changed: a hash of its JSON
    (64 bits: two versions of one document collide once in 2**64; the same document with its keys
    in another order is decoded once more, which is harmless)."""
    try:
        return hash(orjson.dumps(doc))
    except TypeError:  # not JSON (a hand-made document): its text stands for it
        return hash(repr(doc))


SHARED_MAX = 100_000


def share(decoded: Item | Post, shared: dict[Any, Any]) -> None:
    """Make a decoded item or post use the one object of its author, account id, kind and
    visibility held in `shared` (filled as they come): thousands of posts by a few hundred people,
    through twenty accounts, each decoded with its own copies, were a good part of a dashboard's
    memory. The objects are frozen for their users; this is their decoding, before anyone saw them."""
    if len(shared) > SHARED_MAX:  # people and accounts come and go: start again, now and then
        shared.clear()
    post = decoded.post if isinstance(decoded, Item) else decoded
    if isinstance(decoded, Item):
        object.__setattr__(decoded, "account", shared.setdefault(decoded.account, decoded.account))
        object.__setattr__(decoded, "kind", shared.setdefault(decoded.kind, decoded.kind))
    object.__setattr__(post, "account", shared.setdefault(post.account, post.account))
    object.__setattr__(post, "visibility", shared.setdefault(post.visibility, post.visibility))
    object.__setattr__(post, "author", shared.setdefault(post.author, post.author))


Slim = Callable[[dict[str, Any]], dict[str, Any] | None]
"""What a reader keeps of a document: the document as it is decoded (fields left out take their
defaults), or None to keep it whole."""
Mark = Callable[[dict[str, Any]], Any]
"""A stand-in for a document a reader will not hold (a few fields of it, not decoded as its model:
what a keeper indexes before the reader lets go of it), or None to decode it (`slim`)."""


def _decode(model: type | None, slim: Slim | None, doc: Any) -> Any:
    """The document as a reader keeps it (its `slim` part, as `model`), or None: not ours to read
    (a line cut short, a hand edit)."""
    kept = doc if slim is None else (slim(doc) or doc)
    try:
        return from_record(model, kept) if model is not None else kept
    except (ValueError, KeyError, TypeError):
        return None


class Follower:
    """The decoded content of `tables`, brought up to date by `refresh()`. Thread-safe.

    `track`: the tables whose changed keys (and the objects they had before) `changes()` tells.
    `slim`: per table, what is decoded of each document (`Slim`); `mark`: per table, the documents
    given a stand-in instead (`Mark`; `fetch` decodes them all the same)."""

    def __init__(
        self,
        engine: Engine,
        tables: Collection[str],
        *,
        track: Collection[str] = (),
        slim: Mapping[str, Slim] | None = None,
        mark: Mapping[str, Mark] | None = None,
    ) -> None:
        self.engine = engine
        self.tables = tuple(tables)
        self._slim = dict(slim or {})
        self._mark = dict(mark or {})
        self._token: Any = None
        self._seen: dict[str, dict[str, int]] = {t: {} for t in self.tables}
        """Per table, the fingerprint (`fingerprint`) of each document decoded."""
        self._objects: dict[str, dict[str, Any]] = {t: {} for t in self.tables}
        self.versions: dict[str, int] = {t: 0 for t in self.tables}
        """Bumped whenever a table's content changed: tells readers when to rebuild what derives from it."""
        self._track = frozenset(track)
        self._changed: dict[str, set[str]] = {t: set() for t in self._track}
        """Per table of `track`, the keys whose object changed (or went) since the last `changes()`."""
        self._before: dict[str, dict[str, Any]] = {t: {} for t in self._track}
        """Per table of `track`, the object each changed key had at the last `changes()` (None: it
        had none, or it was not held)."""
        self._lock = threading.Lock()
        self._shared: dict[Any, Any] = {}
        """One object for each author and each account id, kind and visibility (`share`)."""

    def refresh(self, skip: Mapping[str, Collection[str]] | None = None) -> set[str]:
        """Apply what changed since the last call; returns the tables whose content changed.
        `skip`: per table, keys whose documents are not decoded (nor held) this time, only
        fingerprinted: a reader told they are not needed (it may `fetch` them after all)."""
        skipped = skip or {}
        with self._lock:
            changed: set[str] = set()
            whole: dict[str, set[str]] = {}
            """The tables that came whole (`Everything`), with the keys they hold."""

            untracked: set[str] = set()  # the changes of a table nobody asked to track: let go
            no_before: dict[str, Any] = {}

            def take(table: str, docs: Mapping[str, Any], everything: bool) -> None:
                seen, objects = self._seen[table], self._objects[table]
                keys = self._changed.get(table, untracked)
                before = self._before.get(table, no_before)
                model = MODELS.get(table)
                slim = self._slim.get(table)
                stand_in = self._mark.get(table)
                passed = skipped.get(table, ())
                if everything:
                    whole.setdefault(table, set()).update(docs)
                for key, doc in docs.items():
                    if doc is None:
                        if seen.pop(key, None) is not None:
                            if key not in before:
                                before[key] = objects.get(key)
                            objects.pop(key, None)
                            changed.add(table)
                            keys.add(key)
                        continue
                    mark = fingerprint(doc)
                    if seen.get(key) == mark:
                        continue  # came back unchanged (an engine may send a superset)
                    if key in passed:
                        if key not in before:
                            before[key] = objects.get(key)
                        objects.pop(key, None)
                        seen[key] = mark
                        changed.add(table)
                        keys.add(key)
                        continue
                    decoded = stand_in(doc) if stand_in is not None else None
                    if decoded is None:
                        decoded = _decode(model, slim, doc)
                        if decoded is None:
                            continue  # not ours to show (a line cut short, a hand edit): skipped
                    if key not in before:
                        before[key] = objects.get(key)
                    objects[key] = decoded
                    if isinstance(decoded, Item | Post):  # not a stand-in (`mark`)
                        share(decoded, self._shared)
                    seen[key] = mark
                    changed.add(table)
                    keys.add(key)

            # A part at a time (`Engine.follow`): the documents of one part are decoded and let go
            # before the next is read.
            token = self.engine.follow(self._token, self.tables, take)
            for table, keys in whole.items():  # the whole table: what it lacks was deleted
                seen, objects = self._seen[table], self._objects[table]
                gone = self._changed.get(table, untracked)
                before = self._before.get(table, no_before)
                for key in [key for key in seen if key not in keys]:
                    del seen[key]
                    if key not in before:
                        before[key] = objects.get(key)
                    objects.pop(key, None)
                    changed.add(table)
                    gone.add(key)
            for table in changed:
                self.versions[table] += 1
            self._token = token
            return changed

    def objects(self, table: str) -> Mapping[str, Any]:
        """The table's documents as model objects, by key, as of the last refresh (do not modify)."""
        with self._lock:
            return dict(self._objects[table])

    def hold(self, table: str, objects: Mapping[str, Any]) -> None:
        """Hold `objects` as the table's objects from now on (its documents decoded, or read since by
        the reader): the others are let go. Their fingerprints stay, so a document let go of is
        decoded again only once it changes (then held again until the next `hold`)."""
        with self._lock:
            self._objects[table] = dict(objects)

    def keys(self, table: str) -> frozenset[str]:
        """The keys of the table's documents as of the last refresh, held or let go of."""
        with self._lock:
            return frozenset(self._seen[table])

    def holds(self, table: str, key: str) -> bool:
        """Whether the table held a document of `key` at the last refresh (held or let go of)."""
        with self._lock:
            return key in self._seen[table]

    def fetch(self, table: str, keys: Collection[str]) -> dict[str, Any]:
        """The objects of `keys` that the table holds now, read from the store (as `refresh` would
        decode them, slim or not): what a reader that let go of them (`hold`) needs back. Not held."""
        if not keys:
            return {}
        model = MODELS.get(table)
        slim = self._slim.get(table)
        with self.engine.read() as reader:
            docs = reader.get_many(table, keys)
        out: dict[str, Any] = {}
        for key, doc in docs.items():
            decoded = _decode(model, slim, doc)
            if decoded is None:
                continue
            if isinstance(decoded, Item | Post):
                with self._lock:
                    share(decoded, self._shared)
            out[key] = decoded
        return out

    def changes(self) -> tuple[dict[str, set[str]], dict[str, dict[str, Any]]]:
        """Per table of `track`: the keys whose object changed, came or went since the last call
        (since the follower was made, on the first), and the object each of them had then (None if
        it had none or was not held): what a reader that keeps work per key must redo, and no more."""
        with self._lock:
            changed, before = self._changed, self._before
            self._changed = {t: set() for t in self._track}
            self._before = {t: {} for t in self._track}
            return changed, before

    def wait(self, timeout: float) -> bool:
        """Block until one of the tables may have changed since the last refresh, or `timeout`."""
        return self.engine.wait(self._token, self.tables, timeout)


__all__ = ["Follower", "MODELS"]
