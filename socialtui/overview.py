"""The state of the team's accounts at one moment: what `status`, `check` and the dashboard show.

It reads the store once and applies the care rules; it holds no logic of its own beyond grouping.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from socialtui import care, schedule
from socialtui.config import AccountConfig, Config
from socialtui.model import AccountHealth, Actor, Claim, HandoffNote, Item, OutboxEntry, Post, Shift
from socialtui.store import Snapshot, Store
from socialtui.text import clean
from socialtui.timespec import format_duration


@dataclass(frozen=True)
class AccountOverview:
    """One managed account: its queue counts, quiet gap and health."""

    account: AccountConfig
    unanswered: int
    due: int
    late: int
    oldest_unanswered_s: float | None
    """The oldest unanswered item's age in active hours (what the reply target counts)."""
    oldest_waited_s: float | None
    """How long, by the clock, the oldest unanswered item has waited."""
    gap: care.QuietGap
    health: AccountHealth
    sync: care.SyncAge
    """How fresh the account's data is (a poller that stopped or hangs makes it stale)."""
    failed: tuple[OutboxEntry, ...] = ()
    """Replies that failed for good, not yet retried or discarded (`care.failed_replies`)."""
    forecast: care.GapForecast | None = None
    """When the gap would breach, counting the account's scheduled posts."""

    @property
    def health_level(self) -> int:
        """care.OK, WARNING, CRITICAL or UNKNOWN: the server's health, the data's freshness and the
        replies that failed, together (what `status`, the header and the accounts panel colour)."""
        levels = [self.sync.level]
        if self.failed:
            levels.append(care.CRITICAL)
        if self.health.state == "never":
            levels.append(care.UNKNOWN)
        elif self.health.state == "rate_limited":
            levels.append(care.WARNING)
        elif self.health.state != "ok":
            levels.append(care.CRITICAL)
        return care.worst(levels)

    @property
    def health_summary(self) -> str:
        """`ok`, `auth refused: ...`, `stale: last synced 45m ago (CRITICAL)`, `...; 1 reply failed`: one
        line, times in UTC (for JSON). `health_line(tz)` is the same for a person to read. A stale sync
        names its level (WARNING past 3 poll intervals, CRITICAL past 10): `status` prints this without
        colour, and the two call for different haste."""
        return self.health_line(UTC)

    def health_line(self, tz: tzinfo) -> str:
        """The health summary with its times in `tz` (the team's zone), labelled."""
        summary = self.health.describe(tz)
        if self.sync.level != care.OK and self.sync.age_s is not None:
            summary = (
                f"stale: last synced {format_duration(self.sync.age_s)} ago ({care.LABELS[self.sync.level]})"
            )
        if self.failed:
            count = len(self.failed)
            summary += f"; {count} {'reply' if count == 1 else 'replies'} failed"
        return summary


@dataclass(frozen=True)
class Overview:
    generated_at: datetime
    accounts: list[AccountOverview]
    queue: list[care.QueueEntry]
    snapshot: Snapshot
    overdue_handoffs: list[care.OverdueHandoff]
    poll_interval: timedelta
    schedule_grace: timedelta = timedelta(minutes=10)
    tz: tzinfo = UTC
    """The team's zone: the times in `check`'s line are in it."""
    tally: care.QueueTally | None = None
    """The whole queue counted, when `queue` holds only its head (`build_status_overview`)."""

    @property
    def failed(self) -> list[OutboxEntry]:
        """Replies that failed for good and wait for an operator, every account's."""
        return [entry for a in self.accounts for entry in a.failed]

    @property
    def unanswered(self) -> int:
        """Unanswered items, all of them (`queue` may list only the head)."""
        return self.tally.total if self.tally is not None else len(self.queue)

    @property
    def late(self) -> int:
        if self.tally is not None:
            return self.tally.late.count if self.tally.late else 0
        return sum(1 for entry in self.queue if entry.state == "late")

    def check(self, unpolled: Callable[[str], bool] | None = None) -> tuple[int, str]:
        """The monitoring verdict: (exit code, one line). `unpolled(account)`: does no poller hold the
        account's lease (asked only for accounts with a post due within 15 minutes)?"""
        return care.check_summary(
            [a.account for a in self.accounts],
            self.queue,
            {a.account.id: a.gap for a in self.accounts},
            {a.account.id: a.health for a in self.accounts},
            self.generated_at,
            overdue=self.overdue_handoffs,
            extra=self.schedule_problems(unpolled),
            poll_interval=self.poll_interval,
            failed=self.failed,
            tally=self.tally,
            tz=self.tz,
        )

    def schedule_problems(self, unpolled: Callable[[str], bool] | None = None) -> list[tuple[int, str]]:
        """`check`'s lines about scheduled posts: missed, held, or due with no poller to send them."""
        healths = {a.account.id: a.health for a in self.accounts}
        forecasts = [a.forecast for a in self.accounts if a.forecast is not None]
        gaps = {a.account.id: a.gap for a in self.accounts}
        return [
            *care.forecast_problems(forecasts, gaps, self.generated_at, self.tz),
            *schedule.schedule_problems(
                self.snapshot.outbox, healths, self.generated_at, self.schedule_grace, unpolled
            ),
        ]


def _outbox_by_account(
    outbox: list[OutboxEntry],
) -> tuple[dict[str, list[datetime]], dict[str, list[OutboxEntry]]]:
    """Per account: the times of its scheduled posts, and its replies that failed for good."""
    scheduled: dict[str, list[datetime]] = defaultdict(list)
    for entry in outbox:
        if entry.kind == "post" and entry.state == "scheduled" and entry.due_at is not None:
            scheduled[entry.account].append(entry.due_at)
    failed: dict[str, list[OutboxEntry]] = defaultdict(list)
    for entry in care.failed_replies(outbox):
        failed[entry.account].append(entry)
    return scheduled, failed


def _overdue_handoffs(config: Config, store: Store, now: datetime) -> list[care.OverdueHandoff]:
    """`care.overdue_handoffs`, reading the handoff notes only when a shift could have one overdue
    (an open shift older than `handoff_ack_within`): `status` need not decode every note."""
    shifts = store.shifts()
    within = config.team.handoff_ack_within
    if not any(s.ended_at is None and now - s.started_at > within for s in shifts):
        return []
    return care.overdue_handoffs(store.handoffs(), shifts, now, within)


def build_overview(
    config: Config, store: Store, now: datetime, snapshot: Snapshot | None = None, *, tones: bool = True
) -> Overview:
    """Read the store (or use `snapshot`) and apply the care rules at `now`.

    Without `tones`, the queue's entries are not rated (all neutral, VADER never loaded) unless the
    team orders it negative first: for callers that print no tone (`status`, `check`). The counts,
    states and order are the same either way.
    """
    snap = snapshot or store.snapshot(now, open_only=True, posts_since=now - care.CARE_LOOKBACK)
    queue = care.unanswered_queue(
        snap.items,
        snap.own_posts,
        snap.states,
        config.accounts,
        now,
        claims=snap.claims,
        outbox=snap.outbox,
        lexicon=config.tone if tones or config.team.negative_first else None,
        negative_first=config.team.negative_first,
    )
    own_by_account: dict[str, list[Post]] = defaultdict(list)
    for post in snap.own_posts:
        own_by_account[post.account].append(post)

    def gap_of(account: AccountConfig, synced: bool) -> care.QuietGap:
        return care.quiet_gap(account, own_by_account.get(account.id, []), now, synced=synced)

    return Overview(
        generated_at=now,
        accounts=_account_rows(config, now, queue, snap, gap_of),
        queue=queue,
        snapshot=snap,
        overdue_handoffs=_overdue_handoffs(config, store, now),
        schedule_grace=config.team.schedule_grace,
        poll_interval=config.team.poll_interval,
        tz=config.team.tz,
    )


GapOf = Callable[[AccountConfig, bool], care.QuietGap]
"""An account's quiet gap, given whether it ever synced (at a time the maker of it chose)."""


def _account_rows(
    config: Config,
    now: datetime,
    queue: list[care.QueueEntry],
    snap: Snapshot,
    gap_of: GapOf,
) -> list[AccountOverview]:
    """Each configured account's row of the overview: its part of the queue counted, its gap
    (`gap_of(account, synced)`), health, forecast and failed replies."""
    # Per account, in one pass over the queue: [unanswered, due, late, the largest age, the largest wait].
    tallies: dict[str, list[Any]] = {}
    for entry in queue:
        tally = tallies.get(entry.item.account)
        if tally is None:
            tally = tallies[entry.item.account] = [0, 0, 0, entry.age_s, entry.waited_s]
        tally[0] += 1
        if entry.state == "due":
            tally[1] += 1
        elif entry.state == "late":
            tally[2] += 1
        if entry.age_s > tally[3]:
            tally[3] = entry.age_s
        if entry.waited_s > tally[4]:
            tally[4] = entry.waited_s
    scheduled_by_account, failed_by_account = _outbox_by_account(snap.outbox)
    poll_interval = config.team.poll_interval
    accounts = []
    for account in config.accounts:
        health = (snap.health.get(account.id) or AccountHealth(account=account.id)).seen_at(now)
        unanswered, due, late, oldest, waited = tallies.get(account.id, (0, 0, 0, None, None))
        # Only a successful sync tells what the account posted: before one, its gap is unknown.
        synced = health.state == "ok" or health.last_ok_at is not None
        gap = gap_of(account, synced)
        forecast = care.gap_forecast(account, gap, scheduled_by_account.get(account.id, []), now)
        accounts.append(
            AccountOverview(
                account=account,
                unanswered=unanswered,
                due=due,
                late=late,
                oldest_unanswered_s=oldest,
                oldest_waited_s=waited,
                gap=gap,
                health=health,
                forecast=forecast,
                sync=care.sync_age(health, poll_interval, now),
                failed=tuple(failed_by_account.get(account.id, ())),
            )
        )
    return accounts


FOLLOWED_CARE = ("items", "own", "states", "outbox")
"""The tables whose changes `OverviewKeeper.update` is told of, key by key."""


class OverviewKeeper:
    """`build_overview` kept from one reading to the next, for a reader that follows the store (the
    dashboard): told which keys of the items, own posts, states and outbox changed, it redoes the
    work of those only (`care.QueueKeeper`, `care.GapKeeper`); `overview(now, ...)` is then what
    `build_overview` gives for the same records at `now`, ages and states included."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._queue = care.QueueKeeper(
            config.accounts, lexicon=config.tone, negative_first=config.team.negative_first
        )
        self._gaps = care.GapKeeper(config.accounts)

    def update(
        self,
        now: datetime,
        changed: Mapping[str, Collection[str]],
        tables: Mapping[str, Mapping[str, Any]],
        before: Mapping[str, Mapping[str, Any]],
        fetch: Callable[[Collection[str]], Mapping[str, Item]] | None = None,
    ) -> None:
        """`changed`: per table of `FOLLOWED_CARE`, the keys that changed since the last update
        (every key, on the first); `tables`: each of those tables now, by key (not modified after);
        `before`: per table, the record each changed key had at the last update (`Follower.changes`).
        `tables["items"]` may hold only the items open at the last update and those changed since,
        with `fetch` to read the others again (`care.QueueKeeper.update`); `tables["own"]` and
        `tables["outbox"]` need hold only the changed keys' records (the keepers index the rest)."""
        self._queue.update(
            changed, tables["items"], tables["own"], tables["states"], tables["outbox"], before, fetch
        )
        if changed.get("own"):
            self._gaps.update(changed["own"], tables["own"])

    def gap_of(self, now: datetime) -> GapOf:
        """Each account's gap at `now`, of the own posts as of the last update (`care.GapKeeper`)."""
        return lambda account, synced: self._gaps.gap(account, now, synced=synced)

    def own_times(self, since: datetime) -> dict[str, tuple[datetime, ...]]:
        """Per account, the times of its own posts since `since` as of the last update, ascending."""
        return {account.id: self._gaps.times(account.id, since) for account in self.config.accounts}

    def unexplained(self, keys: Iterable[str], states: Mapping[str, Any]) -> list[str]:
        """`care.QueueKeeper.unexplained`: of items left out unread, those to read after all."""
        return self._queue.unexplained(keys, states)

    def entries(self, now: datetime, claims: Iterable[Claim]) -> list[care.QueueEntry]:
        """The queue at `now` of the records as of the last update (`care.QueueKeeper.entries`)."""
        return self._queue.entries(now, claims)

    def overview(
        self,
        now: datetime,
        snapshot: Snapshot,
        handoffs: Sequence[HandoffNote],
        shifts: Sequence[Shift],
        queue: list[care.QueueEntry] | None = None,
    ) -> Overview:
        """The overview at `now` of the records as of the last update (`snapshot` holds the same;
        `queue`: what `entries(now, ...)` gave, if asked already)."""
        config = self.config
        if queue is None:
            queue = self.entries(now, snapshot.claims.values())
        within = config.team.handoff_ack_within
        overdue = (
            care.overdue_handoffs(list(handoffs), list(shifts), now, within)
            if any(s.ended_at is None and now - s.started_at > within for s in shifts)
            else []
        )
        return Overview(
            generated_at=now,
            accounts=_account_rows(
                config,
                now,
                queue,
                snapshot,
                self.gap_of(now),
            ),
            queue=queue,
            snapshot=snapshot,
            overdue_handoffs=overdue,
            schedule_grace=config.team.schedule_grace,
            poll_interval=config.team.poll_interval,
            tz=config.team.tz,
        )


def with_health(
    overview: Overview, health: Mapping[str, AccountHealth], now: datetime, gap_of: GapOf | None = None
) -> Overview:
    """`overview` with the accounts' health (and how fresh their data is) read again at `now`, and
    nothing else: what a reader does when only the health changed (a live poller confirming its
    stream, about once per poll interval per account). The queue, its counts and the gaps stay as
    they were made at `overview.generated_at`; an account's gap is made again only when the new
    health changes whether it ever synced (before a successful sync its gap is unknown): by
    `gap_of` (at `overview.generated_at`: a reader that keeps the own posts' times, not the posts,
    `OverviewKeeper.gap_of`), else from the snapshot's own posts."""
    own_posts = overview.snapshot.own_posts
    scheduled: dict[str, list[datetime]] | None = None
    accounts = []
    for row in overview.accounts:
        account = row.account
        seen = (health.get(account.id) or AccountHealth(account=account.id)).seen_at(now)
        synced = seen.state == "ok" or seen.last_ok_at is not None
        gap, forecast = row.gap, row.forecast
        if synced != (row.health.state == "ok" or row.health.last_ok_at is not None):
            if scheduled is None:
                scheduled = _outbox_by_account(overview.snapshot.outbox)[0]
            at = overview.generated_at
            if gap_of is not None:
                gap = gap_of(account, synced)
            else:
                gap = care.quiet_gap(account, own_posts, at, synced=synced)
            forecast = care.gap_forecast(account, gap, scheduled.get(account.id, []), at)
        accounts.append(
            replace(
                row,
                health=seen,
                sync=care.sync_age(seen, overview.poll_interval, now),
                gap=gap,
                forecast=forecast,
            )
        )
    return replace(overview, accounts=accounts, snapshot=replace(overview.snapshot, health=dict(health)))


def build_status_overview(config: Config, store: Store, now: datetime, *, head: int = 0) -> Overview:
    """The overview `status` and `check` print, from counts (`Store.queue_counts`): the same
    accounts, counts, gaps, health and verdict as `build_overview` (without tones), with only the
    `head` oldest entries of the queue listed and the rest counted (`Overview.tally`). The gaps carry
    no rhythm (`long_gaps`, `hourly`, `daily`): neither command shows it.

    Not for a team that orders its queue negative first: that order needs every item's tone."""
    owners = [(a.network, care.normalize_handle(a.handle)) for a in config.accounts]
    edges = {
        (account.id, kind): instants
        for account in config.accounts
        for kind, instants in care.queue_edges(account, now).items()
    }
    counts = store.queue_counts(
        now, edges, others=owners, head=head, accounts=[a.id for a in config.accounts]
    )
    head_queue = care.unanswered_queue(counts.head, [], {}, config.accounts, now, claims=counts.claims)
    by_id = {account.id: account for account in config.accounts}
    per_state: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    oldest_at: dict[str, datetime] = {}
    # Per state, the candidates for its oldest item: each group's earliest, with its queue order.
    candidates: dict[str, list[tuple[float, datetime, str, str]]] = defaultdict(list)
    for (account_id, _kind), group in counts.tally.items():
        account = by_id[account_id]
        bucket_states = care.STATE_OF_BUCKET if len(group.counts) == 3 else ("ok",)
        for state, count, first in zip(bucket_states, group.counts, group.first, strict=True):
            if not count or first is None:
                continue
            per_state[account_id][state] += count
            at, key = first
            if account_id not in oldest_at or at < oldest_at[account_id]:
                oldest_at[account_id] = at
            if state != "ok":
                age = account.active_hours.active_seconds(at, now)
                candidates[state].append((age, at, key, account_id))
    found: dict[str, care.StateCount] = {}
    for state, rows in candidates.items():
        # The largest age; on a tie the first in the queue's order (received, then id).
        age, _, _, account_id = min(rows, key=lambda row: (-row[0], row[1], row[2]))
        total = sum(per_state[a][state] for a in per_state)
        found[state] = care.StateCount(total, age, account_id)
    tally = care.QueueTally(
        sum(sum(by_state.values()) for by_state in per_state.values()), found.get("late"), found.get("due")
    )
    snapshot = Snapshot.of(
        now,
        items=counts.head,
        own_posts=[],
        states={},
        claims=counts.claims.values(),
        outbox=counts.outbox,
        health=counts.health,
        drafts={},
    )
    scheduled_by_account, failed_by_account = _outbox_by_account(counts.outbox)
    poll_interval = config.team.poll_interval
    accounts = []
    for account in config.accounts:
        health = (counts.health.get(account.id) or AccountHealth(account=account.id)).seen_at(now)
        synced = health.state == "ok" or health.last_ok_at is not None
        last = counts.last_posts.get(account.id)
        gap = care.quiet_gap_since(account, last, now, synced=synced)
        states = per_state.get(account.id, {})
        first_at = oldest_at.get(account.id)
        accounts.append(
            AccountOverview(
                account=account,
                unanswered=sum(states.values()),
                due=states.get("due", 0),
                late=states.get("late", 0),
                oldest_unanswered_s=None
                if first_at is None
                else account.active_hours.active_seconds(first_at, now),
                oldest_waited_s=None if first_at is None else max((now - first_at).total_seconds(), 0.0),
                gap=gap,
                health=health,
                forecast=care.gap_forecast(account, gap, scheduled_by_account.get(account.id, []), now),
                sync=care.sync_age(health, poll_interval, now),
                failed=tuple(failed_by_account.get(account.id, ())),
            )
        )
    overdue = _overdue_handoffs(config, store, now)
    return Overview(
        generated_at=now,
        accounts=accounts,
        queue=head_queue,
        snapshot=snapshot,
        overdue_handoffs=overdue,
        schedule_grace=config.team.schedule_grace,
        poll_interval=poll_interval,
        tz=config.team.tz,
        tally=tally,
    )


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _seconds(value: float | None) -> int | None:
    return None if value is None else int(round(value))


def overview_json(overview: Overview, actor: Actor) -> dict[str, Any]:
    """The `status --json` document (a contract for scripts: add keys, never rename them)."""
    accounts = []
    for a in overview.accounts:
        accounts.append(
            {
                "id": a.account.id,
                "network": a.account.network,
                "handle": a.account.handle,
                "unanswered": a.unanswered,
                "due": a.due,
                "late": a.late,
                "oldest_unanswered_s": _seconds(a.oldest_unanswered_s),
                "oldest_waited_s": _seconds(a.oldest_waited_s),
                "quiet_s": _seconds(a.gap.quiet_s),
                "max_quiet_s": int(a.account.max_quiet.total_seconds()),
                "quiet_state": a.gap.state,
                "quiet_left_s": _seconds(a.gap.left_s),
                "last_post_at": a.gap.last_post_at.isoformat() if a.gap.last_post_at else None,
                "health": a.health.state,
                "health_detail": a.health_summary,
                "health_level": care.LABELS[a.health_level],
                "sync_mode": a.health.mode or None,
                "sync_age_s": _seconds(a.sync.age_s),
                "failed_replies": [e.id for e in a.failed],
                "last_sync_at": a.health.last_sync_at.isoformat() if a.health.last_sync_at else None,
                "next_scheduled_at": _iso(a.forecast.next_scheduled_at if a.forecast else None),
                "breach_at": _iso(a.forecast.breach_at if a.forecast else None),
                "forecast": a.forecast.summary(a.account.tz, overview.generated_at) if a.forecast else None,
            }
        )
    unanswered = []
    for entry in overview.queue:
        post = entry.item.post
        unanswered.append(
            {
                "item": entry.item.id,
                "account": entry.item.account,
                "kind": entry.item.kind,
                "tone": entry.tone.label,
                "tone_reason": entry.tone.reason,
                "author": post.author.label,
                "text": clean(post.text),
                "url": post.url,
                "received_at": post.created_at.isoformat(),
                "age_s": _seconds(entry.age_s),
                "waited_s": _seconds(entry.waited_s),
                "state": entry.state,
                "claimed_by": entry.claim.operator if entry.claim else None,
            }
        )
    return {
        "generated_at": overview.generated_at.isoformat(),
        "operator": actor.operator,
        "login": actor.login,
        "accounts": accounts,
        "unanswered": unanswered,
        "totals": {
            "accounts": len(accounts),
            "unanswered": len(unanswered),
            "late": overview.late,
        },
    }
