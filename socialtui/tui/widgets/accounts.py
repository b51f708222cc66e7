"""The accounts panel: per managed account its handle in its colour, the unanswered and late counts,
the quiet gap against `max_quiet` with its state and the time left, the rhythm of the last hours, and
the health of its server (and whether it is live: streamed by its server, or polled), and the forecast
of its gap counting its scheduled posts. A column of blocks on wide screens, one line per account on
narrow ones, which ends with `live`, `poll` or ⚠ (`SYNC_WORDS`).

Focused, it has a cursor (up/down): Enter filters the queue to the account under it
(`AccountChosen`), `P` asks for a new post from it (`PostWanted`), and the screen's schedule key
shows that account's schedule."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static

from socialtui import care
from socialtui.config import AccountConfig
from socialtui.overview import AccountOverview
from socialtui.text import fit
from socialtui.tui.data import Dashboard
from socialtui.tui.render import GAP_STYLE, account_style, age, health_style, health_text, sparkline

Part = str | tuple[str, str]
QUIET_WIDTH = 29


SYNC_WORDS = {"live": "live", "polling": "poll"}
"""A healthy account's last word in its one-line row: how the poller hears of its items. `live`:
its server streams them (polling is the safety net); `poll`: polled every `poll_interval`; `ok`: not
known (an older poller wrote the health). A failing or stale account shows ⚠ instead."""


def sync_word(row: AccountOverview) -> str:
    """`live`, `poll` or `ok` for a healthy account (see `SYNC_WORDS`); its state otherwise."""
    if row.health.state != "ok":
        return row.health.state
    return SYNC_WORDS.get(row.health.mode, "ok")


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


def handle_parts(account: AccountConfig, width: int, cursor: bool) -> list[Part]:
    """`● @acme@…` in the account's colour; `▶` in reverse under the accounts pane's cursor."""
    if cursor:
        return [("▶", "reverse bold"), (" " + fit(account.handle, width), account_style(account))]
    return [("● " + fit(account.handle, width), account_style(account))]


def forecast_part(row: AccountOverview, now: datetime) -> Part:
    """`covered until 06:00 (2 scheduled)` or `breach at 03:10, nothing scheduled`, in the account's time."""
    forecast = row.forecast
    if forecast is None:
        return ("", "")
    style = "$warning" if forecast.breach_at is not None else "$text-muted"
    return (forecast.summary(row.account.tz, now), style)


def block(
    row: AccountOverview, width: int, now: datetime | None = None, *, cursor: bool = False, tz: tzinfo = UTC
) -> list[Content]:
    """Five lines about one account, for the wide column."""
    account = row.account
    inner = max(width - 2, 8)
    lines = [
        Content.assemble(*handle_parts(account, inner, cursor)),
        Content.assemble("  ", *counts_parts(row)),
        Content.assemble("  ", *quiet_parts(row)).truncate(width, ellipsis=True),
        Content.assemble(
            "  ",
            (sparkline(row.gap.hourly, 12), "$secondary"),
            " ",
            (health_text(row, tz), health_style(row)),
        ).truncate(width, ellipsis=True),
    ]
    if now is not None and row.forecast is not None:
        lines.append(Content.assemble("  ", forecast_part(row, now)).truncate(width, ellipsis=True))
    return lines


def strip_lines(
    row: AccountOverview, width: int, now: datetime | None = None, *, cursor: bool = False, tz: tzinfo = UTC
) -> list[Content]:
    """One line about one account, for narrow screens (a second one when its server is failing).
    Under the cursor the forecast takes the place of the quiet gap and the rhythm: the same number
    of lines whether the pane has focus or not, so focus never moves the queue."""
    account = row.account
    late: Part = (f"{row.late} late", "$error bold") if row.late else ("", "")
    healthy = row.health_level in (care.OK, care.UNKNOWN)
    middle: list[Part | Content]
    if cursor and now is not None and row.forecast is not None:
        wide = QUIET_WIDTH + 7
        forecast = Content.assemble(forecast_part(row, now)).truncate(wide, ellipsis=True)
        middle = [forecast.pad_right(wide - forecast.cell_length)]
    else:
        quiet = Content.assemble(*quiet_parts(row)).truncate(QUIET_WIDTH, ellipsis=True)
        middle = [
            quiet.pad_right(QUIET_WIDTH - quiet.cell_length),
            " ",
            (sparkline(row.gap.hourly, 6), "$secondary"),
        ]
    line = Content.assemble(
        *handle_parts(account, 22, cursor),
        (f"{row.unanswered:>3}", "bold" if row.unanswered else "$text-muted"),
        " ",
        (fit(late[0], 7), late[1]),
        " ",
        *middle,
        " ",
        (sync_word(row) if healthy else "⚠", health_style(row)),
    ).truncate(width, ellipsis=True)
    if healthy:
        return [line]
    problem = Content.assemble(
        ("  ⚠ ", health_style(row)),
        (health_text(row, tz), health_style(row)),
    )
    return [line, problem.truncate(width, ellipsis=True)]


class AccountsPanel(VerticalScroll):
    """Every managed account at a glance. Set `dashboard` to show a reading; `compact` for one line
    per account."""

    BINDINGS = [
        Binding("up,k", "move(-1)", "Previous account", show=False, id="accounts-up"),
        Binding("down,j", "move(1)", "Next account", show=False, id="accounts-down"),
        Binding("enter", "choose", "Filter the queue to this account", id="account-filter"),
        Binding("P", "post", "New post from this account", id="accounts-post"),
    ]

    class AccountChosen(Message):
        """Enter on an account: the queue is to show its items only."""

        def __init__(self, account_id: str) -> None:
            super().__init__()
            self.account_id = account_id

    class PostWanted(Message):
        """The operator asked for a new post from `account` (P on the accounts pane)."""

        def __init__(self, account: str) -> None:
            super().__init__()
            self.account = account

    dashboard: reactive[Dashboard | None] = reactive(None)
    """The reading shown (set by the screen)."""
    tz: tzinfo = UTC
    """The team's zone (set by the screen): the times in a failing account's row are in it."""
    compact: reactive[bool] = reactive(False)
    """One line per account (narrow screens) instead of a block each."""
    cursor: reactive[int] = reactive(0)
    """The account under the cursor (an index into the config's accounts), shown when focused."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: tuple[str, tuple[object, ...]] | None = None
        self._focused = False

    @property
    def selected_account(self) -> str | None:
        """The id of the account under the cursor."""
        data = self.dashboard
        if data is None or not data.overview.accounts:
            return None
        return data.overview.accounts[min(self.cursor, len(data.overview.accounts) - 1)].account.id

    def action_move(self, step: int) -> None:
        data = self.dashboard
        count = len(data.overview.accounts) if data is not None else 0
        if count:
            self.cursor = (self.cursor + step) % count

    def action_choose(self) -> None:
        account = self.selected_account
        if account is not None:
            self.post_message(self.AccountChosen(account))

    def action_post(self) -> None:
        account = self.selected_account
        if account is not None:
            self.post_message(self.PostWanted(account))

    def watch_cursor(self) -> None:
        self._show()

    def on_focus(self) -> None:
        self._focused = True  # has_focus may not say so yet while the Focus event is handled
        self._show()

    def on_blur(self) -> None:
        self._focused = False
        self._show()

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
        now = data.now
        at = self.cursor if self._focused else -1
        if self.compact:
            lines = [
                line
                for index, row in enumerate(data.overview.accounts)
                for line in strip_lines(row, width, now, cursor=index == at, tz=self.tz)
            ]
        else:
            for index, row in enumerate(data.overview.accounts):
                if index:
                    lines.append(Content(""))
                lines.extend(block(row, width, now, cursor=index == at, tz=self.tz))
        if not lines:
            lines = [Content.styled("No accounts in the config.", "$text-muted")]
        content = Content("\n").join(lines)
        shown = (content.plain, tuple(content.spans))
        if shown != self._shown:  # every second a reading comes; most change nothing here
            layout = self._shown is None or self._shown[0].count("\n") != content.plain.count("\n")
            self._shown = shown
            text.update(content, layout=layout)
