"""The report: per account and per operator, over the last 24 hours or 7 days, what the care rules
measured (`report.build_report`): items received, answered, done without a reply, median and 90th
percentile first response in active hours, the share within the reply target, the longest quiet
gap, posts and the conversation share; the complaints (items of negative tone) apart; new posts made
and scheduled, sent on time, late, missed or cancelled. Then, drawn: the first-response times by
bucket, and own posts in an hour-by-weekday strip. No follower counts.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import timedelta, tzinfo
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static

from socialtui.care import Continuity, Metrics, Report
from socialtui.report import DAYS, POSTS_HEADER, build_report, distribution, posts_row, sparkline
from socialtui.store import StoreError
from socialtui.text import fit
from socialtui.timespec import local_span
from socialtui.tui.data import Dashboard
from socialtui.tui.render import age, line_of

if TYPE_CHECKING:
    from socialtui.tui.app import SocialApp

WINDOWS = (("24h", timedelta(hours=24)), ("7d", timedelta(days=7)))
REBUILD_EVERY = 30.0
"""Seconds between rebuilds while the view stays open (it reads the whole post cache)."""
BAR = 40
NAME = 16
COLUMNS = (
    ("recv", 4),
    ("answ", 4),
    ("done", 4),
    ("median", 6),
    ("p90", 6),
    ("in tgt", 6),
    ("quiet", 7),
    ("posts", 5),
    ("conv", 5),
)
"""The table's columns after the name: (heading, width). `quiet` is the longest quiet gap."""


def _duration(value: float | None) -> str:
    return "-" if value is None else age(value)


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def metrics_cells(m: Metrics) -> tuple[str, ...]:
    """One row's figures as shown, in the order of `COLUMNS`."""
    return (
        _count(m.received),
        str(m.answered),
        str(m.done),
        _duration(m.median_s),
        _duration(m.p90_s),
        _share(m.within_target),
        _duration(m.longest_quiet_s),
        _count(m.posts),
        _share(m.conversation_share),
    )


def _row(m: Metrics, style: str = "") -> Content:
    cells = " ".join(f"{value:>{width}}" for value, (_, width) in zip(metrics_cells(m), COLUMNS, strict=True))
    return Content.assemble((fit(line_of(m.name), NAME), style or "bold"), " ", (cells, style))


def _heading(title: str) -> Content:
    cells = " ".join(f"{name:>{width}}" for name, width in COLUMNS)
    return Content.assemble((fit(title, NAME), "bold $secondary"), " ", (cells, "$text-muted"))


def continuity_content(c: Continuity | None) -> list[Content]:
    """Handed over and dropped across the shift changes: the goal is nothing dropped."""
    if c is None:
        return []
    changes = len(c.changes)
    lines = [
        Content.assemble(
            ("CONTINUITY ", "bold $secondary"),
            f"{changes} shift change{'s' if changes != 1 else ''}: handed over {len(c.handed_over)}, ",
            (f"dropped {len(c.dropped)}", "$error bold" if c.dropped else "$success bold"),
            (" (goal: 0)", "$text-muted"),
        )
    ]
    if c.dropped:
        shown = ", ".join(c.dropped[:6]) + (f" +{len(c.dropped) - 6} more" if len(c.dropped) > 6 else "")
        lines.append(Content.assemble(("  dropped: ", "$error"), shown))
    return [*lines, Content("")]


def complaints_content(report: Report) -> list[Content]:
    """The items of negative tone apart: how many, answered, the median first response, and the
    share answered within target beside the rest's (the text report's line, drawn)."""
    complaints, others = report.complaints, report.others
    title = Content.styled("COMPLAINTS ", "bold $secondary")
    if complaints is None or not complaints.received:
        return [
            Content.assemble(title, ("no item of negative tone in this window", "$text-muted")),
            Content(""),
        ]
    share = complaints.within_target
    others_share = others.within_target if others is not None and others.received else None
    short = share is not None and others_share is not None and share < others_share
    lines = [
        Content.assemble(
            title,
            f"▼ {complaints.received} received, {complaints.answered} answered, ",
            f"median first response {_duration(complaints.median_s)}",
        ),
        Content.assemble(
            "  answered within target: ",
            (_share(share), "$warning bold" if short else "bold"),
            (f"  (the rest: {_share(others_share)})" if others_share is not None else "", "$text-muted"),
        ),
        Content(""),
    ]
    return lines


def posts_content(report: Report) -> list[Content]:
    """New posts per account: made, scheduled, and the scheduled ones on time, late, missed, cancelled."""
    if not report.posts:
        return []
    lines = [Content.styled(POSTS_HEADER, "bold $secondary")]
    for figures in report.posts:
        style = "$warning" if figures.missed or figures.late else ""
        lines.append(Content.styled(posts_row(figures), style))
    lines.append(
        Content.styled(
            "  not replies; sched = due in the window or coming; on time = within 1m", "$text-muted"
        )
    )
    return [*lines, Content("")]


def report_content(report: Report, tz: tzinfo, window: str) -> Content:
    """The whole report as the view shows it (fits 80 columns)."""
    lines: list[Content] = [
        Content.assemble(
            ("last ", "$text-muted"),
            (window, "bold"),
            (f"  {local_span(report.since, report.now, tz, '%d %b %H:%M')}", "$text-muted"),
        ),
        Content.styled("response times count active hours; quiet = the longest quiet gap", "$text-muted"),
        Content(""),
    ]
    lines += continuity_content(report.continuity)
    lines.append(_heading("PER ACCOUNT"))
    lines += [_row(m) for m in report.accounts]
    lines.append(_row(report.total, "bold $accent"))
    lines.append(Content(""))
    lines += complaints_content(report)
    lines += posts_content(report)
    lines.append(_heading("PER OPERATOR"))
    if report.operators:
        lines += [_row(m) for m in report.operators]
    else:
        lines.append(Content.styled("nobody answered or closed an item in this window", "$text-muted"))
    reasons = report.total.done_reasons
    if reasons:
        lines.append(Content(""))
        lines.append(
            Content.assemble(
                ("Done without a reply: ", "bold"),
                ", ".join(f"{line_of(reason, 30)} {count}" for reason, count in reasons),
            )
        )
    lines.append(Content(""))
    times = report.total.response_times_s
    lines.append(Content.styled(f"First responses ({len(times)}), all accounts", "bold $secondary"))
    if times:
        buckets = distribution(times)
        top = max(count for _, count in buckets) or 1
        for label, count in buckets:
            bar = "█" * round(count / top * BAR)
            lines.append(Content.assemble(f"  {label:>5} ", (f"{bar:<{BAR}}", "$accent"), f" {count}"))
    else:
        lines.append(Content.styled("  no item was answered in this window", "$text-muted"))
    lines.append(Content(""))
    lines.append(
        Content.styled("Own posts by hour, Mon to Sun (each account's local time)", "bold $secondary")
    )
    grid = [count for row in report.activity for count in row]
    if any(grid):
        # One scale for the whole week, so that days compare.
        strip = sparkline(grid)
        lines.append(Content.styled("       0     6     12    18    24", "$text-muted"))
        for index, day in enumerate(DAYS):
            posts = sum(report.activity[index])
            lines.append(
                Content.assemble(
                    f"  {day}  ",
                    (strip[index * 24 : (index + 1) * 24].replace(" ", "·"), "$secondary"),
                    (f"  {posts}", "$text-muted"),
                )
            )
    else:
        lines.append(Content.styled("  no posts from our accounts in this window", "$text-muted"))
    return Content("\n").join(lines)


class ReportScreen(Screen[None]):
    """The team's figures for the last 24 hours or 7 days."""

    BINDINGS = [
        Binding("w", "cycle_window", "24h / 7d", id="window"),
        Binding("escape", "back", "Back", id="back"),
    ]

    app: SocialApp

    def __init__(self) -> None:
        super().__init__(classes="report")
        self.window = 0
        self.report: Report | None = None
        self._built_at = 0.0

    def compose(self) -> ComposeResult:
        yield Static(id="report-title")
        with VerticalScroll(id="report-body"):
            yield Static(Content.styled("computing…", "$text-muted"), id="report-text")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#report-body").focus()
        self._show_title()
        self._build()
        self.watch(self.app, "dashboard", self._follow)

    def _follow(self, _data: Dashboard | None) -> None:
        if time.monotonic() - self._built_at > REBUILD_EVERY:
            self._build()

    def _show_title(self, busy: bool = False) -> None:
        parts: list[str | tuple[str, str]] = [(" REPORT ", "bold $primary"), ("  window ", "$text-muted")]
        for index, (name, _) in enumerate(WINDOWS):
            parts.append((f" {name} ", "bold reverse $accent" if index == self.window else "$text-muted"))
        parts.append(("  w switches", "$text-muted"))
        if busy:
            parts.append(("  computing…", "$text-muted"))
        self.query_one("#report-title", Static).update(Content.assemble(*parts))

    @work(group="report", exclusive=True, exit_on_error=False)
    async def _build(self) -> None:
        app = self.app
        name, span = WINDOWS[self.window]
        now = app.now()
        self._built_at = time.monotonic()
        self._show_title(busy=True)
        try:
            report = await app.in_thread(build_report, app.config, app.store, now - span, now)
        except StoreError as exc:
            app.tell(f"Could not compute the report: {exc}", "warning")
            self._show_title()
            return
        self.report = report
        self._show_title()
        self.query_one("#report-text", Static).update(report_content(report, app.config.team.tz, name))

    def action_cycle_window(self) -> None:
        self.window = (self.window + 1) % len(WINDOWS)
        self._build()

    def action_back(self) -> None:
        self.dismiss()

    def palette_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Report: 24h / 7d", "Switch the report's window", self.action_cycle_window)
        yield SystemCommand("Back to the queue", "Close the report", self.action_back)


__all__ = ["ReportScreen", "report_content", "metrics_cells", "complaints_content", "posts_content"]
