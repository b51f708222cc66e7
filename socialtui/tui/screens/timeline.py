"""The timelines: every account's posts and the items addressed to them ("ours"), and what the people
our accounts follow say ("listening"), merged by time, newest first. Filter by kind, account and
network; reply, favourite or boost from the account the post came through (a second `f` / `b` takes
it back).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, Static

from socialtui.model import AuditEvent, Item, Post
from socialtui.store import StoreError
from socialtui.timespec import local_time, zone_label
from socialtui.tui.data import (
    TIMELINE_KINDS,
    Dashboard,
    TimelinePost,
    TimelineQuery,
    TimelineReading,
    item_for_post,
    read_timeline,
)
from socialtui.tui.render import (
    CellStyles,
    account_cell_style,
    account_label,
    author_label,
    cell,
    line_of,
    preview,
    when_header,
)
from socialtui.tui.screens.dialogs import ConfirmDialog
from socialtui.tui.widgets.detail import post_content
from socialtui.tui.widgets.filter import FilterInput

if TYPE_CHECKING:
    from socialtui.tui.app import SocialApp

SHOWN = 500
READ_EVERY_S = 2.0
"""While the query stays the same, the rows are read again at most this often: when the dashboard's
reading saw the items or our posts change, and now and then for the followed timelines (the
dashboard does not follow them: they are most of the store). Each reading reads the newest posts of
every account from the store (0.2 s of CPU at 20 accounts x 3 tables, 280,000 posts, files engine)."""
SEARCH_EVERY_S = 30.0
"""With words, the rows are read again this often while the query stays the same: a search reads
every post of the accounts it covers (3 s at 280,000 posts on the files engine)."""
WORDS_SETTLE_S = 0.3
"""A filter's words are looked for once typing paused this long."""
WHEN_WIDTH = 12
"""`18 Nov 14:00`, under a header that names the zone: `when (CET)`."""
KIND_LABEL = {"item": "to us", "ours": "ours", "home": "followed"}
"""What a row is, in plain words: addressed to us, written by us, from someone we follow."""
QUERY_LABEL = {"ours": "our posts and to us", "listening": "people we follow", "all": "everything"}
"""The kinds `k` cycles through, in plain words."""


REACTED = {
    "favourite": "Favourited",
    "boost": "Boosted",
    "unfavourite": "Favourite taken back",
    "unboost": "Boost taken back",
}
"""What the operator is told after each reaction, and after taking one back."""


class TimelineTable(DataTable[Text]):
    """The merged timeline's rows."""


class TimelineScreen(Screen[None]):
    """All accounts merged by time."""

    BINDINGS = [
        Binding("r", "reply", "Reply", id="reply"),
        Binding("f", "favourite", "Favourite", id="favourite"),
        Binding("b", "boost", "Boost", id="boost"),
        Binding("k", "cycle_kind", "Kind", id="filter-kind"),
        Binding("a", "cycle_account", "Account", id="filter-account"),
        Binding("m", "cycle_network", "Network", id="filter-network"),
        Binding("o", "open_in_browser", "Open", id="open-in-browser"),
        Binding("y", "copy_link", "Copy link", id="copy-link"),
        Binding("slash", "filter", "Filter", id="filter", priority=True),
        Binding("t", "back", "Queue", id="timeline"),
        Binding("escape", "back", "Back", show=False, id="back"),
    ]

    app: SocialApp

    def __init__(self) -> None:
        super().__init__(classes="timeline")
        self.query_state = TimelineQuery()
        self._rows: list[TimelinePost] = []
        self._more = False
        """Older posts match too: the rows are the newest `SHOWN`."""
        self._loaded_for: tuple[object, ...] | None = None
        self._items: Mapping[str, Item] = {}
        """The items among the rows (an answered item is replied to as itself)."""
        self._words_timer: Timer | None = None
        self._read_at = 0.0
        """When the rows were last read (`time.monotonic`)."""
        self._zone = ""
        """The team zone's label in the `when` column's header (`zone_label` of the rows shown)."""
        self._reactions: dict[tuple[str, str], dict[str, AuditEvent]] = {}
        """Favourites and boosts given from our accounts (`Store.reactions`), read with the rows."""

    def compose(self) -> ComposeResult:
        yield Static(id="timeline-title")
        yield TimelineTable(id="timeline-table", cursor_type="row", cursor_foreground_priority="renderable")
        yield FilterInput("filter: words", list_selector="TimelineTable", id="timeline-filter")
        with VerticalScroll(id="timeline-preview"):
            yield Static(id="timeline-preview-text")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(TimelineTable)
        self._add_columns(table, zone_label(self.app.config.team.tz, self.app.now()))
        table.focus()
        self._show_title()
        self.watch(self.app, "dashboard", lambda _data: self._load())

    def _add_columns(self, table: TimelineTable, zone: str) -> None:
        """The columns, the times' zone named once in the first one's header."""
        self._zone = zone
        table.add_column(when_header(zone, WHEN_WIDTH), width=WHEN_WIDTH, key="when")
        table.add_column(Text("account", style="bold"), width=13, key="account")
        table.add_column(Text("kind", style="bold"), width=9, key="kind")
        table.add_column(Text("from", style="bold"), width=18, key="author")
        table.add_column(Text("text", style="bold"), width=160, key="text")

    # -- loading ----------------------------------------------------------------------------------

    def _load(self, force: bool = False) -> None:
        data = self.app.dashboard
        if data is None:
            return
        self._build(data, self.query_state, force)

    # A description of its own: Textual describes a worker by the repr of its arguments, and a
    # dashboard's repr (every queue entry) took a second of the UI's time at 20,000 open items, at
    # every reading while the timelines were shown.
    @work(group="timeline", exclusive=True, exit_on_error=False, description="the timelines' rows")
    async def _build(self, data: Dashboard, query: TimelineQuery, force: bool) -> None:
        # Read again when the query changed; else when the items or our posts changed or, for the
        # followed timelines and searches, now and then; never more often than `READ_EVERY_S`.
        now = time.monotonic()
        if query.words:
            stamp: tuple[object, ...] = (int(now // SEARCH_EVERY_S), query)
        else:
            followed = int(now // READ_EVERY_S) if query.kind != "ours" else 0
            stamp = (data.items_version, data.own_version, followed, query)
        last = self._loaded_for
        if not force and (
            stamp == last or (last is not None and last[-1] == query and now - self._read_at < READ_EVERY_S)
        ):
            return
        self._read_at = now
        store, config = self.app.store, self.app.config

        def read() -> tuple[TimelineReading, dict[tuple[str, str], dict[str, AuditEvent]]]:
            return read_timeline(store, query, config, SHOWN), store.reactions()

        try:
            reading, self._reactions = await self.app.in_thread(read)
        except StoreError as exc:
            self.app.tell(f"Could not read the timelines: {exc}", "warning")
            return
        self._loaded_for, self._items, self._more = stamp, reading.items, reading.more
        self._show_rows(reading.rows)

    def _show_rows(self, rows: list[TimelinePost]) -> None:
        table = self.query_one(TimelineTable)
        selected = self.selected.key if self.selected else None
        styles = CellStyles.from_theme(self.app.current_theme)
        accounts = {account.id: account for account in self.app.config.accounts}
        tz = self.app.config.team.tz
        zone = zone_label(tz, *(row.post.created_at for row in rows)) if rows else self._zone
        table.clear(columns=zone != self._zone)
        if not table.columns:
            self._add_columns(table, zone)
        for row in rows:
            post = row.post
            table.add_row(
                cell(
                    local_time(post.created_at, tz, "%d %b %H:%M", labelled=False), styles.muted, WHEN_WIDTH
                ),
                cell(post.account, account_cell_style(accounts.get(post.account), styles), 13),
                cell(
                    KIND_LABEL.get(row.kind, row.kind), styles.due if row.kind == "item" else styles.muted, 9
                ),
                cell(author_label(post.author, 40), width=18),
                self._text_cell(post),
                key=row.key,
            )
        self._rows = rows
        if selected is not None:
            for index, row in enumerate(rows):
                if row.key == selected:
                    table.move_cursor(row=index)
                    break
        self._show_title()
        self._show_preview()

    def _show_title(self) -> None:
        """What is shown, the count first: at 80 columns the line is cut at its end."""
        query = self.query_state
        parts: list[str | tuple[str, str]] = [
            (" TIMELINES ", "bold $primary"),
            "  ",
            (QUERY_LABEL.get(query.kind, query.kind), "bold"),
        ]
        if self._loaded_for is not None:
            count = len(self._rows)
            shown = (
                f"newest {count}, more before" if self._more else f"{count} post{'' if count == 1 else 's'}"
            )
            parts.append((f" ({shown})", "$text-muted"))
        if query.words:
            parts += [("  filter ", "$text-muted"), (" ".join(query.words), "bold")]
        parts += [
            ("  account ", "$text-muted"),
            (query.account or "all", "bold"),
            ("  network ", "$text-muted"),
            (query.network or "all", "bold"),
        ]
        self.query_one("#timeline-title", Static).update(Content.assemble(*parts))

    # -- the selected post ------------------------------------------------------------------------

    @property
    def selected(self) -> TimelinePost | None:
        table = self.query_one(TimelineTable)
        if not self._rows or not table.is_valid_row_index(table.cursor_row):
            return None
        return self._rows[table.cursor_row]

    @on(DataTable.RowHighlighted)
    def _highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_preview()

    def _show_preview(self) -> None:
        row = self.selected
        preview = self.query_one("#timeline-preview-text", Static)
        if row is None:
            preview.update(Content.styled("Nothing here with these filters.", "$text-muted"))
            return
        accounts = {account.id: account for account in self.app.config.accounts}
        via = accounts.get(row.post.account)
        head = Content.assemble(
            ("via ", "$text-muted"), account_label(via) if via else Content(row.post.account)
        )
        tz = self.app.config.team.tz
        lines = [head]
        given = self._reactions.get((row.post.account, row.post.remote_id), {})
        if given:
            marks = [
                f"{'★ favourited' if how == 'favourite' else '⟲ boosted'} by {line_of(event.operator, 20)} "
                f"at {local_time(event.at, tz, '%d %b %H:%M')}"
                for how, event in sorted(given.items())
            ]
            lines.append(Content.styled(" · ".join(marks), "$success"))
        lines.append(post_content(row.post, accounts, tz))
        preview.update(Content("\n").join(lines))

    def _need_post(self) -> Post | None:
        row = self.selected
        if row is None:
            self.app.tell("Nothing selected.", "warning")
            return None
        return row.post

    # -- filters ----------------------------------------------------------------------------------

    def _requery(self, **changes: object) -> None:
        from dataclasses import replace

        self.query_state = replace(self.query_state, **changes)  # type: ignore[arg-type]  # the filter's changes are the query's own field names
        self._show_title()
        self._load()

    def action_cycle_kind(self) -> None:
        kinds = TIMELINE_KINDS
        self._requery(kind=kinds[(kinds.index(self.query_state.kind) + 1) % len(kinds)])

    def action_cycle_account(self) -> None:
        ids = ["", *(account.id for account in self.app.config.accounts)]
        current = self.query_state.account
        self._requery(account=ids[(ids.index(current) + 1) % len(ids)] if current in ids else "")

    def action_cycle_network(self) -> None:
        networks = ["", *sorted({account.network for account in self.app.config.accounts})]
        current = self.query_state.network
        self._requery(
            network=networks[(networks.index(current) + 1) % len(networks)] if current in networks else ""
        )

    def action_filter(self) -> None:
        self.query_one("#timeline-filter", FilterInput).open()

    @on(Input.Changed, "#timeline-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        words = tuple(event.value.lower().split())
        if self._words_timer is not None:
            self._words_timer.stop()
        self._words_timer = self.set_timer(WORDS_SETTLE_S, lambda: self._requery(words=words))

    def action_back(self) -> None:
        if not self.query_one("#timeline-filter", FilterInput).escape():
            self.dismiss()

    # -- acting on a post -------------------------------------------------------------------------

    def action_reply(self) -> None:
        post = self._need_post()
        if post is not None:
            self.app.open_composer(item_for_post(post, self._items))

    def action_favourite(self) -> None:
        post = self._need_post()
        if post is not None:
            self._react(post, "favourite")

    def action_boost(self) -> None:
        post = self._need_post()
        if post is not None:
            self._react(post, "boost")

    @work(group="react", exit_on_error=False)
    async def _react(self, post: Post, how: str) -> None:
        """Favourite or boost the post from the account it came through; if that account already
        did (by the audit), a second `f` / `b` takes it back on the network. Audited either way."""
        app = self.app
        account = app.config.account(post.account)
        try:
            given = (await app.in_thread(app.store.reactions)).get((post.account, post.remote_id), {})
        except StoreError as exc:
            app.tell(f"Could not {how}: {exc}", "error")
            return
        undo = how in given
        action = f"un{how}" if undo else how
        done = REACTED[action]
        if how == "boost":
            title, yes = ("Undo the boost?", "Unboost") if undo else ("Boost?", "Boost")
            body = Content.assemble(
                "Take the boost back from everyone who follows\n"
                if undo
                else "Share this post with everyone who follows\n",
                account_label(account),
                "\n\n",
                (author_label(post.author, 60), "bold"),
                ": ",
                line_of(post.text, 200),
            )
            if not await app.push_screen_wait(ConfirmDialog(title, body, yes=yes, no="Cancel")):
                return
        network = app.network

        async def act() -> None:
            adapter = network.adapter(post.account)
            calls = {
                "favourite": adapter.favourite,
                "boost": adapter.boost,
                "unfavourite": adapter.unfavourite,
                "unboost": adapter.unboost,
            }
            await calls[action](post)

        try:
            await network.call(act)
        except Exception as exc:  # noqa: BLE001 - a failing server or a missing secret: say it, go on
            app.tell(f"Could not {action} from {account.handle}: {exc}", "error")
            return
        key = (post.account, post.remote_id)
        try:
            await app.in_thread(
                app.store.audit, app.actor, app.now(), action, post.account, "", post.remote_id
            )
        except StoreError as exc:
            app.tell(f"{done}, but not recorded in the audit: {exc}", "warning")
        else:
            mine = self._reactions.setdefault(key, {})
            if undo:
                mine.pop(how, None)
            else:
                mine[how] = AuditEvent(
                    app.now(), app.actor.login, app.actor.operator, how, post.account, "", post.remote_id
                )
        app.tell(f"{done} from {account.handle}: {line_of(post.author.label, 40)}")
        self._mark_row(post)
        self._show_preview()

    def _marks(self, post: Post) -> str:
        """★ favourited, ⟲ boosted from our account: glyphs, so that 16 colours show them too."""
        given = self._reactions.get((post.account, post.remote_id), {})
        return "".join(glyph for how, glyph in (("favourite", "★"), ("boost", "⟲")) if how in given)

    def _text_cell(self, post: Post) -> Text:
        marks = self._marks(post)
        text = preview(post.text, 160)
        return cell(f"{marks} {text}" if marks else text, width=160)

    def _mark_row(self, post: Post) -> None:
        table = self.query_one(TimelineTable)
        for row in self._rows:
            if row.post.account == post.account and row.post.remote_id == post.remote_id:
                table.update_cell(row.key, "text", self._text_cell(row.post))

    def action_open_in_browser(self) -> None:
        post = self._need_post()
        if post is not None:
            self.app.open_post(post)

    def action_copy_link(self) -> None:
        post = self._need_post()
        if post is not None:
            self.app.copy_post_link(post)

    def palette_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Reply", "Reply to the selected post from its account", self.action_reply)
        yield SystemCommand(
            "Favourite",
            "Favourite the selected post from its account (again: take it back)",
            self.action_favourite,
        )
        yield SystemCommand(
            "Boost",
            "Boost the selected post from its account (asks first; again: take it back)",
            self.action_boost,
        )
        yield SystemCommand(
            "Timeline: next kind",
            "our posts and to us / people we follow / everything",
            self.action_cycle_kind,
        )
        yield SystemCommand("Timeline: next account", "Show one account, or all", self.action_cycle_account)
        yield SystemCommand("Timeline: next network", "Show one network, or all", self.action_cycle_network)
        yield SystemCommand("Filter the timeline", "Words that must appear", self.action_filter)
        yield SystemCommand("Open in browser", "Open the selected post", self.action_open_in_browser)
        yield SystemCommand(
            "Copy link", "Copy the selected post's link (works over SSH)", self.action_copy_link
        )
        yield SystemCommand("Back to the queue", "Close the timelines", self.action_back)
