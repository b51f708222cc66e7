"""Scheduled posts as operators see them: pure rules over outbox entries, health and the clock.

A scheduled post is an outbox entry of kind `post` with a `due_at` (see `outbox` and `store.outbox`).
What it looks like to an operator depends on more than its stored state: a post due while its account
fails is `held`, one past its grace that no poller has marked yet is already `missed`. These rules feed
`socialtui schedule`, the dashboard's schedule view and `check`. Textual-free, no I/O.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from socialtui.care import WARNING
from socialtui.config import AccountConfig
from socialtui.model import AccountHealth, OutboxEntry, Post
from socialtui.timespec import format_duration

UNPOLLED_WITHIN = timedelta(minutes=15)
"""`check` warns when a post is due this soon and no poller holds its account's lease."""
FAILING = ("auth", "unreachable", "rate_limited")
SHOWN = ("scheduled", "missed", "queued", "sending", "failed")
"""The states the schedule lists by default: what is still coming or needs an operator."""


@dataclass(frozen=True)
class ScheduledPost:
    """A new post as the schedule shows it: its entry, and its state as an operator should read it."""

    entry: OutboxEntry
    state: str
    """scheduled, held (due, the account failing), missed, queued, sending, sent, failed, cancelled."""

    @property
    def at(self) -> datetime:
        return self.entry.due_at or self.entry.created_at


def post_state(entry: OutboxEntry, health: AccountHealth | None, now: datetime, grace: timedelta) -> str:
    """The state of a post as an operator should read it at `now`."""
    if entry.state != "scheduled" or entry.due_at is None or entry.due_at > now:
        return entry.state
    if now - entry.due_at > grace:
        return "missed"  # nothing ran to send it in time: it will not go out silently late
    if health is not None and health.state in FAILING:
        return "held"
    return "scheduled"


def scheduled_posts(
    outbox: Iterable[OutboxEntry],
    healths: Mapping[str, AccountHealth],
    now: datetime,
    grace: timedelta,
    *,
    account: str | None = None,
    states: Sequence[str] = SHOWN,
) -> list[ScheduledPost]:
    """New posts (of one account, or all merged), in order of their time, in the given states."""
    posts = []
    for entry in outbox:
        if entry.kind != "post" or (account is not None and entry.account != account):
            continue
        state = post_state(entry, healths.get(entry.account), now, grace)
        if state in states or (state == "held" and "scheduled" in states):
            posts.append(ScheduledPost(entry, state))
    return sorted(posts, key=lambda p: (p.at, p.entry.created_at, p.entry.id))


def schedule_problems(
    outbox: Iterable[OutboxEntry],
    healths: Mapping[str, AccountHealth],
    now: datetime,
    grace: timedelta,
    unpolled: Callable[[str], bool] | None = None,
) -> list[tuple[int, str]]:
    """`check`'s lines about scheduled posts: missed ones, held ones, and ones due within 15 minutes
    for an account no poller holds (`unpolled(account)`; None: not known, not asked)."""
    posts = scheduled_posts(outbox, healths, now, grace, states=("scheduled", "missed"))
    problems: list[tuple[int, str]] = []
    by_state: dict[tuple[str, str], list[ScheduledPost]] = {}
    for post in posts:
        by_state.setdefault((post.state, post.entry.account), []).append(post)
    for (state, account), group in by_state.items():
        first = group[0].at
        count = f"{len(group)} scheduled post{'s' if len(group) > 1 else ''}"
        if state == "missed":
            late = format_duration((now - first).total_seconds())
            problems.append((WARNING, f"{account} {count} missed (due {late} ago): send now or cancel"))
        elif state == "held":
            problems.append((WARNING, f"{account} {count} held: the account is failing"))
    if unpolled is not None:
        asked: dict[str, bool] = {}
        for post in posts:
            account = post.entry.account
            if post.state != "scheduled" or post.at - now > UNPOLLED_WITHIN or account in asked:
                continue
            asked[account] = unpolled(account)
            if asked[account]:
                within = format_duration(max((post.at - now).total_seconds(), 0))
                problems.append(
                    (WARNING, f"{account} post due in {within} and no poller runs: nothing would send it")
                )
    return problems


STRIP_MADE, STRIP_SCHEDULED, STRIP_BREACH, STRIP_ACTIVE, STRIP_OFF = "█", "▓", "▒", "░", " "
"""The day strip's cells: a post made, a post scheduled, active time past the quiet limit, active
time, time outside active hours. Block characters, so it reads without colour too."""


def day_strip(
    account: AccountConfig,
    made: Iterable[datetime],
    scheduled: Iterable[datetime],
    start: datetime,
    end: datetime,
    width: int,
) -> str:
    """One account's day from `start` to `end` in `width` cells: the posts made, the posts
    scheduled, its active hours, and where its quiet gap would breach (counting made and scheduled
    posts in active hours as presence, as the forecast does). Pure: a fixed clock tests it."""
    hours = account.active_hours
    limit = account.max_quiet.total_seconds()
    width = max(width, 1)
    span = (end - start) / width
    made_times = sorted(made)
    planned = sorted(scheduled)
    presence = sorted([*made_times, *(t for t in planned if hours.is_active(t))])
    cells = []
    for i in range(width):
        left, right = start + span * i, start + span * (i + 1)
        if any(left <= t < right for t in made_times):
            cells.append(STRIP_MADE)
            continue
        if any(left <= t < right for t in planned):
            cells.append(STRIP_SCHEDULED)
            continue
        middle = left + span / 2
        if not hours.is_active(middle):
            cells.append(STRIP_OFF)
            continue
        last = bisect_right(presence, middle)
        quiet = hours.active_seconds(presence[last - 1], middle) if last else None
        cells.append(STRIP_BREACH if quiet is not None and quiet > limit else STRIP_ACTIVE)
    return "".join(cells)


ON_TIME = timedelta(minutes=1)
"""A scheduled post sent within this of its time was sent on time; later, late."""


@dataclass(frozen=True)
class PostFigures:
    """One account's new posts over a report's window, for `socialtui report`."""

    account: str
    made: int
    """New posts (not replies) the account made in the window, from any app."""
    scheduled: int
    """Scheduled posts due in the window (sent, missed or cancelled since), or still coming."""
    on_time: int
    late: int
    missed: int
    cancelled: int


def post_figures(
    account_ids: Sequence[str],
    outbox: Iterable[OutboxEntry],
    own_posts: Iterable[Post],
    since: datetime,
    now: datetime,
    grace: timedelta | None = None,
) -> list[PostFigures]:
    """Per account: posts made, and what became of the scheduled posts due in [since, now] (the
    coming ones count as scheduled only). Replies are not posts made. With `grace`, a post past it
    that no poller has marked yet counts as missed, as the schedule shows it (`post_state`)."""
    made = dict.fromkeys(account_ids, 0)
    for post in own_posts:
        if post.account in made and not post.reply_to and since <= post.created_at <= now:
            made[post.account] += 1
    counts = {a: {"scheduled": 0, "on_time": 0, "late": 0, "missed": 0, "cancelled": 0} for a in account_ids}
    for entry in outbox:
        if entry.kind != "post" or entry.account not in counts or entry.due_at is None:
            continue
        if entry.due_at < since or (entry.due_at > now and entry.state != "scheduled"):
            continue
        row = counts[entry.account]
        row["scheduled"] += 1
        state = entry.state if grace is None else post_state(entry, None, now, grace)
        if entry.state == "sent" and entry.sent_at is not None:
            row["on_time" if entry.sent_at - entry.due_at <= ON_TIME else "late"] += 1
        elif state == "missed":
            row["missed"] += 1
        elif entry.state == "cancelled":
            row["cancelled"] += 1
    return [PostFigures(a, made[a], **counts[a]) for a in account_ids]


__all__ = [
    "ScheduledPost",
    "PostFigures",
    "post_figures",
    "day_strip",
    "post_state",
    "scheduled_posts",
    "schedule_problems",
    "UNPOLLED_WITHIN",
    "SHOWN",
]
