"""The reply composer: the thread above, the contact beside, the sending account unmistakable.

- The count follows the network's rules as the operator types (`Adapter.prepare_reply`): red over
  the limit, and sending is refused while the reply cannot be sent as it is.
- Visibility and content warning are inherited from the post answered, and shown.
- The draft is saved as it is typed (at most every half second), with an idempotency key fixed when
  it was made: a dropped SSH session loses nothing, and the draft is back the next time.
- Sending asks for confirmation naming the account, and warns if the item was answered meanwhile.
  The reply goes through the outbox (committed, then delivered on the network thread); on failure
  the text stays, and the draft is kept.
- The claim taken when the composer opened is renewed while it stays open.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.color import Color
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Static, TextArea

from socialtui.config import AccountConfig
from socialtui.model import Item, Post
from socialtui.networks.base import Adapter, ReplyDraft
from socialtui.networks.errors import NetworkFailure
from socialtui.outbox import (
    Delivery,
    ReplyRefused,
    answered_meanwhile,
    answered_on_server,
    deliver,
    queue_reply,
)
from socialtui.store import StoreError
from socialtui.timespec import local_time
from socialtui.tui.data import Dashboard
from socialtui.tui.drafts import DraftKeeper
from socialtui.tui.render import account_label, account_style, author_label, line_of
from socialtui.tui.screens.dialogs import ConfirmDialog, SavedRepliesDialog
from socialtui.tui.screens.drafting import DraftWriting
from socialtui.tui.widgets.detail import ThreadState, contact_content, post_content, thread_title

if TYPE_CHECKING:
    from socialtui.tui.app import SocialApp

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class ComposerScreen(DraftWriting, Screen[None]):
    """Write and send one reply, from the item's account."""

    BINDINGS = [
        Binding("ctrl+s,f5", "send", "Send", id="send"),
        Binding("f2,ctrl+o", "saved_replies", "Saved replies", id="saved-replies"),
        Binding("escape", "close", "Close (draft kept)", id="close"),
    ]

    app: SocialApp

    sending: reactive[bool] = reactive(False)
    """A reply is on its way: the composer waits for the result."""
    prepared: reactive[ReplyDraft | None] = reactive(None)
    """The reply as the network would take it now."""

    def __init__(self, item: Item, adapter: Adapter, keeper: DraftKeeper) -> None:
        super().__init__(classes="composer")
        self.item = item
        self.adapter = adapter
        self.keeper = keeper
        self._spinner: Timer | None = None
        self._spin = 0
        self._thread = ThreadState(item.id, "loading")
        self.meanwhile = ""
        """Why sending now may be a mistake (answered meanwhile, claim taken over), or ""."""

    # -- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        app = self.app
        account = app.config.account(self.item.account)
        yield Static(
            Content.assemble(
                ("Reply from ", "bold"),
                account_label(account),
                (f"  ({account.id}, {account.network})", "$text-muted"),
            ),
            id="composer-from",
        )
        yield Static(id="composer-to")
        yield Static(id="composer-warning")
        with Horizontal(id="composer-main"):
            with Vertical(id="composer-left"):
                with VerticalScroll(id="composer-thread"):
                    yield Static(id="composer-thread-text")
                yield TextArea(
                    self.keeper.text,
                    id="composer-text",
                    soft_wrap=True,
                    show_line_numbers=False,
                    tab_behavior="focus",
                )
                yield Static(id="composer-status")
            with VerticalScroll(id="composer-contact"):
                yield Static(
                    contact_content(None, self._accounts, app.config.team.tz, compact=True),
                    id="composer-contact-text",
                )
        yield Footer()

    @property
    def _accounts(self) -> dict[str, AccountConfig]:
        return {account.id: account for account in self.app.config.accounts}

    def on_mount(self) -> None:
        app = self.app
        account = app.config.account(self.item.account)
        if account.color:
            # The sending account's own colour frames the composer: impossible to miss whose voice it is.
            color = Color.parse(f"ansi_{account.color}")
            self.query_one("#composer-from").styles.border = ("heavy", color)
            self.query_one("#composer-text").styles.border = ("round", color)
        text = self.query_one(TextArea)
        text.cursor_blink = app.cursor_blink
        text.focus()
        text.move_cursor(text.document.end)
        self._recount()
        self._show_thread()
        self.watch(app, "dashboard", self._follow_store)
        ttl = app.config.team.claim_ttl.total_seconds()
        self.set_interval(max(ttl / 3, 5.0), self._renew_claim, name="renew-claim")
        self._load_thread()
        self._load_contact()
        self._learn_limits()

    # -- what the reply will be -----------------------------------------------------------------

    def _recount(self) -> None:
        self.prepared = self.adapter.prepare_reply(self.item, self.query_one(TextArea).text)

    def watch_prepared(self, old: ReplyDraft | None, new: ReplyDraft | None) -> None:
        self._show_to()
        self._show_status()
        if (old is not None and old.ok) != (new is not None and new.ok):
            self.refresh_bindings()  # the footer shows Send enabled or not

    def watch_sending(self, sending: bool) -> None:
        self.query_one(TextArea).read_only = sending
        if sending:
            self._spinner = self.set_interval(0.1, self._show_status, name="sending")
        elif self._spinner is not None:
            self._spinner.stop()
            self._spinner = None
        self._show_status()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "send":
            prepared = self.prepared
            if self.sending:
                return False
            return True if prepared is not None and prepared.ok else None
        return True

    def _show_to(self) -> None:
        prepared = self.prepared
        post = self.item.post
        if prepared is None:
            return
        parts: list[str | tuple[str, str] | Content] = [
            ("to ", "$text-muted"),
            (author_label(post.author, 60), "bold"),
            ("  visibility ", "$text-muted"),
            (prepared.visibility, "bold" if prepared.visibility == "public" else "$warning bold"),
            (" (as the post)", "$text-muted"),
        ]
        if prepared.spoiler_text:
            parts += [("  CW ", "$warning bold"), (line_of(prepared.spoiler_text, 60), "$warning")]
        if self.item.kind == "talk":
            # Many people do not welcome an unasked reply: say so before anything is typed.
            parts += [
                "\n",
                ("⚠ they did not address us: ", "$warning bold"),
                ("they talked about us, and this is an unasked public reply in their thread. ", "$warning"),
                ("Their history with us is on the right.", "$text-muted"),
            ]
        self.query_one("#composer-to", Static).update(Content.assemble(*parts))

    def _show_status(self) -> None:
        status = self.query_one("#composer-status", Static)
        prepared = self.prepared
        parts: list[str | tuple[str, str]] = []
        if prepared is not None:
            over = prepared.length > prepared.max_length
            parts.append(
                (f"{prepared.length}/{prepared.max_length}", "$error bold reverse" if over else "bold")
            )
            if prepared.problem:
                # Nothing written yet is not a fault: say it quietly.
                style = "$text-muted" if not self.keeper.text.strip() else "$error"
                parts.append((f"  {line_of(prepared.problem, 80)}", style))
        if self.sending:
            self._spin += 1
            parts.append((f"  {SPINNER[self._spin % len(SPINNER)]} sending…", "$warning bold"))
        elif self.keeper.saved_at is not None:
            when = local_time(self.keeper.saved_at, self.app.config.team.tz, "%H:%M:%S")
            parts.append((f"  draft saved {when}", "$text-muted"))
        status.update(Content.assemble(*parts), layout=False)
        over = prepared is not None and prepared.length > prepared.max_length
        if over != self.has_class("-over"):
            self.set_class(over, "-over")

    def show_problem(self, message: str) -> None:
        """A send that did not go: shown until the next keystroke."""
        self.query_one("#composer-status", Static).update(
            Content.styled(line_of(message, 200), "$error bold"), layout=False
        )

    def _show_warning(self) -> None:
        warning = self.query_one("#composer-warning", Static)
        warning.display = bool(self.meanwhile)
        warning.update(Content.styled(f"⚠ {self.meanwhile}", "$warning bold") if self.meanwhile else "")

    @on(TextArea.Changed)
    def _typed(self, _event: TextArea.Changed) -> None:
        self._recount()
        self.draft_changed()

    # -- around the reply -----------------------------------------------------------------------

    def _show_thread(self) -> None:
        tz = self.app.config.team.tz
        thread = self._thread
        posts = thread.posts if thread.state == "ok" and thread.posts else (self.item.post,)
        parts = [thread_title("the thread", posts, tz)]
        parts += [
            post_content(
                post, self._accounts, tz, focus=post.remote_id == self.item.post.remote_id, labelled=False
            )
            for post in posts
        ]
        if thread.state == "loading":
            parts.append(Content.styled("  fetching the rest of the thread…", "$text-muted"))
        elif thread.state == "error":
            parts.append(
                Content.styled(f"  could not fetch the thread: {line_of(thread.error, 200)}", "$error")
            )
        self.query_one("#composer-thread-text", Static).update(Content("\n").join(parts))
        self.query_one("#composer-thread").scroll_end(animate=False)

    @work(group="composer-thread", exclusive=True, exit_on_error=False)
    async def _load_thread(self) -> None:
        network = self.app.network
        item = self.item

        async def fetch() -> list[Post]:
            return await network.adapter(item.account).fetch_thread(item.post)

        try:
            posts = await network.call(fetch)
        except NetworkFailure as exc:
            self._thread = ThreadState(item.id, "error", error=str(exc))
        except Exception as exc:  # noqa: BLE001 - whatever it is, the operator can still reply
            self._thread = ThreadState(item.id, "error", error=str(exc) or type(exc).__name__)
        else:
            self._thread = ThreadState(item.id, "ok", tuple(posts) or (item.post,))
        self._show_thread()

    @work(group="composer-contact", exclusive=True, exit_on_error=False)
    async def _load_contact(self) -> None:
        try:
            view = await self.app.in_thread(self.app.follower.contact_view, self.item)
        except StoreError:
            return
        self.query_one("#composer-contact-text", Static).update(
            contact_content(view, self._accounts, self.app.config.team.tz, compact=True)
        )

    @work(group="composer-limits", exclusive=True, exit_on_error=False)
    async def _learn_limits(self) -> None:
        """Ask the server its limits once (Mastodon instances differ from the default 500)."""
        network = self.app.network
        account = self.item.account

        async def verify() -> Adapter:
            return await network.verified_adapter(account)

        try:
            await network.call(verify)
        except Exception:  # noqa: BLE001 - offline: count by the default limits; sending will tell
            return
        self._recount()

    def _follow_store(self, data: Dashboard | None) -> None:
        """Flag an item answered meanwhile (by anyone, from any app) or a claim taken over."""
        if data is None:
            return
        item_id = self.item.id
        problem = ""
        if data.has_item(item_id) and data.entry(item_id) is None:
            state = data.snapshot.states.get(item_id)
            if state is not None and state.done:
                problem = f"{line_of(state.operator, 30)} marked this item done meanwhile ({line_of(state.reason, 40)})."
            elif not self.sending:
                problem = "This item has been answered meanwhile."
        else:
            claim = data.snapshot.claims.get(item_id)
            if claim is not None and claim.operator != self.app.actor.operator:
                problem = f"{line_of(claim.operator, 30)} took over the claim on this item."
        if problem != self.meanwhile:
            self.meanwhile = problem
            self._show_warning()

    @work(group="renew-claim", exclusive=True, exit_on_error=False)
    async def _renew_claim(self) -> None:
        app = self.app
        try:
            await app.in_thread(app.store.claim, self.item, app.actor, app.now(), app.config.team.claim_ttl)
        except StoreError:
            pass  # the next renewal tries again; the claim outlives a few misses

    # -- actions --------------------------------------------------------------------------------

    @property
    def text(self) -> str:
        """The reply as typed so far."""
        return self.query_one(TextArea).text

    def action_saved_replies(self) -> None:
        self._pick_saved_reply()

    @work(group="saved", exclusive=True, exit_on_error=False)
    async def _pick_saved_reply(self) -> None:
        name = line_of(self.item.post.author.display_name) or line_of(self.item.post.author.label)
        filled = {key: text.format(name=name) for key, text in self.app.config.saved_replies.items()}
        chosen = await self.app.push_screen_wait(SavedRepliesDialog(filled))
        if chosen:
            area = self.query_one(TextArea)
            area.insert(chosen)
            area.focus()

    def action_send(self) -> None:
        self._send()

    @work(group="send", exclusive=True, exit_on_error=False)
    async def _send(self) -> None:
        app = self.app
        if self.sending:
            return
        text = self.query_one(TextArea).text
        prepared = self.adapter.prepare_reply(self.item, text)
        if not prepared.ok:
            self.show_problem(f"Not sent: {prepared.problem or 'the reply cannot be sent as it is'}")
            return
        store, config, item = app.store, app.config, self.item
        # Only real items can be answered meanwhile; a post from the timelines is not in the queue.
        is_item = app.dashboard is not None and app.dashboard.has_item(item.id)
        try:
            answered = is_item and await app.in_thread(answered_meanwhile, store, config, item, app.now())
        except StoreError as exc:
            self.show_problem(f"Not sent: {exc}")
            return
        if is_item and not answered:
            # The store only knows what a sync has seen: ask the server too (one request).
            adapter = self.adapter

            async def look() -> Post | None:
                return await answered_on_server(store, adapter, item)

            try:
                answered = await app.network.call(look) is not None
            except Exception:  # noqa: BLE001 - a question we could not ask must not stop the reply
                answered = False
        account = config.account(item.account)
        body = Content.assemble(
            ("from  ", "$text-muted"),
            account_label(account),
            "\n",
            ("to    ", "$text-muted"),
            (author_label(item.post.author, 60), "bold"),
            "\n",
            ("as    ", "$text-muted"),
            (prepared.visibility, "bold"),
            ((f"  CW {line_of(prepared.spoiler_text, 40)}"), "$warning") if prepared.spoiler_text else "",
            "\n\n",
            (line_of(prepared.text, 300), account_style(account)),
        )
        warning = ""
        if answered:
            warning = "This item has been answered meanwhile: a second reply may not be wanted."
        elif self.meanwhile:
            warning = self.meanwhile
        confirmed = await app.push_screen_wait(
            ConfirmDialog(
                "Send this reply?",
                body,
                yes="Send",
                no="Keep writing",
                default_yes=not answered,
                warning=warning,
            )
        )
        if not confirmed:
            return
        self.sending = True
        try:
            self.keeper.set_text(text)
            await app.in_thread(self.keeper.flush)
            entry = await app.in_thread(
                lambda: queue_reply(
                    store,
                    config,
                    self.adapter,
                    item,
                    text,
                    app.actor,
                    app.now(),
                    force=answered or not is_item,
                    draft=self.keeper.draft,
                )
            )
        except ReplyRefused as exc:
            self.sending = False
            self.show_problem(f"Not sent: {exc}")
            return
        except StoreError as exc:
            self.sending = False
            self.show_problem(f"Not sent (the store is busy; try again): {exc}")
            return
        self.keeper.sent()
        network, adapter, clock = app.network, self.adapter, app.clock

        async def send() -> Delivery:
            return await deliver(store, adapter, item, entry.id, clock)

        try:
            delivery = await network.call(send)
        except Exception as exc:  # noqa: BLE001 - the entry stays in the outbox; the poller retries it
            self.sending = False
            self.show_problem(f"Not sent yet ({exc}); it waits in the outbox and will be retried.")
            return
        self.sending = False
        app.refresh_dashboard()
        if delivery.sent:
            app.tell(
                f"Sent from {account.handle}: {line_of(delivery.entry.url or delivery.entry.remote_id, 120)}"
            )
            self.dismiss()
            return
        message = delivery.message
        if delivery.entry.state == "failed":
            # Refused for good: a new try is a new reply, with a new key. Keep the text as a draft.
            self.keeper.new_key(self.adapter.new_idempotency_key())
            self._save_draft()
            self.show_problem(f"Not sent: {message}. The text is kept; edit it and send again.")
        else:
            self.show_problem(f"Not sent yet: {message}. It waits in the outbox and will be retried.")

    def action_close(self) -> None:
        self._close()

    @work(group="close", exclusive=True, exit_on_error=False)
    async def _close(self) -> None:
        app = self.app
        if self.sending:
            app.tell("A reply is being sent: wait for the result.", "warning")
            return
        text = self.query_one(TextArea).text
        self.keeper.set_text(text)
        try:
            await app.in_thread(self.keeper.flush)
            if not text.strip():
                # Nothing written: the item is free again for the team.
                await app.in_thread(app.store.release, self.item, app.actor, app.now())
        except StoreError as exc:
            app.tell(f"Draft not saved: {exc}", "error")
            return
        if text.strip():
            app.tell("Draft kept; it is there when you reply again. Your claim runs out by itself.")
        app.refresh_dashboard()
        self.dismiss()

    def palette_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Send the reply", "Send it from the account shown (asks first)", self.action_send)
        yield SystemCommand(
            "Saved replies", "Insert one of the team's saved replies", self.action_saved_replies
        )
        yield SystemCommand("Close the composer", "The draft is kept", self.action_close)
