"""People: the team's contacts, searchable by words and tag, with the dossier of the one selected:
notes (who, when), tags, and their items to any of our accounts with our replies.

Search as you type: words match handle, name, tags and note text (`Store.search_contacts`);
`tag:vip` keeps the contacts with that tag. `n` adds a note, `g` edits the tags.
"""

from __future__ import annotations

from collections.abc import Iterable
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

from socialtui.model import Contact
from socialtui.store import StoreError
from socialtui.tui.data import ContactView
from socialtui.tui.render import CellStyles, cell, line_of
from socialtui.tui.screens.dialogs import NoteDialog, TagsDialog
from socialtui.tui.widgets.detail import contact_content
from socialtui.tui.widgets.filter import FilterInput

if TYPE_CHECKING:
    from socialtui.tui.app import SocialApp

SEARCH_AFTER = 0.15
"""Seconds of rest in typing before the store is searched."""
DOSSIER_AFTER = 0.15
"""Seconds the selection must rest on a contact before the dossier is read."""


def parse_search(text: str) -> tuple[str, str]:
    """(words, tag) from what the operator typed: `sam tag:vip` -> ("sam", "vip")."""
    words, tag = [], ""
    for token in text.split():
        name, sep, value = token.partition(":")
        if sep and name.lower() == "tag" and value:
            tag = value.lower()
        else:
            words.append(token)
    return " ".join(words), tag


def contact_label(contact: Contact, width: int = 60) -> str:
    name = line_of(contact.display_name)
    handle = line_of(contact.handle)
    return line_of(f"{name} ({handle})" if name and name != handle else handle, width)


class ContactsTable(DataTable[Text]):
    """The contacts found."""


class ContactsScreen(Screen[None]):
    """Search the team's contacts; read and annotate one dossier."""

    BINDINGS = [
        Binding("slash", "search", "Search", id="filter", priority=True),
        Binding("n", "note", "Note", id="note"),
        Binding("g", "tags", "Tags", id="tags"),
        Binding("escape", "back", "Back", id="back"),
    ]

    app: SocialApp

    def __init__(self, focus: Contact | None = None) -> None:
        super().__init__(classes="contacts")
        self.focus_contact = focus
        """Shown first (from the queue: the selected item's author), even without notes or tags yet."""
        self.rows: list[Contact] = []
        self._search_timer: Timer | None = None
        self._dossier_timer: Timer | None = None
        self._dossier_for: str | None = None
        self.dossier: ContactView | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="contacts-title")
        yield FilterInput(
            "search: name, handle, words of a note; tag:vip",
            list_selector="ContactsTable",
            id="contacts-search",
            always_shown=True,
        )
        yield ContactsTable(id="contacts-table", cursor_type="row", cursor_foreground_priority="renderable")
        with VerticalScroll(id="contacts-dossier"):
            yield Static(id="contacts-dossier-text")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(ContactsTable)
        table.add_column(Text("contact", style="bold"), width=32, key="contact")
        table.add_column(Text("tags", style="bold"), width=24, key="tags")
        table.add_column(Text("notes", style="bold"), width=5, key="notes")
        table.add_column(Text("latest note", style="bold"), width=80, key="latest")
        table.focus()
        self._show_title()
        self._search("")

    # -- searching ----------------------------------------------------------------------------------

    @property
    def search_text(self) -> str:
        return self.query_one("#contacts-search", Input).value

    @on(Input.Changed, "#contacts-search")
    def _typed(self, event: Input.Changed) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
        self._search_timer = self.set_timer(SEARCH_AFTER, lambda: self._search(event.value))

    @work(group="contacts-search", exclusive=True, exit_on_error=False)
    async def _search(self, text: str) -> None:
        words, tag = parse_search(text)
        try:
            found = await self.app.in_thread(self.app.store.search_contacts, words, tag)
        except StoreError as exc:
            self.app.tell(f"Could not search the contacts: {exc}", "warning")
            return
        focus = self.focus_contact
        if focus is not None and not text.strip() and all(c.key != focus.key for c in found):
            found.insert(0, focus)  # someone the team knows nothing about yet: their history still helps
        elif focus is not None:
            found.sort(key=lambda c: c.key != focus.key)
        self._show_rows(found)

    def _show_rows(self, rows: list[Contact]) -> None:
        table = self.query_one(ContactsTable)
        selected = self.selected.key if self.selected is not None else None
        styles = CellStyles.from_theme(self.app.current_theme)
        table.clear()
        for contact in rows:
            latest = contact.notes[-1] if contact.notes else None
            table.add_row(
                cell(contact_label(contact, 60), styles.accent if contact.notes or contact.tags else "", 32),
                cell(", ".join(line_of(tag, 30) for tag in contact.tags), styles.due, 24),
                cell(str(len(contact.notes)), styles.muted),
                cell(line_of(latest.text, 120) if latest else "", width=80),
                key=contact.key,
            )
        self.rows = rows
        for index, contact in enumerate(rows):
            if contact.key == selected:
                table.move_cursor(row=index)
                break
        self._show_title()
        self._selection_moved(now=True)

    def _show_title(self) -> None:
        words, tag = parse_search(self.search_text)
        parts: list[str | tuple[str, str]] = [(" PEOPLE ", "bold $primary")]
        parts.append((f" {len(self.rows)} contact{'s' if len(self.rows) != 1 else ''}", "bold"))
        if words:
            parts += [("  matching ", "$text-muted"), (line_of(words, 30), "bold")]
        if tag:
            parts += [("  tag ", "$text-muted"), (line_of(tag, 20), "bold $accent")]
        parts.append(("  / search  n note  g tags", "$text-muted"))
        self.query_one("#contacts-title", Static).update(Content.assemble(*parts))

    # -- the dossier --------------------------------------------------------------------------------

    @property
    def selected(self) -> Contact | None:
        table = self.query_one(ContactsTable)
        if not self.rows or not table.is_valid_row_index(table.cursor_row):
            return None
        return self.rows[table.cursor_row]

    @on(DataTable.RowHighlighted, "#contacts-table")
    def _highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._selection_moved()

    @on(DataTable.RowSelected, "#contacts-table")
    def _chosen(self, _event: DataTable.RowSelected) -> None:
        self.query_one("#contacts-dossier").focus()

    def _selection_moved(self, *, now: bool = False) -> None:
        contact = self.selected
        text = self.query_one("#contacts-dossier-text", Static)
        if contact is None:
            self._dossier_for = None
            self.dossier = None
            text.update(
                Content.styled(
                    "No contacts match."
                    if self.search_text.strip()
                    else "No contacts yet: n on the queue adds a note about someone.",
                    "$text-muted",
                )
            )
            return
        if contact.key == self._dossier_for and not now:
            return
        if self._dossier_timer is not None:
            self._dossier_timer.stop()
        if now:
            self._load_dossier(contact)
        else:
            self._dossier_timer = self.set_timer(DOSSIER_AFTER, lambda: self._load_dossier(contact))

    @work(group="contacts-dossier", exclusive=True, exit_on_error=False)
    async def _load_dossier(self, contact: Contact) -> None:
        try:
            view = await self.app.in_thread(self.app.follower.dossier_view, contact.key)
        except StoreError as exc:
            self.app.tell(f"Could not read the dossier: {exc}", "warning")
            return
        current = self.selected
        if current is None or current.key != contact.key:
            return
        self._dossier_for = contact.key
        self.dossier = view
        accounts = {account.id: account for account in self.app.config.accounts}
        head = Content.assemble((contact_label(contact, 70), "bold"))
        body = contact_content(view, accounts, self.app.config.team.tz)
        self.query_one("#contacts-dossier-text", Static).update(Content("\n").join([head, body]))

    # -- actions ------------------------------------------------------------------------------------

    def _need_contact(self) -> Contact | None:
        contact = self.selected
        if contact is None:
            self.app.tell("No contact selected.", "warning")
        return contact

    def action_search(self) -> None:
        self.query_one("#contacts-search", FilterInput).open()

    def action_note(self) -> None:
        contact = self._need_contact()
        if contact is not None:
            self._add_note(contact)

    @work(group="contacts-note", exclusive=True, exit_on_error=False)
    async def _add_note(self, contact: Contact) -> None:
        app = self.app
        about = Content.assemble(
            (contact_label(contact, 60), "bold"), ("  " + line_of(contact.key, 60), "$text-muted")
        )
        text = await app.push_screen_wait(NoteDialog(about))
        if not text:
            return
        try:
            await app.in_thread(app.store.add_note, contact.key, text, app.actor, app.now())
        except StoreError as exc:
            app.tell(f"Note not saved: {exc}", "error")
            return
        app.tell("Note saved for the team.")
        self._search(self.search_text)

    def action_tags(self) -> None:
        contact = self._need_contact()
        if contact is not None:
            self._edit_tags(contact)

    @work(group="contacts-tags", exclusive=True, exit_on_error=False)
    async def _edit_tags(self, contact: Contact) -> None:
        app = self.app
        about = Content.assemble(
            (contact_label(contact, 60), "bold"), ("  " + line_of(contact.key, 60), "$text-muted")
        )
        current = self.dossier.contact.tags if self.dossier and self.dossier.contact else contact.tags
        tags = await app.push_screen_wait(TagsDialog(about, current))
        if tags is None:
            return
        try:
            saved = await app.in_thread(app.store.set_tags, contact.key, tags, app.actor, app.now())
        except StoreError as exc:
            app.tell(f"Tags not saved: {exc}", "error")
            return
        app.tell(f"Tags saved: {', '.join(saved.tags) or 'none'}.")
        self._search(self.search_text)

    def action_back(self) -> None:
        if self.query_one("#contacts-search", FilterInput).escape():
            return
        if not self.query_one(ContactsTable).has_focus:
            self.query_one(ContactsTable).focus()
        else:
            self.dismiss()

    def action_close(self) -> None:
        self.dismiss()

    def palette_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand(
            "Search the contacts", "Words of a name, handle or note; tag:vip", self.action_search
        )
        yield SystemCommand(
            "Note about the contact", "Add a note about the selected contact", self.action_note
        )
        yield SystemCommand("Tags of the contact", "Edit the selected contact's tags", self.action_tags)
        yield SystemCommand("Back to the queue", "Close the contacts", self.action_close)


__all__ = ["ContactsScreen", "ContactsTable", "parse_search"]
