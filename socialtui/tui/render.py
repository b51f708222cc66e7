"""How the dashboard turns data into text on screen.

Strangers' words (post texts, display names, handles, server error messages) pass through
`socialtui.text.clean` and then into `Content`/`Text` as plain strings: never through markup. Styles
name theme variables (`$warning`), so the 16-colour `ansi-dark` theme reads as well as truecolor.

Two kinds of text come out of here: `Content` for the dashboard's own widgets, and Rich `Text` for
DataTable cells (a DataTable renders a plain `str` cell as markup, and cannot render `Content`). Cell
styles come from `CellStyles`, built from the current theme.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo

from rich.style import Style
from rich.text import Text
from textual.color import Color
from textual.content import Content
from textual.theme import Theme

from socialtui.config import AccountConfig
from socialtui.model import Author, Claim
from socialtui.overview import AccountOverview
from socialtui.text import clean, one_line
from socialtui.timespec import format_duration

WIDE_FROM = 110
"""Columns from which the screens use their wide layout (the accounts as a column, the detail shown)."""
SPARK = "▁▂▃▄▅▆▇█"
MAX_SHOWN = 20_000
"""Characters of one post shown at most (a 10,000-character post is shown whole)."""

STATE_STYLE = {"ok": "$success", "due": "$warning bold", "late": "$error bold"}
GAP_STYLE = {
    "ok": "$success",
    "warn": "$warning bold",
    "breach": "$error bold",
    "off-hours": "$text-muted",
    "unknown": "$text-muted",
}


def inert(text: str) -> str:
    """A stranger's text, safe to show: no control sequences, bidi tricks or invisible characters."""
    return clean(text, max_length=MAX_SHOWN)


def line_of(text: str, width: int | None = None) -> str:
    """A stranger's text as one cleaned line, cut to `width`."""
    return one_line(text, width)


def account_style(account: AccountConfig | None) -> str:
    """The account's colour as a Content style: one of the 16 terminal colours, always bold."""
    if account is None or not account.color:
        return "bold $accent"
    return f"bold ansi_{account.color}"


def account_label(account: AccountConfig) -> Content:
    """`● @acme@mastodon.social` in the account's colour: how an account is shown everywhere."""
    return Content.assemble(("● ", account_style(account)), (account.handle, account_style(account)))


_LEADING_MENTIONS = re.compile(r"^(?:@[\w.@:-]+[\s,]+)+")


def preview(text: str, width: int | None = None) -> str:
    """The first words worth reading: one line, without the @mentions a reply starts with."""
    flat = one_line(text)
    rest = _LEADING_MENTIONS.sub("", flat)
    return line_of(rest or flat, width)


def author_label(author: Author, width: int | None = None) -> str:
    label = line_of(author.label)
    name = line_of(author.display_name)
    text = f"{name} ({label})" if name and name != label else label
    return line_of(text, width)


def age(seconds: float) -> str:
    return format_duration(max(seconds, 0))


def ago(then: datetime | None, now: datetime) -> str:
    if then is None:
        return "never"
    return f"{format_duration(max((now - then).total_seconds(), 0))} ago"


def claim_text(claim: Claim | None, now: datetime, operator: str) -> str:
    """`alice 2m` / `you 2m`: who is answering the item, and since when."""
    if claim is None:
        return ""
    who = "you" if claim.operator == operator else line_of(claim.operator, 16)
    return f"{who} {format_duration(max((now - claim.at).total_seconds(), 0))}"


def sparkline(values: tuple[int, ...] | list[int], width: int) -> str:
    """The last `width` values as block characters, scaled to the largest."""
    shown = list(values)[-width:] if width > 0 else []
    top = max(shown, default=0)
    if top <= 0:
        return SPARK[0] * len(shown)
    return "".join(SPARK[min(len(SPARK) - 1, round(v / top * (len(SPARK) - 1)))] for v in shown)


LEVEL_STYLE = {0: "$success", 1: "$warning bold", 2: "$error bold", 3: "$text-muted"}
"""Styles of the monitoring levels (care.OK, WARNING, CRITICAL, UNKNOWN)."""


def health_text(row: AccountOverview, tz: tzinfo) -> str:
    """The account's health in one line: its server, the freshness of its data, its failed replies;
    times in `tz` (the team's zone), labelled."""
    return one_line(row.health_line(tz), 60)


def health_style(row: AccountOverview) -> str:
    return LEVEL_STYLE.get(row.health_level, "")


# --- DataTable cells -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellStyles:
    """Rich styles for DataTable cells, from the current theme (ANSI colours in the ansi themes)."""

    ok: Style
    due: Style
    late: Style
    muted: Style
    accent: Style

    @classmethod
    def from_theme(cls, theme: Theme) -> CellStyles:
        def color(value: str | None, *, bold: bool | None = None) -> Style:
            if not value:
                return Style(bold=bold)
            try:
                return Style(color=Color.parse(value).rich_color, bold=bold)
            except Exception:  # noqa: BLE001 - a theme colour Rich cannot take: keep the text plain
                return Style(bold=bold)

        return cls(
            ok=color(theme.success),
            due=color(theme.warning, bold=True),
            late=color(theme.error, bold=True),
            muted=Style(dim=True),
            accent=color(theme.accent, bold=True),
        )

    def state(self, state: str) -> Style:
        return {"ok": self.ok, "due": self.due, "late": self.late}.get(state, self.muted)


def account_cell_style(account: AccountConfig | None, styles: CellStyles) -> Style:
    if account is None or not account.color:
        return styles.accent
    return Style(color=account.color, bold=True)


def cell(text: str, style: Style | str = "", width: int | None = None) -> Text:
    """A DataTable cell holding `text` as it is (never markup), on one line. With `width` (the
    column's), it is cut here, grapheme by grapheme with the project's cell measure (`one_line`):
    left to Rich, the cut could split a flag or a Devanagari conjunct and leave a stray character
    that the terminal draws wider than Rich counted, shifting the columns after it."""
    if width is not None:
        text = one_line(text, max(width, 1))
    return Text(text, style=style, no_wrap=True, overflow="ellipsis", end="")


def when_header(zone: str, width: int) -> Text:
    """The header of a table's column of times, which names their zone once for every row (the
    cells stay unlabelled): `when (CET)`, or the zone alone where both do not fit (`CET/CEST`)."""
    label = f"when ({zone})"
    return Text(label if len(label) <= width else zone, style="bold", no_wrap=True, overflow="ellipsis")


__all__ = [
    "when_header",
    "inert",
    "line_of",
    "preview",
    "account_style",
    "account_label",
    "author_label",
    "age",
    "ago",
    "claim_text",
    "sparkline",
    "health_text",
    "health_style",
    "LEVEL_STYLE",
    "CellStyles",
    "account_cell_style",
    "cell",
    "STATE_STYLE",
    "GAP_STYLE",
]
