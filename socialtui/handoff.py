"""The auto-drafted handoff note: the open work of the team, as the next shift needs to read it."""

from __future__ import annotations

from datetime import datetime

from socialtui.config import Config
from socialtui.model import Actor
from socialtui.overview import build_overview
from socialtui.store import Store
from socialtui.text import one_line
from socialtui.timespec import format_duration


def note_text(draft: str) -> str:
    """The note as saved: the draft without its `#` guidance lines, trimmed."""
    return "\n".join(line for line in draft.splitlines() if not line.startswith("#")).strip()


def draft_handoff(config: Config, store: Store, actor: Actor, now: datetime) -> str:
    """A note drafted from the store. Lines starting with `#` are guidance and are dropped on save."""
    overview = build_overview(config, store, now)
    shifts = [s for s in store.shifts(actor.operator) if s.ended_at is None]
    shift_start = shifts[-1].started_at if shifts else None
    lines = [
        f"# Handoff from {actor.operator}, {now.strftime('%Y-%m-%d %H:%M')}Z. Edit freely; '#' lines are dropped.",
        "",
    ]
    lines.append(f"Open: {len(overview.queue)} unanswered, {overview.late} late.")
    for a in overview.accounts:
        if a.unanswered:
            oldest = format_duration(a.oldest_unanswered_s or 0)
            lines.append(f"- {a.account.id}: {a.unanswered} unanswered ({a.late} late), oldest {oldest}")
    late = [e for e in overview.queue if e.state == "late"][:10]
    if late:
        lines += ["", "Late items:"]
        lines += [
            f"- {e.item.id} {format_duration(e.age_s)} {e.item.account} {one_line(e.item.post.author.label)}: "
            f"{one_line(e.item.post.text, 60)}"
            for e in late
        ]
    mine = [e for e in overview.queue if e.claim and e.claim.operator == actor.operator]
    if mine:
        lines += ["", "Claimed by me and not finished:"]
        lines += [f"- {e.item.id} {e.item.account}: {one_line(e.item.post.text, 60)}" for e in mine]
    drafts = [d for d in overview.snapshot.drafts.values() if d.operator == actor.operator]
    if drafts:
        lines += ["", "Drafts left behind:"]
        lines += [f"- {d.item} {d.account}: {one_line(d.text, 60)}" for d in drafts]
    gaps = [a for a in overview.accounts if a.gap.state in ("warn", "breach")]
    if gaps:
        lines += ["", "Accounts in or near a quiet gap:"]
        for a in gaps:
            lines.append(
                f"- {a.account.id}: quiet {format_duration(a.gap.quiet_s)} of "
                f"{format_duration(a.account.max_quiet.total_seconds())} ({a.gap.state})"
            )
    failing = [a for a in overview.accounts if a.health.state not in ("ok", "never")]
    if failing:
        lines += ["", "Failing accounts:"]
        lines += [f"- {a.account.id}: {a.health.summary}" for a in failing]
    if shift_start:
        sent = [
            e
            for e in overview.snapshot.outbox
            if e.state == "sent" and e.operator == actor.operator and e.sent_at and e.sent_at >= shift_start
        ]
        lines += ["", f"Replies sent this shift (since {shift_start.strftime('%H:%M')}Z): {len(sent)}"]
    lines += ["", "Notes for the next shift:", ""]
    return "\n".join(lines) + "\n"
