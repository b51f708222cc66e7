"""Handoff: the notes the operator must read first, the history of every note, and the note written
at the end of a shift.

- `HandoffScreen` shows the notes waiting for this operator in full (oldest first), over the queue,
  when the dashboard starts; `a` acknowledges them. Leaving with Escape is allowed: the header keeps
  a flag and `h` brings them back. `H` switches to every note, newest first, with who acknowledged
  each one and when, and who on shift has still to.
- `HandoffComposer` ends the shift: a note auto-drafted from the store (`handoff.draft_handoff`),
  edited freely (`#` lines are guidance, dropped on save), items and accounts pinned on it, saved
  with `Store.write_handoff` after a confirmation. The text is kept in the store as it is typed, so
  a dropped SSH session loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, SelectionList, Static, TextArea
from textual.widgets.selection_list import Selection

from socialtui.handoff import note_text, take_open_work
from socialtui.model import HandoffNote, Item
from socialtui.store import StoreError
from socialtui.timespec import local_time
from socialtui.tui.data import Dashboard
from socialtui.tui.drafts import DraftKeeper
from socialtui.tui.render import account_label, author_label, line_of, preview
from socialtui.tui.screens.dialogs import ConfirmDialog
from socialtui.tui.screens.drafting import DraftWriting
from socialtui.tui.widgets.handoff import PinList, note_content

if TYPE_CHECKING:
    from socialtui.tui.app import SocialApp

PIN_ITEMS = 6
"""Items offered for pinning: the one selected in the queue, then the operator's claims, then late ones."""


class HandoffScreen(Screen[None]):
    """The handoff notes waiting for this operator, or (`history`) every note, newest first."""

    BINDINGS = [
        Binding("a", "acknowledge", "Acknowledge", id="handoff-ack"),
        Binding("H", "toggle_history", "Waiting / all notes", id="handoff-history"),
        Binding("escape", "back", "Back to the queue", id="back"),
    ]

    app: SocialApp

    history: reactive[bool] = reactive(False)
    """Every note, newest first (else only those waiting for this operator, oldest first)."""

    def __init__(self, *, history: bool = False) -> None:
        super().__init__(classes="handoff")
        self.set_reactive(HandoffScreen.history, history)
        self._shown: list[tuple[str, Content, Content]] = []
        self._acknowledging = False
        self._acknowledged: set[str] = set()
        """Notes acknowledged here that the next reading may not show as such yet."""

    def compose(self) -> ComposeResult:
        yield Static(id="handoff-title")
        yield VerticalScroll(id="handoff-notes")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#handoff-notes").focus()
        self.watch(self.app, "dashboard", self._show)

    def watch_history(self) -> None:
        if self.is_mounted:
            self._shown = []
            self.query_one("#handoff-notes").scroll_home(animate=False)
            self._show(self.app.dashboard)
            self.refresh_bindings()

    @property
    def waiting(self) -> tuple[str, ...]:
        """The ids of the notes this operator still has to acknowledge."""
        data = self.app.dashboard
        if data is None:
            return ()
        return tuple(note.id for note in data.waiting if note.id not in self._acknowledged)

    def _show(self, data: Dashboard | None) -> None:
        title = self.query_one("#handoff-title", Static)
        if data is None:
            title.update(Content.styled(" HANDOFF  reading the store…", "bold $primary"))
            return
        app = self.app
        config = app.config
        accounts = {account.id: account for account in config.accounts}
        me = app.actor.operator
        waiting = len(data.waiting)
        head: list[str | tuple[str, str]] = [(" HANDOFF ", "bold $primary")]
        if self.history:
            notes = list(reversed(data.handoffs))
            head.append((f" all notes, newest first ({len(notes)})", "bold"))
            if waiting:
                head.append((f"  ⚑ {waiting} waiting for you: a acknowledges", "bold $warning"))
        else:
            notes = list(data.waiting)
            if waiting:
                noun = "note" if waiting == 1 else "notes"
                head.append(
                    (f" {waiting} {noun} waiting for you: read, then a to acknowledge", "bold $warning")
                )
            else:
                head.append((" nothing waiting for you", "$success bold"))
        title.update(Content.assemble(*head))
        shown = [
            (note.id, *note_content(note, data, me, config.team.tz, accounts, config.team.handoff_ack_within))
            for note in notes
        ]
        self._show_notes(shown)
        self.refresh_bindings()

    def _show_notes(self, shown: list[tuple[str, Content, Content]]) -> None:
        """Each note as a head line and an indented body; a reading comes every second and most
        change nothing, or only a few words (an age, a new acknowledgement): those are updated in
        place, so the operator's scroll position stays."""
        container = self.query_one("#handoff-notes", VerticalScroll)
        if [key for key, _, _ in shown] == [key for key, _, _ in self._shown] and self._shown:
            heads = list(container.query(".handoff-note-head").results(Static))
            bodies = list(container.query(".handoff-note-body").results(Static))
            for (_, head, body), (_, old_head, old_body), head_widget, body_widget in zip(
                shown, self._shown, heads, bodies, strict=False
            ):
                if head != old_head:
                    head_widget.update(head)
                if body != old_body:
                    body_widget.update(body)
            self._shown = shown
            return
        self._shown = shown
        container.remove_children()
        widgets: list[Static] = []
        for _, head, body in shown:
            widgets.append(Static(head, classes="handoff-note-head"))
            widgets.append(Static(body, classes="handoff-note-body"))
        if not widgets:
            widgets.append(
                Static(
                    Content.styled(
                        "No handoff notes yet. At the end of your shift, e on the queue writes one."
                        if self.history
                        else "You have read every note left for you. H shows all notes.",
                        "$text-muted",
                    ),
                    classes="handoff-note-body",
                )
            )
        container.mount_all(widgets)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "acknowledge":
            return True if self.waiting and not self._acknowledging else None
        return True

    def action_toggle_history(self) -> None:
        self.history = not self.history

    def action_acknowledge(self) -> None:
        self._acknowledge()

    @work(group="handoff-ack", exclusive=True, exit_on_error=False)
    async def _acknowledge(self) -> None:
        app = self.app
        data = app.dashboard
        wanted = self.waiting
        if data is None or not wanted or self._acknowledging:
            app.tell("Nothing to acknowledge.", "warning")
            return
        notes = [note for note in data.waiting if note.id in wanted]
        store, actor, now = app.store, app.actor, app.now()

        def acknowledge() -> list[HandoffNote]:
            ttl = app.config.team.claim_ttl
            return [done for note in notes for done in store.ack_handoffs(actor, now, note.id, take_over=ttl)]

        self._acknowledging = True
        self.refresh_bindings()
        try:
            acked_notes = await app.in_thread(acknowledge)
        except StoreError as exc:
            app.tell(f"Not acknowledged: {exc}", "error")
            return
        finally:
            self._acknowledging = False
        self._acknowledged.update(note.id for note in notes)
        acked = len(acked_notes)
        writers = ", ".join(sorted({line_of(note.operator, 20) for note in notes}))
        noun = "note" if acked == 1 else "notes"
        taken = [item for note in acked_notes if note.taken_over_by == actor.operator for item in note.claims]
        took = f" You took over their {len(taken)} claim(s)." if taken else ""
        app.tell(f"Acknowledged {acked} handoff {noun} from {writers}: they will see it.{took}")
        app.refresh_dashboard()
        if not self.history:
            self.dismiss()

    def action_back(self) -> None:
        self.dismiss()

    def palette_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand(
            "Acknowledge the handoff notes", "Tell the writers you have read them", self.action_acknowledge
        )
        yield SystemCommand(
            "Handoff: waiting / all notes",
            "Switch between your notes and every note",
            self.action_toggle_history,
        )
        yield SystemCommand("Back to the queue", "Close the handoff notes", self.action_back)


class HandoffComposer(DraftWriting, Screen[None]):
    """The note for the next shift: edit the auto-draft, pin items and accounts, save."""

    draft_noun = "Handoff draft"

    BINDINGS = [
        Binding("ctrl+s,f5", "save", "Save the handoff", id="handoff-save"),
        Binding("f3", "redraft", "Draft afresh", id="handoff-redraft"),
        Binding("escape", "close", "Close (draft kept)", id="close"),
    ]

    app: SocialApp

    def __init__(self, keeper: DraftKeeper, selected: Item | None = None) -> None:
        super().__init__(classes="handoff-composer")
        self.keeper = keeper
        self.selected = selected
        self._saving = False

    # -- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        app = self.app
        yield Static(
            Content.assemble(
                (" END OF SHIFT ", "bold $primary"),
                (f" handoff from {line_of(app.actor.operator, 30)}", "bold"),
                ("  '#' lines are dropped on save", "$text-muted"),
            ),
            id="handoff-compose-title",
        )
        yield TextArea(
            self.keeper.text, id="handoff-text", soft_wrap=True, show_line_numbers=False, tab_behavior="focus"
        )
        yield Static(
            Content.assemble(
                ("Pin for the next shift ", "bold"),
                ("(Tab to go here, Space to pin or unpin)", "$text-muted"),
            ),
            id="handoff-pins-title",
        )
        yield PinList(*self._pin_choices(), id="handoff-pins")
        yield Static(id="handoff-status")
        yield Footer()

    def _pin_choices(self) -> list[Selection[str]]:
        app = self.app
        data = app.dashboard
        pinned = app.handoff_pins
        choices: list[Selection[str]] = []
        seen: set[str] = set()

        def offer(item: Item, why: str) -> None:
            if item.id in seen or len(seen) >= PIN_ITEMS:
                return
            seen.add(item.id)
            value = f"item:{item.id}"
            label = Content.assemble(
                (f"{why:<9}", "$text-muted"),
                (line_of(item.account, 14), "bold"),
                " ",
                (author_label(item.post.author, 24), "bold"),
                ": ",
                preview(item.post.text, 60),
            )
            choices.append(Selection(label, value, value in pinned))

        if self.selected is not None:
            offer(self.selected, "selected")
        if data is not None:
            me = app.actor.operator
            for entry in data.queue:
                if entry.claim is not None and entry.claim.operator == me:
                    offer(entry.item, "claimed")
            for entry in sorted(data.queue, key=lambda entry: -entry.age_s):
                if entry.state == "late":
                    offer(entry.item, "late")
        for account in app.config.accounts:
            value = f"account:{account.id}"
            label = Content.assemble((f"{'account':<9}", "$text-muted"), account_label(account))
            choices.append(Selection(label, value, value in pinned))
        return choices

    def on_mount(self) -> None:
        text = self.query_one(TextArea)
        text.cursor_blink = self.app.cursor_blink
        text.focus()
        text.move_cursor(text.document.end)
        self._show_status()

    # -- the draft ------------------------------------------------------------------------------

    @property
    def text(self) -> str:
        """The note as typed so far, guidance lines included."""
        return self.query_one(TextArea).text

    @property
    def pins(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(pinned item ids, pinned account ids)."""
        chosen = self.query_one(SelectionList).selected
        items = tuple(value.removeprefix("item:") for value in chosen if value.startswith("item:"))
        accounts = tuple(value.removeprefix("account:") for value in chosen if value.startswith("account:"))
        return items, accounts

    @on(SelectionList.SelectedChanged)
    def _pinned(self, event: SelectionList.SelectedChanged) -> None:
        self.app.handoff_pins = set(event.selection_list.selected)
        self.keeper.set_pins(*self.pins)
        self.draft_changed()

    @on(TextArea.Changed)
    def _typed(self, _event: TextArea.Changed) -> None:
        self.draft_changed()

    def _show_status(self, problem: str = "") -> None:
        status = self.query_one("#handoff-status", Static)
        if problem:
            status.update(Content.styled(line_of(problem, 200), "$error bold"))
            return
        saved = self.keeper.saved_at
        if saved is not None:
            when = local_time(saved, self.app.config.team.tz, "%H:%M:%S")
            status.update(Content.styled(f"draft saved {when}", "$text-muted"))
        else:
            status.update(
                Content.styled("auto-drafted from the store; kept as a draft once you edit it", "$text-muted")
            )

    # -- actions --------------------------------------------------------------------------------

    def action_save(self) -> None:
        self._save()

    @work(group="handoff-save", exclusive=True, exit_on_error=False)
    async def _save(self) -> None:
        app = self.app
        if self._saving:
            return
        text = note_text(self.text)
        if not text:
            self._show_status(
                "The note is empty: write something for the next shift ('#' lines are dropped)."
            )
            return
        items, accounts = self.pins
        # Short enough for the buttons to show at 80x24: the note is on screen behind the dialog.
        shown = text.splitlines()
        body_lines = [line_of(line, 56) for line in shown[:3]]
        if len(shown) > 3:
            body_lines.append(f"… and {len(shown) - 3} more lines")
        body = Content.assemble(
            "\n".join(body_lines),
            "\n\n",
            (f"pinned: {len(items)} item(s), {len(accounts)} account(s)", "$text-muted"),
        )
        confirmed = await app.push_screen_wait(
            ConfirmDialog(
                "Write this handoff and end your shift?",
                body,
                yes="Write it",
                no="Keep editing",
                default_yes=True,
                warning="Every operator sees it until they acknowledge it.",
            )
        )
        if not confirmed:
            return
        self._saving = True

        def write() -> HandoffNote:
            # The open work as it is now, when the note is saved, not when it was drafted.
            now = app.now()
            work = take_open_work(app.config, app.store, app.actor, now)
            return app.store.write_handoff(
                text, app.actor, now, pinned_items=items, pinned_accounts=accounts, work=work
            )

        try:
            note = await app.in_thread(write)
        except StoreError as exc:
            self._saving = False
            self._show_status(f"Not saved (the draft is kept): {exc}")
            return
        self.stop_saving()
        try:
            await app.in_thread(self.keeper.discard)
        except StoreError:
            pass  # the note is written; a stale draft only comes back as the next note's start
        app.handoff_written()
        released = f"; your {len(note.claims)} claim(s) released" if note.claims else ""
        app.tell(
            f"Handoff written with {len(note.open_items)} open item(s) and your shift ended{released}. "
            "Everyone sees it until they acknowledge it; q quits."
        )
        self.dismiss()

    def action_redraft(self) -> None:
        self._redraft()

    @work(group="handoff-redraft", exclusive=True, exit_on_error=False)
    async def _redraft(self) -> None:
        from socialtui.handoff import draft_handoff

        app = self.app
        if note_text(self.text) and not await app.push_screen_wait(
            ConfirmDialog(
                "Draft afresh?",
                "The text written so far is replaced by a new auto-draft from the store.",
                yes="Replace",
                no="Keep mine",
            )
        ):
            return
        try:
            # The old draft goes first: the auto-draft lists the operator's drafts left behind.
            await app.in_thread(self.keeper.discard)
            fresh = await app.in_thread(draft_handoff, app.config, app.store, app.actor, app.now())
        except StoreError as exc:
            self._show_status(f"Could not draft afresh: {exc}")
            return
        area = self.query_one(TextArea)
        area.load_text(fresh)
        area.move_cursor(area.document.end)
        area.focus()
        self.keeper.set_text(fresh)
        self.keeper.saved_at = None
        self._save_draft()

    def action_close(self) -> None:
        self._close()

    @work(group="handoff-close", exclusive=True, exit_on_error=False)
    async def _close(self) -> None:
        app = self.app
        self.keeper.set_text(self.text)
        try:
            await app.in_thread(self.keeper.flush)
        except StoreError as exc:
            app.tell(f"Handoff draft not saved: {exc}", "error")
            return
        if self.keeper.saved_at is not None:
            app.tell("Handoff draft kept: e brings it back. Your shift goes on.")
        self.dismiss()

    def palette_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand(
            "Save the handoff", "Write the note and end your shift (asks first)", self.action_save
        )
        yield SystemCommand(
            "Draft the handoff afresh", "Replace the text with a new auto-draft", self.action_redraft
        )
        yield SystemCommand("Close the handoff note", "The draft is kept", self.action_close)


__all__ = ["HandoffScreen", "HandoffComposer"]
