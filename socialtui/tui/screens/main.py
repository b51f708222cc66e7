"""The main screen: header, accounts, the unanswered queue, and the detail of the selected item.

Wide terminals (`WIDE_FROM`, 110 columns, and more) show the accounts as a column and the detail under the queue.
Narrow ones (80x24) show the accounts as a strip of one line each and the queue alone; Enter opens
the detail in the queue's place and Escape closes it.

The screen is the controller: widgets tell it what the operator did (messages up), it does the work
in workers (the store in threads, the network on the network loop) and sets what the widgets show
(attributes down).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Static

from socialtui import care
from socialtui.care import QueueEntry
from socialtui.model import Contact, Item, ItemState, OutboxEntry, Post
from socialtui.networks.errors import NetworkFailure
from socialtui.store import StoreError
from socialtui.timespec import local_time
from socialtui.tui.data import Dashboard
from socialtui.tui.render import WIDE_FROM, account_label, author_label, line_of
from socialtui.tui.screens.dialogs import ConfirmDialog, DoneDialog, NoteDialog, TagsDialog
from socialtui.tui.widgets.accounts import AccountsPanel
from socialtui.tui.widgets.detail import DetailPane, ThreadState
from socialtui.tui.widgets.filter import FilterInput
from socialtui.tui.widgets.header import HeaderBar
from socialtui.tui.widgets.queue import QueueTable

if TYPE_CHECKING:
    from socialtui.tui.app import SocialApp

DETAIL_AFTER = 0.15
"""Seconds the selection must rest on an item before its contact is read (moving stays instant)."""
THREAD_AFTER = 0.6
"""Seconds the selection must rest before its thread is fetched (it costs a request)."""
THREADS_KEPT = 200


class MainScreen(Screen[None]):
    """Header, accounts, queue and detail."""

    BINDINGS = [
        Binding("r", "reply", "Reply", id="reply"),
        Binding("d", "done", "Done", id="done"),
        Binding("c", "claim", "Claim", id="claim"),
        Binding("n", "note", "Note", id="note"),
        Binding("o", "open_in_browser", "Open in browser", show=False, id="open-in-browser"),
        Binding("y", "copy_link", "Copy link", show=False, id="copy-link"),
        Binding("t", "timeline", "Timeline", id="timeline"),
        Binding("slash", "filter", "Filter", id="filter", priority=True),
        Binding("N", "negative_first", "Negative first / oldest first", show=False, id="negative-first"),
        Binding("h", "handoffs", "Handoff notes", show=False, id="handoff"),
        Binding("H", "handoff_history", "Handoff history", show=False, id="handoff-history"),
        Binding("e", "end_shift", "End shift / handoff", show=False, id="end-shift"),
        Binding("g", "tags", "Tags of the author", show=False, id="tags"),
        Binding("p", "contacts", "People (contacts)", show=False, id="contacts"),
        Binding("A", "audit", "Audit trail", show=False, id="audit"),
        Binding("R", "report", "Report", show=False, id="report"),
        Binding("u", "undo_done", "Undo the last done", show=False, id="undo-done"),
        Binding("X", "discard_failed", "Discard a failed reply", show=False, id="discard-failed"),
        Binding("D", "done_like_this", "Done: all like this", show=False, id="done-like-this"),
        Binding("P", "new_post", "New post", show=False, id="new-post"),
        Binding("S", "schedule", "Schedule", show=False, id="schedule"),
        Binding("escape", "back", "Back", show=False, id="back"),
        Binding("q", "quit", "Quit", id="quit"),
    ]

    app: SocialApp

    def __init__(self) -> None:
        super().__init__()
        self._reselect: str | None = None
        """An item to select once a reading shows it (one just reopened with `u`)."""
        self._shown: Dashboard | None = None
        """The reading on screen (a reading that repeats it is not drawn again)."""
        self._threads: OrderedDict[str, ThreadState] = OrderedDict()
        self._detail_timer: Timer | None = None
        self._thread_timer: Timer | None = None
        self._shown_id: str | None = None

    # -- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        app = self.app
        accounts = {account.id: account for account in app.config.accounts}
        yield HeaderBar(app.actor, app.config.team.tz, demo=app.demo, id="header")
        with Horizontal(id="body"):
            panel = AccountsPanel(id="accounts")
            panel.tz = app.config.team.tz
            yield panel
            with Vertical(id="work"):
                queue = QueueTable(accounts, app.actor.operator, id="queue")
                queue.negative_first = app.config.team.negative_first
                yield queue
                with Horizontal(id="filter-bar"):
                    yield FilterInput(
                        "filter: words, an item id, account:…, tag:…, state:late, tone:negative, kind:talk",
                        list_selector="QueueTable",
                        id="filter",
                    )
                    yield Static(id="filter-count")
                yield DetailPane(accounts, app.actor.operator, app.config.team.tz, id="detail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.watch(self.app, "dashboard", self._show_dashboard)
        self.watch(self.app, "store_problem", self._show_problem)
        self.query_one(QueueTable).focus()

    @property
    def narrow(self) -> bool:
        return self.has_class("-narrow")

    def on_resize(self) -> None:
        self.query_one(AccountsPanel).compact = self.size.width < WIDE_FROM

    # -- following the store --------------------------------------------------------------------

    def _show_dashboard(self, data: Dashboard | None) -> None:
        if data is None:
            return
        shown, self._shown = self._shown, data
        if shown is not None and shown.overview is data.overview and shown.tags is data.tags:
            return  # the last reading again (nothing written since): nothing to redraw
        self.query_one(HeaderBar).dashboard = data
        self.query_one(AccountsPanel).dashboard = data
        if (
            shown is not None
            and shown.queue is data.queue
            and shown.tags is data.tags
            and shown.snapshot.drafts is data.snapshot.drafts
        ):
            return  # only the accounts' health was read again (`StoreFollower.read`): the queue stands
        queue = self.query_one(QueueTable)
        queue.now = data.now
        queue.drafted = frozenset(data.snapshot.drafts)
        queue.failed = frozenset(entry.item for entry in data.overview.failed)
        queue.tags = data.tags
        queue.entries = tuple(data.queue)
        self._show_filter_count()
        if self._reselect is not None and queue.select(self._reselect):
            self._reselect = None
        self._show_detail(refresh_only=True)

    def _show_problem(self, problem: str) -> None:
        self.query_one(HeaderBar).store_problem = problem

    # -- selection and detail -------------------------------------------------------------------

    @property
    def selected_item(self) -> Item | None:
        data = self.app.dashboard
        item_id = self.query_one(QueueTable).selected_id
        if data is None or item_id is None:
            return None
        return data.items.get(item_id)

    def failed_reply(self, item: Item | None) -> OutboxEntry | None:
        """The newest reply to `item` that failed for good and waits for an operator, if any."""
        data = self.app.dashboard
        if data is None or item is None:
            return None
        failed = [entry for entry in data.overview.failed if entry.item == item.id]
        return failed[-1] if failed else None

    @property
    def selected_entry(self) -> QueueEntry | None:
        data = self.app.dashboard
        item_id = self.query_one(QueueTable).selected_id
        return data.entry(item_id) if data is not None and item_id is not None else None

    @on(QueueTable.ItemHighlighted)
    def _highlighted(self, _event: QueueTable.ItemHighlighted) -> None:
        self._show_detail()

    @on(QueueTable.ItemChosen)
    def _chosen(self, _event: QueueTable.ItemChosen) -> None:
        if self.narrow:
            self.add_class("-detail-open")
        self.query_one(DetailPane).focus()
        self._show_detail(load_now=True)

    def _detail_visible(self) -> bool:
        return not self.narrow or self.has_class("-detail-open")

    def _show_detail(self, *, refresh_only: bool = False, load_now: bool = False) -> None:
        data = self.app.dashboard
        if data is None or not self._detail_visible():
            self._shown_id = None  # shown afresh when it opens
            return
        detail = self.query_one(DetailPane)
        item = self.selected_item
        if item is None or (refresh_only and item.id == self._shown_id):
            detail.show(item, self.selected_entry, data.now, self.failed_reply(item))
            if item is None:
                self._shown_id = None
            return
        if not load_now:
            # A new selection: paint the moved cursor first, the detail in the frame after, so that
            # moving through the queue never waits for the detail's layout.
            self.call_after_refresh(self._show_selected)
        else:
            self._show_selected()
        self._shown_id = item.id
        for timer in (self._detail_timer, self._thread_timer):
            if timer is not None:
                timer.stop()
        if load_now:
            self._load_contact(item)
            if item.id not in self._threads:
                self._load_thread(item)
            return
        self._detail_timer = self.set_timer(DETAIL_AFTER, lambda: self._load_contact(item))
        if item.id not in self._threads:
            self._thread_timer = self.set_timer(THREAD_AFTER, lambda: self._load_thread(item))

    def _show_selected(self) -> None:
        data = self.app.dashboard
        if data is None:
            return
        item = self.selected_item
        detail = self.query_one(DetailPane)
        detail.show(item, self.selected_entry, data.now, self.failed_reply(item))
        if item is not None and item.id in self._threads:
            detail.thread = self._threads[item.id]

    @work(group="contact", exclusive=True, exit_on_error=False)
    async def _load_contact(self, item: Item) -> None:
        try:
            view = await self.app.in_thread(self.app.follower.contact_view, item)
        except StoreError as exc:
            self.app.tell(f"Could not read the contact: {exc}", "warning")
            return
        detail = self.query_one(DetailPane)
        if detail.item is not None and detail.item.id == item.id:
            detail.contact = view

    @work(group="thread", exclusive=True, exit_on_error=False)
    async def _load_thread(self, item: Item) -> None:
        detail = self.query_one(DetailPane)

        def show(state: ThreadState) -> None:
            if state.state in ("ok", "error"):
                self._threads[item.id] = state
                while len(self._threads) > THREADS_KEPT:
                    self._threads.popitem(last=False)
            if detail.item is not None and detail.item.id == item.id:
                detail.thread = state

        show(ThreadState(item.id, "loading"))
        network = self.app.network

        async def fetch() -> list[Post]:
            return await network.adapter(item.account).fetch_thread(item.post)

        try:
            posts = await network.call(fetch)
        except NetworkFailure as exc:
            show(ThreadState(item.id, "error", error=str(exc)))
        except Exception as exc:  # noqa: BLE001 - a missing secret, a broken session file: say so, go on
            show(ThreadState(item.id, "error", error=str(exc) or type(exc).__name__))
        else:
            show(ThreadState(item.id, "ok", tuple(posts)))

    def action_back(self) -> None:
        filter_input = self.query_one("#filter", FilterInput)
        if self.has_class("-detail-open"):
            self.remove_class("-detail-open")
            self.query_one(QueueTable).focus()
        elif self.query_one(QueueTable).marked:
            self.query_one(QueueTable).set_marks(set())
        elif filter_input.escape(applied_too=True):
            pass
        elif not self.query_one(QueueTable).has_focus:
            self.query_one(QueueTable).focus()

    # -- filter and order -------------------------------------------------------------------------

    def action_negative_first(self) -> None:
        queue = self.query_one(QueueTable)
        queue.negative_first = not queue.negative_first
        if queue.shown_ids:
            queue.select(queue.shown_ids[0])  # the new order starts at the top: show it from there
        if queue.negative_first:
            self.app.tell("Queue: negative items first within the same state (N: oldest first).")
        else:
            self.app.tell("Queue: oldest first (N: negative items first).")

    def action_filter(self) -> None:
        self.query_one("#filter", FilterInput).open()

    @on(AccountsPanel.AccountChosen)
    def _account_chosen(self, event: AccountsPanel.AccountChosen) -> None:
        """Enter on an account: the queue filtered to it (Esc clears the filter)."""
        self.add_class("-filtering")
        self.query_one("#filter", Input).value = f"account:{event.account_id}"
        self.query_one(QueueTable).focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.query_one(QueueTable).query_text = event.value
        self._show_filter_count()

    def _show_filter_count(self) -> None:
        """How many items the filter shows, of how many: the operator sees it is working."""
        table = self.query_one(QueueTable)
        count = self.query_one("#filter-count", Static)
        if not table.query_text.strip():
            count.update("")
            return
        shown, total = len(table.shown_ids), len(table.entries)
        count.update(Content.styled(f" {shown} of {total} ", "$warning bold" if shown == 0 else "bold"))

    # -- actions on the selected item -----------------------------------------------------------

    def _need_item(self) -> Item | None:
        item = self.selected_item
        if item is None:
            self.app.tell("Nothing selected: the queue is empty (or filtered).", "warning")
        return item

    def action_reply(self) -> None:
        item = self._need_item()
        if item is not None:
            self.app.open_composer(item)

    def action_discard_failed(self) -> None:
        """`X`: give up on the selected item's failed reply (as `socialtui reply ITEM --discard`)."""
        item = self._need_item()
        if item is None:
            return
        if self.failed_reply(item) is None:
            self.app.tell("No failed reply to discard on this item.", "warning")
            return
        self._discard_failed(item)

    @work(group="discard-failed", exclusive=True, exit_on_error=False)
    async def _discard_failed(self, item: Item) -> None:
        from socialtui.outbox import discard_failed

        app = self.app
        try:
            gone = await app.in_thread(discard_failed, app.store, item.id, app.actor, app.now())
        except StoreError as exc:
            app.tell(f"Not discarded: {exc}", "error")
            return
        count = len(gone)
        app.tell(f"Discarded {count} failed {'reply' if count == 1 else 'replies'} to {item.id}.")
        app.refresh_dashboard()

    def action_done(self) -> None:
        marked = self.query_one(QueueTable).marked
        if marked:
            self._mark_done_bulk(sorted(marked))
            return
        item = self._need_item()
        if item is not None:
            self._mark_done(item)

    def action_done_like_this(self) -> None:
        """`D`: every item like the selected one (thank-yous, emoji only) selected, done at once."""
        entry = self.selected_entry
        data = self.app.dashboard
        if entry is None or data is None:
            self.app.tell("Nothing selected.", "warning")
            return
        kind = care.quick_reply_kind(entry.item.post.text)
        if kind is None:
            self.app.tell(
                "D works on thank-yous and emoji-only posts; this one may need an answer.", "warning"
            )
            return
        me = self.app.actor.operator
        alike = {
            e.item.id
            for e in data.queue
            if care.quick_reply_kind(e.item.post.text) == kind and (e.claim is None or e.claim.operator == me)
        }
        table = self.query_one(QueueTable)
        table.set_marks(alike)  # only those shown: a filter narrows "all like this" too
        self._mark_done_bulk(sorted(table.marked), reason=care.QUICK_KINDS[kind])

    @work(group="done", exclusive=True, exit_on_error=False)
    async def _mark_done_bulk(self, item_ids: list[str], reason: str = "") -> None:
        """Several items done with one reason; each one its own action in the audit."""
        app = self.app
        data = app.dashboard
        if data is None:
            return
        items = [data.items[item_id] for item_id in item_ids if item_id in data.items]
        noun = "item" if len(items) == 1 else "items"
        what = Content("\n").join(
            [Content.styled(f"{len(items)} selected {noun}:", "bold")]
            + [Content(f"{line_of(i.post.author.label, 24)}: {line_of(i.post.text, 40)}") for i in items[:4]]
            + ([Content(f"… and {len(items) - 4} more")] if len(items) > 4 else [])
        )
        if reason:
            confirmed = await app.push_screen_wait(
                ConfirmDialog(f"Done ({reason}), all {len(items)}?", what, yes="Done, all", no="Cancel")
            )
            chosen = reason if confirmed else None
        else:
            chosen = await app.push_screen_wait(DoneDialog(what))
        if not chosen:
            if reason:  # the marks were D's own: they go with the question
                self.query_one(QueueTable).set_marks(set())
            return
        store, actor, now = app.store, app.actor, app.now()

        def mark_all() -> int:
            for item in items:
                store.mark_done(item, chosen, actor, now)
            return len(items)

        try:
            done = await app.in_thread(mark_all)
        except StoreError as exc:
            app.tell(f"Not all marked done: {exc}", "error")
            app.refresh_dashboard()
            return
        self.query_one(QueueTable).set_marks(set())
        app.tell(f"Done ({chosen}): {done} {noun}. u reopens them one by one.")
        app.refresh_dashboard()

    @work(group="done", exclusive=True, exit_on_error=False)
    async def _mark_done(self, item: Item) -> None:
        app = self.app
        what = Content.assemble(
            account_label(app.config.account(item.account)),
            "\n",
            (author_label(item.post.author, 60), "bold"),
            ": ",
            line_of(item.post.text, 120),
        )
        reason = await app.push_screen_wait(DoneDialog(what))
        if not reason:
            return
        try:
            await app.in_thread(app.store.mark_done, item, reason, app.actor, app.now())
        except StoreError as exc:
            app.tell(f"Not marked done: {exc}", "error")
            return
        app.tell(f"Done ({reason}): {line_of(item.post.author.label, 40)} on {item.account}")
        app.refresh_dashboard()

    def action_undo_done(self) -> None:
        self._undo_done()

    @work(group="done", exclusive=True, exit_on_error=False)
    async def _undo_done(self) -> None:
        """`u`: the item this operator last marked done goes back to the queue (audited)."""
        app = self.app
        me = app.actor.operator

        def reopen_last() -> tuple[Item, ItemState] | None:
            mine = [s for s in app.store.states().values() if s.done and s.operator == me and s.at]
            if not mine:
                return None
            last = max(mine, key=lambda s: s.at)  # type: ignore[arg-type, return-value]  # every state in `mine` has an `at` (filtered above)
            item = app.store.find_item(last.item)
            app.store.reopen(item, app.actor, app.now())
            return item, last

        try:
            undone = await app.in_thread(reopen_last)
        except StoreError as exc:
            app.tell(f"Not reopened: {exc}", "error")
            return
        if undone is None:
            app.tell("Nothing to undo: you have not marked an item done.", "warning")
            return
        item, state = undone
        when = local_time(state.at, app.config.team.tz, "%H:%M") if state.at else ""
        app.tell(
            f"Reopened: {line_of(item.post.author.label, 40)} on {item.account} "
            f"(done at {when}: {line_of(state.reason, 30)}); it is back in the queue."
        )
        # Selected when the queue shows it: a reading woken by the write may have shown it already.
        self._reselect = item.id
        if self.query_one(QueueTable).select(item.id):
            self._reselect = None
        app.refresh_dashboard()

    def action_claim(self) -> None:
        item = self._need_item()
        if item is not None:
            self._toggle_claim(item, self.selected_entry)

    @work(group="claim", exclusive=True, exit_on_error=False)
    async def _toggle_claim(self, item: Item, entry: QueueEntry | None) -> None:
        app = self.app
        now = app.now()
        try:
            if entry is not None and entry.claim is not None and entry.claim.operator == app.actor.operator:
                await app.in_thread(app.store.release, item, app.actor, now)
                app.tell("Claim released.")
            else:
                claimed = await app.claim(item)
                if claimed:
                    app.tell(f"Claimed for {int(app.config.team.claim_ttl.total_seconds() // 60)} minutes.")
        except StoreError as exc:
            app.tell(f"Claim not changed: {exc}", "error")
        app.refresh_dashboard()

    def action_note(self) -> None:
        item = self._need_item()
        if item is not None:
            self._add_note(item)

    @work(group="note", exclusive=True, exit_on_error=False)
    async def _add_note(self, item: Item) -> None:
        app = self.app
        author = item.post.author
        about = Content.assemble(
            (author_label(author, 60), "bold"), ("  " + line_of(author.contact_key, 60), "$text-muted")
        )
        text = await app.push_screen_wait(NoteDialog(about))
        if not text:
            return
        try:
            now = app.now()  # the author given: a first note does not look for them through every item
            await app.in_thread(
                lambda: app.store.add_note(author.contact_key, text, app.actor, now, author=author)
            )
        except StoreError as exc:
            app.tell(f"Note not saved: {exc}", "error")
            return
        app.tell("Note saved for the team.")
        detail = self.query_one(DetailPane)
        if detail.item is not None and detail.item.id == item.id:
            self._load_contact(item)

    def action_tags(self) -> None:
        item = self._need_item()
        if item is not None:
            self._edit_tags(item)

    @work(group="tags", exclusive=True, exit_on_error=False)
    async def _edit_tags(self, item: Item) -> None:
        app = self.app
        author = item.post.author
        about = Content.assemble(
            (author_label(author, 60), "bold"), ("  " + line_of(author.contact_key, 60), "$text-muted")
        )
        try:
            contact = await app.in_thread(app.store.contact, author.contact_key)
        except StoreError as exc:
            app.tell(f"Cannot edit the tags now: {exc}", "error")
            return
        tags = await app.push_screen_wait(TagsDialog(about, contact.tags if contact else ()))
        if tags is None:
            return
        try:
            saved = await app.in_thread(app.store.set_tags, author.contact_key, tags, app.actor, app.now())
        except StoreError as exc:
            app.tell(f"Tags not saved: {exc}", "error")
            return
        app.tell(f"Tags saved: {', '.join(saved.tags) or 'none'}.")
        detail = self.query_one(DetailPane)
        if detail.item is not None and detail.item.id == item.id:
            self._load_contact(item)

    def action_contacts(self) -> None:
        """The contacts view, the selected item's author first."""
        item = self.selected_item
        focus = None
        if item is not None:
            author = item.post.author
            focus = Contact(
                key=author.contact_key,
                network=author.network,
                handle=author.handle,
                display_name=author.display_name,
            )
        self.app.open_contacts(focus)

    def action_handoffs(self) -> None:
        data = self.app.dashboard
        self.app.open_handoffs(history=data is None or not data.waiting)

    def action_handoff_history(self) -> None:
        self.app.open_handoffs(history=True)

    def show_oldest(self) -> None:
        """Bring the oldest items into view (after a shift ends, the next operator starts there)."""
        self.query_one(QueueTable).show_oldest()

    def action_end_shift(self) -> None:
        self.app.write_handoff(self.selected_item)

    def action_new_post(self) -> None:
        """A new post from the account under the accounts pane's cursor."""
        account = self.query_one(AccountsPanel).selected_account
        if account is None:
            self.app.tell("No accounts in the config.", "warning")
            return
        self.app.open_post_composer(account)

    @on(AccountsPanel.PostWanted)
    def _post_wanted(self, event: AccountsPanel.PostWanted) -> None:
        self.app.open_post_composer(event.account)

    def action_schedule(self) -> None:
        """The schedule: the account under the cursor when the accounts pane has focus, else all."""
        panel = self.query_one(AccountsPanel)
        self.app.open_schedule(panel.selected_account if panel.has_focus else None)

    def action_audit(self) -> None:
        self.app.open_audit()

    def action_report(self) -> None:
        self.app.open_report()

    def action_open_in_browser(self) -> None:
        item = self._need_item()
        if item is not None:
            self.app.open_post(item.post)

    def action_copy_link(self) -> None:
        item = self._need_item()
        if item is not None:
            self.app.copy_post_link(item.post)

    def action_timeline(self) -> None:
        self.app.open_timeline()

    def action_quit(self) -> None:
        self._quit()

    @work(group="quit", exclusive=True, exit_on_error=False)
    async def _quit(self) -> None:
        """Quitting while on shift asks first: end the shift with a handoff, or stay on shift."""
        from socialtui.tui.screens.dialogs import QuitDialog

        app = self.app
        data = app.dashboard
        me = app.actor.operator
        if data is not None and data.current_shift(me) is not None:
            claims = sum(1 for entry in data.queue if entry.claim is not None and entry.claim.operator == me)
            choice = await app.push_screen_wait(QuitDialog(claims))
            if choice == "handoff":
                self.action_end_shift()
                return
            if choice != "quit":
                return
        await app.action_quit()

    # -- the command palette --------------------------------------------------------------------

    def palette_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Reply", "Reply to the selected item (claims it)", self.action_reply)
        yield SystemCommand(
            "Discard the failed reply",
            "Give up on the selected item's reply that failed (r edits and sends it again)",
            self.action_discard_failed,
        )
        yield SystemCommand(
            "Done", "Mark the selected item answered without a reply, with a reason", self.action_done
        )
        yield SystemCommand(
            "Claim / release", "Tell the team you are answering the selected item", self.action_claim
        )
        yield SystemCommand(
            "Note about the contact", "Add a note about the author of the selected item", self.action_note
        )
        yield SystemCommand(
            "Open in browser", "Open the selected post in the web browser", self.action_open_in_browser
        )
        yield SystemCommand(
            "Copy link", "Copy the selected post's link (works over SSH)", self.action_copy_link
        )
        yield SystemCommand("Timeline", "All accounts' posts and items, merged by time", self.action_timeline)
        yield SystemCommand(
            "Undo the last done", "Reopen the item you last marked done (u)", self.action_undo_done
        )
        yield SystemCommand("Filter the queue", "Words, account:…, network:…, state:late", self.action_filter)
        yield SystemCommand(
            "Tags of the author", "Edit the tags of the selected item's author", self.action_tags
        )
        yield SystemCommand(
            "Handoff notes", "The notes waiting for you (or all of them)", self.action_handoffs
        )
        yield SystemCommand(
            "Handoff history",
            "Every handoff note, newest first, with who acknowledged it",
            self.action_handoff_history,
        )
        yield SystemCommand(
            "End shift / handoff", "Write the note for the next shift (auto-drafted)", self.action_end_shift
        )
        yield SystemCommand(
            "People", "Contacts: search by words and tag; notes, tags, history", self.action_contacts
        )
        yield SystemCommand("New post", "A post from an account, now or scheduled", self.action_new_post)
        yield SystemCommand("Schedule", "The scheduled posts, per account or merged", self.action_schedule)
        yield SystemCommand("Audit trail", "Every operator action, newest first", self.action_audit)
        yield SystemCommand("Report", "Response times and conversations, 24h / 7d", self.action_report)
        yield SystemCommand("Quit", "Leave the dashboard (drafts are kept)", self.action_quit)


__all__ = ["MainScreen"]
