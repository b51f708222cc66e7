"""The accounts panel: per managed account its handle in its colour, the unanswered and late counts,
the quiet gap against `max_quiet` with its state and the time left, the rhythm of the last hours, and
the health of its server. A column of blocks on wide screens, one line per account on narrow ones."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

from socialtui import care
from socialtui.overview import AccountOverview
from socialtui.text import fit
from socialtui.tui.data import Dashboard
from socialtui.tui.render import GAP_STYLE, account_style, age, health_style, health_text, sparkline

Part = str | tuple[str, str]
QUIET_WIDTH = 29


def quiet_parts(row: AccountOverview) -> list[Part]:
    """`quiet 3h10m/4h warn, 50m left` with its state coloured."""
    gap = row.gap
    style = GAP_STYLE.get(gap.state, "")
    if gap.state == "unknown":
        return [("quiet: unknown", style)]
    parts: list[Part] = [f"quiet {age(gap.quiet_s)}/{age(gap.limit_s)} ", (gap.state, style)]
    if gap.state in ("ok", "warn") and gap.left_s is not None:
        parts.append(f", {age(gap.left_s)} left")
    return parts


def counts_parts(row: AccountOverview) -> list[Part]:
    parts: list[Part] = [(f"{row.unanswered} unanswered", "bold" if row.unanswered else "$text-muted")]
    if row.late:
        parts += [", ", (f"{row.late} late", "$error bold")]
    elif row.due:
        parts += [", ", (f"{row.due} due", "$warning bold")]
    return parts


def block(row: AccountOverview, width: int) -> list[Content]:
    """Four lines about one account, for the wide column."""
    account = row.account
    inner = max(width - 2, 8)
    return [
        Content.assemble(("● " + fit(account.handle, inner), account_style(account))),
        Content.assemble("  ", *counts_parts(row)),
        Content.assemble("  ", *quiet_parts(row)).truncate(width, ellipsis=True),
        Content.assemble(
            "  ",
            (sparkline(row.gap.hourly, 12), "$secondary"),
            " ",
            (health_text(row), health_style(row)),
        ).truncate(width, ellipsis=True),
    ]


def strip_lines(row: AccountOverview, width: int) -> list[Content]:
    """One line about one account, for narrow screens; a second one when its server is failing."""
    account = row.account
    late: Part = (f"{row.late} late", "$error bold") if row.late else ("", "")
    quiet = Content.assemble(*quiet_parts(row)).truncate(QUIET_WIDTH, ellipsis=True)
    healthy = row.health_level in (care.OK, care.UNKNOWN)
    state = row.health.state
    line = Content.assemble(
        ("● " + fit(account.handle, 22), account_style(account)),
        (f"{row.unanswered:>3}", "bold" if row.unanswered else "$text-muted"),
        " ",
        (fit(late[0], 7), late[1]),
        " ",
        quiet.pad_right(QUIET_WIDTH - quiet.cell_length),
        " ",
        (sparkline(row.gap.hourly, 6), "$secondary"),
        " ",
        (state if healthy else "⚠", health_style(row)),
    ).truncate(width, ellipsis=True)
    if healthy:
        return [line]
    problem = Content.assemble(
        ("  ⚠ ", health_style(row)),
        (health_text(row), health_style(row)),
    )
    return [line, problem.truncate(width, ellipsis=True)]


class AccountsPanel(VerticalScroll):
    """Every managed account at a glance. Set `dashboard` to show a reading; `compact` for one line
    per account."""

    dashboard: reactive[Dashboard | None] = reactive(None)
    """The reading shown (set by the screen)."""
    compact: reactive[bool] = reactive(False)
    """One line per account (narrow screens) instead of a block each."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: tuple[str, tuple[object, ...]] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="accounts-text")

    def watch_dashboard(self) -> None:
        self._show()

    def watch_compact(self) -> None:
        self._show()

    def on_resize(self) -> None:
        self._show()

    def _show(self) -> None:
        if not self.is_mounted:
            return
        data = self.dashboard
        text = self.query_one("#accounts-text", Static)
        if data is None:
            text.update(Content.styled("reading the store…", "$text-muted"))
            self._shown = None
            return
        width = max(self.scrollable_content_region.width, 20)
        lines: list[Content] = []
        if self.compact:
            lines = [line for row in data.overview.accounts for line in strip_lines(row, width)]
        else:
            for index, row in enumerate(data.overview.accounts):
                if index:
                    lines.append(Content(""))
                lines.extend(block(row, width))
        if not lines:
            lines = [Content.styled("No accounts in the config.", "$text-muted")]
        content = Content("\n").join(lines)
        shown = (content.plain, tuple(content.spans))
        if shown != self._shown:  # every second a reading comes; most change nothing here
            layout = self._shown is None or self._shown[0].count("\n") != content.plain.count("\n")
            self._shown = shown
            text.update(content, layout=layout)
