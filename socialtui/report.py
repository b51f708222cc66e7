"""The report: what the care rules measured over a window, as text for people and JSON for scripts.

No follower counts: response times, the share answered within target, conversations held, gaps.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

from socialtui import care
from socialtui.config import Config
from socialtui.schedule import PostFigures, post_figures
from socialtui.store import Store
from socialtui.text import fit, one_line
from socialtui.timespec import format_duration, local_time

BLOCKS = " ▁▂▃▄▅▆▇█"
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Response-time buckets for the distribution chart: upper bounds in seconds.
BUCKETS = ((300, "<5m"), (900, "<15m"), (1800, "<30m"), (3600, "<1h"), (4 * 3600, "<4h"), (None, "4h+"))


def build_report(config: Config, store: Store, since: datetime, now: datetime) -> care.Report:
    snap = store.snapshot(now)
    report = care.report(
        snap.items, snap.own_posts, snap.states, snap.outbox, config.accounts, since, now, lexicon=config.tone
    )
    continuity = care.continuity(
        snap.items,
        snap.own_posts,
        snap.states,
        snap.outbox,
        config.accounts,
        store.shifts(),
        store.handoffs(),
        since,
        now,
    )
    posts = post_figures(
        [a.id for a in config.accounts], snap.outbox, snap.own_posts, since, now, config.team.schedule_grace
    )
    return replace(report, continuity=continuity, posts=tuple(posts))


POSTS_HEADER = (
    f"{'NEW POSTS':16} {'made':>5} {'sched':>6} {'on time':>8} {'late':>5} {'missed':>7} {'cancelled':>10}"
)
"""The heading of the new posts' table (the text report's and the dashboard's)."""


def posts_row(p: PostFigures) -> str:
    """One account's new posts: made, and its scheduled posts sent on time, late, missed, cancelled
    (indented: the per-account table above starts its rows with the same names)."""
    return (
        f"  {fit(one_line(p.account), 14)} {p.made:>5} {p.scheduled:>6} {p.on_time:>8} {p.late:>5} "
        f"{p.missed:>7} {p.cancelled:>10}"
    )


def complaints_lines(report: care.Report) -> list[str]:
    """The negative items apart: the share answered within target (beside the rest's), how many,
    how many answered, the median first response. Nothing without any."""
    complaints, others = report.complaints, report.others
    if complaints is None or not complaints.received:
        return []
    rest = f" (the rest: {_share(others.within_target)})" if others is not None and others.received else ""
    return [
        f"complaints answered within target: {_share(complaints.within_target)}{rest}",
        f"  {complaints.received} received, {complaints.answered} answered, "
        f"median first response {_dur(complaints.median_s)}",
    ]


DROPPED_LISTED = 20
"""Dropped items named one by one in the text report (all of them are in the JSON)."""


def continuity_lines(c: care.Continuity) -> list[str]:
    """Handed over and dropped, in words; the goal is nothing dropped."""
    changes = len(c.changes)
    lines = [
        f"CONTINUITY  {changes} shift change{'s' if changes != 1 else ''}: "
        f"handed over {len(c.handed_over)}, dropped {len(c.dropped)} (goal: 0)"
    ]
    if c.dropped:
        if c.awaiting_ack:
            lines.append(
                f"  {len(c.awaiting_ack)} of the dropped are in a handoff note nobody has acknowledged yet"
            )
        lines.append("  dropped (open at a shift change, in no acknowledged note, still unanswered):")
        lines += [f"  - {item}" for item in c.dropped[:DROPPED_LISTED]]
        if len(c.dropped) > DROPPED_LISTED:
            lines.append(f"  … and {len(c.dropped) - DROPPED_LISTED} more (--json lists them all)")
    return lines


def _dur(value: float | None) -> str:
    return "-" if value is None else format_duration(value)


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _row(m: care.Metrics) -> str:
    received = "-" if m.received is None else str(m.received)
    return (
        f"{fit(one_line(m.name), 16)} {received:>5} {m.answered:>5} {m.done:>5} {_dur(m.median_s):>7} "
        f"{_dur(m.p90_s):>7} {_share(m.within_target):>7} {_dur(m.longest_quiet_s):>8} "
        f"{'-' if m.posts is None else m.posts:>5} {_share(m.conversation_share):>6}"
    )


def sparkline(values: list[int] | tuple[int, ...]) -> str:
    """One block character per value, scaled to the largest (an empty one for zero)."""
    top = max(values, default=0)
    if top == 0:
        return "·" * len(values)
    return "".join(BLOCKS[0 if v == 0 else max(1, round(v / top * (len(BLOCKS) - 1)))] for v in values)


def distribution(times: tuple[float, ...]) -> list[tuple[str, int]]:
    """How many response times fall in each bucket (<5m, <15m, ... 4h+)."""
    counts = [0] * len(BUCKETS)
    for t in times:
        counts[next(i for i, (bound, _) in enumerate(BUCKETS) if bound is None or t < bound)] += 1
    return [(label, n) for (_, label), n in zip(BUCKETS, counts, strict=True)]


def render_report(report: care.Report, config: Config, since: datetime, now: datetime) -> list[str]:
    """The report as lines of text, for the terminal (fits 80 columns)."""
    lines = [
        f"socialtui report  {local_time(since, config.team.tz)} to {local_time(now, config.team.tz)}",
        "",
    ]
    header = f"{'':16} {'recv':>5} {'answ':>5} {'done':>5} {'median':>7} {'p90':>7} {'in tgt':>7} {'longest':>8} {'posts':>5} {'conv':>6}"
    if not config.accounts:
        return lines + ["No accounts are configured."]
    if report.continuity is not None:
        lines += continuity_lines(report.continuity) + [""]
    lines += ["PER ACCOUNT (response times in active hours; longest = longest quiet gap)", header]
    lines += [_row(m) for m in report.accounts]
    lines += [_row(report.total), ""]
    # Negative items apart: the first chance to help, and whether the team took it in time.
    complaints = complaints_lines(report)
    if complaints:
        lines += [*complaints, ""]
    if report.posts:
        lines += [
            "New posts, not replies (sched: due in the window or coming; on time: within 1m)",
            POSTS_HEADER,
        ]
        lines += [posts_row(p) for p in report.posts]
        lines.append("")
    if report.operators:
        lines += ["PER OPERATOR", header]
        lines += [_row(m) for m in report.operators]
        lines.append("")
    reasons = dict(report.total.done_reasons)
    if reasons:
        lines.append("Done without a reply: " + ", ".join(f"{one_line(r)} {n}" for r, n in reasons.items()))
        lines.append("")
    times = report.total.response_times_s
    if times:
        lines.append("First-response times")
        dist = distribution(times)
        top = max(n for _, n in dist) or 1
        for label, n in dist:
            lines.append(f"  {label:>5} {'█' * round(n / top * 40):<40} {n}")
        lines.append("")
    if any(any(row) for row in report.activity):
        lines.append("Own posts by hour (local time), Mon to Sun")
        lines.append("       0     6     12    18   ")
        for day, row in zip(DAYS, report.activity, strict=True):
            lines.append(f"  {day}  {sparkline(row)}")
    else:
        lines.append("No posts from our accounts in this window.")
    return lines


def _metrics_json(m: care.Metrics) -> dict[str, Any]:
    data = asdict(m)
    data["done_reasons"] = dict(m.done_reasons)
    data["response_times_s"] = [round(t) for t in m.response_times_s]
    for key in ("median_s", "p90_s", "longest_quiet_s"):
        if data[key] is not None:
            data[key] = round(data[key])
    return data


def report_json(report: care.Report, since: datetime, now: datetime) -> dict[str, Any]:
    return {
        "since": since.isoformat(),
        "until": now.isoformat(),
        "accounts": [_metrics_json(m) for m in report.accounts],
        "operators": [_metrics_json(m) for m in report.operators],
        "total": _metrics_json(report.total),
        "activity": [list(row) for row in report.activity],
        "continuity": _continuity_json(report.continuity),
        "complaints": _metrics_json(report.complaints) if report.complaints else None,
        "others": _metrics_json(report.others) if report.others else None,
        "posts": [asdict(p) for p in report.posts],
    }


def _continuity_json(c: care.Continuity | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "shift_changes": [
            {
                "operator": change.operator,
                "at": change.at.isoformat(),
                "open": len(change.open_items),
                "handed_over": len(change.handed_over),
            }
            for change in c.changes
        ],
        "handed_over": len(c.handed_over),
        "dropped": len(c.dropped),
        "dropped_items": list(c.dropped),
        "awaiting_ack_items": list(c.awaiting_ack),
    }
