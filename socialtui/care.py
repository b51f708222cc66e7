"""The care rules, as pure functions of (items, posts, states, config, now).

No I/O, no store, no clock: `now` is always a parameter, so every rule can be tested with a fixed time
across DST changes and time zones. Each call builds its lookup indexes once (replies by account and
parent, sent outbox entries by item), so the cost grows with items plus posts, never their product.

- `unanswered_queue`: every item not answered, oldest first, with its age against the reply target.
- `quiet_gap` / `quiet_gaps`: how long each account has been quiet, against `max_quiet`.
- `report`: response times, share answered within target, conversations held, over a window.
- `check_summary`: the one line and exit status of `socialtui check`, for monitoring.

Ages, gaps and response times count only the account's active hours, in real seconds.
"""

from __future__ import annotations

import math
import re
import unicodedata
from bisect import bisect_left, bisect_right, insort
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from functools import lru_cache
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from socialtui.config import AccountConfig
from socialtui.model import (
    ITEM_KINDS,
    AccountHealth,
    Author,
    Claim,
    Item,
    OutboxEntry,
    Post,
    Shift,
    item_id,
)
from socialtui.timespec import ActiveHours, format_duration, local_time, wall_to_utc
from socialtui.tone import NEUTRAL, Tone, ToneLexicon, rater_for

if TYPE_CHECKING:
    from socialtui.model_work import HandoffNote, ItemState
    from socialtui.schedule import PostFigures

DUE_SHARE = 0.75
"""An item is `due` (and a gap is `warn`) once past this share of its limit."""
HEALTH_GRACE = timedelta(minutes=15)
"""An account failing for longer than this is critical; shorter, a warning."""
LONG_GAP_SPAN = timedelta(days=7)
"""How far back `QuietGap.long_gaps` and the daily rhythm look."""
CARE_LOOKBACK = LONG_GAP_SPAN + timedelta(days=1)
"""How far back the gap rules read own posts: eight days cover seven local days in any time zone.
Older posts only move an account's latest post, which the store always keeps."""
ELSEWHERE = "(elsewhere)"
"""The operator a reply is attributed to when it was written from another app."""
CHECK_LINE_LIMIT = 300
"""`check_summary` keeps its line within about this many characters."""
SYNC_STALE_WARNING = 3
"""A healthy account not synced for this many poll intervals is a WARNING (the poller stopped or hangs)."""
SYNC_STALE_CRITICAL = 10
"""... and for this many, CRITICAL."""

_HOUR = timedelta(hours=1)
_KINDS = frozenset(ITEM_KINDS)


def normalize_handle(handle: str) -> str:
    """A handle as compared across the app: no leading `@`, lower case."""
    return handle.strip().lstrip("@").lower()


def reply_target_s(account: AccountConfig, item: Item) -> float:
    """The item's reply target in active seconds: `reply_within`, or for talk `reply_within_talk`
    (infinite when unset: nobody asked us, so talk is never late)."""
    if item.kind == "talk":
        within = account.reply_within_talk
        return within.total_seconds() if within is not None else math.inf
    return account.reply_within.total_seconds()


def target_state(age: float, limit: float) -> str:
    """`ok`, `due` (past 75% of the limit) or `late` (past the limit), for active seconds."""
    if age > limit:
        return "late"
    if age > DUE_SHARE * limit:
        return "due"
    return "ok"


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """The nearest-rank p-th percentile of ascending values: the smallest value with at least p% of
    the values at or below it, i.e. `sorted_values[ceil(p/100 * n) - 1]`. None when empty.

    So the median (p=50) of an even count is the lower of the two middle values: always a real
    response time, never an average of two.
    """
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


# --- indexes built once per call ----------------------------------------------------------------------


class _Owners:
    """Which managed account wrote a post: `own`, or an author matching an account's handle."""

    def __init__(self, accounts: Iterable[AccountConfig]) -> None:
        self._by_handle = {(a.network, normalize_handle(a.handle)): a.id for a in accounts}
        # Authors repeat a lot (our accounts, regular contacts): normalize each raw handle once.
        self._memo: dict[tuple[str, str], str | None] = {}

    def account_of(self, post: Post) -> str | None:
        """The managed account that wrote `post`, or None for anyone else."""
        if post.own:
            return post.account
        key = (post.author.network, post.author.handle)
        try:
            return self._memo[key]
        except KeyError:
            found = self._by_handle.get((key[0], normalize_handle(key[1])))
            self._memo[key] = found
            return found


def owners(accounts: Iterable[AccountConfig]) -> _Owners:
    """An index answering "which of our accounts wrote this post?" (`account_of`), for listening."""
    return _Owners(accounts)


def _first_replies(own_posts: Iterable[Post], owners: _Owners) -> dict[tuple[str, str], Post]:
    """The earliest own reply per (account, parent remote id)."""
    first: dict[tuple[str, str], Post] = {}
    for post in own_posts:
        if not post.reply_to:
            continue
        account = owners.account_of(post)
        if account is None:
            continue
        key = (account, post.reply_to)
        seen = first.get(key)
        if seen is None or post.created_at < seen.created_at:
            first[key] = post
    return first


def _replied(own_posts: Iterable[Post], owners: _Owners) -> set[tuple[str, str]]:
    """(account, parent remote id) for every own reply: the queue only needs to know that one exists.

    The hot loop of a refresh (every cached own post), so `own` posts skip the handle lookup."""
    keys: set[tuple[str, str]] = set()
    add = keys.add
    for post in own_posts:
        if not post.reply_to:
            continue
        if post.own:
            add((post.account, post.reply_to))
        else:
            account = owners.account_of(post)
            if account is not None:
                add((account, post.reply_to))
    return keys


def _sent_at(entry: OutboxEntry) -> datetime:
    return entry.sent_at or entry.updated_at


def _first_sent(outbox: Iterable[OutboxEntry] | None) -> dict[str, OutboxEntry]:
    """The earliest sent outbox entry per item."""
    first: dict[str, OutboxEntry] = {}
    for entry in outbox or ():
        if entry.state != "sent":
            continue
        seen = first.get(entry.item)
        if seen is None or _sent_at(entry) < _sent_at(seen):
            first[entry.item] = entry
    return first


def _care_items(
    items: Iterable[Item], accounts: Mapping[str, AccountConfig], owners: _Owners
) -> Iterable[Item]:
    """Items that may need an answer: right kind, a configured account, not our own, each id once."""
    seen: set[str] = set()
    for item in items:
        if item.id in seen or item.kind not in _KINDS or item.account not in accounts:
            continue
        # Our accounts mention each other; those posts are ours, never work for the team.
        if owners.account_of(item.post) is not None:
            continue
        seen.add(item.id)
        yield item


def _live_claims(claims: Iterable[Claim] | Mapping[str, Claim] | None, now: datetime) -> dict[str, Claim]:
    """The unexpired claim per item (the latest, if two operators claimed the same item)."""
    values = claims.values() if isinstance(claims, Mapping) else (claims or ())
    live: dict[str, Claim] = {}
    for claim in values:
        if claim.expires_at <= now:
            continue
        seen = live.get(claim.item)
        if seen is None or claim.at > seen.at:
            live[claim.item] = claim
    return live


# --- the unanswered queue -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """An unanswered item with its age against the account's reply target."""

    item: Item
    age_s: float
    """Active seconds since the item was received."""
    target_s: float
    """The account's `reply_within`, in seconds (of active time)."""
    state: str
    """`ok`, `due` (past 75% of the target) or `late` (past the target)."""
    claim: Claim | None = None
    """The unexpired claim on the item, if an operator is answering it."""
    waited_s: float = 0.0
    """Wall-clock seconds the person has waited: what the queue shows, oldest first. (The state
    counts active hours only.)"""
    tone: Tone = NEUTRAL
    """The item's tone, with the words that decided it (`tone.py`, the team's lexicon)."""

    @property
    def account(self) -> str:
        return self.item.account

    @property
    def left_s(self) -> float:
        """Active seconds until the item is late; negative once it is."""
        return self.target_s - self.age_s


def unanswered_queue(
    items: Iterable[Item],
    own_posts: Iterable[Post],
    states: Mapping[str, ItemState],
    accounts: Sequence[AccountConfig],
    now: datetime,
    *,
    claims: Iterable[Claim] | Mapping[str, Claim] | None = None,
    outbox: Iterable[OutboxEntry] | None = None,
    lexicon: ToneLexicon | None = None,
    negative_first: bool = False,
) -> list[QueueEntry]:
    """Every item not answered, oldest first (ties by item id), across all accounts; with
    `negative_first`, in `queue_order` instead. Given the team's `lexicon` (the config's `[tone]`,
    empty or not), each entry carries the item's tone by it and VADER; without one, tones are not
    rated (all neutral: callers that only count, like the outbox, pay nothing for them).

    Answered: an own post of the item's account replies to it (from any app), a sent outbox entry
    exists for it, or an operator marked it done. Items of accounts not in `accounts`, and posts by
    any managed account, are left out.
    """
    rater = rater_for(lexicon) if lexicon is not None else None
    owners = _Owners(accounts)
    replied = _replied(own_posts, owners)
    sent = _first_sent(outbox)
    live = _live_claims(claims, now)
    # The hot loop of every refresh (an item each): each account's ages at `now` from one running
    # sum (`seconds_until`), the order's key built as the entry is, no lookup done twice.
    age_at = {account.id: account.active_hours.seconds_until(now) for account in accounts}
    targets = {
        (account.id, kind): reply_target_s(account, Item("", account.id, kind, _NO_POST))
        for account in accounts
        for kind in ITEM_KINDS
    }
    account_of = owners.account_of
    keyed: list[tuple[tuple[datetime, str], QueueEntry]] = []
    seen: set[str] = set()
    for item in items:  # `_care_items`, inline
        key, account_id, post = item.id, item.account, item.post
        if key in seen or (account_id, item.kind) not in targets or account_of(post) is not None:
            continue
        seen.add(key)
        if (account_id, post.remote_id) in replied or key in sent:
            continue
        state = states.get(key)
        if state is not None and state.done:
            continue
        received = post.created_at
        age = age_at[account_id](received)
        target = targets[(account_id, item.kind)]
        waited = (now - received).total_seconds()
        tone = rater.rate(post.text, post.langs) if rater is not None else NEUTRAL
        entry = QueueEntry(
            item,
            age,
            target,
            target_state(age, target),
            live.get(item.id),
            waited if waited > 0.0 else 0.0,
            tone,
        )
        keyed.append(((received, key), entry))
    if negative_first:
        return queue_order([entry for _, entry in keyed], negative_first=True)
    keyed.sort(key=itemgetter(0))  # oldest first, ties by id: `queue_order`
    return [entry for _, entry in keyed]


def _order_key(entry: QueueEntry) -> tuple[datetime, str]:
    return (entry.item.post.created_at, entry.item.id)


class QueueKeeper:
    """`unanswered_queue` kept from one reading to the next, for a reader that follows the store.

    Told which items, own posts, states and outbox entries changed (`update`), it redoes the work of
    those items only: whether each is still open, its tone, its place in the order. `entries(now,
    claims)` then gives exactly the list `unanswered_queue` gives for the same records at `now`: the
    ages, states and live claims are made again for `now` (a pass over the open items), no rule is
    applied to the store again. At 50,000 open items the whole queue took a second, for every action
    of any operator and every move of the clock."""

    BULK_SHARE = 8
    """More than one in this many items changed: the queue is sorted again rather than edited."""

    def __init__(
        self,
        accounts: Sequence[AccountConfig],
        *,
        lexicon: ToneLexicon | None = None,
        negative_first: bool = False,
    ) -> None:
        self.accounts = tuple(accounts)
        self._owners = _Owners(accounts)
        self._rater = rater_for(lexicon) if lexicon is not None else None
        self._negative_first = negative_first
        self._targets = {
            (account.id, kind): reply_target_s(account, Item("", account.id, kind, _NO_POST))
            for account in accounts
            for kind in ITEM_KINDS
        }
        self._replied: dict[tuple[str, str], int] = {}
        """(account, parent remote id) -> how many own posts reply to it (`_replied`, counted)."""
        self._sent: dict[str, int] = {}
        """Item id -> how many of its outbox entries were sent."""
        self._own: dict[str, tuple[str, str]] = {}
        """Own post key -> the (account, parent remote id) it counts for in `_replied`: a post
        deleted or changed is un-counted without the post it was (a reader may let go of them)."""
        self._sent_of: dict[str, str] = {}
        """Outbox key -> the item of a sent entry (counted in `_sent`): likewise."""
        self._hours = {account.id: account.active_hours for account in accounts}
        self._queue: list[QueueEntry] = []
        """The open items' entries, oldest first (ties by id), as of the last `entries`."""
        self._points: list[tuple[int, int, int]] = []
        """Each entry's received time as its account's hours see it (`ActiveHours.point`): the
        calendar work of its age, done once."""
        self._shared = True
        """`_queue` was handed out by `entries`: copy it before it is edited."""

    def _reply_key(self, post: Post | None) -> tuple[str, str] | None:
        if post is None or not post.reply_to:
            return None
        account = post.account if post.own else self._owners.account_of(post)
        return None if account is None else (account, post.reply_to)

    def update(
        self,
        changed: Mapping[str, Collection[str]],
        items: Mapping[str, Item],
        own: Mapping[str, Post],
        states: Mapping[str, ItemState],
        outbox: Mapping[str, OutboxEntry],
        before: Mapping[str, Mapping[str, Any]],
        fetch: Callable[[Collection[str]], Mapping[str, Item]] | None = None,
    ) -> None:
        """Bring the queue up to date. `changed`: per table (`items`, `own`, `states`, `outbox`), the
        keys that changed since the last update; the four mappings: the tables now, by key (an
        item's key is its id); `before`: per table, the record each changed key had at the last
        update (the whole mappings then will do; none on the first, when every key is changed).

        `items` may leave out the items that were not open at the last update and did not change
        since (a reader that holds the open items only): `fetch(keys)` gives those of `keys` the
        store holds, asked only for an item that may open again (its state reopened, its reply
        deleted, its sent reply gone). Such an item is found by its id, `item_id(account, parent)`.
        `own` and `outbox` need hold only the records of the keys changed: the keeper indexes what
        it counts of them (which parent a reply answers, which item a sent entry is for), so a
        reader may let go of the others (and `before` need not hold them)."""
        old_items: Mapping[str, Item] = before.get("items", {})
        old_outbox: Mapping[str, OutboxEntry] = before.get("outbox", {})
        affected: set[str] = set(changed.get("items", ()))
        affected.update(changed.get("states", ()))
        sent_of, sent_count = self._sent_of, self._sent
        for key in changed.get("outbox", ()):
            went = sent_of.pop(key, None)
            if went is not None:
                count = sent_count[went] - 1
                if count:
                    sent_count[went] = count
                else:
                    del sent_count[went]
                affected.add(went)
            old_entry = old_outbox.get(key)
            if old_entry is not None:
                affected.add(old_entry.item)
            record = outbox.get(key)
            if record is not None:
                if record.state == "sent":
                    sent_of[key] = record.item
                    sent_count[record.item] = sent_count.get(record.item, 0) + 1
                affected.add(record.item)
        answered: set[tuple[str, str]] = set()
        reopened: set[tuple[str, str]] = set()
        for key in changed.get("own", ()):
            gone, new = self._own.pop(key, None), self._reply_key(own.get(key))
            if new is not None:
                self._own[key] = new
            if gone == new:
                continue
            if gone is not None:
                count = self._replied[gone] - 1
                if count:
                    self._replied[gone] = count
                else:
                    del self._replied[gone]
                    reopened.add(gone)
            if new is not None:
                count = self._replied.get(new, 0) + 1
                self._replied[new] = count
                if count == 1:
                    answered.add(new)
        answered -= reopened  # a reply that moved: it answers still
        reopened -= answered
        if answered:  # only an open item can become answered: look among them
            affected.update(
                entry.item.id
                for entry in self._queue
                if (entry.item.account, entry.item.post.remote_id) in answered
            )
        wanted = {item_id(account, remote_id): (account, remote_id) for account, remote_id in reopened}
        if fetch is not None:  # the items let go of that may open now: read again, in one go
            decoded = changed.get("items", ())
            absent = [
                key
                for key in (affected | wanted.keys())
                if key not in items and key not in decoded and self._may_open(key, states)
            ]
            if absent:
                fetched = fetch(absent)
                if fetched:  # rare (an item opens again): a copy of the held items costs a millisecond
                    items = {**items, **fetched}
        if reopened:  # an item (of any id) of each parent that no own post answers now
            missing = set()
            for key, parent in wanted.items():
                found = items.get(key)
                if found is not None and (found.account, found.post.remote_id) == parent:
                    affected.add(found.id)
                else:
                    missing.add(parent)
            if missing:
                affected.update(
                    key for key, item in items.items() if (item.account, item.post.remote_id) in missing
                )
        if not affected:
            return
        if len(affected) * self.BULK_SHARE > len(self._queue):
            kept: list[tuple[QueueEntry, tuple[int, int, int]]] = []
            old_entries: dict[str, QueueEntry] = {}
            for entry, point in zip(self._queue, self._points, strict=True):
                if entry.item.id in affected:
                    old_entries[entry.item.id] = entry
                else:
                    kept.append((entry, point))
            kept.extend(
                made
                for key in affected
                if (made := self._entry(key, items, states, old_entries.get(key))) is not None
            )
            kept.sort(key=lambda pair: _order_key(pair[0]))
            self._queue = [entry for entry, _ in kept]
            self._points = [point for _, point in kept]
            self._shared = False
            return
        if self._shared:
            self._queue, self._points, self._shared = list(self._queue), list(self._points), False
        queue, points = self._queue, self._points
        for key in affected:
            was = old_items.get(key) or items.get(key)
            old = None
            if was is not None:
                at = bisect_left(queue, (was.post.created_at, was.id), key=_order_key)
                if at < len(queue) and queue[at].item.id == key:
                    old = queue.pop(at)
                    del points[at]
            made = self._entry(key, items, states, old)
            if made is not None:
                at = bisect_left(queue, _order_key(made[0]), key=_order_key)
                queue.insert(at, made[0])
                points.insert(at, made[1])

    def unexplained(self, keys: Iterable[str], states: Mapping[str, ItemState]) -> list[str]:
        """Of items left out of the updates unread (on a hint that they are answered: the store's
        `answered`), those the records as of the last update do not show answered: no done state,
        no sent reply, no own reply to the parent their id stands for (`item_id(account, parent)`).
        What a reader must read and give to `update` after all."""
        replied = {item_id(account, parent) for account, parent in self._replied}
        return [key for key in keys if key not in replied and self._may_open(key, states)]

    def _may_open(self, key: str, states: Mapping[str, ItemState]) -> bool:
        """Whether the item of `key` may be open, as far as is told without the item itself."""
        if key in self._sent:
            return False
        state = states.get(key)
        return state is None or not state.done

    def _entry(
        self, key: str, items: Mapping[str, Item], states: Mapping[str, ItemState], old: QueueEntry | None
    ) -> tuple[QueueEntry, tuple[int, int, int]] | None:
        """The entry of the item if it is open (its age yet to be made) and its point, else None."""
        item = items.get(key)
        if item is None:
            return None
        account_id, post = item.account, item.post
        target = self._targets.get((account_id, item.kind))
        if target is None or self._owners.account_of(post) is not None:
            return None
        if (account_id, post.remote_id) in self._replied or key in self._sent:
            return None
        state = states.get(key)
        if state is not None and state.done:
            return None
        if old is not None and old.item is item:
            tone = old.tone
        else:
            tone = self._rater.rate(post.text, post.langs) if self._rater is not None else NEUTRAL
        point = self._hours[account_id].point(post.created_at)
        return QueueEntry(item, 0.0, target, "ok", None, 0.0, tone), point

    def entries(
        self, now: datetime, claims: Iterable[Claim] | Mapping[str, Claim] | None = None
    ) -> list[QueueEntry]:
        """The queue at `now`: `unanswered_queue` of the records as of the last update."""
        live = _live_claims(claims, now)
        age_at = {account.id: account.active_hours.seconds_from_point(now) for account in self.accounts}
        made: list[QueueEntry] = []
        append = made.append
        for entry, point in zip(self._queue, self._points, strict=True):
            item = entry.item
            received = item.post.created_at
            age = age_at[item.account](point)
            target = entry.target_s
            waited = (now - received).total_seconds()
            append(
                QueueEntry(
                    item,
                    age,
                    target,
                    target_state(age, target),
                    live.get(item.id),
                    waited if waited > 0.0 else 0.0,
                    entry.tone,
                )
            )
        self._queue, self._shared = made, True
        if self._negative_first:
            return queue_order(made, negative_first=True)
        return made


_STATE_RANK = {"late": 0, "due": 1, "ok": 2}
_NO_POST = Post("", "", Author("", ""), "", datetime(1970, 1, 1, tzinfo=UTC))
"""A stand-in post: `reply_target_s` reads only the item's kind."""


def queue_order(entries: Iterable[QueueEntry], *, negative_first: bool = False) -> list[QueueEntry]:
    """Oldest first (ties by item id). With `negative_first`: within the same state (late, then
    due, then on time), negative items first, each part oldest first: an angry customer never waits
    behind twenty thank-yous, and never jumps ahead of someone already late."""
    if not negative_first:
        return sorted(entries, key=lambda entry: (entry.item.received_at, entry.item.id))
    return sorted(
        entries,
        key=lambda entry: (
            _STATE_RANK.get(entry.state, 3),
            not entry.tone.negative,
            entry.item.received_at,
            entry.item.id,
        ),
    )


# --- the queue counted, not listed: `status` and `check` on a big store ---------------------------------

_FLOOR = datetime(1970, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=256)
def over_limit_before(hours: ActiveHours, now: datetime, limit: float) -> datetime:
    """The instant that splits items by age at `now`: one received before it has waited more than
    `limit` active seconds (`age > limit`, as `target_state` judges), one received at or after it
    has not. Exact to the microsecond (a search over `active_seconds` itself); accounts on the
    same hours share it."""

    def over(at: datetime) -> bool:
        return hours.active_seconds(at, now) > limit

    # Active time never exceeds real time: nothing received within `limit` of now is over it.
    hi = now - timedelta(seconds=limit) if limit < 1e9 else now
    if hi > _FLOOR and over(hi):  # rounded to the microsecond past the limit
        hi = now
    step = timedelta(seconds=max(limit, 60.0))
    if hi <= _FLOOR:
        return _FLOOR
    while True:  # back in doubling steps until an age is over the limit
        lo = max(hi - step, _FLOOR)
        if over(lo):
            break
        if lo == _FLOOR:
            return _FLOOR  # nothing received since 1970 is over it
        hi, step = lo, step * 2
    over_us, under_us = 0, (hi - lo) // timedelta(microseconds=1)
    while under_us - over_us > 1:
        mid = (over_us + under_us) // 2
        if over(lo + timedelta(microseconds=mid)):
            over_us = mid
        else:
            under_us = mid
    return lo + timedelta(microseconds=under_us)


def queue_edges(account: AccountConfig, now: datetime) -> dict[str, tuple[datetime, ...]]:
    """Per item kind, the instants that split the account's open items into late, due and on time
    (received before the first: late; before the second: due); none for talk without a target."""
    edges: dict[str, tuple[datetime, ...]] = {}
    targets: dict[float, tuple[datetime, ...]] = {}
    for kind in ITEM_KINDS:
        target = account.reply_within_talk if kind == "talk" else account.reply_within
        if target is None:
            edges[kind] = ()
            continue
        limit = target.total_seconds()
        if limit not in targets:
            hours = account.active_hours
            targets[limit] = (
                over_limit_before(hours, now, limit),
                over_limit_before(hours, now, DUE_SHARE * limit),
            )
        edges[kind] = targets[limit]
    return edges


STATE_OF_BUCKET = ("late", "due", "ok")
"""The state of the items in each bucket split by `queue_edges` (talk without a target: all `ok`)."""


@dataclass(frozen=True, slots=True)
class StateCount:
    """The items of one state (`late`, `due`) in the queue: how many, and the oldest's age."""

    count: int
    oldest_s: float
    """The largest age (active seconds) among them."""
    account: str
    """The account of the item with that age (the first in the queue's order, on a tie)."""


@dataclass(frozen=True, slots=True)
class QueueTally:
    """The queue counted: what `check` says of it."""

    total: int
    late: StateCount | None
    due: StateCount | None


def tally_queue(queue: Sequence[QueueEntry]) -> QueueTally:
    """The tally of a listed queue (in its order)."""
    found: dict[str, StateCount] = {}
    for state in ("late", "due"):
        entries = [entry for entry in queue if entry.state == state]
        if entries:
            oldest = max(entries, key=lambda entry: entry.age_s)
            found[state] = StateCount(len(entries), oldest.age_s, oldest.account)
    return QueueTally(len(queue), found.get("late"), found.get("due"))


def reply_deadline(account: AccountConfig, item: Item) -> datetime:
    """The wall-clock instant at which an item becomes late (its target counted in active hours);
    `datetime.max` (UTC) for talk without a target."""
    target = reply_target_s(account, item)
    if math.isinf(target):
        return datetime.max.replace(tzinfo=item.received_at.tzinfo)
    return account.active_hours.advance(item.received_at, target)


# --- quiet gaps ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuietSpan:
    """A stretch without own posts that lasted longer than the account's `max_quiet`."""

    start: datetime
    end: datetime
    active_s: float
    """Active seconds between start and end."""
    open: bool = False
    """Still going on: `end` is now."""


@dataclass(frozen=True, slots=True)
class QuietGap:
    """How long an account has been quiet, against its limit, and its recent rhythm."""

    account: str
    state: str
    """`ok`, `warn` (past 75% of max_quiet), `breach` (past max_quiet), `off-hours` (outside active
    hours now: the gap is frozen and does not alarm) or `unknown` (never synced, no post known)."""
    quiet_s: float
    """Active seconds since `since` (0 when unknown)."""
    limit_s: float
    """`max_quiet` in seconds."""
    since: datetime | None
    """Where the gap is measured from: the last own post, or `now - lookback` when none is known."""
    last_post_at: datetime | None
    """The last own post or reply, if any is known."""
    left_s: float | None
    """Active seconds before a breach (0 once breached); None when unknown."""
    breach_at: datetime | None
    """The wall-clock instant of the breach (past once breached); None when unknown."""
    long_gaps: tuple[QuietSpan, ...] = ()
    """Gaps longer than max_quiet over the last 7 days, oldest first, clipped to those 7 days; the
    last one is `open` if the account is still in it."""
    hourly: tuple[int, ...] = (0,) * 24
    """Own posts per hour over the last 24 hours, oldest first; the last bucket is the past hour."""
    daily: tuple[int, ...] = (0,) * 7
    """Own posts per local day over the last 7 days, oldest first; the last bucket is today."""


def _quiet_gap(
    account: AccountConfig,
    last: datetime | None,
    recent: list[datetime],
    now: datetime,
    *,
    synced: bool,
    lookback: timedelta,
    ascending: bool = False,
) -> QuietGap:
    """The gap from the last own post and the account's post times since `now - 8 days` (`ascending`:
    already sorted; times after `now` may be among them)."""
    limit = account.max_quiet.total_seconds()
    if last is None and not synced:
        return QuietGap(account.id, "unknown", 0.0, limit, None, None, None, None)
    hours = account.active_hours
    since = last if last is not None else now - lookback
    gap = hours.active_seconds(since, now)
    if not hours.is_active(now):
        state = "off-hours"
    else:
        state = {"late": "breach", "due": "warn"}.get(target_state(gap, limit), "ok")
    times = recent[: bisect_right(recent, now)] if ascending else sorted(t for t in recent if t <= now)

    window_start = now - LONG_GAP_SPAN
    over = account.max_quiet
    spans = []
    previous = window_start
    ends = [(t, False) for t in times[bisect_left(times, window_start) :]]
    for at, is_open in [*ends, (now, True)]:
        # Active time never exceeds real time: most pairs are ruled out without touching the calendar.
        if at - previous > over:
            active = hours.active_seconds(previous, at)
            if active > limit:
                spans.append(QuietSpan(previous, at, active, open=is_open))
        previous = at

    # Rhythm by counting between bucket edges in the sorted times: no per-post time zone work.
    # Hour buckets are (edge, edge + 1h], the last ending at now; day buckets run from local midnight.
    hour_edges = [bisect_right(times, now - (24 - i) * _HOUR) for i in range(25)]
    hourly = [hour_edges[i + 1] - hour_edges[i] for i in range(24)]
    today = now.astimezone(account.tz).date()
    day_edges = [
        bisect_left(times, wall_to_utc(datetime.combine(today - timedelta(days=6 - i), time()), account.tz))
        for i in range(7)
    ] + [len(times)]
    daily = [day_edges[i + 1] - day_edges[i] for i in range(7)]
    return QuietGap(
        account=account.id,
        state=state,
        quiet_s=gap,
        limit_s=limit,
        since=since,
        last_post_at=last,
        left_s=max(0.0, limit - gap),
        breach_at=hours.advance(since, limit),
        long_gaps=tuple(spans),
        hourly=tuple(hourly),
        daily=tuple(daily),
    )


def _own_times(
    posts: Iterable[Post], counts_for: Callable[[Post], str | None], cutoff: datetime
) -> tuple[dict[str, datetime], dict[str, dict[str, datetime]]]:
    """Per account (`counts_for` of each post; None: it counts for none), its newest post's time, and
    the times of its posts since `cutoff` by remote id (a post seen through two managed accounts
    counts once). Older posts make no rhythm: only the newest counts. The hot loop of a reading."""
    last: dict[str, datetime] = {}
    recent: dict[str, dict[str, datetime]] = defaultdict(dict)
    for post in posts:
        account = counts_for(post)
        if account is None:
            continue
        at = post.created_at
        seen = last.get(account)
        if seen is None or at > seen:
            last[account] = at
        if at >= cutoff:
            recent[account][post.remote_id] = at
    return last, recent


def quiet_gaps(
    accounts: Sequence[AccountConfig],
    own_posts: Iterable[Post],
    now: datetime,
    *,
    synced: Collection[str] | None = None,
    lookback: timedelta = timedelta(days=7),
) -> dict[str, QuietGap]:
    """`quiet_gap` for every account in one pass over the posts, keyed by account id.

    `synced` names the accounts that have ever synced (None: all of them); an account that has not,
    with no own post known, is `unknown`.
    """
    wanted = {account.id for account in accounts}
    owners = _Owners(accounts)

    def counts_for(post: Post) -> str | None:
        # `own` posts skip the handle lookup.
        account = post.account if post.own else owners.account_of(post)
        return account if account in wanted else None

    last, recent = _own_times(own_posts, counts_for, now - CARE_LOOKBACK)
    return {
        account.id: _quiet_gap(
            account,
            last.get(account.id),
            list(recent.get(account.id, {}).values()),
            now,
            synced=synced is None or account.id in synced,
            lookback=lookback,
        )
        for account in accounts
    }


class GapKeeper:
    """Each account's own post times kept from one reading to the next (`update` with the own posts
    that changed), so that `gap(account, now)` is `quiet_gap` of the account's own posts without a
    pass over them: a poller's page of own posts costs what it brought. It keeps its own index
    (each counted post's time, by key), not the posts: a reader may let go of them once told."""

    def __init__(self, accounts: Sequence[AccountConfig]) -> None:
        self._accounts = {account.id: account for account in accounts}
        self._owners = {account.id: _Owners([account]) for account in accounts}
        self._at: dict[str, tuple[str, datetime]] = {}
        """Own post key -> (the account whose gap it counts for, its time)."""
        self._times: dict[str, list[datetime]] = {account.id: [] for account in accounts}
        """Per account, the times of `_at`, ascending."""

    def _counts_for(self, post: Post | None) -> str | None:
        """The account whose gap the post counts for (`quiet_gap` of the posts stored under it)."""
        if post is None or post.account not in self._accounts:
            return None
        if post.own or self._owners[post.account].account_of(post) is not None:
            return post.account
        return None

    def update(self, changed: Collection[str], own: Mapping[str, Post]) -> None:
        """`changed`: the keys of the own posts that changed since the last update (all on the
        first); `own`: the posts now, by key (those of `changed` at least: a key of `changed` it
        lacks was deleted). A post's key stands for one post of one account (`post_key`)."""
        for key in changed:
            was = self._at.pop(key, None)
            if was is not None:
                times = self._times[was[0]]
                del times[bisect_left(times, was[1])]
            post = own.get(key)
            account_id = self._counts_for(post)
            if post is not None and account_id is not None:
                self._at[key] = (account_id, post.created_at)
                insort(self._times[account_id], post.created_at)

    def times(self, account: str, since: datetime) -> tuple[datetime, ...]:
        """The times of the account's own posts that count for its gap, since `since`, ascending:
        what a reader that let go of the posts shows of them (the schedule's day strip)."""
        times = self._times.get(account, [])
        return tuple(times[bisect_left(times, since) :])

    def gap(self, account: AccountConfig, now: datetime, *, synced: bool) -> QuietGap:
        times = self._times.get(account.id, [])
        last = times[-1] if times else None
        recent = times[bisect_left(times, now - CARE_LOOKBACK) :]
        return _quiet_gap(
            account, last, recent, now, synced=synced, lookback=timedelta(days=7), ascending=True
        )


def quiet_gap_since(
    account: AccountConfig, last: datetime | None, now: datetime, *, synced: bool
) -> QuietGap:
    """`quiet_gap` from the account's last own post alone: the same gap, state and breach, without
    the rhythm (`long_gaps`, `hourly`, `daily`), which needs the recent posts."""
    return _quiet_gap(account, last, [], now, synced=synced, lookback=timedelta(days=7))


def quiet_gap(
    account: AccountConfig,
    own_posts: Iterable[Post],
    now: datetime,
    *,
    synced: bool = True,
    lookback: timedelta = timedelta(days=7),
) -> QuietGap:
    """How long `account` has been quiet: since its last own post or reply, in active hours.

    `own_posts` may hold other accounts' posts too: only this account's count. If the account has
    synced but no own post is known, the gap runs from `now - lookback` and `last_post_at` is None.
    """
    return quiet_gaps([account], own_posts, now, synced=None if synced else (), lookback=lookback)[account.id]


# --- metrics ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Metrics:
    """One row of the report: an account, an operator, or the total.

    Items count when received in the window; their answers may come later (up to now). Fields that
    make no sense for an operator (received, overdue, quiet, posts, share of conversation) are None
    on operator rows.
    """

    kind: str
    """`account`, `operator`, `total`, or `tone` (the negative items, or the rest)."""
    key: str
    """The account id, the operator's login (or `(elsewhere)`), or `total`."""
    name: str
    """What to show: the account id, the operator's display name, or `total`."""
    received: int | None
    """Items received in the window."""
    answered: int
    """Of those, answered by a reply (attributed on operator rows to who sent the first reply)."""
    done: int
    """Of those, marked done without a reply."""
    done_reasons: tuple[tuple[str, int], ...]
    """Done counts by reason, most frequent first (`(no reason)` when none was given)."""
    response_times_s: tuple[float, ...]
    """First-response times of the answered items, active seconds, ascending."""
    median_s: float | None
    """Nearest-rank median of response_times_s (the lower middle value for an even count)."""
    p90_s: float | None
    """Nearest-rank 90th percentile of response_times_s."""
    on_time: int
    """Answered within the account's reply target."""
    overdue: int | None
    """Unanswered, not done, and already past the target at `now`."""
    within_target: float | None
    """on_time / (answered + overdue); done items are left out; None when that is 0."""
    longest_quiet_s: float | None
    """The longest stretch without own posts inside the window, active seconds."""
    posts: int | None
    """Own posts written in the window, replies included (also replies sent through socialtui that
    the poller has not fetched back yet)."""
    replies: int
    """Replies written in the window (replies to oneself, i.e. threads, are not conversation)."""
    conversation_share: float | None
    """replies / posts; None with no posts."""


@dataclass(frozen=True, slots=True)
class Report:
    """Metrics over [since, now]: per account (config order), per operator (by operator name, then
    `(elsewhere)`), the total, and an hour-by-weekday grid of own posts."""

    since: datetime
    now: datetime
    accounts: tuple[Metrics, ...]
    operators: tuple[Metrics, ...]
    total: Metrics
    activity: tuple[tuple[int, ...], ...]
    """7 rows (Mon..Sun) of 24 counts (hours 0..23): own posts in the window, each in its account's
    local time."""
    continuity: Continuity | None = None
    """Handed over and dropped across the shift changes in the window (`continuity`)."""
    complaints: Metrics | None = None
    """The items of negative tone apart (kind `tone`): "complaints answered within target: 83%"."""
    others: Metrics | None = None
    """The other items (neutral and positive), to compare with."""
    posts: tuple[PostFigures, ...] = ()
    """Per account (config order): new posts made, and what became of the scheduled ones
    (`schedule.post_figures`)."""


class _Tally:
    """Counts for one report row while the items are walked."""

    def __init__(self) -> None:
        self.received = 0
        self.answered = 0
        self.done = 0
        self.reasons: Counter[str] = Counter()
        self.times: list[float] = []
        self.on_time = 0
        self.overdue = 0
        self.longest_quiet = 0.0
        self.posts = 0
        self.replies = 0
        self.name = ""

    def row(self, kind: str, key: str, name: str) -> Metrics:
        times = tuple(sorted(self.times))
        denominator = self.answered + (0 if kind == "operator" else self.overdue)
        operator = kind == "operator"
        return Metrics(
            kind=kind,
            key=key,
            name=name,
            received=None if operator else self.received,
            answered=self.answered,
            done=self.done,
            done_reasons=tuple(sorted(self.reasons.items(), key=lambda pair: (-pair[1], pair[0]))),
            response_times_s=times,
            median_s=percentile(times, 50),
            p90_s=percentile(times, 90),
            on_time=self.on_time,
            overdue=None if operator else self.overdue,
            within_target=self.on_time / denominator if denominator else None,
            longest_quiet_s=None if operator or kind == "tone" else self.longest_quiet,
            posts=None if operator or kind == "tone" else self.posts,
            replies=self.replies,
            conversation_share=None if operator or not self.posts else self.replies / self.posts,
        )


def _is_conversation(post: Post) -> bool:
    """A reply to someone else (a reply to oneself only continues a thread)."""
    return bool(post.reply_to) and not (post.reply_to_author and post.reply_to_author == post.author.id)


def report(
    items: Iterable[Item],
    own_posts: Iterable[Post],
    states: Mapping[str, ItemState],
    outbox: Iterable[OutboxEntry],
    accounts: Sequence[AccountConfig],
    since: datetime,
    now: datetime,
    lexicon: ToneLexicon | None = None,
) -> Report:
    """Response times, the share answered within target and conversations held, over [since, now];
    given the team's `lexicon`, the items of negative tone (by it and VADER) also apart from the rest.

    Each item received in the window counts once for its account. Operator rows count actions in
    the window, whenever the item was received: the item's first reply is credited to whoever sent
    it through socialtui (the outbox entry's login), `(elsewhere)` for a reply seen only from another
    app; a done to the login that marked it. A first response is the
    earliest of its first own reply post and its sent outbox entry; its time counts active hours.
    """
    by_id = {account.id: account for account in accounts}
    owners = _Owners(accounts)
    own_posts = list(own_posts)
    outbox = list(outbox)
    replied = _first_replies(own_posts, owners)
    sent = _first_sent(outbox)
    login_of_remote = {e.remote_id: e for e in outbox if e.state == "sent" and e.remote_id}

    per_account = {account.id: _Tally() for account in accounts}
    per_operator: dict[str, _Tally] = defaultdict(_Tally)
    rater = rater_for(lexicon) if lexicon is not None else None
    by_tone = {True: _Tally(), False: _Tally()}
    for item in _care_items(items, by_id, owners):
        if item.received_at > now:
            continue
        # Account rows count the items received in the window; operator rows count the operators'
        # actions in the window, whenever the item came (work done today on last week's items).
        received_in = since <= item.received_at
        account = by_id[item.account]
        tally = per_account[account.id] if received_in else _Tally()
        tally.received += 1
        tone_row = (
            by_tone[rater is not None and rater.rate(item.post.text, item.post.langs).negative]
            if received_in
            else _Tally()
        )
        tone_row.received += 1
        target = reply_target_s(account, item)
        reply = replied.get((item.account, item.post.remote_id))
        entry = sent.get(item.id)
        # The first response, and who gave it (a post we sent ourselves is credited to its sender).
        first: tuple[datetime, str, str] | None = None
        if reply is not None:
            via = login_of_remote.get(reply.remote_id)
            first = (
                (reply.created_at, _who(via), via.operator)
                if via
                else (reply.created_at, ELSEWHERE, ELSEWHERE)
            )
        if entry is not None and (first is None or _sent_at(entry) <= first[0]):
            first = (_sent_at(entry), _who(entry), entry.operator)
        if first is not None:
            took = account.active_hours.active_seconds(item.received_at, first[0])
            rows = [tally, tone_row]
            if since <= first[0] <= now:
                operator = per_operator[first[1]]
                operator.name = operator.name or first[2] or first[1]
                rows.append(operator)
            for row in rows:
                row.answered += 1
                row.times.append(took)
                row.on_time += took <= target
            continue
        state = states.get(item.id)
        if state is not None and state.done:
            reason = state.reason.strip() or "(no reason)"
            rows = [tally, tone_row]
            if state.at is None or since <= state.at <= now:
                operator = per_operator[_who(state) or "(unknown)"]
                operator.name = operator.name or state.operator or state.login or "(unknown)"
                rows.append(operator)
            for row in rows:
                row.done += 1
                row.reasons[reason] += 1
            continue
        if account.active_hours.active_seconds(item.received_at, now) > target:
            tally.overdue += 1
            tone_row.overdue += 1

    # Own posts in the window, each once (a post can be seen through two managed accounts).
    times: dict[str, dict[str, datetime]] = defaultdict(dict)
    activity = [[0] * 24 for _ in range(7)]
    for post in own_posts:
        if not since <= post.created_at <= now:
            continue
        account_id = owners.account_of(post)
        if account_id is None or account_id not in per_account or post.remote_id in times[account_id]:
            continue
        times[account_id][post.remote_id] = post.created_at
        tally = per_account[account_id]
        tally.posts += 1
        if _is_conversation(post):
            tally.replies += 1
            via = login_of_remote.get(post.remote_id)
            per_operator[_who(via) if via else ELSEWHERE].replies += 1
            if not via:
                per_operator[ELSEWHERE].name = ELSEWHERE
            elif not per_operator[_who(via)].name:
                per_operator[_who(via)].name = _who(via)
        local = post.created_at.astimezone(by_id[account_id].tz)
        activity[local.weekday()][local.hour] += 1
    # A reply sent through socialtui counts before the poller has fetched it back as a post.
    for entry in login_of_remote.values():
        at = _sent_at(entry)
        if (
            entry.account not in per_account
            or entry.remote_id in times[entry.account]
            or not since <= at <= now
        ):
            continue
        times[entry.account][entry.remote_id] = at
        tally = per_account[entry.account]
        tally.posts += 1
        tally.replies += 1
        per_operator[_who(entry)].replies += 1
        per_operator[_who(entry)].name = per_operator[_who(entry)].name or _who(entry)
        local = at.astimezone(by_id[entry.account].tz)
        activity[local.weekday()][local.hour] += 1

    for account in accounts:
        per_account[account.id].longest_quiet = _longest_quiet(
            account, sorted(times[account.id].values()), since, now
        )

    account_rows = tuple(per_account[a.id].row("account", a.id, a.id) for a in accounts)
    operator_rows = tuple(
        per_operator[login].row("operator", login, per_operator[login].name or login)
        for login in sorted(per_operator, key=lambda login: (login == ELSEWHERE, login))
    )
    total = _Tally()
    for account in accounts:
        part = per_account[account.id]
        total.received += part.received
        total.answered += part.answered
        total.done += part.done
        total.reasons.update(part.reasons)
        total.times.extend(part.times)
        total.on_time += part.on_time
        total.overdue += part.overdue
        total.longest_quiet = max(total.longest_quiet, part.longest_quiet)
        total.posts += part.posts
        total.replies += part.replies
    return Report(
        since=since,
        now=now,
        accounts=account_rows,
        operators=operator_rows,
        total=total.row("total", "total", "total"),
        activity=tuple(tuple(row) for row in activity),
        complaints=by_tone[True].row("tone", "negative", "complaints") if rater is not None else None,
        others=by_tone[False].row("tone", "other", "the rest") if rater is not None else None,
    )


def _longest_quiet(account: AccountConfig, times: list[datetime], since: datetime, now: datetime) -> float:
    """The longest stretch without own posts inside [since, now], in active seconds."""
    longest = 0.0
    previous = since
    for at in [*times, now]:
        # Active time never exceeds real time, so shorter stretches cannot win.
        if (at - previous).total_seconds() > longest:
            longest = max(longest, account.active_hours.active_seconds(previous, at))
        previous = at
    return longest


# --- check --------------------------------------------------------------------------------------------

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
LABELS = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}
_SEVERITY = {OK: 0, WARNING: 1, UNKNOWN: 2, CRITICAL: 3}
"""How bad each verdict is: a known emergency beats not knowing, which beats a known small problem."""


def worst(levels: Iterable[int]) -> int:
    """The most severe of monitoring levels (OK for none): CRITICAL, then UNKNOWN, then WARNING."""
    return max(levels, key=_SEVERITY.__getitem__, default=OK)


@dataclass(frozen=True, slots=True)
class SyncAge:
    """How fresh an account's data is: the time since the poller last tried it, against its interval."""

    level: int
    """OK, WARNING (older than 3 poll intervals) or CRITICAL (older than 10)."""
    age_s: float | None
    """Seconds since the last sync (or since a rate limit ended); None if it never synced."""


LIVE_POLL_INTERVAL = timedelta(minutes=5)
"""How often an account whose server pushes its items over a healthy stream ("live") is polled all
the same: the safety net for what a stream may miss."""


def sync_age(health: AccountHealth, poll_interval: timedelta, now: datetime) -> SyncAge:
    """Is the poller still at work on this account? Read from the store alone, so a poller that
    hangs while keeping its leases is noticed by every dashboard and by `check`. A "live" account is
    judged by the safety net's interval only while its poller confirms the stream (`seen_at`).

    A rate-limited account is not expected before its `until`. A failing account (auth, unreachable)
    backs off and says so in its own health, which grows more severe with time on its own: no stale
    verdict is added for it."""
    if health.last_sync_at is None:
        return SyncAge(OK, None)
    expected = health.last_sync_at
    if health.state == "rate_limited" and health.until is not None:
        expected = max(expected, health.until)
    age = max((now - expected).total_seconds(), 0.0)
    if health.state not in ("ok", "rate_limited"):
        return SyncAge(OK, age)
    interval = max(poll_interval.total_seconds(), 1.0)
    if health.seen_at(now).mode == "live":  # the stream brings items; the safety net polls less often
        interval = max(interval, LIVE_POLL_INTERVAL.total_seconds())
    if age > SYNC_STALE_CRITICAL * interval:
        return SyncAge(CRITICAL, age)
    if age > SYNC_STALE_WARNING * interval:
        return SyncAge(WARNING, age)
    return SyncAge(OK, age)


def _items_problem(items: StateCount, word: str) -> str:
    noun = "item" if items.count == 1 else "items"
    where = f"{format_duration(items.oldest_s)} on {items.account}"
    if items.count == 1:
        return f"1 {word} {noun} ({where})"
    return f"{items.count} {word} {noun} (oldest {where})"


def _health_problem(
    account: str, health: AccountHealth, now: datetime, poll_interval: timedelta | None, tz: tzinfo = UTC
) -> tuple[int, str] | None:
    if health.state in ("auth", "unreachable"):
        what = (
            "auth refused"
            if health.state == "auth"
            else "server error"
            if health.server_failed
            else "unreachable"
        )
        if health.since is None:
            # No start time known: assume the worst, a failing account must not look fine.
            return CRITICAL, f"{account} {what}"
        lasted = now - health.since
        level = CRITICAL if lasted > HEALTH_GRACE else WARNING
        return level, f"{account} {what} for {format_duration(lasted.total_seconds())}"
    if health.state == "never":
        return UNKNOWN, f"{account} never synced"
    stale = sync_age(health, poll_interval, now) if poll_interval is not None else SyncAge(OK, None)
    if stale.level != OK and stale.age_s is not None:
        return stale.level, f"{account} not synced for {format_duration(stale.age_s)}"
    if health.state == "rate_limited":
        until = f" until {local_time(health.until, tz, '%H:%M')}" if health.until else ""
        return WARNING, f"{account} rate limited{until}"
    return None


def failed_replies(outbox: Iterable[OutboxEntry]) -> list[OutboxEntry]:
    """Replies that failed for good and that nobody has dealt with yet: not retried (no later reply to
    the same item queued, being sent or sent) and not discarded. Oldest first."""
    entries = list(outbox)
    later: dict[str, datetime] = {}
    for entry in entries:
        if entry.state in ("queued", "sending", "sent"):
            seen = later.get(entry.item)
            if seen is None or entry.created_at > seen:
                later[entry.item] = entry.created_at
    failed = [
        e for e in entries if e.state == "failed" and (e.item not in later or later[e.item] < e.created_at)
    ]
    return sorted(failed, key=lambda e: (e.updated_at, e.id))


def _failed_problems(failed: Sequence[OutboxEntry]) -> list[tuple[int, str]]:
    per_account = Counter(entry.account for entry in failed)
    return [
        (CRITICAL, f"{count} {'reply' if count == 1 else 'replies'} failed on {account}")
        for account, count in per_account.items()
    ]


def check_summary(
    accounts: Sequence[AccountConfig],
    queue: Sequence[QueueEntry],
    gaps: Mapping[str, QuietGap],
    healths: Mapping[str, AccountHealth],
    now: datetime,
    *,
    overdue: Sequence[OverdueHandoff] = (),
    extra: Sequence[tuple[int, str]] = (),
    poll_interval: timedelta | None = None,
    failed: Sequence[OutboxEntry] = (),
    tally: QueueTally | None = None,
    tz: tzinfo = UTC,
) -> tuple[int, str]:
    """The exit status and one line for `socialtui check`: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.

    `tally`: the queue counted (`QueueTally`), when `queue` is not listed whole.

    `extra`: further (level, text) problems from other rules (scheduled posts: `schedule.py`).

    CRITICAL: late items, breached quiet gaps, accounts refused (auth) or unreachable for more than
    15 minutes, accounts not synced for more than 10 poll intervals (`poll_interval`; the poller has
    stopped or hangs), replies that failed for good and are not dealt with (`failed`, see
    `failed_replies`). WARNING: due items, gaps near their limit, rate limits, shorter failures,
    accounts not synced for more than 3 poll intervals, handoff notes an operator on shift has left
    unacknowledged past `handoff_ack_within` (`overdue`). UNKNOWN: no accounts, accounts never synced,
    and quiet gaps that cannot be known because the account never synced successfully.

    The verdict is the worst problem's: CRITICAL, then UNKNOWN, then WARNING. Worst problems first;
    the line is cut at about 300 characters with `; +N more`. `healths` lacks accounts that never synced.
    """
    if not accounts:
        return UNKNOWN, "UNKNOWN: no accounts configured"
    states = {a.id: healths.get(a.id) or AccountHealth(a.id) for a in accounts}
    if all(health.state == "never" for health in states.values()):
        if len(accounts) == 1:
            return UNKNOWN, f"UNKNOWN: {accounts[0].id} has never synced"
        return UNKNOWN, f"UNKNOWN: none of the {len(accounts)} accounts has synced yet"

    problems: list[tuple[int, str]] = []
    counted = tally or tally_queue(queue)
    late, due = counted.late, counted.due
    if late:
        problems.append((CRITICAL, _items_problem(late, "late")))
    problems.extend(_failed_problems(failed))
    ordered = [gaps[a.id] for a in accounts if a.id in gaps]
    for level, state in ((CRITICAL, "breach"), (WARNING, "warn")):
        for gap in sorted((g for g in ordered if g.state == state), key=lambda g: -g.quiet_s):
            problems.append(
                (
                    level,
                    f"{gap.account} quiet {format_duration(gap.quiet_s)} of {format_duration(gap.limit_s)}",
                )
            )
    for account in accounts:
        health = states[account.id]
        problem = _health_problem(account.id, health, now, poll_interval, tz)
        if problem is not None:
            problems.append(problem)
        account_gap = gaps.get(account.id)
        if health.state != "never" and account_gap is not None and account_gap.state == "unknown":
            # Failing since its first try: with no data its quiet gap is not known, not "7 days".
            problems.append((UNKNOWN, f"{account.id} quiet gap unknown (never synced successfully)"))
    if due:
        problems.append((WARNING, _items_problem(due, "due")))
    for late_ack in overdue:
        problems.append(
            (
                WARNING,
                f"handoff from {late_ack.note.operator} unacknowledged by {late_ack.shift.operator} "
                f"for {format_duration((now - late_ack.shift.started_at).total_seconds())}",
            )
        )
    problems.extend(extra)
    # Stable sort: within a level, items come before gaps before accounts, as appended.
    problems.sort(key=lambda problem: -_SEVERITY[problem[0]])

    if not problems:
        noun = "account" if len(accounts) == 1 else "accounts"
        return OK, (
            f"OK: {len(accounts)} {noun}, {counted.total} unanswered (none late), no quiet gap near its limit"
        )
    level = problems[0][0]
    head = f"{LABELS[level]}: "
    shown: list[str] = []
    for index, (_, text) in enumerate(problems):
        rest = len(problems) - index - 1
        tail = f"; +{rest} more" if rest else ""
        if shown and len(head) + len("; ".join([*shown, text])) + len(tail) > CHECK_LINE_LIMIT:
            break
        shown.append(text)
    line = head + "; ".join(shown)
    if len(shown) < len(problems):
        line += f"; +{len(problems) - len(shown)} more"
    return level, line


def _who(record: OutboxEntry | ItemState) -> str:
    """The operator a record is credited to: their team name (the login when none was recorded)."""
    return record.operator or record.login


# --- handoffs -------------------------------------------------------------------------------------

FIRST_SHIFT_LOOKBACK = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class OverdueHandoff:
    """A handoff note that an operator on shift has not acknowledged in time."""

    note: HandoffNote
    shift: Shift


def handoffs_waiting(
    notes: Iterable[HandoffNote], shifts: Iterable[Shift], operator: str, now: datetime
) -> list[HandoffNote]:
    """The notes `operator` must read and acknowledge: written by others since the start of their last
    shift before the current one (a first shift: the last day), not yet acknowledged by them.
    Oldest first."""
    mine = sorted((s for s in shifts if s.operator == operator), key=lambda s: s.started_at)
    current = mine[-1] if mine and mine[-1].ended_at is None else None
    earlier = mine[:-1] if current else mine
    if earlier:
        since = earlier[-1].started_at
    else:
        since = (current.started_at if current else now) - FIRST_SHIFT_LOOKBACK
    waiting = [n for n in notes if n.operator != operator and n.at >= since and n.acked_by(operator) is None]
    return sorted(waiting, key=lambda n: (n.at, n.id))


def overdue_handoffs(
    notes: Sequence[HandoffNote], shifts: Sequence[Shift], now: datetime, ack_within: timedelta
) -> list[OverdueHandoff]:
    """Notes left unacknowledged by an operator whose shift started more than `ack_within` ago."""
    overdue = []
    for shift in shifts:
        if shift.ended_at is not None or now - shift.started_at <= ack_within:
            continue
        for note in handoffs_waiting(notes, shifts, shift.operator, now):
            overdue.append(OverdueHandoff(note, shift))
    return overdue


# --- items alike: thank-yous and emoji-only replies, done in bulk -----------------------------------

_MENTION = re.compile(r"(?<!\w)@[\w.@-]+|https?://\S+")
_THANKS = re.compile(
    r"\b(thanks?|thank\s*you|thx|ty|cheers|much appreciated|merci|danke|gracias|grazie|obrigad[oa]|"
    r"спасибо|ευχαριστώ|شكرا|धन्यवाद|ขอบคุณ|谢谢|ありがとう)",
    re.IGNORECASE,
)
QUICK_KINDS = {"thanks": "thanked", "emoji": "emoji only"}
"""Items that need no reply as a rule, and the reason they are done with."""


def quick_reply_kind(text: str) -> str | None:
    """`emoji` for a post of emoji only (mentions and links aside), `thanks` for a short thank-you
    without a question; None for anything that may need an answer."""
    body = _MENTION.sub(" ", text).strip()
    if not body:
        return None
    if all(
        unicodedata.category(ch) in ("So", "Sk", "Mn", "Cf", "Po", "Zs") or ch in "\u200d\ufe0f\n"
        for ch in body
    ) and any(unicodedata.category(ch) == "So" for ch in body):
        return "emoji"
    if "?" in body or len(body.split()) > 12:
        return None
    return "thanks" if _THANKS.search(body) else None


# --- continuity ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShiftChange:
    """One operator's shift ended while another operator was on, or came on later."""

    operator: str
    at: datetime
    open_items: tuple[str, ...]
    """Items open when the shift ended (received, not yet answered nor done)."""
    handed_over: tuple[str, ...]
    """Of those, the ones named in a note by the leaving operator that another operator acknowledged."""
    awaiting_ack: tuple[str, ...]
    """Of the others, the ones named in such a note that nobody else has acknowledged yet."""


@dataclass(frozen=True, slots=True)
class Continuity:
    """How the open work crossed the shift changes in a window. The goal: nothing dropped."""

    changes: tuple[ShiftChange, ...]
    handed_over: tuple[str, ...]
    """Items open at a shift change and named in a note a later operator acknowledged."""
    dropped: tuple[str, ...]
    """Items open at a shift change, not handed over there, and still neither answered nor done."""
    awaiting_ack: tuple[str, ...]
    """Of the dropped, those named in a note that nobody has acknowledged yet (an ack saves them)."""


def _answered_at(
    items: Iterable[Item],
    own_posts: Iterable[Post],
    states: Mapping[str, ItemState],
    outbox: Iterable[OutboxEntry],
    owners: _Owners,
) -> dict[str, datetime]:
    """When each answered item was first answered: a reply (from any app or the outbox) or done."""
    replies = _first_replies(own_posts, owners)
    sent = _first_sent(outbox)
    out: dict[str, datetime] = {}
    for item in items:
        times = []
        reply = replies.get((item.account, item.post.remote_id))
        if reply is not None:
            times.append(reply.created_at)
        if item.id in sent:
            times.append(_sent_at(sent[item.id]))
        state = states.get(item.id)
        if state is not None and state.done:
            times.append(state.at or item.received_at)
        if times:
            out[item.id] = min(times)
    return out


def continuity(
    items: Iterable[Item],
    own_posts: Iterable[Post],
    states: Mapping[str, ItemState],
    outbox: Iterable[OutboxEntry],
    accounts: Sequence[AccountConfig],
    shifts: Iterable[Shift],
    notes: Iterable[HandoffNote],
    since: datetime,
    now: datetime,
) -> Continuity:
    """Handed over and dropped, over the shift changes in [since, now].

    A shift change: an operator's shift ended at a moment in the window while another operator was
    on shift or came on later. The items open then were handed over if a note by the leaving
    operator, written during that shift or before their next one began, names them (open work,
    claims, drafts or pins) and an operator other than its writer acknowledged it. An item is
    dropped when it was open at a change, was not handed over there, and is still neither answered
    nor done at `now`.
    """
    by_id = {account.id: account for account in accounts}
    owners = _Owners(accounts)
    care_items = [item for item in _care_items(items, by_id, owners) if item.received_at <= now]
    answered = _answered_at(care_items, own_posts, states, outbox, owners)
    shifts = sorted(shifts, key=lambda s: s.started_at)
    notes = sorted(notes, key=lambda n: n.at)
    changes = []
    for index, shift in enumerate(shifts):
        end = shift.ended_at
        if end is None or not since <= end <= now:
            continue
        others_on = any(
            other.operator != shift.operator
            and other.started_at <= now
            and (other.ended_at is None or other.ended_at > end)
            for other in shifts
        )
        if not others_on:
            continue
        upto = next(
            (
                s.started_at
                for s in shifts[index + 1 :]
                if s.operator == shift.operator and s.started_at > end
            ),
            now,
        )
        covering = [n for n in notes if n.operator == shift.operator and shift.started_at <= n.at <= upto]
        acked: set[str] = set()
        unacked: set[str] = set()
        for note in covering:
            read = any(ack.operator != note.operator for ack in note.acks)
            (acked if read else unacked).update(note.named_items)
        open_now = tuple(
            item.id
            for item in care_items
            if item.received_at <= end and (item.id not in answered or answered[item.id] > end)
        )
        changes.append(
            ShiftChange(
                operator=shift.operator,
                at=end,
                open_items=open_now,
                handed_over=tuple(i for i in open_now if i in acked),
                awaiting_ack=tuple(i for i in open_now if i not in acked and i in unacked),
            )
        )
    handed: dict[str, None] = {}
    dropped: dict[str, None] = {}
    awaiting: dict[str, None] = {}
    for change in sorted(changes, key=lambda c: c.at):
        handed.update(dict.fromkeys(change.handed_over))
        waiting = set(change.awaiting_ack)
        for item in change.open_items:
            if item in change.handed_over or (item in answered and answered[item] <= now):
                continue
            dropped[item] = None
            if item in waiting:
                awaiting[item] = None
    return Continuity(
        changes=tuple(sorted(changes, key=lambda c: c.at)),
        handed_over=tuple(handed),
        dropped=tuple(dropped),
        awaiting_ack=tuple(a for a in awaiting if a in dropped),
    )


# --- the gap forecast: the schedule counts as presence -----------------------------------------------

FORECAST_HORIZON = timedelta(hours=24)
"""How far ahead the forecast looks: a breach beyond it is `None` (covered)."""
BREACH_WARNING = timedelta(hours=1)
"""`check` warns this long before a breach that nothing scheduled prevents."""


@dataclass(frozen=True, slots=True)
class GapForecast:
    """When an account's quiet gap would breach, counting its scheduled posts within active hours."""

    account: str
    breach_at: datetime | None
    """The first breach within the horizon (possibly past: breached now); None if covered through it."""
    until: datetime | None
    """When the gap would breach after the last scheduled post that counts (beyond the horizon too);
    None when the gap is unknown."""
    scheduled: int
    """Scheduled posts within the horizon that count as presence (in active hours, before a breach)."""
    next_scheduled_at: datetime | None
    """The account's next scheduled post, whether or not it falls in active hours."""

    def summary(self, tz: tzinfo, now: datetime) -> str:
        """`covered until 06:00 CET (2 scheduled)` or `breach at 03:10 CET, nothing scheduled`, in `tz`."""
        if self.until is None:
            return "no forecast (never synced)"

        def when(at: datetime) -> str:
            same_day = at.astimezone(tz).date() == now.astimezone(tz).date()
            return local_time(at, tz, "%H:%M" if same_day else "%a %H:%M")

        if self.breach_at is None:
            what = f"{self.scheduled} scheduled" if self.scheduled else "nothing scheduled"
            return f"covered until {when(self.until)} ({what})"
        if self.breach_at <= now:
            nxt = (
                f"next post {when(self.next_scheduled_at)}" if self.next_scheduled_at else "nothing scheduled"
            )
            return f"breached since {when(self.breach_at)}, {nxt}"
        if self.scheduled:
            return f"breach at {when(self.breach_at)} after {self.scheduled} scheduled"
        nxt = (
            f", next post {when(self.next_scheduled_at)}" if self.next_scheduled_at else ", nothing scheduled"
        )
        return f"breach at {when(self.breach_at)}{nxt}"


def gap_forecast(
    account: AccountConfig,
    gap: QuietGap,
    scheduled: Iterable[datetime],
    now: datetime,
    *,
    horizon: timedelta = FORECAST_HORIZON,
) -> GapForecast:
    """The forecast of `gap` (from `quiet_gap` at `now`) given the account's scheduled post times.

    A scheduled post counts as presence if it falls within the account's active hours and before
    the gap would breach; each one restarts the gap. The breach is the first instant `max_quiet` of
    active time passes without one (`ActiveHours.advance`, so DST days count as lived)."""
    times = sorted(t for t in scheduled if t > now)
    next_at = times[0] if times else None
    if gap.since is None or gap.state == "unknown":
        return GapForecast(account.id, None, None, 0, next_at)
    hours = account.active_hours
    limit = account.max_quiet.total_seconds()
    end = now + horizon
    start = gap.since
    counted = 0
    for at in times:
        if at > end:
            break
        if hours.advance(start, limit) < at:
            break  # the breach comes first
        if hours.is_active(at):
            start = at
            counted += 1
    until = hours.advance(start, limit)
    return GapForecast(account.id, until if until <= end else None, until, counted, next_at)


def forecast_problems(
    forecasts: Iterable[GapForecast], gaps: Mapping[str, QuietGap], now: datetime, tz: tzinfo = UTC
) -> list[tuple[int, str]]:
    """`check`'s warnings before a breach: within the next hour, and nothing scheduled to prevent it
    (an account already breached is reported by the gap rule). The time of the breach is in `tz`
    (the team's zone), labelled (`12:00 UTC` without one)."""
    problems = []
    for forecast in forecasts:
        gap = gaps.get(forecast.account)
        if forecast.breach_at is None or gap is None or gap.state == "breach":
            continue
        if now < forecast.breach_at <= now + BREACH_WARNING:
            left = format_duration((forecast.breach_at - now).total_seconds())
            problems.append(
                (
                    WARNING,
                    f"{forecast.account} breaches in {left} ({local_time(forecast.breach_at, tz, '%H:%M')}), nothing scheduled before it",
                )
            )
    return problems


__all__ = [
    "QUICK_KINDS",
    "quick_reply_kind",
    "Continuity",
    "ShiftChange",
    "continuity",
    "OverdueHandoff",
    "handoffs_waiting",
    "overdue_handoffs",
    "DUE_SHARE",
    "HEALTH_GRACE",
    "LONG_GAP_SPAN",
    "CARE_LOOKBACK",
    "ELSEWHERE",
    "OK",
    "WARNING",
    "CRITICAL",
    "UNKNOWN",
    "QueueEntry",
    "QuietSpan",
    "QuietGap",
    "Metrics",
    "Report",
    "normalize_handle",
    "target_state",
    "percentile",
    "unanswered_queue",
    "reply_deadline",
    "reply_target_s",
    "queue_order",
    "owners",
    "quiet_gap",
    "quiet_gaps",
    "report",
    "check_summary",
    "quiet_gap_since",
    "over_limit_before",
    "queue_edges",
    "STATE_OF_BUCKET",
    "StateCount",
    "QueueTally",
    "tally_queue",
    "GapForecast",
    "gap_forecast",
    "forecast_problems",
    "FORECAST_HORIZON",
    "failed_replies",
    "LABELS",
    "sync_age",
    "SyncAge",
    "worst",
    "SYNC_STALE_WARNING",
    "SYNC_STALE_CRITICAL",
]
