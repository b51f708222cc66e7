"""The accounts panel: per managed account its handle in its colour, the unanswered and late counts,
the quiet gap against `max_quiet` with its state and the time left, the rhythm of the last hours, and
the health of its server. A column of blocks on wide screens, one line per account on narrow ones."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static

from socialtui.overview import AccountOverview
from socialtui.text import fit
from socialtui.tui.data import Dashboard
from socialtui.tui.render import GAP_STYLE, HEALTH_STYLE, account_style, age, health_text, sparkline

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
    health = row.health
    return [
        Content.assemble(("● " + fit(account.handle, inner), account_style(account))),
        Content.assemble("  ", *counts_parts(row)),
        Content.assemble("  ", *quiet_parts(row)).truncate(width, ellipsis=True),
        Content.assemble(
            "  ",
            (sparkline(row.gap.hourly, 12), "$secondary"),
            " ",
            (health_text(health), HEALTH_STYLE.get(health.state, "")),
        ).truncate(width, ellipsis=True),
    ]


def strip_lines(row: AccountOverview, width: int) -> list[Content]:
    """One line about one account, for narrow screens; a second one when its server is failing."""
    account = row.account
    health = row.health
    late: Part = (f"{row.late} late", "$error bold") if row.late else ("", "")
    quiet = Content.assemble(*quiet_parts(row)).truncate(QUIET_WIDTH, ellipsis=True)
    healthy = health.state in ("ok", "never")
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
        (health.state if healthy else "⚠", HEALTH_STYLE.get(health.state, "")),
    ).truncate(width, ellipsis=True)
    if healthy:
        return [line]
    problem = Content.assemble(
        ("  ⚠ ", HEALTH_STYLE.get(health.state, "")),
        (health_text(health), HEALTH_STYLE.get(health.state, "")),
    )
    return [line, problem.truncate(width, ellipsis=True)]


class AccountsPanel(VerticalScroll):
    """Every managed account at a glance. Set `dashboard` to show a reading; `compact` for one line
    per account."""

    BINDINGS = [
        Binding("up", "move(-1)", "Previous account", show=False, id="account-up"),
        Binding("down", "move(1)", "Next account", show=False, id="account-down"),
        Binding("enter", "choose", "Filter the queue to this account", id="account-filter"),
    ]

    class AccountChosen(Message):
        """Enter on an account: the queue is to show its items only."""

        def __init__(self, account_id: str) -> None:
            super().__init__()
            self.account_id = account_id

    dashboard: reactive[Dashboard | None] = reactive(None)
    """The reading shown (set by the screen)."""
    cursor: reactive[int] = reactive(0)
    """The account under the cursor while the panel has the focus (▸ marks it)."""
    compact: reactive[bool] = reactive(False)
    """One line per account (narrow screens) instead of a block each."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: tuple[str, tuple[object, ...]] | None = None
        self._focused = False

    def compose(self) -> ComposeResult:
        yield Static(id="accounts-text")

    def watch_dashboard(self) -> None:
        self._show()

    def watch_cursor(self) -> None:
        self._show()

    def on_focus(self) -> None:
        self._focused = True
        self._show()

    def on_blur(self) -> None:
        self._focused = False
        self._show()

    def action_move(self, step: int) -> None:
        count = len(self.dashboard.overview.accounts) if self.dashboard else 0
        if count:
            self.cursor = (self.cursor + step) % count

    def action_choose(self) -> None:
        data = self.dashboard
        if data is not None and data.overview.accounts:
            self.post_message(
                self.AccountChosen(
                    data.overview.accounts[self.cursor % len(data.overview.accounts)].account.id
                )
            )

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
        chosen = self.cursor % len(data.overview.accounts) if self._focused and data.overview.accounts else -1
        for index, row in enumerate(data.overview.accounts):
            rows = strip_lines(row, width) if self.compact else block(row, width)
            if index == chosen:  # a glyph and reverse video: 16 colours show it too
                first = rows[0].plain
                rows[0] = Content.styled("▸" + first[1:], "reverse bold")
            if index and not self.compact:
                lines.append(Content(""))
            lines.extend(rows)
        if not lines:
            lines = [Content.styled("No accounts in the config.", "$text-muted")]
        content = Content("\n").join(lines)
        shown = (content.plain, tuple(content.spans))
        if shown != self._shown:  # every second a reading comes; most change nothing here
            layout = self._shown is None or self._shown[0].count("\n") != content.plain.count("\n")
            self._shown = shown
            text.update(content, layout=layout)
