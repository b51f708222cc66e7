"""The unanswered queue: oldest first, how long each has waited (coloured by its state against the
reply target), account, author, who claimed it, the first line of the text.

Rows are keyed by item id and follow the store by difference: a reading that changed nothing
changes nothing on screen; an age that ticked updates one cell; a new item is appended; an answered
one is removed. The selection stays on its item (or, if that item left, on the one that took its
place), and the selected row keeps its place on screen.

At team scale (20,000 open items) the table holds a window of rows around the selection, not every
matching item: the whole ordered list of ids that match is kept beside it, and the window slides
as the cursor nears its edges (Home, End and `select` move it at once). A filter keystroke then
costs one pass over the items' precomputed words plus a window's rows, whatever the queue's length.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from socialtui.care import QueueEntry, queue_order
from socialtui.config import AccountConfig
from socialtui.model import Item
from socialtui.tui.render import (
    CellStyles,
    account_cell_style,
    age,
    author_label,
    cell,
    claim_text,
    preview,
)

COLUMNS = (
    ("age", "waiting", 7),
    ("account", "account", 13),
    ("author", "from", 18),
    ("claim", "claimed", 9),
    ("text", "text", 160),
)
TEXT_PREVIEW = 160
MIN_TEXT = 12
"""The text column's narrowest: on a very small terminal it is what scrolls, not the columns before it."""
NEGATIVE_MARK = "▼"
"""Before the text of a negative item, in the error colour: a shape as well as a colour, so it
reads in 16 colours and without colour at all."""
TALK_MARK = "~"
"""Before the text of talk (someone talking about us without addressing us)."""
REBUILD_OVER = 40
"""More removals or moves than this in one reading: rebuild the rows rather than edit them."""
WINDOW = 60
"""Rows the table holds at most (around the selection; three screens on a tall terminal); the rest
of the queue is ids only."""
MARGIN = 20
"""The window slides when the cursor comes this near its edge (and more rows lie beyond; a screen
and a bit on a tall terminal, so that Page Down never reaches the edge)."""


@dataclass(frozen=True)
class QueueQuery:
    """What `/` typed: words that must all appear (in the text, the author, the account, the item
    id...), and `account:`, `network:`, `state:`, `tag:` (the author's contact tags), `tone:`
    (`tone:negative`) and `kind:` (`kind:talk`) filters."""

    words: tuple[str, ...] = ()
    account: str = ""
    network: str = ""
    state: str = ""
    tag: str = ""
    tone: str = ""
    kind: str = ""

    @classmethod
    def parse(cls, text: str) -> QueueQuery:
        words: list[str] = []
        fields = {"account": "", "network": "", "state": "", "tag": "", "tone": "", "kind": ""}
        for token in text.lower().split():
            name, sep, value = token.partition(":")
            if sep and name in fields and value:
                fields[name] = value
            else:
                words.append(token)
        return cls(tuple(words), **fields)

    def narrows(self, other: QueueQuery) -> bool:
        """Whatever this query matches, `other` matches too (every word and field of `other` is
        part of one of this query's): a filter typed one letter further."""
        if not other:
            return True
        for name in ("account", "network", "state", "tag", "tone", "kind"):
            before, now = getattr(other, name), getattr(self, name)
            # As `matches` compares them: `state` whole, `account` as a part, the others as prefixes.
            if before and not (
                now == before
                if name == "state"
                else before in now
                if name == "account"
                else now.startswith(before)
            ):
                return False
        return all(any(word in mine for mine in self.words) for word in other.words)

    def __bool__(self) -> bool:
        return bool(
            self.words or self.account or self.network or self.state or self.tag or self.tone or self.kind
        )

    def matches(
        self,
        entry: QueueEntry,
        account: AccountConfig | None,
        claim: str,
        tags: Mapping[str, tuple[str, ...]] | None = None,
        haystack: str | None = None,
    ) -> bool:
        """`haystack`: the item's words (`item_words`), when the caller keeps them from one call to
        the next (the queue does: 20,000 items, each keystroke)."""
        item = entry.item
        if self.tag and not any(
            t.startswith(self.tag) for t in (tags or {}).get(item.post.author.contact_key, ())
        ):
            return False
        if (
            self.account
            and self.account not in item.account.lower()
            and not (account and self.account in account.handle.lower())
        ):
            return False
        if self.network and not (account and account.network.startswith(self.network)):
            return False
        if self.state and entry.state != self.state:
            return False
        if self.tone and not entry.tone.label.startswith(self.tone):
            return False
        if self.kind and not item.kind.startswith(self.kind):
            return False
        if not self.words:
            return True
        words = haystack if haystack is not None else item_words(entry, account)
        if claim:
            words = f"{words} {claim.lower()}"
        return all(word in words for word in self.words)


def item_words(entry: QueueEntry, account: AccountConfig | None) -> str:
    """What the filter's words are looked for in, lower case (apart from the claim, which changes)."""
    item = entry.item
    author = item.post.author
    return " ".join(
        (item.id, item.account, account.handle if account else "", author.handle, author.display_name,
         item.post.text, item.kind)
    ).lower()  # fmt: skip


FAILED_MARK = "✖"


def item_flags(item: Item, drafted: bool, failed: bool = False) -> str:
    """Glyphs before an item's text, so that 16 colours show them too: ✖ a reply to it failed for
    good (retry with r, discard with X), ✉ a direct message, ⚠ a content warning, ✎ a reply draft
    waiting."""
    return "".join(
        glyph
        for glyph, on in (
            (FAILED_MARK, failed),
            ("✉", item.post.visibility == "direct"),
            ("⚠", bool(item.post.spoiler_text)),
            ("✎", drafted),
        )
        if on
    )


Row = tuple[str, str, str, str, str, str, str]
"""(age, state, account id, author, claim, text, marks): what a row shows, compared to find changes.
`marks`: NEGATIVE_MARK and/or TALK_MARK, shown before the text."""


class QueueTable(DataTable[Text]):
    """The unanswered queue. Set `entries` (and `query`) to show them; posts `ItemHighlighted` and
    `ItemChosen` as the operator moves and presses Enter."""

    class ItemHighlighted(Message):
        """The cursor moved onto an item (or onto nothing: the queue is empty)."""

        def __init__(self, item_id: str | None) -> None:
            super().__init__()
            self.item_id = item_id

    class ItemChosen(Message):
        """Enter (or a click) on an item: show it in full."""

        def __init__(self, item_id: str) -> None:
            super().__init__()
            self.item_id = item_id

    BINDINGS = [
        # DataTable's own Home/End scroll sideways (into the blank end of the text column): in the
        # queue they go to the first (oldest) and the last (newest) item.
        Binding("home", "first_item", "Oldest item", show=False, id="queue-first"),
        Binding("end", "last_item", "Newest item", show=False, id="queue-last"),
        Binding("space", "toggle_mark", "Select several", show=False, id="queue-mark"),
    ]

    entries: reactive[tuple[QueueEntry, ...]] = reactive((), always_update=True)
    """The unanswered queue, oldest first (set by the screen)."""
    query_text: reactive[str] = reactive("")
    """What the operator typed after `/`."""
    negative_first: reactive[bool] = reactive(False)
    """Negative items first within the same state (`care.queue_order`), else oldest first."""

    def __init__(
        self, accounts: Mapping[str, AccountConfig], operator: str, *, id: str | None = None
    ) -> None:
        super().__init__(
            id=id, cursor_type="row", zebra_stripes=False, cursor_foreground_priority="renderable"
        )
        self.accounts = dict(accounts)
        self.operator = operator
        self.now: datetime | None = None
        self._rows: dict[str, Row] = {}
        """The rows in the table (the window), by item id."""
        self._order: list[str] = []
        """Every matching item, in the order shown: the window is `_order[_base:_base + len(_window)]`."""
        self._matched: dict[str, QueueEntry] = {}
        """Every item of the queue by id (those the filter hides too)."""
        self._prepared: list[tuple[str, QueueEntry, str]] = []
        self._prepared_for: tuple[tuple[QueueEntry, ...], bool] | None = None
        self._narrowed: tuple[tuple[object, object], QueueQuery, list[tuple[str, QueueEntry, str]]] | None = (
            None
        )
        """The last filter's matches, with the clock and tags they were made with: a filter that
        narrows it (a letter typed at its end) looks only among them."""
        self._window: list[str] = []
        self._base = 0
        self._sliding = False
        self._styles: CellStyles | None = None
        self._last_highlighted: str | None = ""
        self._words: dict[str, str] = {}
        """Per open item, the filter's words (`item_words`): what every keystroke looks in."""
        self._shown: dict[str, tuple[str, str, str]] = {}
        """Per item of the window, what never changes: (author label, preview, flags but ✎). Made
        for the rows the table holds only: at 50,000 open items these made for all held 12 MB."""
        self.tags: Mapping[str, tuple[str, ...]] = {}
        """Contact tags by contact key (set by the screen): what `tag:vip` filters on."""
        self.drafted: frozenset[str] = frozenset()
        """Items with a reply draft (set by the screen before `entries`): marked ✎ in the queue."""
        self.failed: frozenset[str] = frozenset()
        """Items with a reply that failed for good (set by the screen before `entries`): marked ✖."""
        self.marked: set[str] = set()
        """Items selected with Space, for one action on them all (done with one reason)."""

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(Text(label, style="bold"), width=width, key=key)
        self._fit_columns()
        self._styles = CellStyles.from_theme(self.app.current_theme)
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def on_resize(self) -> None:
        self._fit_columns()
        # The table can shrink after the cursor was scrolled into view (at 80x24 the accounts strip
        # above grows as the first readings fill it): without this, End left the newest row one line
        # below the visible area. Keep the selected row on screen whatever the new height.
        if self._order and self.is_valid_row_index(self.cursor_row):
            self.move_cursor(row=self.cursor_row, scroll=True)

    def _fit_columns(self) -> None:
        """The text column takes the room the others leave, so the table never scrolls sideways."""
        column = self.columns.get(ColumnKey("text"))
        if column is None:
            return
        fixed = sum(width for key, _, width in COLUMNS if key != "text")
        padding = 2 * self.cell_padding * len(COLUMNS)
        room = self.size.width - self.styles.scrollbar_size_vertical - fixed - padding
        width = max(room, MIN_TEXT)
        if column.width != width:
            column.width = width
            self._require_update_dimensions = True
            if self._rows:  # the texts are cut to the column's width (`cell`): cut them again
                self._rebuild(self._rows_for(self._base))
            self.refresh()

    def _theme_changed(self, _theme: object) -> None:
        self._styles = CellStyles.from_theme(self.app.current_theme)
        self._rebuild(self._rows_for(self._base))

    # -- what is shown ------------------------------------------------------------------------------

    @property
    def selected_id(self) -> str | None:
        """The item under the cursor."""
        if not self._window or not self.is_valid_row_index(self.cursor_row):
            return None
        return self._window[min(self.cursor_row, len(self._window) - 1)]

    @property
    def shown_ids(self) -> list[str]:
        """Every item the queue shows (with the filter), in order: not only the table's window."""
        return list(self._order)

    def select(self, item_id: str) -> bool:
        """Move the cursor onto an item, if it is shown."""
        index = self._position(item_id)
        if index is None:
            return False
        self._move_window(index)
        self.move_cursor(row=index - self._base)
        return True

    def _move_window(self, index: int) -> None:
        """Make the window hold item number `index` of the queue (centred on it, if it must move)."""
        if not self._near_edge(index - self._base):
            return
        window, _ = self._sizes()
        base = min(max(index - window // 2, 0), max(len(self._order) - window, 0))
        if base != self._base or self._window != self._order[base : base + window]:
            self._sliding = True
            try:
                self._rebuild(self._rows_for(base), restore=False)
            finally:
                self._sliding = False

    def _position(self, item_id: str | None) -> int | None:
        """The item's place among those shown (None: not shown)."""
        if item_id is None:
            return None
        try:
            return self._order.index(item_id)
        except ValueError:
            return None

    def _sizes(self) -> tuple[int, int]:
        """(window, margin): the rows the table holds, and how near its edge the cursor may come."""
        page = self.scrollable_content_region.height
        margin = max(MARGIN, page + 2)
        return max(WINDOW, 3 * margin), margin

    def _near_edge(self, row: int, base: int | None = None) -> bool:
        """Row `row` of the window lies outside it, or near an edge beyond which more rows lie."""
        base = self._base if base is None else base
        window, margin = self._sizes()
        size = min(window, len(self._order) - base)
        return not 0 <= row < size or (
            (row < margin and base > 0) or (row >= size - margin and base + size < len(self._order))
        )

    def _slide(self) -> None:
        """The cursor came near the window's edge: slide the window, the selected row where it was on
        screen."""
        if (
            self._sliding
            or len(self._order) <= self._sizes()[0]
            or not self.is_valid_row_index(self.cursor_row)
        ):
            return
        row = self.cursor_row
        index = self._base + row
        if not self._near_edge(row):
            return
        on_screen = row - round(self.scroll_y)
        if not 0 <= on_screen < self.scrollable_content_region.height:
            return  # the wheel left the selection off screen: the window follows the view instead
        self._move_window(index)
        self._sliding = True
        try:
            self.move_cursor(row=index - self._base, scroll=False)
            self._settle()
            self.scroll_to(y=max(index - self._base - max(on_screen, 0), 0), animate=False, immediate=True)
        finally:
            self._sliding = False

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._follow_view()

    def _follow_view(self) -> None:
        """The view moved (the mouse wheel, the scrollbar). The selection stays on screen, as in a
        pager: left above or below, it comes to the nearest row shown (a reading, which keeps the
        selected row in view, never snaps the view back). Near the window's edge with more rows
        beyond, the window slides under the view, the rows on screen where they were: the wheel
        reaches every item, as the keys do."""
        if self._sliding or not self._window or not self.is_valid_row_index(self.cursor_row):
            return
        window, margin = self._sizes()
        top = round(self.scroll_y)
        page = max(self.scrollable_content_region.height - 1, 1)  # the header row takes one line
        size = len(self._window)
        first = self._base + top  # the item at the top of the screen
        index = self._base + self.cursor_row  # the selected item
        base = min(max(first + page // 2 - window // 2, 0), max(len(self._order) - window, 0))
        if base != self._base and (
            (top < margin and self._base > 0)
            or (top + page > size - margin and self._base + size < len(self._order))
        ):
            self._sliding = True
            try:
                self._rebuild(self._rows_for(base), restore=False)
                # Measured before the cursor moves: DataTable scrolls a moved cursor into view,
                # after the next refresh (over the wheel's next turns) if the rows are not measured.
                self._settle()
                top = first - base
                self.scroll_to(y=top, animate=False, immediate=True)
            finally:
                self._sliding = False
        row = index - self._base
        bottom = min(top + page, len(self._window)) - 1
        wanted = min(max(row, top), bottom)
        if wanted != self.cursor_row or row != wanted:
            self._sliding = True
            try:
                self.move_cursor(row=wanted, scroll=False)
            finally:
                self._sliding = False
        self._announce()

    def _settle(self) -> None:
        """Measure the new rows now (DataTable does it when idle), so that a scroll made right away
        is not clamped to the old height: a slide of the window shows no intermediate frame."""
        if self._require_update_dimensions:
            self._require_update_dimensions = False
            new_rows = self._new_rows.copy()
            self._new_rows.clear()
            self._update_dimensions(new_rows)

    class MarksChanged(Message):
        """The items selected with Space changed."""

        def __init__(self, count: int) -> None:
            super().__init__()
            self.count = count

    def action_toggle_mark(self) -> None:
        item_id = self.selected_id
        if item_id is None:
            return
        self.set_marks(self.marked ^ {item_id})
        if self.cursor_row < len(self._window) - 1:
            self.move_cursor(row=self.cursor_row + 1)

    def set_marks(self, item_ids: set[str]) -> None:
        """Select these items (those shown) for one action on them all."""
        shown = set(self._order) if item_ids else set()
        wanted = {item_id for item_id in item_ids if item_id in shown}
        for item_id in wanted ^ self.marked:
            self.marked = wanted
            row = self._rows.get(item_id)
            if row is not None:
                self.update_cell(item_id, "age", self._cells(row, item_id)[0])
        self.marked = wanted
        self.post_message(self.MarksChanged(len(wanted)))

    def action_first_item(self) -> None:
        if self._order:
            self._move_window(0)
            self.move_cursor(row=0)
            self.scroll_to(x=0, y=0, animate=False)

    def action_last_item(self) -> None:
        if self._order:
            # The cursor is scrolled into view after the next refresh, with the height the layout
            # has then; a `max_scroll_y` read now could be stale by the time the scroll happens.
            self._move_window(len(self._order) - 1)
            self.move_cursor(row=len(self._window) - 1)
            self.scroll_to(x=0, animate=False)

    def show_oldest(self) -> None:
        """Scroll to the top, so that the oldest item is on screen; the selection stays if it is on
        that first page, or goes to the oldest item."""
        if not self._order:
            return
        page = max(self.scrollable_content_region.height - 1, 1)  # the header row takes one line
        if self._base or not self.is_valid_row_index(self.cursor_row) or self.cursor_row >= page:
            self._move_window(0)
            self.move_cursor(row=0, scroll=False)
        self.scroll_to(x=0, y=0, animate=False, immediate=True)
        self.call_after_refresh(lambda: self.scroll_to(x=0, y=0, animate=False, immediate=True))
        self._announce()

    def watch_entries(self) -> None:
        self._sync()

    def watch_query_text(self) -> None:
        self._sync()
        # A filter changed (or was cleared): the rows above the selection may be new; keeping the
        # selected row's place on screen would push the oldest items above the top edge.
        self.show_oldest()

    def watch_negative_first(self) -> None:
        self._sync()

    def _prepare(self) -> list[tuple[str, QueueEntry, str]]:
        """The queue in its order, each item with its filter words: made once per reading (and per
        order), then every keystroke of the filter is one pass over it."""
        entries = self.entries
        if (
            self._prepared_for is not None
            and self._prepared_for[0] is entries
            and self._prepared_for[1] == self.negative_first
        ):
            return self._prepared
        known = self._words
        prepared: list[tuple[str, QueueEntry, str]] = []
        ordered = queue_order(entries, negative_first=True) if self.negative_first else entries
        for entry in ordered:
            item = entry.item
            words = known.get(item.id)
            if words is None:
                # Items never change: their words are made once, not at every reading or keystroke.
                words = known[item.id] = item_words(entry, self.accounts.get(item.account))
            prepared.append((item.id, entry, words))
        if len(known) > 2 * len(entries) + 1000:
            keep = {entry.item.id for entry in entries}
            self._words = {key: value for key, value in known.items() if key in keep}
        self._prepared_for = (entries, self.negative_first)
        self._prepared = prepared
        self._matched = {item_id: entry for item_id, entry, _ in prepared}
        self._narrowed = None
        return prepared

    def _match(self) -> None:
        """Every item that the filter lets through, in the queue's order, into `_order` (their rows
        are made for the window only: `_rows_for`)."""
        query = QueueQuery.parse(self.query_text)
        now = self.now
        prepared = self._prepare()
        if not query:
            order = [item_id for item_id, _, _ in prepared]
            self._narrowed = None
        else:
            candidates = prepared
            last = self._narrowed
            if last is not None and last[0] == (now, self.tags) and query.narrows(last[1]):
                # A letter typed at the end of the filter: only what matched before can match now.
                candidates = last[2]
            accounts, operator, tags = self.accounts, self.operator, self.tags

            def full(row: tuple[str, QueueEntry, str]) -> bool:
                _, entry, haystack = row
                claim = claim_text(entry.claim, now, operator) if now is not None and entry.claim else ""
                return query.matches(entry, accounts.get(entry.item.account), claim, tags, haystack)

            words = query.words
            if query != QueueQuery(words):
                matched = [row for row in candidates if full(row)]
            elif len(words) == 1:  # the common case, in one pass at C speed but for claimed items
                word = words[0]
                matched = [
                    row for row in candidates if (word in row[2] if row[1].claim is None else full(row))
                ]
            else:
                matched = [
                    row
                    for row in candidates
                    if (all(w in row[2] for w in words) if row[1].claim is None else full(row))
                ]
            self._narrowed = ((now, tags), query, matched)
            order = [item_id for item_id, _, _ in matched]
        self._order = order

    def _row(self, entry: QueueEntry) -> Row:
        item = entry.item
        now = self.now
        parts = self._shown.get(item.id)
        if parts is None:
            parts = self._shown[item.id] = (
                author_label(item.post.author, 40),
                preview(item.post.text, TEXT_PREVIEW),
                item_flags(item, False),
            )
        claim = claim_text(entry.claim, now, self.operator) if now is not None and entry.claim else ""
        # How long the person has been waiting, by the wall clock: the queue is sorted by it. The
        # colour says the state against the reply target, which counts active hours only.
        waited = (now - item.received_at).total_seconds() if now is not None else entry.age_s
        flags = (
            (FAILED_MARK if item.id in self.failed else "")
            + parts[2]
            + ("✎" if item.id in self.drafted else "")
        )
        text = f"{flags} {parts[1]}" if flags else parts[1]
        marks = (NEGATIVE_MARK if entry.tone.negative else "") + (TALK_MARK if item.kind == "talk" else "")
        return (age(waited), entry.state, item.account, parts[0], claim, text, marks)

    def _rows_for(self, base: int) -> list[tuple[str, Row]]:
        """The window starting at item number `base`: its ids and rows."""
        self._base = base
        keys = self._order[base : base + self._sizes()[0]]
        rows = [(key, self._row(self._matched[key])) for key in keys]
        if len(self._shown) > 4 * len(keys) + 100:  # the window moved on: let go of the rows left
            shown = self._shown
            self._shown = {key: shown[key] for key in keys}
        return rows

    def _cells(self, row: Row, key: str = "") -> list[Text]:
        styles = self._styles or CellStyles.from_theme(self.app.current_theme)
        age_text, state, account_id, author, claim, text, marks = row
        if key in self.marked:
            age_text = f"✓ {age_text}"  # a glyph, not a colour: 16 colours must show it too
        account = self.accounts.get(account_id)
        claim_style = styles.ok if claim.startswith("you ") else styles.due
        width = self._widths()
        text_cell = cell(text, width=width["text"] - (len(marks) + 1 if marks else 0))
        if marks:
            mark = Text.assemble(
                (NEGATIVE_MARK, styles.late) if NEGATIVE_MARK in marks else "",
                (TALK_MARK, styles.muted) if TALK_MARK in marks else "",
                " ",
            )
            text_cell = Text.assemble(mark, text_cell, no_wrap=True, overflow="ellipsis", end="")
        return [
            cell(age_text, styles.state(state), width["age"]),
            cell(account_id, account_cell_style(account, styles), width["account"]),
            cell(author, width=width["author"]),
            cell(claim, claim_style, width["claim"]),
            text_cell,
        ]

    def _widths(self) -> dict[str, int]:
        """Each column's width in cells now (the text column's follows the terminal)."""
        widths = {key: width for key, _, width in COLUMNS}
        column = self.columns.get(ColumnKey("text"))
        if column is not None:
            widths["text"] = column.width
        return widths

    def _sync(self) -> None:
        if not self.is_mounted:
            return
        selected = self.selected_id
        cursor_index = self.cursor_row
        on_screen = cursor_index - round(self.scroll_y)
        self._match()
        # The window stays where it was, unless the selected item would leave it or come near its
        # edge: then it is centred on the selected item.
        window, _ = self._sizes()
        base = min(self._base, max(len(self._order) - window, 0))
        index = self._position(selected)
        if index is not None and self._near_edge(index - base, base):
            base = min(max(index - window // 2, 0), max(len(self._order) - window, 0))
        shown = set(self._order) if self.marked else set()
        if self.marked - shown:  # answered, or filtered out: no longer selected
            self.marked &= shown
            self.post_message(self.MarksChanged(len(self.marked)))
        wanted = self._rows_for(base)
        new_order = [key for key, _ in wanted]
        if new_order == self._window:
            self._update_cells(wanted)
            self._announce()
            return
        wanted_ids = set(new_order)
        removed = [key for key in self._window if key not in wanted_ids]
        kept = [key for key in self._window if key in wanted_ids]
        known = set(self._window)
        added = [key for key in new_order if key not in known]
        in_order = kept == [key for key in new_order if key in known] and (
            not kept or not added or new_order.index(added[0]) > new_order.index(kept[-1])
        )
        if not in_order or len(removed) > REBUILD_OVER:
            self._rebuild(wanted, restore=False)
        else:
            for key in removed:
                self.remove_row(key)
                del self._rows[key]
            rows = dict(wanted)
            for key in added:
                self.add_row(*self._cells(rows[key], key), key=key)
                self._rows[key] = rows[key]
            self._window = new_order
            self._update_cells(wanted)
        self._restore(selected, cursor_index, on_screen)

    def _rebuild(self, wanted: list[tuple[str, Row]], restore: bool = True) -> None:
        selected = self.selected_id
        cursor_index = self.cursor_row
        on_screen = cursor_index - round(self.scroll_y)
        self.clear()
        self._rows = {}
        for key, row in wanted:
            self.add_row(*self._cells(row, key), key=key)
            self._rows[key] = row
        self._window = [key for key, _ in wanted]
        if restore:
            self._restore(selected, cursor_index, on_screen)

    def _update_cells(self, wanted: list[tuple[str, Row]]) -> None:
        for key, row in wanted:
            old = self._rows.get(key)
            if old == row:
                continue
            self._rows[key] = row
            cells = self._cells(row, key)
            for (column, _, _), value, before, after in zip(
                COLUMNS, cells, _columns(old), _columns(row), strict=False
            ):
                if before != after:
                    self.update_cell(key, column, value)

    def _restore(self, selected: str | None, cursor_index: int, on_screen: int) -> None:
        """Keep the selection on its item and that row where it was on screen."""
        if not self._window:
            self._announce()
            return
        if selected is not None and selected in self._rows:
            index = self._window.index(selected)
        else:
            index = min(max(cursor_index, 0), len(self._window) - 1)
        self.move_cursor(row=index, scroll=False)
        target = max(index - max(on_screen, 0), 0)

        def scroll() -> None:
            # Deferred to after the next refresh: if the operator moved meanwhile (Home, End), their
            # move wins over this restore.
            if self.cursor_row == index:
                self.scroll_to(y=target, animate=False, immediate=True)

        self.call_after_refresh(scroll)
        self._announce()

    def _announce(self) -> None:
        current = self.selected_id
        if current != self._last_highlighted:
            self._last_highlighted = current
            self.post_message(self.ItemHighlighted(current))

    # -- events -------------------------------------------------------------------------------------

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._slide()
        self._announce()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        key = event.row_key.value if isinstance(event.row_key, RowKey) else None
        if key:
            self.post_message(self.ItemChosen(key))


def _columns(row: Row | None) -> tuple[str | tuple[str, str], ...]:
    """A row as the five column values it shows (age and state make the age cell)."""
    if row is None:
        return (None, None, None, None, None)  # type: ignore[return-value]  # an empty row: DataTable cells take None
    age_text, state, account_id, author, claim, text, marks = row
    return ((age_text, state), account_id, author, claim, (marks, text))
