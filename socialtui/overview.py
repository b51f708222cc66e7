"""The state of the team's accounts at one moment: what `status`, `check` and the dashboard show.

It reads the store once and applies the care rules; it holds no logic of its own beyond grouping.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from socialtui import care, schedule
from socialtui.config import AccountConfig, Config
from socialtui.model import AccountHealth, Actor, OutboxEntry, Post
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
        """`ok`, `auth refused: ...`, `stale: last synced 45m ago`, `...; 1 reply failed`: one line,
        times in UTC (for JSON). `health_line(tz)` is the same for a person to read."""
        return self.health_line(UTC)

    def health_line(self, tz: tzinfo) -> str:
        """The health summary with its times in `tz` (the team's zone), labelled."""
        summary = self.health.describe(tz)
        if self.sync.level != care.OK and self.sync.age_s is not None:
            summary = f"stale: last synced {format_duration(self.sync.age_s)} ago"
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

    @property
    def failed(self) -> list[OutboxEntry]:
        """Replies that failed for good and wait for an operator, every account's."""
        return [entry for a in self.accounts for entry in a.failed]

    @property
    def late(self) -> int:
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
            tz=self.tz,
        )

    def schedule_problems(self, unpolled: Callable[[str], bool] | None = None) -> list[tuple[int, str]]:
        """`check`'s lines about scheduled posts: missed, held, or due with no poller to send them."""
        healths = {a.account.id: a.health for a in self.accounts}
        forecasts = [a.forecast for a in self.accounts if a.forecast is not None]
        gaps = {a.account.id: a.gap for a in self.accounts}
        return [
            *care.forecast_problems(forecasts, gaps, self.generated_at, self.tz),
            *schedule.schedule_problems(self.snapshot.outbox, healths, self.generated_at, self.schedule_grace, unpolled),
        ]


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
    queue_by_account: dict[str, list[care.QueueEntry]] = defaultdict(list)
    for entry in queue:
        queue_by_account[entry.item.account].append(entry)
    scheduled_by_account: dict[str, list[datetime]] = defaultdict(list)
    for entry in snap.outbox:
        if entry.kind == "post" and entry.state == "scheduled" and entry.due_at is not None:
            scheduled_by_account[entry.account].append(entry.due_at)
    failed_by_account: dict[str, list[OutboxEntry]] = defaultdict(list)
    for failed in care.failed_replies(snap.outbox):
        failed_by_account[failed.account].append(failed)
    poll_interval = config.team.poll_interval
    accounts = []
    for account in config.accounts:
        health = snap.health.get(account.id) or AccountHealth(account=account.id)
        entries = queue_by_account.get(account.id, [])
        # Only a successful sync tells what the account posted: before one, its gap is unknown.
        synced = health.state == "ok" or health.last_ok_at is not None
        gap = care.quiet_gap(account, own_by_account.get(account.id, []), now, synced=synced)
        forecast = care.gap_forecast(account, gap, scheduled_by_account.get(account.id, []), now)
        accounts.append(
            AccountOverview(
                account=account,
                unanswered=len(entries),
                due=sum(1 for e in entries if e.state == "due"),
                late=sum(1 for e in entries if e.state == "late"),
                oldest_unanswered_s=max((e.age_s for e in entries), default=None),
                oldest_waited_s=max((e.waited_s for e in entries), default=None),
                gap=gap,
                health=health,
                forecast=forecast,
                sync=care.sync_age(health, poll_interval, now),
                failed=tuple(failed_by_account.get(account.id, ())),
            )
        )
    overdue = care.overdue_handoffs(store.handoffs(), store.shifts(), now, config.team.handoff_ack_within)
    return Overview(
        generated_at=now,
        accounts=accounts,
        queue=queue,
        snapshot=snap,
        overdue_handoffs=overdue,
        schedule_grace=config.team.schedule_grace,
        poll_interval=poll_interval,
        tz=config.team.tz,
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
