"""The audit trail: every operator action, newest first, read-only. Filter by window, operator,
action and words. It follows the trail as other operators act (the file is only read again when it
grew)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from socialtui.model import AuditEvent
from socialtui.store import StoreError
from socialtui.timespec import local_time, local_times_in, zone_label
from socialtui.tui.data import AuditQuery, AuditReading, audit_signature, read_audit
from socialtui.tui.render import CellStyles, cell, inert, line_of, when_header
from socialtui.tui.widgets.filter import FilterInput

if TYPE_CHECKING:
    from socialtui.tui.app import SocialApp

WINDOWS: tuple[tuple[str, timedelta | None], ...] = (
    ("24h", timedelta(hours=24)),
    ("7d", timedelta(days=7)),
    ("30d", timedelta(days=30)),
    ("all", None),
)
SHOWN = 1000
WHEN_WIDTH = 12
"""`18 Nov 14:00`, under a header that names the zone: `when (CET)`."""


class AuditTable(DataTable[Text]):
    """The audit events shown."""


class AuditScreen(Screen[None]):
    """Who did what, when, on which account and item."""

    BINDINGS = [
        Binding("w", "cycle_window", "Window", id="window"),
        Binding("o", "cycle_operator", "Operator", id="filter-operator"),
        Binding("k", "cycle_action", "Action", id="filter-action"),
        Binding("slash", "filter", "Filter", id="filter", priority=True),
        Binding("escape", "back", "Back", id="back"),
    ]

    app: SocialApp

    def __init__(self) -> None:
        super().__init__(classes="audit")
        self.window = 1
        self.query_state = AuditQuery()
        self.reading: AuditReading | None = None
        self._loaded_for: tuple[object, ...] | None = None
        self._zone = ""
        """The team zone's label in the `when` column's header (`zone_label` of the rows shown)."""

    def compose(self) -> ComposeResult:
        yield Static(id="audit-title")
        yield AuditTable(id="audit-table", cursor_type="row", cursor_foreground_priority="renderable")
        yield FilterInput("filter: words", list_selector="AuditTable", id="audit-filter")
        with VerticalScroll(id="audit-event"):
            yield Static(id="audit-event-text")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(AuditTable)
        self._add_columns(table, zone_label(self.app.config.team.tz, self.app.now()))
        table.focus()
        self._show_title()
        self._load(force=True)
        self.watch(self.app, "dashboard", lambda _data: self._load())

    def _add_columns(self, table: AuditTable, zone: str) -> None:
        """The columns, the times' zone named once in the first one's header."""
        self._zone = zone
        table.add_column(when_header(zone, WHEN_WIDTH), width=WHEN_WIDTH, key="when")
        table.add_column(Text("who", style="bold"), width=10, key="who")
        table.add_column(Text("action", style="bold"), width=12, key="action")
        table.add_column(Text("account", style="bold"), width=13, key="account")
        table.add_column(Text("detail", style="bold"), width=120, key="detail")

    # -- reading ------------------------------------------------------------------------------------

    def _load(self, force: bool = False) -> None:
        span = WINDOWS[self.window][1]
        since = self.app.now() - span if span is not None else None
        self._read(replace(self.query_state, since=since), force)

    @work(group="audit", exclusive=True, exit_on_error=False)
    async def _read(self, query: AuditQuery, force: bool) -> None:
        store = self.app.store
        window = WINDOWS[self.window][0]

        def read() -> tuple[tuple[object, ...], AuditReading] | None:
            stamp = (audit_signature(store), window, query.operator, query.action, query.words)
            if not force and stamp == self._loaded_for:
                return None
            return stamp, read_audit(store, query, SHOWN)

        try:
            result = await self.app.in_thread(read)
        except (StoreError, OSError) as exc:
            self.app.tell(f"Could not read the audit trail: {exc}", "warning")
            return
        if result is None:
            return
        self._loaded_for, self.reading = result
        self._show_rows()

    def _show_rows(self) -> None:
        reading = self.reading
        if reading is None:
            return
        table = self.query_one(AuditTable)
        styles = CellStyles.from_theme(self.app.current_theme)
        tz = self.app.config.team.tz
        events = reading.events
        zone = zone_label(tz, *(event.at for event in events)) if events else self._zone
        table.clear(columns=zone != self._zone)
        if not table.columns:
            self._add_columns(table, zone)
        for event in events:
            table.add_row(
                cell(local_time(event.at, tz, "%d %b %H:%M", labelled=False), styles.muted),
                cell(line_of(event.operator or event.login, 30), width=10),
                cell(event.action, styles.accent),
                cell(line_of(event.account, 40), width=13),
                cell(line_of(local_times_in(event.detail, tz) or event.item, 200), width=120),
            )
        self._show_title()
        self._show_event()

    def _show_title(self) -> None:
        query = self.query_state
        parts: list[str | tuple[str, str]] = [
            (" AUDIT ", "bold $primary"),
            ("  last ", "$text-muted"),
            (WINDOWS[self.window][0], "bold"),
            ("  who ", "$text-muted"),
            (line_of(query.operator, 20) or "all", "bold"),
            ("  action ", "$text-muted"),
            (query.action or "all", "bold"),
        ]
        if query.words:
            parts += [("  words ", "$text-muted"), (line_of(" ".join(query.words), 30), "bold")]
        reading = self.reading
        if reading is not None:
            shown = len(reading.events)
            more = f"newest {shown} of {reading.matched}" if reading.matched > shown else f"{shown} events"
            parts.append((f"  ({more})", "$text-muted"))
        self.query_one("#audit-title", Static).update(Content.assemble(*parts))

    # -- the event under the cursor -----------------------------------------------------------------

    @property
    def selected(self) -> AuditEvent | None:
        table = self.query_one(AuditTable)
        reading = self.reading
        if reading is None or not reading.events or not table.is_valid_row_index(table.cursor_row):
            return None
        return reading.events[table.cursor_row]

    @on(DataTable.RowHighlighted, "#audit-table")
    def _highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_event()

    def _show_event(self) -> None:
        event = self.selected
        text = self.query_one("#audit-event-text", Static)
        if event is None:
            text.update(Content.styled("Nothing recorded with these filters.", "$text-muted"))
            return
        tz = self.app.config.team.tz
        who = line_of(event.operator, 30)
        if event.login and event.login != event.operator:
            who += f" (login {line_of(event.login, 30)})"
        head: list[str | tuple[str, str]] = [
            (local_time(event.at, tz, "%a %d %b %H:%M:%S"), "$text-muted"),
            "  ",
            (who, "bold"),
            "  ",
            (event.action, "bold $accent"),
        ]
        if event.account:
            head += [("  account ", "$text-muted"), line_of(event.account, 40)]
        if event.item:
            head += [("  item ", "$text-muted"), line_of(event.item, 40)]
        lines = [Content.assemble(*head)]
        if event.detail:
            lines.append(Content(inert(local_times_in(event.detail, tz))))
        text.update(Content("\n").join(lines))

    # -- filters ------------------------------------------------------------------------------------

    def _requery(self, **changes: object) -> None:
        self.query_state = replace(self.query_state, **changes)  # type: ignore[arg-type]  # the filter's changes are the query's own field names
        self._show_title()
        self._load()

    def action_cycle_window(self) -> None:
        self.window = (self.window + 1) % len(WINDOWS)
        self._show_title()
        self._load()

    def _cycle(self, choices: tuple[str, ...], current: str) -> str:
        options = ["", *choices]
        return options[(options.index(current) + 1) % len(options)] if current in options else ""

    def action_cycle_operator(self) -> None:
        choices = self.reading.operators if self.reading else ()
        self._requery(operator=self._cycle(choices, self.query_state.operator))

    def action_cycle_action(self) -> None:
        choices = self.reading.actions if self.reading else ()
        self._requery(action=self._cycle(choices, self.query_state.action))

    def action_filter(self) -> None:
        self.query_one("#audit-filter", FilterInput).open()

    @on(Input.Changed, "#audit-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._requery(words=tuple(event.value.lower().split()))

    def action_back(self) -> None:
        if not self.query_one("#audit-filter", FilterInput).escape():
            self.dismiss()

    def palette_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Audit: next window", "24h / 7d / 30d / all", self.action_cycle_window)
        yield SystemCommand(
            "Audit: next operator", "One operator's actions, or everyone's", self.action_cycle_operator
        )
        yield SystemCommand("Audit: next action", "One kind of action, or all", self.action_cycle_action)
        yield SystemCommand("Filter the audit trail", "Words that must appear", self.action_filter)
        yield SystemCommand("Back to the queue", "Close the audit trail", self.action_back)


__all__ = ["AuditScreen", "AuditTable", "WINDOWS"]
