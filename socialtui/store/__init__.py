"""The shared store: the one API through which every process reads and writes the data dir.

Files in the data dir, each locked and replaced atomically (see `files.py`):

- `ops.json`    hot operator data: item states, claims, contacts, handoffs, drafts, outbox, shifts
- `items.json`  items addressed to our accounts (bulky, written by the poller)
- `posts.json`  our accounts' own posts (for gaps and "answered elsewhere")
- `home.json`   the accounts' home timelines (listening; the TUI only)
- `sync.json`   cursors and account health (written by the poller every cycle)
- `audit.jsonl` the append-only audit trail of operator actions
- `leases/`, `sessions/`  poller leases and network sessions (secrets: never dumped, never logged)

An operator's keypress touches only `ops.json`, so it never rewrites the megabytes of the post cache.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from socialtui.model import (
    AccountHealth,
    Actor,
    AuditEvent,
    Author,
    Claim,
    Contact,
    ContactNote,
    Draft,
    HandoffAck,
    HandoffDraft,
    HandoffNote,
    Item,
    ItemState,
    OutboxEntry,
    Post,
    Shift,
    from_record,
    to_record,
)
from socialtui.store.files import (
    SCHEMA_VERSION,
    FileLock,
    StoreBusy,
    StoreCorrupt,
    StoreError,
    StoreFile,
    StoreTooNew,
    StoreWriteFailed,
    ensure_dir,
    open_shared,
)

__all__ = [
    "Store",
    "Snapshot",
    "StoreError",
    "StoreBusy",
    "StoreCorrupt",
    "StoreTooNew",
    "StoreWriteFailed",
    "SCHEMA_VERSION",
    "NotFoundInStore",
    "Dossier",
]


class NotFoundInStore(StoreError):
    """No item, contact or handoff answers to what the operator typed (or more than one does)."""


@dataclass(frozen=True)
class Snapshot:
    """What the care rules need, read in one go."""

    items: list[Item]
    own_posts: list[Post]
    states: dict[str, ItemState]
    claims: dict[str, Claim]
    outbox: list[OutboxEntry]
    health: dict[str, AccountHealth]
    drafts: dict[str, Draft] = field(default_factory=dict)


@dataclass(frozen=True)
class Dossier:
    contact: Contact | None
    items: list[Item]
    replies: list[Post]


def _contact_key(raw_author: dict[str, Any]) -> str:
    """`Author.contact_key` of a stored author, without building the object."""
    if raw_author["network"] == "bluesky" and raw_author.get("id"):
        return f"bluesky:{raw_author['id']}"
    return f"{raw_author['network']}:{raw_author['handle'].lstrip('@').lower()}"


def _post_key(post: Post) -> str:
    return f"{post.account}\0{post.remote_id}"


class Store:
    """The shared data dir. Thread-safe; safe across processes and Unix users of one group."""

    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir)
        ensure_dir(self.data_dir)
        self.ops = StoreFile(self.data_dir, "ops")
        self.items_file = StoreFile(self.data_dir, "items")
        self.posts_file = StoreFile(self.data_dir, "posts")
        self.home_file = StoreFile(self.data_dir, "home")
        self.sync_file = StoreFile(self.data_dir, "sync")
        self.audit_path = self.data_dir / "audit.jsonl"
        self._audit_lock = FileLock(self.data_dir / "audit.lock")
        self._local = threading.local()

    # -- paths for other parts of the core ----------------------------------------------------------

    def private_dir(self, name: str) -> Path:
        """A sub-directory of the data dir (`leases`, `sessions`), group-only like the rest."""
        path = self.data_dir / name
        ensure_dir(path)
        return path

    # -- reading ------------------------------------------------------------------------------------

    def items(self, account: str | None = None) -> list[Item]:
        with self.items_file.read() as db:
            docs = db.table("items").raw()
            return [
                from_record(Item, doc)
                for doc in docs.values()
                if account is None or doc["account"] == account
            ]

    def item(self, item_id: str) -> Item | None:
        with self.items_file.read() as db:
            doc = db.table("items").get_key(item_id)
            return from_record(Item, doc) if doc else None

    def find_item(self, ref: str) -> Item:
        """The item an operator means by `ref`: its id or an unambiguous prefix of it (at least 4)."""
        ref = ref.strip().lower()
        with self.items_file.read() as db:
            docs = db.table("items").raw()
            if ref in docs:
                return from_record(Item, docs[ref])
            matches = [key for key in docs if key.startswith(ref)] if len(ref) >= 4 else []
            if len(matches) == 1:
                return from_record(Item, docs[matches[0]])
        if len(matches) > 1:
            raise NotFoundInStore(f"item {ref!r} is ambiguous: it could be {', '.join(sorted(matches)[:5])}")
        raise NotFoundInStore(f"no item {ref!r} in the store (see `socialtui status` for item ids)")

    def own_posts(self, account: str | None = None, since: datetime | None = None) -> list[Post]:
        with self.posts_file.read() as db:
            docs = db.table("own").raw()
            cutoff = since.isoformat() if since else None
            out = []
            for doc in docs.values():
                if account is not None and doc["account"] != account:
                    continue
                post = from_record(Post, doc)
                if cutoff and post.created_at < since:  # type: ignore[operator]
                    continue
                out.append(post)
            return out

    def home_posts(self, account: str | None = None) -> list[Post]:
        with self.home_file.read() as db:
            return [
                from_record(Post, doc)
                for doc in db.table("home").raw().values()
                if account is None or doc["account"] == account
            ]

    def states(self) -> dict[str, ItemState]:
        with self.ops.read() as db:
            return {key: from_record(ItemState, doc) for key, doc in db.table("states").raw().items()}

    def claims(self, now: datetime) -> dict[str, Claim]:
        """Claims still in force at `now`."""
        with self.ops.read() as db:
            claims = (from_record(Claim, doc) for doc in db.table("claims").raw().values())
            return {claim.item: claim for claim in claims if claim.expires_at > now}

    def outbox(self) -> list[OutboxEntry]:
        with self.ops.read() as db:
            return [from_record(OutboxEntry, doc) for doc in db.table("outbox").raw().values()]

    def outbox_entry(self, entry_id: str) -> OutboxEntry | None:
        with self.ops.read() as db:
            doc = db.table("outbox").get_key(entry_id)
            return from_record(OutboxEntry, doc) if doc else None

    def drafts(self) -> dict[str, Draft]:
        with self.ops.read() as db:
            return {key: from_record(Draft, doc) for key, doc in db.table("drafts").raw().items()}

    def draft(self, item_id: str) -> Draft | None:
        with self.ops.read() as db:
            doc = db.table("drafts").get_key(item_id)
            return from_record(Draft, doc) if doc else None

    def health(self) -> dict[str, AccountHealth]:
        with self.sync_file.read() as db:
            return {key: from_record(AccountHealth, doc) for key, doc in db.table("health").raw().items()}

    def cursor(self, account: str, kind: str) -> str | None:
        with self.sync_file.read() as db:
            doc = db.table("cursors").get_key(f"{account}:{kind}")
            return doc["value"] if doc else None

    def handoffs(self) -> list[HandoffNote]:
        """Every handoff note, oldest first."""
        with self.ops.read() as db:
            notes = [from_record(HandoffNote, doc) for doc in db.table("handoffs").raw().values()]
        return sorted(notes, key=lambda note: (note.at, note.id))

    def shifts(self, operator: str | None = None) -> list[Shift]:
        with self.ops.read() as db:
            shifts = [from_record(Shift, doc) for doc in db.table("shifts").raw().values()]
        return sorted((s for s in shifts if operator is None or s.operator == operator), key=lambda s: s.started_at)

    def contacts(self) -> dict[str, Contact]:
        with self.ops.read() as db:
            return {key: from_record(Contact, doc) for key, doc in db.table("contacts").raw().items()}

    def contact(self, key: str) -> Contact | None:
        with self.ops.read() as db:
            doc = db.table("contacts").get_key(key)
            return from_record(Contact, doc) if doc else None

    def snapshot(self, now: datetime, *, open_only: bool = False, posts_since: datetime | None = None) -> Snapshot:
        """Items, own posts, operator state and health: everything the care rules read.

        `open_only` leaves out items that are plainly answered (done, replied to by the account, or
        sent through the outbox), before they are decoded; `posts_since` leaves out older own posts.
        The queue, gaps and `check` need no more than that; the report needs everything.
        """
        with self.ops.read() as db:
            raw_states = db.table("states").raw()
            states = {key: from_record(ItemState, doc) for key, doc in raw_states.items()}
            claims = {}
            for doc in db.table("claims").raw().values():
                claim = from_record(Claim, doc)
                if claim.expires_at > now:
                    claims[claim.item] = claim
            outbox = [from_record(OutboxEntry, doc) for doc in db.table("outbox").raw().values()]
            drafts = {key: from_record(Draft, doc) for key, doc in db.table("drafts").raw().items()}
        cutoff = posts_since.isoformat() if posts_since else None
        with self.posts_file.read() as db:
            raw_own = db.table("own").raw()
            replied = {(doc["account"], doc["reply_to"]) for doc in raw_own.values() if doc.get("reply_to")}
            if cutoff is None:
                own_posts = [from_record(Post, doc) for doc in raw_own.values()]
            else:
                latest: dict[str, tuple[str, dict[str, Any]]] = {}
                for doc in raw_own.values():  # each account's latest post: its gap is measured from it
                    at = _iso_utc(doc["created_at"])
                    if doc["account"] not in latest or at > latest[doc["account"]][0]:
                        latest[doc["account"]] = (at, doc)
                keep = [doc for _, doc in latest.values() if _iso_utc(doc["created_at"]) < cutoff]
                own_posts = [
                    from_record(Post, doc)
                    for doc in [*keep, *(d for d in raw_own.values() if _iso_utc(d["created_at"]) >= cutoff)]
                ]
        sent = {entry.item for entry in outbox if entry.state == "sent"}
        with self.items_file.read() as db:
            raw_items = db.table("items").raw()
            if open_only:
                items = [
                    from_record(Item, doc)
                    for key, doc in raw_items.items()
                    if not (
                        (key in raw_states and raw_states[key].get("done"))
                        or key in sent
                        or (doc["account"], doc["post"]["remote_id"]) in replied
                    )
                ]
            else:
                items = [from_record(Item, doc) for doc in raw_items.values()]
        return Snapshot(
            items=items,
            own_posts=own_posts,
            states=states,
            claims=claims,
            outbox=outbox,
            health=self.health(),
            drafts=drafts,
        )

    # -- contacts -----------------------------------------------------------------------------------

    def resolve_contact(self, ref: str) -> tuple[str, str, str, str]:
        """(key, network, handle, display name) for what an operator typed: `@sam@example.org`,
        `kim.example.com`, `did:plc:...`, or a full key `mastodon:sam@example.org`."""
        ref = ref.strip()
        if not ref:
            raise NotFoundInStore("a contact is needed: a handle such as @sam@example.org or kim.bsky.social")
        if ref.startswith(("mastodon:", "bluesky:")):
            network, _, rest = ref.partition(":")
            candidates = [(network, rest)]
        elif ref.startswith("did:"):
            candidates = [("bluesky", ref)]
        elif ref.lstrip("@").count("@") == 1:
            candidates = [("mastodon", ref.lstrip("@"))]
        else:
            candidates = [("bluesky", ref.lstrip("@")), ("mastodon", ref.lstrip("@"))]
        wanted = {(net, handle.lower()) for net, handle in candidates}
        for contact in self.contacts().values():
            if (contact.network, contact.handle.lower()) in wanted or contact.key.lower() in {
                f"{net}:{h}" for net, h in wanted
            }:
                return contact.key, contact.network, contact.handle, contact.display_name
        ids = {(net, handle) for net, handle in candidates}
        with self.items_file.read() as db:
            for doc in db.table("items").raw().values():
                raw_author = doc["post"]["author"]
                net, handle = raw_author["network"], raw_author["handle"]
                if (net, handle.lower()) in wanted or (net, raw_author.get("id", "")) in ids:
                    author = from_record(Author, raw_author)
                    return author.contact_key, author.network, author.handle, author.display_name
        network, handle = candidates[0]
        key = Author(
            network=network, handle=handle, id=handle if handle.startswith("did:") else ""
        ).contact_key
        return key, network, handle, ""

    def dossier(self, key: str) -> Dossier:
        """Everything the team knows about one person: the contact record, their items addressed to
        any of our accounts (oldest first), and our replies to them."""
        with self.items_file.read() as db:
            items = [
                from_record(Item, doc)
                for doc in db.table("items").raw().values()
                if _contact_key(doc["post"]["author"]) == key
            ]
        items.sort(key=lambda item: item.post.created_at)
        wanted = {(item.account, item.post.remote_id) for item in items}
        with self.posts_file.read() as db:
            replies = [
                from_record(Post, doc)
                for doc in db.table("own").raw().values()
                if (doc["account"], doc.get("reply_to", "")) in wanted
            ]
        replies.sort(key=lambda post: post.created_at)
        return Dossier(contact=self.contact(key), items=items, replies=replies)

    def search_contacts(self, query: str = "", tag: str = "") -> list[Contact]:
        """Contacts whose handle, name, tags or notes contain `query` (any case), with `tag` if given."""
        needle = query.strip().lower()
        found = []
        for contact in self.contacts().values():
            if tag and tag.lower() not in contact.tags:
                continue
            haystack = " ".join(
                [contact.key, contact.handle, contact.display_name, *contact.tags, *(n.text for n in contact.notes)]
            ).lower()
            if needle in haystack:
                found.append(contact)
        return sorted(found, key=lambda c: c.handle.lower())

    # -- writing: operator actions (each one transaction, each one audited) ---------------------------

    @contextmanager
    def _action(self) -> Iterator[Any]:
        """One operator action: an ops transaction whose audit events are appended once it is saved,
        still under its lock, so the trail never records a change that failed."""
        pending: list[AuditEvent] = []
        self._local.pending = pending
        try:
            with self.ops.lock.hold(exclusive=True):
                with self.ops.write() as db:
                    yield db
                self._local.pending = None
                for event in pending:
                    self._append_audit(event)
        finally:
            self._local.pending = None

    def mark_done(self, item: Item, reason: str, actor: Actor, now: datetime) -> ItemState:
        """Mark an item answered without a reply, with the reason; releases any claim on it."""
        state = ItemState(
            item=item.id,
            account=item.account,
            done=True,
            reason=reason,
            login=actor.login,
            operator=actor.operator,
            at=now,
        )
        with self._action() as db:
            db.table("states").put(item.id, to_record(state))
            db.table("claims").remove_keys([item.id])
            self._audit(actor, now, "done", item.account, item.id, reason)
        return state

    def reopen(self, item: Item, actor: Actor, now: datetime) -> None:
        """Undo "done": the item is back in the queue."""
        with self._action() as db:
            db.table("states").remove_keys([item.id])
            self._audit(actor, now, "reopen", item.account, item.id)

    def claim(self, item: Item, actor: Actor, now: datetime, ttl: timedelta) -> Claim:
        """Claim an item (or renew one's own claim). Returns the claim in force, which may be another
        operator's: the caller compares `login` to decide whether to warn."""
        with self._action() as db:
            table = db.table("claims")
            doc = table.get_key(item.id)
            current = from_record(Claim, doc) if doc else None
            if current is not None and current.expires_at > now:
                if current.operator != actor.operator:
                    return current
                claim = replace(current, expires_at=now + ttl)  # a renewal: not a new action
                table.put(item.id, to_record(claim))
                return claim
            claim = Claim(
                item=item.id, login=actor.login, operator=actor.operator, at=now, expires_at=now + ttl
            )
            table.put(item.id, to_record(claim))
            self._audit(actor, now, "claim", item.account, item.id)
        return claim

    def take_over_claim(self, item: Item, actor: Actor, now: datetime, ttl: timedelta) -> Claim:
        """Claim an item even though someone else holds it (the operator confirmed)."""
        claim = Claim(item=item.id, login=actor.login, operator=actor.operator, at=now, expires_at=now + ttl)
        with self._action() as db:
            db.table("claims").put(item.id, to_record(claim))
            self._audit(actor, now, "claim", item.account, item.id, "taken over")
        return claim

    def release(self, item: Item, actor: Actor, now: datetime) -> bool:
        with self._action() as db:
            table = db.table("claims")
            doc = table.get_key(item.id)
            if doc is None or doc.get("operator") != actor.operator:
                return False
            table.remove_keys([item.id])
            self._audit(actor, now, "release", item.account, item.id)
        return True

    def add_note(self, ref: str, text: str, actor: Actor, now: datetime) -> Contact:
        """Add a note to a contact's dossier (creating the dossier)."""
        text = text.strip()
        if not text:
            raise StoreError("a note needs some text")
        key, network, handle, display_name = self.resolve_contact(ref)
        note = ContactNote(text=text, login=actor.login, operator=actor.operator, at=now)
        with self._action() as db:
            table = db.table("contacts")
            doc = table.get_key(key)
            contact = (
                from_record(Contact, doc)
                if doc
                else Contact(key=key, network=network, handle=handle, display_name=display_name)
            )
            contact = replace(contact, notes=contact.notes + (note,))
            table.put(key, to_record(contact))
            self._audit(actor, now, "note", "", "", f"{key}: {text[:200]}")
        return contact

    def set_tags(self, ref: str, tags: Iterable[str], actor: Actor, now: datetime) -> Contact:
        key, network, handle, display_name = self.resolve_contact(ref)
        clean = tuple(sorted({t.strip().lower() for t in tags if t.strip()}))
        with self._action() as db:
            table = db.table("contacts")
            doc = table.get_key(key)
            contact = (
                from_record(Contact, doc)
                if doc
                else Contact(key=key, network=network, handle=handle, display_name=display_name)
            )
            contact = replace(contact, tags=clean)
            table.put(key, to_record(contact))
            self._audit(actor, now, "tags", "", "", f"{key}: {', '.join(clean)}")
        return contact

    def write_handoff(
        self,
        text: str,
        actor: Actor,
        now: datetime,
        *,
        pinned_items: Iterable[str] = (),
        pinned_accounts: Iterable[str] = (),
    ) -> HandoffNote:
        text = text.strip()
        if not text:
            raise StoreError("a handoff note needs some text")
        note = HandoffNote(
            id=f"{now.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}",
            login=actor.login,
            operator=actor.operator,
            at=now,
            text=text,
            pinned_items=tuple(pinned_items),
            pinned_accounts=tuple(pinned_accounts),
        )
        with self._action() as db:
            db.table("handoffs").put(note.id, to_record(note))
            db.table("handoff_drafts").remove_keys([actor.operator])
            self._end_shift(db, actor, now)
            self._audit(actor, now, "handoff", "", "", f"{note.id}: {text[:200]}")
        return note

    def ack_handoffs(self, actor: Actor, now: datetime, note_id: str | None = None) -> list[HandoffNote]:
        """Acknowledge one note, or every note this operator has not acknowledged (and did not write)."""
        acked: list[HandoffNote] = []
        with self._action() as db:
            table = db.table("handoffs")
            docs = table.raw()
            if note_id is not None:
                matches = [k for k in docs if k == note_id or k.startswith(note_id)]
                if len(matches) != 1:
                    raise NotFoundInStore(f"no single handoff note matches {note_id!r}")
                keys = matches
            else:
                keys = list(docs)
            updates = {}
            for key in keys:
                note = from_record(HandoffNote, docs[key])
                if note.acked_by(actor.operator) or (note_id is None and note.operator == actor.operator):
                    continue
                note = replace(note, acks=note.acks + (HandoffAck(actor.login, actor.operator, now),))
                updates[key] = to_record(note)
                acked.append(note)
            table.put_many(updates)
            for note in acked:
                self._audit(actor, now, "handoff-ack", "", "", note.id)
        return acked

    def start_shift(
        self, actor: Actor, now: datetime, resume_within: timedelta = timedelta(hours=12)
    ) -> Shift:
        """Start the operator's shift, or resume their open one. An open shift older than
        `resume_within` (a dashboard that died without a handoff) is closed now and a new one starts."""
        with self._action() as db:
            table = db.table("shifts")
            for doc in list(table.raw().values()):
                if doc.get("operator") != actor.operator or doc.get("ended_at") is not None:
                    continue
                shift = from_record(Shift, doc)
                if now - shift.started_at < resume_within:
                    return shift
                table.put(self._shift_key(shift), to_record(replace(shift, ended_at=now)))
            shift = Shift(login=actor.login, operator=actor.operator, started_at=now)
            table.put(self._shift_key(shift), to_record(shift))
            self._audit(actor, now, "shift-start")
        return shift

    def end_shift(self, actor: Actor, now: datetime) -> None:
        with self._action() as db:
            self._end_shift(db, actor, now)

    def _end_shift(self, db: Any, actor: Actor, now: datetime) -> None:
        table = db.table("shifts")
        for doc in list(table.raw().values()):
            if doc.get("operator") == actor.operator and doc.get("ended_at") is None:
                shift = replace(from_record(Shift, doc), ended_at=now)
                table.put(self._shift_key(shift), to_record(shift))
                self._audit(actor, now, "shift-end")

    @staticmethod
    def _shift_key(shift: Shift) -> str:
        return f"{shift.operator}@{shift.started_at.isoformat()}"

    def save_draft(self, draft: Draft) -> None:
        """Save a draft as it is typed (not audited: it is not an action yet)."""
        with self._action() as db:
            db.table("drafts").put(draft.item, to_record(draft))

    def delete_draft(self, item_id: str) -> None:
        with self._action() as db:
            db.table("drafts").remove_keys([item_id])

    def save_handoff_draft(self, draft: HandoffDraft) -> None:
        """Keep the end-of-shift note as it is typed, pins included (not audited: not written yet)."""
        with self.ops.write() as db:
            db.table("handoff_drafts").put(draft.operator, to_record(draft))

    def handoff_draft(self, operator: str) -> HandoffDraft | None:
        with self.ops.read() as db:
            doc = db.table("handoff_drafts").get_key(operator)
            return from_record(HandoffDraft, doc) if doc else None

    def delete_handoff_draft(self, operator: str) -> None:
        with self.ops.write() as db:
            db.table("handoff_drafts").remove_keys([operator])

    # -- the outbox ---------------------------------------------------------------------------------

    def outbox_add(self, entry: OutboxEntry, actor: Actor, now: datetime) -> OutboxEntry:
        """Commit a reply durably before it is sent. An entry with the same key is returned as it is."""
        with self._action() as db:
            table = db.table("outbox")
            doc = table.get_key(entry.id)
            if doc is not None:
                return from_record(OutboxEntry, doc)
            table.put(entry.id, to_record(entry))
            db.table("drafts").remove_keys([entry.item])
            self._audit(actor, now, "reply-queued", entry.account, entry.item, entry.text[:200])
        return entry

    def outbox_update(self, entry: OutboxEntry, actor: Actor | None = None, action: str = "") -> None:
        """Record a new state of an outbox entry; `action` (reply-sent, reply-failed) is audited."""
        with self._action() as db:
            db.table("outbox").put(entry.id, to_record(entry))
            if entry.state == "sent":
                db.table("claims").remove_keys([entry.item])
            if actor is not None and action:
                detail = entry.url or entry.remote_id if entry.state == "sent" else entry.error
                self._audit(actor, entry.updated_at, action, entry.account, entry.item, detail)

    def outbox_begin_send(
        self, entry_id: str, now: datetime, stale_after: timedelta = timedelta(minutes=2)
    ) -> tuple[OutboxEntry, bool] | None:
        """Take an outbox entry for sending: it must be queued, or stuck in `sending` for longer than
        `stale_after` (its sender died). Returns (entry, was_sending); None if another process has it
        or it is finished. A `was_sending` entry may already be on the server: look before sending."""
        with self.ops.write() as db:
            table = db.table("outbox")
            doc = table.get_key(entry_id)
            if doc is None:
                return None
            entry = from_record(OutboxEntry, doc)
            stale = entry.state == "sending" and now - entry.updated_at >= stale_after
            if entry.state != "queued" and not stale:
                return None
            entry = replace(entry, state="sending", attempts=entry.attempts + 1, updated_at=now)
            table.put(entry.id, to_record(entry))
        return entry, stale

    # -- writing: the poller ------------------------------------------------------------------------

    def put_items(self, items: Iterable[Item]) -> int:
        docs = {item.id: to_record(item) for item in items}
        if not docs:
            return 0
        with self.items_file.write() as db:
            table = db.table("items")
            existing = table.raw()
            new = sum(1 for key in docs if key not in existing)
            # A poll re-reads a little behind its cursor: what is unchanged is not written again.
            table.put_many({key: doc for key, doc in docs.items() if existing.get(key) != doc})
        return new

    def put_own_posts(self, posts: Iterable[Post]) -> int:
        return self._put_posts(self.posts_file, "own", posts)

    def put_home_posts(self, posts: Iterable[Post]) -> int:
        return self._put_posts(self.home_file, "home", posts)

    def _put_posts(self, file: StoreFile, table_name: str, posts: Iterable[Post]) -> int:
        docs = {_post_key(post): to_record(post) for post in posts}
        if not docs:
            return 0
        with file.write() as db:
            table = db.table(table_name)
            existing = table.raw()
            new = sum(1 for key in docs if key not in existing)
            table.put_many({key: doc for key, doc in docs.items() if existing.get(key) != doc})
        return new

    def set_cursor(self, account: str, kind: str, value: str) -> None:
        with self.sync_file.write() as db:
            db.table("cursors").put(f"{account}:{kind}", {"value": value})

    def set_health(self, health: AccountHealth) -> None:
        with self.sync_file.write() as db:
            db.table("health").put(health.account, to_record(health))

    def prune(self, now: datetime, retention: timedelta) -> dict[str, int]:
        """Drop what is older than the retention period: answered items, posts, expired claims, sent
        replies. Unanswered items, each account's latest own post, and unsent replies are kept."""
        cutoff = (now - retention).isoformat()
        removed: dict[str, int] = {}
        states = self.states()
        outbox_sent = {e.item for e in self.outbox() if e.state == "sent"}
        with self.posts_file.write() as db:
            table = db.table("own")
            latest: dict[str, tuple[str, str]] = {}
            for key, doc in table.raw().items():
                ts = _iso_utc(doc["created_at"])
                if doc["account"] not in latest or ts > latest[doc["account"]][0]:
                    latest[doc["account"]] = (ts, key)
            keep = {key for _, key in latest.values()}
            answered = {doc["reply_to"] for doc in table.raw().values() if doc.get("reply_to")}
            old = [k for k, d in table.raw().items() if _iso_utc(d["created_at"]) < cutoff and k not in keep]
            removed["own_posts"] = table.remove_keys(old)
        with self.items_file.write() as db:
            table = db.table("items")
            old = [
                key
                for key, doc in table.raw().items()
                if _iso_utc(doc["post"]["created_at"]) < cutoff
                and (key in states or key in outbox_sent or doc["post"]["remote_id"] in answered)
            ]
            removed["items"] = table.remove_keys(old)
        with self.home_file.write() as db:
            table = db.table("home")
            removed["home_posts"] = table.remove_where(lambda d: _iso_utc(d["created_at"]) < cutoff)
        with self.ops.write() as db:
            removed["claims"] = db.table("claims").remove_where(
                lambda d: _iso_utc(d["expires_at"]) < now.isoformat()
            )
            removed["outbox"] = db.table("outbox").remove_where(
                lambda d: d.get("state") == "sent" and _iso_utc(d["updated_at"]) < cutoff
            )
        return removed

    # -- the audit trail ----------------------------------------------------------------------------

    def audit(
        self, actor: Actor, now: datetime, action: str, account: str = "", item: str = "", detail: str = ""
    ) -> None:
        """Append one event to the audit trail (for actions that change no other store file)."""
        self._audit(actor, now, action, account, item, detail)

    def _audit(
        self, actor: Actor, now: datetime, action: str, account: str = "", item: str = "", detail: str = ""
    ) -> None:
        event = AuditEvent(
            at=now,
            login=actor.login,
            operator=actor.operator,
            action=action,
            account=account,
            item=item,
            detail=detail,
        )
        pending = getattr(self._local, "pending", None)
        if pending is not None:
            pending.append(event)
        else:
            self._append_audit(event)

    def _append_audit(self, event: AuditEvent) -> None:
        line = json.dumps(to_record(event), ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._audit_lock.hold(exclusive=True):
            try:
                fd = open_shared(self.audit_path, os.O_WRONLY | os.O_APPEND)
                try:
                    os.write(fd, line.encode("utf-8"))
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError as exc:
                raise StoreWriteFailed(f"could not append to {self.audit_path}: {exc.strerror}") from exc

    def audit_events(self, since: datetime | None = None) -> list[AuditEvent]:
        """The audit trail, oldest first. A line cut short by a killed writer is skipped."""
        return list(self._iter_audit(since))

    def _iter_audit(self, since: datetime | None) -> Iterator[AuditEvent]:
        try:
            fh = open(self.audit_path, encoding="utf-8")
        except FileNotFoundError:
            return
        with fh:
            for line in fh:
                if not line.endswith("\n"):
                    continue
                try:
                    event = from_record(AuditEvent, json.loads(line))
                except (ValueError, KeyError, TypeError):
                    continue
                if since is None or event.at >= since:
                    yield event


def _iso_utc(value: str) -> str:
    """Stored timestamps are `...Z`; make them comparable with `datetime.isoformat()` of UTC times."""
    return value.replace("Z", "+00:00")
