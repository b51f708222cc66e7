"""The handoff note: the open work of the team, as data and as the text the next shift reads.

`open_work` takes the open work from one reading of the store (every unanswered item, the writer's
claims and drafts, each account's state); the note carries it as data (`Store.write_handoff`) and
`draft_handoff` writes it out as the auto-drafted text that the dashboard's `e` and `handoff write`
start from. One reading, one way: the text and the data never disagree.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from socialtui.config import Config
from socialtui.model import Actor, HandedAccount, HandedDraft, HandedItem, HandoffNote, OpenWork
from socialtui.overview import Overview, build_overview
from socialtui.store import Store
from socialtui.text import one_line
from socialtui.timespec import format_duration, local_time

LATE_LISTED = 10
"""Late items written out in the drafted text (every open item is in the note's data)."""


def note_text(draft: str) -> str:
    """The note as saved: the draft without its `#` guidance lines, trimmed."""
    return "\n".join(line for line in draft.splitlines() if not line.startswith("#")).strip()


def open_work(overview: Overview, actor: Actor, tz: tzinfo = UTC) -> OpenWork:
    """The open work in `overview`, as a note carries it; the words about a failing account give
    their times in `tz` (the team's zone: people read them)."""
    items = tuple(
        HandedItem(
            id=e.item.id,
            account=e.item.account,
            author=one_line(e.item.post.author.label, 80),
            received_at=e.item.received_at,
            waited_s=round(e.waited_s),
            state=e.state,
            claimed_by=e.claim.operator if e.claim else "",
            text=one_line(e.item.post.text, 80),
        )
        for e in overview.queue
    )
    claims = tuple(e.item.id for e in overview.queue if e.claim and e.claim.operator == actor.operator)
    drafts = tuple(
        HandedDraft(d.item, d.account, one_line(d.text, 200))
        for d in sorted(overview.snapshot.drafts.values(), key=lambda d: d.updated_at)
        if d.operator == actor.operator
    )
    accounts = tuple(
        HandedAccount(
            account=a.account.id,
            unanswered=a.unanswered,
            late=a.late,
            gap_state=a.gap.state,
            quiet_s=round(a.gap.quiet_s),
            max_quiet_s=a.account.max_quiet.total_seconds(),
            health=a.health.state,
            health_detail=one_line(a.health.describe(tz), 200),
        )
        for a in overview.accounts
    )
    return OpenWork(open_items=items, claims=claims, drafts=drafts, accounts=accounts)


def take_open_work(config: Config, store: Store, actor: Actor, now: datetime) -> OpenWork:
    """The open work now, from one reading of the store."""
    return open_work(build_overview(config, store, now), actor, config.team.tz)


def item_line(item: HandedItem) -> str:
    """One open item as a note names it: id, wall-clock wait, state, account, author, first words."""
    claim = f" [claimed by {one_line(item.claimed_by, 20)}]" if item.claimed_by else ""
    return (
        f"{item.id} waited {format_duration(item.waited_s)} {item.state} {item.account} "
        f"{one_line(item.author, 30)}: {one_line(item.text, 50)}{claim}"
    )


def work_lines(work: OpenWork | HandoffNote, *, late_listed: int = LATE_LISTED) -> list[str]:
    """The open work as the draft writes it out: counts, the late items, the writer's claims and
    drafts, accounts near a gap, failing accounts. (Every open item is in the note's data, and
    `handoff show` and the handoff screen list them all.)"""
    items = work.open_items
    late = [i for i in items if i.state == "late"]
    lines = [f"Open: {len(items)} unanswered, {len(late)} late."]
    for a in work.accounts:
        if a.unanswered:
            lines.append(f"- {a.account}: {a.unanswered} unanswered ({a.late} late)")
    if late and late_listed:
        lines += ["", "Late items (waited: wall-clock time):"]
        lines += [f"- {item_line(i)}" for i in late[:late_listed]]
        if len(late) > late_listed:
            lines.append(f"- … and {len(late) - late_listed} more")
    if work.claims:
        lines += [
            "",
            "Claimed by me and not finished (released with this note; whoever acknowledges takes them):",
        ]
        by_id = {i.id: i for i in items}
        lines += [f"- {item_line(by_id[c]) if c in by_id else c}" for c in work.claims]
    if work.drafts:
        lines += ["", "Drafts left behind:"]
        lines += [f"- {d.item} {d.account}: {one_line(d.text, 60)}" for d in work.drafts]
    gaps = [a for a in work.accounts if a.gap_state in ("warn", "breach")]
    if gaps:
        lines += ["", "Accounts in or near a quiet gap:"]
        lines += [
            f"- {a.account}: quiet {format_duration(a.quiet_s)} of {format_duration(a.max_quiet_s)} ({a.gap_state})"
            for a in gaps
        ]
    failing = [a for a in work.accounts if a.health not in ("ok", "never")]
    if failing:
        lines += ["", "Failing accounts:"]
        lines += [f"- {a.account}: {one_line(a.health_detail, 100)}" for a in failing]
    return lines


def draft_handoff(
    config: Config, store: Store, actor: Actor, now: datetime, overview: Overview | None = None
) -> str:
    """A note drafted from the store (or from `overview`, a reading already made). Lines starting
    with `#` are guidance and are dropped on save."""
    tz = config.team.tz
    overview = overview or build_overview(config, store, now)
    work = open_work(overview, actor, tz)
    shifts = [s for s in store.shifts(actor.operator) if s.ended_at is None]
    shift_start = shifts[-1].started_at if shifts else None
    lines = [
        f"# Handoff from {actor.operator}, {local_time(now, tz)}. Edit freely; '#' lines are dropped.",
        "# The open work below is also kept with the note as data, as it is when you save.",
        "",
    ]
    lines += work_lines(work)
    if shift_start:
        sent = [
            e
            for e in overview.snapshot.outbox
            if e.state == "sent" and e.operator == actor.operator and e.sent_at and e.sent_at >= shift_start
        ]
        lines += ["", f"Replies sent this shift (since {local_time(shift_start, tz, '%H:%M')}): {len(sent)}"]
    lines += ["", "Notes for the next shift:", ""]
    return "\n".join(lines) + "\n"


__all__ = [
    "LATE_LISTED",
    "draft_handoff",
    "item_line",
    "note_text",
    "open_work",
    "take_open_work",
    "work_lines",
]
