"""What the dashboard reads from the store, and how: Textual-free, run in worker threads.

`StoreFollower` is the dashboard's one reader. Every second it asks the store what changed since
its last look (`store.follow.Follower`) and decodes only that: turning tens of thousands of cached
posts into model objects takes a good part of a second; doing it every second for nothing would
keep a core busy and make the UI stutter (the reading thread and the UI share one interpreter lock).

A `Dashboard` is one immutable reading, handed to the screens as it is.

The handoff notes and the shifts come with every reading, so the header can flag a note waiting for this operator, or one left unacknowledged by anyone, within a
second of it being written.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from socialtui.care import QueueEntry, handoffs_waiting, normalize_handle
from socialtui.config import Config
from socialtui.model import ITEM_KINDS, AuditEvent, Contact, HandoffNote, Item, Post, Shift, item_id
from socialtui.overview import FOLLOWED_CARE, Overview, OverviewKeeper, build_overview, with_health
from socialtui.store import Snapshot, Store
from socialtui.store.follow import Follower

CLOCK_SLACK_SHARE = 4
"""A reading that took t seconds stands for 4 t while nothing is written (the clock alone moved): the
care rules take at most a fifth of a core. A small store's reading takes milliseconds: every second
applies them again."""
CLOCK_SLACK_MAX = timedelta(seconds=30)

FOLLOWED = (
    "items",
    "own",
    "states",
    "claims",
    "outbox",
    "health",
    "handoffs",
    "shifts",
    "drafts",
    "contacts",
)


@dataclass(frozen=True)
class Dashboard:
    """One reading of the store with the care rules applied: what every screen shows."""

    now: datetime
    overview: Overview
    items: Mapping[str, Item]
    """Every item in the store, answered or not, by id."""
    shift_start: datetime | None
    items_version: int = 0
    own_version: int = 0
    handoffs: tuple[HandoffNote, ...] = ()
    """Every handoff note, oldest first."""
    shifts: tuple[Shift, ...] = ()
    """Every operator's shifts, oldest first."""
    waiting: tuple[HandoffNote, ...] = ()
    """The handoff notes this operator must read and acknowledge (`care.handoffs_waiting`)."""
    tags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """The tags of each contact that has some, by contact key (what `tag:` filters on)."""
    open_total: int | None = None
    """The first look (`StoreFollower.first_look`): the queue holds only its oldest part, and this
    many items are open in all. None: the queue is whole."""

    @property
    def unanswered(self) -> int:
        """How many items wait for an answer (the whole queue's length, even on the first look)."""
        return self.open_total if self.open_total is not None else len(self.overview.queue)

    @property
    def partial(self) -> bool:
        """The first look: the rest of the queue is still being read."""
        return self.open_total is not None

    @property
    def queue(self) -> list[QueueEntry]:
        return self.overview.queue

    @property
    def snapshot(self) -> Snapshot:
        return self.overview.snapshot

    def entry(self, item_id: str) -> QueueEntry | None:
        for entry in self.overview.queue:
            if entry.item.id == item_id:
                return entry
        return None

    def current_shift(self, operator: str) -> Shift | None:
        """The operator's open shift, if they are on one."""
        mine = [shift for shift in self.shifts if shift.operator == operator]
        return mine[-1] if mine and mine[-1].ended_at is None else None

    def last_shift(self, operator: str) -> Shift | None:
        mine = [shift for shift in self.shifts if shift.operator == operator]
        return mine[-1] if mine else None


@dataclass(frozen=True)
class Conversation:
    """A past exchange with a contact: their item and our replies to it, from any of our accounts."""

    item: Item
    replies: tuple[Post, ...]
    done_reason: str = ""


@dataclass(frozen=True)
class ContactView:
    """What the team knows about the author of an item."""

    key: str
    contact: Contact | None
    conversations: tuple[Conversation, ...] = ()
    total: int = 0
    """All past items from this contact (the list may be cut short)."""


class StoreFollower:
    """The dashboard's reader of the shared store. Thread-safe; every method may block on store locks
    (and raise `StoreBusy`): call them from worker threads, never from the UI thread."""

    def __init__(self, config: Config, store: Store, operator: str = "") -> None:
        self.config = config
        self.store = store
        self.operator = operator
        """Whose handoff notes `Dashboard.waiting` lists."""
        self._follow = Follower(store.engine, FOLLOWED, track=FOLLOWED_CARE)
        self._home: Follower | None = None
        """The followed timelines, read once the timeline first asks for them: they are most of the
        store (tens of thousands of posts per account) and the queue never needs them."""
        self._home_list: tuple[int, list[Post]] = (-1, [])
        self._lists: dict[str, tuple[int, list]] = {}
        self._dicts: dict[str, tuple[int, Mapping[str, Any]]] = {}
        self._keeper: OverviewKeeper | None = None
        """The care rules' work of the last reading, by key: a reading redoes what changed since."""
        self._last: tuple[dict[str, int], Dashboard, timedelta] | None = None
        """The last reading that made the queue: (the table versions it read, it, how long it stands
        if nothing is written)."""
        self._lock = threading.Lock()
        self.queue_readings = 0
        """How many readings made the queue again (the first over the whole store, the others by
        what changed since, or for the clock); the others stood on the last one's queue (nothing
        written, or only the accounts' health)."""
        self.full_readings = 0
        """How many readings applied the care rules to the whole store (the first: the others redo
        what changed since the last one, or stand on it: nothing written, or only the accounts'
        health)."""

    def _dict(self, table: str) -> Mapping[str, Any]:
        """The table's objects by key, copied again only when the table changed (do not modify)."""
        version = self._follow.versions[table]
        cached = self._dicts.get(table)
        if cached is None or cached[0] != version:
            cached = self._dicts[table] = (version, self._follow.objects(table))
        return cached[1]

    def _list(self, table: str) -> list:
        """The table's objects as a list, made again only when the table changed."""
        version = self._follow.versions[table]
        cached = self._lists.get(table)
        if cached is None or cached[0] != version:
            cached = self._lists[table] = (version, list(self._dict(table).values()))
        return cached[1]

    # -- readings ---------------------------------------------------------------------------------

    def home_posts(self) -> list[Post]:
        """The followed timelines of all accounts (read, and then followed, from the first call)."""
        with self._lock:
            if self._home is None:
                self._home = Follower(self.store.engine, ("home",))
            self._home.refresh()
            version = self._home.versions["home"]
            if self._home_list[0] != version:
                self._home_list = (version, list(self._home.objects("home").values()))
            return self._home_list[1]

    @property
    def home_version(self) -> int:
        return self._home.versions["home"] if self._home is not None else -1

    def wait(self, timeout: float) -> bool:
        """Block until the store may have changed since the last reading (or `timeout` seconds)."""
        return self._follow.wait(timeout)

    def read(self, now: datetime, shift_start: datetime | None = None) -> Dashboard:
        """The store as of now, with the care rules applied."""
        follow = self._follow
        with self._lock:
            follow.refresh()
            versions = dict(follow.versions)
            last = self._last
            if (
                last is not None
                and last[1].shift_start == shift_start
                and timedelta(0) <= now - last[1].overview.generated_at < CLOCK_SLACK_MAX
            ):
                moved = {table for table, version in versions.items() if version != last[0][table]}
                if not moved and now - last[1].overview.generated_at < last[2]:
                    # Nothing was written and the clock moved less than the slack: the last reading
                    # stands (its ages lag by under the slack). On a big store the care rules take
                    # seconds; applied every second for the clock alone, they would keep a core busy.
                    # A new reading all the same (readers wait on new readings), of the same overview.
                    return replace(last[1])
                if moved == {"health"}:
                    # Only the accounts' health: a live poller confirms its stream this way, about
                    # once per poll interval and account. The accounts' rows are read again at
                    # `now`; the queue stands as for the clock alone, within the largest slack
                    # (the timed reading moves its ages on: nothing moved, past its own slack).
                    overview = with_health(last[1].overview, follow.objects("health"), now)
                    reading = replace(last[1], now=now, overview=overview)
                    self._last = (versions, reading, last[2])
                    return reading
            started = time.perf_counter()
            tables = {table: self._dict(table) for table in FOLLOWED_CARE}
            changed: Mapping[str, Collection[str]] = follow.changed_keys()
            self.queue_readings += 1
            keeper = self._keeper
            if keeper is None:  # the first reading: the care rules over the whole store, once
                self.full_readings += 1
                keeper = self._keeper = OverviewKeeper(self.config)
                changed = {table: records.keys() for table, records in tables.items()}
            try:
                keeper.update(now, changed, **tables)
            except BaseException:
                self._keeper = None  # what changed is spent: the next reading starts again from all
                raise
            items: list[Item] = self._list("items")
            snapshot = Snapshot.of(
                now,
                items=items,
                own_posts=self._list("own"),
                states=tables["states"],
                claims=follow.objects("claims").values(),
                outbox=self._list("outbox"),
                health=follow.objects("health"),
                drafts=follow.objects("drafts"),
            )
            handoffs = tuple(sorted(follow.objects("handoffs").values(), key=lambda note: (note.at, note.id)))
            shifts = tuple(sorted(follow.objects("shifts").values(), key=lambda shift: shift.started_at))
            tags = {key: contact.tags for key, contact in follow.objects("contacts").items() if contact.tags}
            overview = keeper.overview(now, snapshot, handoffs, shifts)
            waiting = tuple(handoffs_waiting(handoffs, shifts, self.operator, now)) if self.operator else ()
            reading = Dashboard(
                now=now,
                overview=overview,
                items=tables["items"],
                shift_start=shift_start,
                items_version=versions["items"],
                own_version=versions["own"],
                handoffs=handoffs,
                shifts=shifts,
                waiting=waiting,
                tags=tags,
            )
            took = time.perf_counter() - started
            self._last = (
                versions,
                reading,
                min(CLOCK_SLACK_MAX, timedelta(seconds=CLOCK_SLACK_SHARE * took)),
            )
        return reading

    def first_look(self, now: datetime, shift_start: datetime | None = None, oldest: int = 200) -> Dashboard:
        """What the operator needs first, read in a fraction of the full reading: the accounts, the
        oldest `oldest` open items (the head of the queue) and how many items are open. Nothing is
        followed: the full `read` comes next and replaces it."""
        store = self.store
        # The last hour of own posts (and each account's latest) gives the gaps; the rhythm fills
        # in with the full reading. (A day of a busy team's posts was a fifth of the first look.)
        configured = self.config.accounts
        snapshot, counts = store.first_look(
            now,
            oldest,
            now - timedelta(hours=1),
            [(account.id, kind) for account in configured for kind in ITEM_KINDS],
            [(account.network, normalize_handle(account.handle)) for account in configured],
        )
        overview = build_overview(self.config, store, now, snapshot)
        if len(overview.queue) >= oldest:  # the queue goes on beyond what was read: say how far
            accounts = [
                replace(a, unanswered=max(a.unanswered, counts.get(a.account.id, 0)))
                for a in overview.accounts
            ]
            overview = replace(overview, accounts=accounts)
            total: int | None = max(sum(counts.values()), len(overview.queue))
        else:
            total = None  # all of it was read: the queue is whole
        handoffs = tuple(sorted(store.handoffs(), key=lambda note: (note.at, note.id)))
        shifts = tuple(sorted(store.shifts(), key=lambda shift: shift.started_at))
        waiting = tuple(handoffs_waiting(handoffs, shifts, self.operator, now)) if self.operator else ()
        return Dashboard(
            now=now,
            overview=overview,
            items={entry.item.id: entry.item for entry in overview.queue},
            shift_start=shift_start,
            items_version=-1,
            own_version=-1,
            handoffs=handoffs,
            shifts=shifts,
            waiting=waiting,
            open_total=total,
        )

    def contact_view(self, item: Item, limit: int = 20) -> ContactView:
        """The item author's dossier and their past conversations with any of our accounts."""
        return self.dossier_view(item.post.author.contact_key, limit, leave_out=item.id)

    def dossier_view(self, key: str, limit: int = 20, *, leave_out: str = "") -> ContactView:
        """A contact's dossier and their conversations with any of our accounts, newest first
        (`leave_out`: the item being looked at, which is not a *past* conversation)."""
        dossier = self.store.dossier(key)
        states = self.store.states()
        replies: dict[tuple[str, str], list[Post]] = defaultdict(list)
        for post in dossier.replies:
            replies[(post.account, post.reply_to)].append(post)
        past = [other for other in dossier.items if other.id != leave_out]
        past.sort(key=lambda other: other.received_at, reverse=True)
        conversations = []
        for other in past[:limit]:
            state = states.get(other.id)
            reason = state.reason if state is not None and state.done else ""
            answers = tuple(replies.get((other.account, other.post.remote_id), ()))
            conversations.append(Conversation(other, answers, reason))
        return ContactView(key, dossier.contact, tuple(conversations), len(past))


def item_for_post(post: Post, items: Mapping[str, Item]) -> Item:
    """The item a post makes for its account, or (for our own posts and the home timeline) an item made
    up on the spot, so that it can be answered the same way."""
    key = item_id(post.account, post.remote_id)
    return items.get(key) or Item(id=key, account=post.account, kind="reply", post=post)


# --- the audit trail ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditQuery:
    """What the audit view shows: a window, an operator, an action, and words that must all appear."""

    since: datetime | None = None
    operator: str = ""
    action: str = ""
    words: tuple[str, ...] = ()

    def matches(self, event: AuditEvent) -> bool:
        if self.operator and self.operator not in (event.operator, event.login):
            return False
        if self.action and event.action != self.action:
            return False
        if not self.words:
            return True
        haystack = " ".join(
            (event.operator, event.login, event.action, event.account, event.item, event.detail)
        ).lower()
        return all(word in haystack for word in self.words)


@dataclass(frozen=True)
class AuditReading:
    """The audit trail in a window, newest first, filtered; and who and what occur in the window
    (the choices of the operator and action filters)."""

    events: tuple[AuditEvent, ...]
    matched: int
    operators: tuple[str, ...]
    actions: tuple[str, ...]


def read_audit(store: Store, query: AuditQuery, limit: int = 1000) -> AuditReading:
    """The audit trail as the audit view shows it. Blocks on the file: call from a worker thread."""
    events = store.audit_events(query.since)
    operators = tuple(sorted({event.operator or event.login for event in events}, key=str.lower))
    actions = tuple(sorted({event.action for event in events}))
    matched = [event for event in reversed(events) if query.matches(event)]
    return AuditReading(tuple(matched[:limit]), len(matched), operators, actions)


_audit_tokens: dict[int, tuple[object, int]] = {}
_audit_lock = threading.Lock()


def audit_signature(store: Store) -> int:
    """Changes whenever an event is appended (asks the store only for what was appended since)."""
    with _audit_lock:
        token, version = _audit_tokens.get(id(store.engine), (None, 0))
        token, changes = store.engine.changes(token, ["audit"])
        if changes.get("audit") or version == 0:
            version += 1
        _audit_tokens[id(store.engine)] = (token, version)
        return version


TIMELINE_KINDS = ("ours", "listening", "all")


@dataclass(frozen=True)
class TimelinePost:
    """One row of the merged timeline."""

    key: str
    post: Post
    kind: str
    """`item` (addressed to us), `ours` (one of our posts) or `home` (listening)."""


@dataclass(frozen=True)
class TimelineQuery:
    kind: str = "ours"
    account: str = ""
    network: str = ""
    words: tuple[str, ...] = ()


def timeline(
    data: Dashboard, home: list[Post], query: TimelineQuery, config: Config, limit: int = 500
) -> tuple[list[TimelinePost], int]:
    """All accounts merged by time, newest first, filtered: (the newest `limit`, how many matched)."""
    networks = {account.id: account.network for account in config.accounts}
    sources: list[tuple[str, list[Post]]] = []
    # Items first: a post that is both addressed to us and in a followed timeline (or written by one
    # of our accounts to another) is shown once, as what it is to the team.
    if query.kind in ("ours", "all"):
        sources.append(("item", [item.post for item in data.items.values()]))
        sources.append(("ours", data.snapshot.own_posts))
    if query.kind in ("listening", "all"):
        sources.append(("home", home))
    rows: list[TimelinePost] = []
    seen: set[tuple[str, str]] = set()
    for kind, posts in sources:
        for post in posts:
            if query.account and post.account != query.account:
                continue
            if query.network and networks.get(post.account) != query.network:
                continue
            if query.words:
                haystack = (
                    f"{post.account} {post.author.handle} {post.author.display_name} {post.text}".lower()
                )
                if not all(word in haystack for word in query.words):
                    continue
            same = (networks.get(post.account, ""), post.url or post.remote_id)
            if same in seen:
                continue
            seen.add(same)
            rows.append(TimelinePost(f"{kind}:{post.account}:{post.remote_id}", post, kind))
    newest = heapq.nlargest(limit, rows, key=lambda row: row.post.created_at)
    return newest, len(rows)


__all__ = [
    "StoreFollower",
    "Dashboard",
    "ContactView",
    "Conversation",
    "TimelinePost",
    "TimelineQuery",
    "TIMELINE_KINDS",
    "AuditQuery",
    "AuditReading",
    "read_audit",
    "audit_signature",
    "item_for_post",
    "timeline",
]
