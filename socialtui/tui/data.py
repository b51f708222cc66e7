"""What the dashboard reads from the store, and how: Textual-free, run in worker threads.

`StoreFollower` is the dashboard's one reader. Every second it asks the store what changed since
its last look (`store.follow.Follower`) and decodes only that: turning tens of thousands of cached
posts into model objects takes a good part of a second; doing it every second for nothing would
keep a core busy and make the UI stutter (the reading thread and the UI share one interpreter lock).

A `Dashboard` is one immutable reading, handed to the screens as it is.

It holds the care rules' working set, not the store: the open items (and those a handoff note pins)
and the outbox entries still to send (or failed), whole. The own posts and the sent replies are read
as stand-ins (`OwnMark`, `OutboxMark`: not decoded) and let go of once the care rules' keepers indexed
them (which parent a reply answers, which item a sent entry is for, each own post's time: the gaps
and the schedule's day strip read the times, `Dashboard.own_times`). A done state is held as one
object shared by every state of the same reason and operator (`DoneMark`). An answered item is let
go of once read, and read again from the store if it opens again. At 50,000 open and as many
answered items, holding every item and post whole was most of a dashboard's memory.
The timeline reads what it shows from the store when it shows it (`read_timeline`): the newest
posts of each account, not the store.

The handoff notes and the shifts come with every reading, so the header can flag a note waiting for this operator, or one left unacknowledged by anyone, within a
second of it being written.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from socialtui.care import CARE_LOOKBACK, QueueEntry, handoffs_waiting, normalize_handle
from socialtui.config import Config
from socialtui.model import (
    ITEM_KINDS,
    AuditEvent,
    Contact,
    HandoffNote,
    Item,
    OutboxEntry,
    Post,
    Shift,
    item_id,
    parse_time,
)
from socialtui.overview import FOLLOWED_CARE, Overview, OverviewKeeper, build_overview, with_health
from socialtui.store import Snapshot, Store
from socialtui.store.follow import Follower, Mark, Slim

if TYPE_CHECKING:
    from socialtui.model_work import ItemState

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


OWN_KEPT = ("account", "remote_id", "author", "created_at", "reply_to", "own")
"""What the dashboard's reading decodes of a post in the own table not marked as written by the
account itself (`OwnMark` stands for those): what the care rules read (whose it is, when it was
written, what it answers). Its text, links and the rest are left to the timeline's reading."""
SENT_KEPT = (
    "id",
    "item",
    "account",
    "login",
    "operator",
    "created_at",
    "updated_at",
    "state",
    "sent_at",
    "kind",
)
"""What it keeps of a sent or discarded outbox entry: that it went, for which item, by whom and when
(the queue, the handoff's count of replies sent). The text and the post replied to were most of it;
an entry still to send (or failed) is kept whole: it is shown, edited and sent again."""
DONE_OUTBOX = ("sent", "discarded")


def slim_own_post(doc: dict[str, Any]) -> dict[str, Any]:
    return {name: doc[name] for name in OWN_KEPT if name in doc} | {"text": ""}


def slim_outbox_entry(doc: dict[str, Any]) -> dict[str, Any] | None:
    if doc.get("state") not in DONE_OUTBOX:
        return None
    return {name: doc[name] for name in SENT_KEPT if name in doc} | {"text": ""}


SLIM: dict[str, Slim] = {"own": slim_own_post, "outbox": slim_outbox_entry}


@dataclass(frozen=True, slots=True)
class OutboxMark:
    """What the care rules read of a sent or discarded outbox entry (`care.QueueKeeper`: which item,
    sent or not), in place of the entry while the reading indexes it: the reading does not hold it
    after (`StoreFollower._let_go`), and tens of thousands of them decoded at once, on the first
    reading, stayed as the process's size."""

    item: str
    state: str


def mark_outbox_entry(doc: dict[str, Any]) -> OutboxMark | None:
    state, item = doc.get("state"), doc.get("item")
    if state not in DONE_OUTBOX or not isinstance(item, str) or not isinstance(state, str):
        return None
    return OutboxMark(item, state)


@dataclass(frozen=True, slots=True)
class DoneMark:
    """What the reading keeps of a done state (an operator marked the item done): what the care
    rules (`done`), the composer ("marked this item done meanwhile") and the dossier (the reason)
    read of it. One object for each reason and operator, shared by every state it stands for: a
    state decoded whole took about 450 bytes, and a busy store's done items are tens of thousands.
    A state that is not done (reopened) is decoded whole."""

    reason: str
    operator: str
    done: bool = True


@lru_cache(maxsize=4096)
def _done_mark(reason: str, operator: str) -> DoneMark:
    return DoneMark(reason, operator)


def mark_state(doc: dict[str, Any]) -> DoneMark | None:
    """The stand-in of a done state, else None (decoded whole)."""
    reason, operator = doc.get("reason", ""), doc.get("operator", "")
    if doc.get("done") is not True or not isinstance(reason, str) or not isinstance(operator, str):
        return None
    return _done_mark(reason, operator)


@dataclass(frozen=True, slots=True)
class OwnMark:
    """What the care rules read of an own post (written by the account itself), in place of the
    post while the reading indexes it (`care.QueueKeeper`: what it answers; `care.GapKeeper`:
    when): the reading lets go of it after."""

    account: str
    remote_id: str
    reply_to: str
    created_at: datetime
    own: bool = True


def mark_own_post(doc: dict[str, Any]) -> OwnMark | None:
    """The stand-in of an own post written by the account itself, else None (decoded slim)."""
    account, remote_id, reply_to = doc.get("account"), doc.get("remote_id"), doc.get("reply_to") or ""
    if doc.get("own") is not True or not isinstance(account, str) or not isinstance(remote_id, str):
        return None
    try:
        at = parse_time(doc["created_at"])
    except (KeyError, TypeError, ValueError):
        return None
    if not isinstance(reply_to, str):
        return None
    return OwnMark(account, remote_id, reply_to, at)


MARK: dict[str, Mark] = {"outbox": mark_outbox_entry, "states": mark_state, "own": mark_own_post}


@dataclass(frozen=True)
class KnownItems:
    """Whether the store holds an item, asked of the reader (`StoreFollower.knows_item`), not a
    copy of every item's id: 80,000 ids, made again at every poller's page, took 4 MB."""

    reader: StoreFollower

    def __contains__(self, item_id: object) -> bool:
        return isinstance(item_id, str) and self.reader.knows_item(item_id)


@dataclass(frozen=True)
class Dashboard:
    """One reading of the store with the care rules applied: what every screen shows."""

    now: datetime
    overview: Overview
    items: Mapping[str, Item]
    """The open items (the queue's) and the items pinned by a handoff note, by id: the others
    (answered) are not held (`has_item` tells whether the store holds one)."""
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
    item_ids: Container[str] | None = None
    """Tells the id of every item in the store, answered or not, as of the reader's last look
    (`KnownItems`; None: only those of `items` are known)."""
    own_times: Mapping[str, Sequence[datetime]] = field(default_factory=dict)
    """Per account, the times of its own posts within the care rules' lookback, ascending (the
    reading holds their times, not the posts: `snapshot.own_posts` is empty but on the first look)."""

    def has_item(self, item_id: str) -> bool:
        """Whether the store holds this item (open or answered), as of this reading."""
        return item_id in self.items or (self.item_ids is not None and item_id in self.item_ids)

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
        self._follow = self._new_follower()
        self._held: dict[str, Item] = {}
        """The items the last reading held (`Follower.hold`): the open ones and the pinned ones."""
        self._held_list: list[Item] = []
        self._held_version = -1
        """The items' version (`Follower.versions`) when they were held: not changed since, the
        follower holds `_held` still."""
        self._own_times: tuple[int, Mapping[str, Sequence[datetime]]] = (-1, {})
        """The own posts' version and the times made of it (`Dashboard.own_times`)."""
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

    def held(self, table: str) -> Mapping[str, Any]:
        """What the reading holds decoded of one of its tables, by key (what its memory grows with:
        of the items, the open ones and the pinned ones; of the outbox, the entries still to send or
        failed; of the states, a stand-in each; of the own posts, none)."""
        return self._follow.objects(table)

    def wait(self, timeout: float) -> bool:
        """Block until the store may have changed since the last reading (or `timeout` seconds)."""
        return self._follow.wait(timeout)

    def read(self, now: datetime, shift_start: datetime | None = None) -> Dashboard:
        """The store as of now, with the care rules applied."""
        follow = self._follow
        with self._lock:
            # The first reading leaves the items the store calls answered undecoded (most of a busy
            # store: decoded and let go of, they would stay as the process's size).
            follow.refresh({"items": self.store.answered_ids()} if self._keeper is None else None)
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
                    keeper = self._keeper
                    gap_of = keeper.gap_of(last[1].overview.generated_at) if keeper is not None else None
                    overview = with_health(last[1].overview, follow.objects("health"), now, gap_of)
                    reading = replace(last[1], now=now, overview=overview)
                    self._last = (versions, reading, last[2])
                    return reading
            started = time.perf_counter()
            changed: Mapping[str, Collection[str]]
            before: Mapping[str, Mapping[str, Any]]
            changed, before = follow.changes()
            # The items held: the last reading's (open or pinned) and those decoded since.
            held = self._held if versions["items"] == self._held_version else follow.objects("items")
            states: Mapping[str, ItemState] = self._dict("states")
            tables = {
                "items": held,
                "own": self._dict("own"),
                "states": states,
                "outbox": self._dict("outbox"),
            }
            self.queue_readings += 1
            keeper = self._keeper
            fetch: Callable[[Collection[str]], Mapping[str, Item]] | None = self._fetch_items
            if keeper is None:  # the first reading: the care rules over the whole store, once
                self.full_readings += 1
                keeper = self._keeper = OverviewKeeper(self.config)
                changed = {table: records.keys() for table, records in tables.items()}
                before, fetch = {}, None  # every item is decoded
            handoffs = tuple(sorted(follow.objects("handoffs").values(), key=lambda note: (note.at, note.id)))
            claims = follow.objects("claims").values()
            try:
                keeper.update(now, changed, tables, before, fetch)
                if fetch is None:
                    held = self._unexplained(keeper, now, tables)
                queue = keeper.entries(now, claims)
                items = self._hold(queue, handoffs, held)
                self._let_go()
            except BaseException:
                # What changed is spent and the items let go of are gone (reading one again failed,
                # say): the next reading starts again from the whole store, with a new follower.
                self._keeper = None
                self._restart()
                raise
            snapshot = Snapshot.of(
                now,
                items=self._held_list,
                own_posts=(),  # not held: their times are (`Dashboard.own_times`)
                states=states,
                claims=claims,
                outbox=self._list("outbox"),
                health=follow.objects("health"),
                drafts=follow.objects("drafts"),
            )
            shifts = tuple(sorted(follow.objects("shifts").values(), key=lambda shift: shift.started_at))
            tags = {key: contact.tags for key, contact in follow.objects("contacts").items() if contact.tags}
            overview = keeper.overview(now, snapshot, handoffs, shifts, queue)
            waiting = tuple(handoffs_waiting(handoffs, shifts, self.operator, now)) if self.operator else ()
            reading = Dashboard(
                now=now,
                overview=overview,
                items=items,
                shift_start=shift_start,
                items_version=versions["items"],
                own_version=versions["own"],
                handoffs=handoffs,
                shifts=shifts,
                waiting=waiting,
                tags=tags,
                item_ids=KnownItems(self),
                own_times=self._times_of_own(keeper, now),
            )
            took = time.perf_counter() - started
            self._last = (
                versions,
                reading,
                min(CLOCK_SLACK_MAX, timedelta(seconds=CLOCK_SLACK_SHARE * took)),
            )
        return reading

    def _unexplained(
        self, keeper: OverviewKeeper, now: datetime, tables: Mapping[str, Mapping[str, Any]]
    ) -> Mapping[str, Item]:
        """After the first update: the items left undecoded as answered that the care rules do not
        find answered (the store's `answered` is a hint: a reply deleted without it, a change
        between the two readings) are read and given to the keeper after all; the items held."""
        items = tables["items"]
        left = [key for key in self._follow.keys("items") if key not in items]
        again = self._fetch_items(keeper.unexplained(left, tables["states"]))
        if not again:
            return items
        items = {**items, **again}
        keeper.update(now, {"items": again.keys()}, {**tables, "items": items}, {}, None)
        return items

    def _fetch_items(self, keys: Collection[str]) -> Mapping[str, Item]:
        """Items let go of that the care rules need again (one opens again), read from the store."""
        return self._follow.fetch("items", keys)

    def _hold(
        self, queue: list[QueueEntry], handoffs: tuple[HandoffNote, ...], held: Mapping[str, Item]
    ) -> Mapping[str, Item]:
        """Hold the open items and the pinned ones, and let go of the others (answered): the
        follower keeps their fingerprints, so they are not decoded again while they do not change."""
        keep = {entry.item.id: entry.item for entry in queue}
        pinned = [key for note in handoffs for key in note.pinned_items if key not in keep]
        if pinned:
            absent = [key for key in pinned if key not in held]
            keep.update((key, held[key]) for key in pinned if key in held)
            keep.update(self._fetch_items(absent) if absent else {})
        version = self._follow.versions["items"]
        if keep != self._held:  # the same objects, mostly: compared by identity first
            self._held, self._held_list = keep, list(keep.values())
        elif version == self._held_version:
            return self._held  # the follower holds them already
        self._follow.hold("items", self._held)
        self._held_version = version
        return self._held

    def _new_follower(self) -> Follower:
        """The reading's follower: the care rules' tables, tracked key by key, slim and marked."""
        return Follower(self.store.engine, FOLLOWED, track=FOLLOWED_CARE, slim=SLIM, mark=MARK)

    def _let_go(self) -> None:
        """Let go of what the keeper indexed and no screen shows: the own posts (the keepers index
        what they answer and when; `Dashboard.own_times` gives the times) and the sent (or
        discarded) outbox entries (but those of an item with one still to send or failed)."""
        outbox: Mapping[str, OutboxEntry] = self._dict("outbox")
        if self._dict("own"):  # decoded (or stood in for) since the last reading
            self._follow.hold("own", {})
            self._dicts["own"] = (self._follow.versions["own"], {})
            self._lists.pop("own", None)
        # A reply sent for an item with one still to send or failed stays: it tells whether the
        # failed one was dealt with (`care.failed_replies`: a later reply sent).
        pending = {entry.item for entry in outbox.values() if entry.state not in DONE_OUTBOX}
        unsent = {
            key: entry
            for key, entry in outbox.items()
            if entry.state not in DONE_OUTBOX or (entry.state == "sent" and entry.item in pending)
        }
        marked = [key for key, entry in unsent.items() if isinstance(entry, OutboxMark)]
        if marked:  # rare: a reply sent for an item with a failed one, say
            unsent.update(self._follow.fetch("outbox", marked))
        if len(unsent) != len(outbox) or marked:
            self._follow.hold("outbox", unsent)
            self._dicts["outbox"] = (self._follow.versions["outbox"], unsent)
            self._lists.pop("outbox", None)

    def _times_of_own(self, keeper: OverviewKeeper, now: datetime) -> Mapping[str, Sequence[datetime]]:
        """`Dashboard.own_times`, made again when the own posts changed (the lookback moves with
        the clock meanwhile: a time older than it is harmless, its readers take a window of it)."""
        version = self._follow.versions["own"]
        if self._own_times[0] != version:
            self._own_times = (version, keeper.own_times(now - CARE_LOOKBACK))
        return self._own_times[1]

    def knows_item(self, item_id: str) -> bool:
        """Whether the store held the item (open or answered) at the last reading's look."""
        return self._follow.holds("items", item_id)

    def _restart(self) -> None:
        """Follow the store again from scratch (a reading that failed half-way)."""
        self._follow = self._new_follower()
        self._dicts.clear()
        self._lists.clear()
        self._held, self._held_list, self._held_version = {}, [], -1
        self._own_times = (-1, {})
        self._last = None

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
            own_times={
                account.id: tuple(sorted(p.created_at for p in snapshot.own_posts if p.account == account.id))
                for account in configured
            },
        )

    def contact_view(self, item: Item, limit: int = 20) -> ContactView:
        """The item author's dossier and their past conversations with any of our accounts."""
        return self.dossier_view(item.post.author.contact_key, limit, leave_out=item.id)

    def dossier_view(self, key: str, limit: int = 20, *, leave_out: str = "") -> ContactView:
        """A contact's dossier and their conversations with any of our accounts, newest first
        (`leave_out`: the item being looked at, which is not a *past* conversation)."""
        dossier = self.store.dossier(key)
        # The done reasons from the last reading's states (the follower holds them all, a second
        # old at most); `store.states()` would have the engine keep every states file decoded.
        last = self._last
        states = last[1].snapshot.states if last is not None else self.store.states()
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


@dataclass(frozen=True)
class TimelineReading:
    """What the timeline shows: the newest rows that match its query, read from the store."""

    rows: list[TimelinePost]
    items: Mapping[str, Item]
    """The items read for the rows, by id (one is replied to as itself)."""
    more: bool
    """Older posts match too (the rows are the newest `limit`)."""


def read_timeline(store: Store, query: TimelineQuery, config: Config, limit: int = 500) -> TimelineReading:
    """The timeline of `query` as of now: the newest `limit` items, own posts and followed posts that
    match, of the accounts it covers (`Store.newest_posts`), merged (`timeline`). What it holds
    is what it shows: the timeline used to keep every item and post of the store decoded while it
    was open (350 MB at 20,000 open items, 280,000 posts). Blocks on the store: call it from a
    worker thread."""
    accounts = [
        account.id
        for account in config.accounts
        if (not query.account or account.id == query.account)
        and (not query.network or account.network == query.network)
    ]
    tables = (("items", "own") if query.kind in ("ours", "all") else ()) + (
        ("home",) if query.kind in ("listening", "all") else ()
    )
    found = store.newest_posts(tables, accounts, limit + 1, query.words)
    items: list[Item] = [made for table, made in found if table == "items"]
    own: list[Post] = [made for table, made in found if table == "own"]
    home: list[Post] = [made for table, made in found if table == "home"]
    rows, more = timeline(items, own, home, config, limit)
    return TimelineReading(rows, {item.id: item for item in items}, more)


def timeline(
    items: Iterable[Item], own: Iterable[Post], home: Iterable[Post], config: Config, limit: int = 500
) -> tuple[list[TimelinePost], bool]:
    """The posts merged by time, newest first: (the newest `limit`, whether there were more). A
    post that is both addressed to us and in a followed timeline (or written by one of our accounts
    to another) is shown once, as what it is to the team: items first, then our posts."""
    networks = {account.id: account.network for account in config.accounts}
    sources = (("item", [item.post for item in items]), ("ours", own), ("home", home))
    rows: list[TimelinePost] = []
    seen: set[tuple[str, str]] = set()
    for kind, source in sources:
        for post in source:
            same = (networks.get(post.account, ""), post.url or post.remote_id)
            if same in seen:
                continue
            seen.add(same)
            rows.append(TimelinePost(f"{kind}:{post.account}:{post.remote_id}", post, kind))
    newest = heapq.nlargest(limit, rows, key=lambda row: row.post.created_at)
    return newest, len(rows) > limit


__all__ = [
    "StoreFollower",
    "Dashboard",
    "ContactView",
    "Conversation",
    "TimelinePost",
    "TimelineReading",
    "read_timeline",
    "TimelineQuery",
    "TIMELINE_KINDS",
    "AuditQuery",
    "AuditReading",
    "read_audit",
    "audit_signature",
    "item_for_post",
    "timeline",
]
