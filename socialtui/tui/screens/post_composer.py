"""The composer for new posts: the account unmistakable, the count by its network's rules, a time.

- The account is fixed when the composer opens (from the accounts pane or the schedule) and shown in
  its colour; the forecast of its quiet gap stands under it, so the operator sees what a post covers.
- The count follows `Adapter.prepare_post` as the operator types: red over the limit, and posting is
  refused while the post cannot be sent as it is.
- `When` is empty for now, or a WHEN as `socialtui post --at` reads it (`+2h`, `tomorrow 09:00`,
  `Sat 10:30`, an ISO time), in the account's time zone; the time it names is shown as it is typed,
  or what was expected.
- Mastodon posts have a visibility (F3 cycles it) and a content warning; Bluesky posts have neither.
- Posting asks first, naming the account and the time. The post goes through the outbox: sent now on
  the network thread, or scheduled for the poller. Editing a scheduled post changes it in one
  audited step, until it is being sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.color import Color
from textual.containers import Horizontal
from textual.content import Content
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Input, Static, TextArea

from socialtui.config import AccountConfig
from socialtui.model import OutboxEntry
from socialtui.networks.base import Adapter, ReplyDraft
from socialtui.outbox import Delivery, PostRefused, deliver, queue_post
from socialtui.store import NotChangeable, StoreError
from socialtui.timespec import format_duration, local_time, parse_when
from socialtui.tui.render import account_label, account_style, line_of
from socialtui.tui.screens.dialogs import ConfirmDialog

if TYPE_CHECKING:
    from socialtui.tui.app import SocialApp

VISIBILITIES = ("public", "unlisted", "private", "direct")


WHEN_FORMAT = "%a %d %b %H:%M"
"""A post's time as `local_time` shows it in the account's zone, for its audience: `Sat 21 Nov 10:30 CET`."""


class PostComposerScreen(Screen[None]):
    """Write a new post from one account: now, or at a time. With `editing`, change a scheduled one."""

    BINDINGS = [
        Binding("ctrl+s,f5", "send", "Post / schedule", id="post-send"),
        Binding("f3", "cycle_visibility", "Visibility", id="post-visibility"),
        Binding("escape", "close", "Close", id="post-close"),
    ]

    app: SocialApp

    prepared: reactive[ReplyDraft | None] = reactive(None)
    """The post as the network would take it now."""
    sending: reactive[bool] = reactive(False)
    """The post is being committed or sent: the composer waits for the result."""

    def __init__(self, account: AccountConfig, adapter: Adapter, editing: OutboxEntry | None = None) -> None:
        super().__init__(classes="composer post-composer")
        self.account = account
        self.adapter = adapter
        self.editing = editing
        self.visibility = editing.visibility if editing else "public"
        self.due_at: datetime | None = editing.due_at if editing else None
        self.when_problem = ""

    @property
    def mastodon(self) -> bool:
        return self.account.network == "mastodon"

    # -- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        account = self.account
        verb = "Edit the scheduled post from " if self.editing else "New post from "
        yield Static(
            Content.assemble(
                (verb, "bold"),
                account_label(account),
                (f"  ({account.id}, {account.network})", "$text-muted"),
            ),
            id="post-from",
        )
        yield Static(id="post-forecast")
        yield TextArea(
            self.editing.text if self.editing else "",
            id="post-text",
            soft_wrap=True,
            show_line_numbers=False,
            tab_behavior="focus",
        )
        with Horizontal(id="post-when-row"):
            yield Input(
                self._initial_when(),
                placeholder="when: empty = now; +2h, tomorrow 09:00, Sat 10:30",
                id="post-when",
            )
            if self.mastodon:
                yield Input(
                    self.editing.spoiler_text if self.editing else "",
                    placeholder="content warning (optional)",
                    id="post-cw",
                )
        yield Static(id="post-when-shown")
        yield Static(id="post-status")
        yield Footer()

    def _initial_when(self) -> str:
        if self.editing is None or self.editing.due_at is None:
            return ""
        # An ISO time in the account's zone: read back exactly as shown.
        return self.editing.due_at.astimezone(self.account.tz).strftime("%Y-%m-%dT%H:%M")

    def on_mount(self) -> None:
        if self.account.color:
            color = Color.parse(f"ansi_{self.account.color}")
            self.query_one("#post-from").styles.border = ("heavy", color)
            self.query_one("#post-text").styles.border = ("round", color)
        text = self.query_one(TextArea)
        text.cursor_blink = self.app.cursor_blink
        text.focus()
        text.move_cursor(text.document.end)
        self._read_when()
        self._recount()
        self._show_forecast(self.app.dashboard)
        self.watch(self.app, "dashboard", self._show_forecast)

    # -- what the post will be ------------------------------------------------------------------

    @property
    def text(self) -> str:
        return self.query_one(TextArea).text

    @property
    def spoiler_text(self) -> str:
        return self.query_one("#post-cw", Input).value.strip() if self.mastodon else ""

    def _recount(self) -> None:
        self.prepared = self.adapter.prepare_post(
            self.text, visibility=self.visibility, spoiler_text=self.spoiler_text
        )

    def _read_when(self) -> None:
        typed = self.query_one("#post-when", Input).value.strip()
        self.due_at, self.when_problem = None, ""
        if typed:
            try:
                self.due_at = parse_when(typed, self.account.tz, self.app.now())
            except ValueError as exc:
                self.when_problem = str(exc)
        self._show_when()
        self.refresh_bindings()

    def watch_prepared(self, _old: ReplyDraft | None, _new: ReplyDraft | None) -> None:
        self._show_status()
        self.refresh_bindings()

    def watch_sending(self, sending: bool) -> None:
        self.query_one(TextArea).read_only = sending
        self._show_status()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "send":
            prepared = self.prepared
            if self.sending:
                return False
            ready = prepared is not None and prepared.ok and not self.when_problem
            return True if ready else None
        if action == "cycle_visibility":
            return self.mastodon
        return True

    def _show_when(self) -> None:
        shown = self.query_one("#post-when-shown", Static)
        if self.when_problem:
            shown.update(Content.styled(line_of(self.when_problem, 300), "$error"))
        elif self.due_at is not None:
            left = format_duration((self.due_at - self.app.now()).total_seconds())
            shown.update(
                Content.assemble(
                    ("scheduled for ", "$text-muted"),
                    (local_time(self.due_at, self.account.tz, WHEN_FORMAT), "bold"),
                    (f" (in {left}, the account's time)", "$text-muted"),
                )
            )
        else:
            shown.update(Content.styled("posted now (type a time to schedule it)", "$text-muted"))

    def _show_status(self) -> None:
        prepared = self.prepared
        parts: list[str | tuple[str, str]] = []
        if prepared is not None:
            over = prepared.length > prepared.max_length
            parts.append(
                (f"{prepared.length}/{prepared.max_length}", "$error bold reverse" if over else "bold")
            )
            if self.mastodon:
                style = "bold" if self.visibility == "public" else "$warning bold"
                parts += [
                    ("  visibility ", "$text-muted"),
                    (self.visibility, style),
                    (" (F3)", "$text-muted"),
                ]
            if prepared.problem:
                style = "$text-muted" if not self.text.strip() else "$error"
                parts.append((f"  {line_of(prepared.problem, 80)}", style))
        if self.sending:
            parts.append(("  posting…", "$warning bold"))
        self.query_one("#post-status", Static).update(Content.assemble(*parts), layout=False)
        over = prepared is not None and prepared.length > prepared.max_length
        if over != self.has_class("-over"):
            self.set_class(over, "-over")

    def show_problem(self, message: str) -> None:
        """A post that did not go: shown until the next keystroke."""
        self.query_one("#post-status", Static).update(
            Content.styled(line_of(message, 200), "$error bold"), layout=False
        )

    def _show_forecast(self, data: object) -> None:
        overview = getattr(data, "overview", None)
        if overview is None:
            return
        row = next((a for a in overview.accounts if a.account.id == self.account.id), None)
        if row is None or row.forecast is None:
            return
        forecast = row.forecast.summary(self.account.tz, overview.generated_at)
        style = "$warning" if row.forecast.breach_at is not None else "$text-muted"
        self.query_one("#post-forecast", Static).update(
            Content.assemble(("quiet gap: ", "$text-muted"), (forecast, style)), layout=False
        )

    @on(TextArea.Changed)
    def _typed(self, _event: TextArea.Changed) -> None:
        self._recount()

    @on(Input.Changed, "#post-when")
    def _when_typed(self, _event: Input.Changed) -> None:
        self._read_when()

    @on(Input.Changed, "#post-cw")
    def _cw_typed(self, _event: Input.Changed) -> None:
        self._recount()

    # -- actions --------------------------------------------------------------------------------

    def action_cycle_visibility(self) -> None:
        if not self.mastodon:
            return
        self.visibility = VISIBILITIES[(VISIBILITIES.index(self.visibility) + 1) % len(VISIBILITIES)]
        self._recount()

    def action_send(self) -> None:
        self._send()

    @work(group="post-send", exclusive=True, exit_on_error=False)
    async def _send(self) -> None:
        app = self.app
        if self.sending:
            return
        self._read_when()  # "+2h" means two hours from the moment of sending
        if self.when_problem:
            self.show_problem(f"Not posted: {self.when_problem}")
            return
        prepared = self.adapter.prepare_post(
            self.text, visibility=self.visibility, spoiler_text=self.spoiler_text
        )
        if not prepared.ok:
            self.show_problem(f"Not posted: {prepared.problem or 'the post cannot be sent as it is'}")
            return
        account, due_at = self.account, self.due_at
        when = f"at {local_time(due_at, account.tz, WHEN_FORMAT)}" if due_at else "now"
        body = Content.assemble(
            ("from  ", "$text-muted"),
            account_label(account),
            "\n",
            ("when  ", "$text-muted"),
            (when, "bold"),
            "\n",
            ("as    ", "$text-muted"),
            (prepared.visibility, "bold"),
            (f"  CW {line_of(prepared.spoiler_text, 40)}", "$warning") if prepared.spoiler_text else "",
            "\n\n",
            (line_of(prepared.text, 300), account_style(account)),
        )
        question = "Schedule this post?" if due_at else "Post this now?"
        yes = "Schedule" if due_at else "Post"
        if not await app.push_screen_wait(
            ConfirmDialog(question, body, yes=yes, no="Keep writing", default_yes=True)
        ):
            return
        self.sending = True
        store, actor, now = app.store, app.actor, app.now()
        try:
            if self.editing is not None:
                editing_id = self.editing.id  # read now: the lambda runs later, in a thread
                entry = await app.in_thread(
                    lambda: store.outbox_reschedule(
                        editing_id,
                        actor,
                        now,
                        due_at=due_at,
                        text=prepared.text,
                        visibility=prepared.visibility,
                        spoiler_text=prepared.spoiler_text,
                    )
                )
            else:
                entry = await app.in_thread(
                    lambda: queue_post(
                        store,
                        self.adapter,
                        prepared.text,
                        actor,
                        now,
                        due_at=due_at,
                        visibility=prepared.visibility,
                        spoiler_text=prepared.spoiler_text,
                    )
                )
        except (PostRefused, NotChangeable) as exc:
            self.sending = False
            self.show_problem(f"Not posted: {exc}")
            return
        except StoreError as exc:
            self.sending = False
            self.show_problem(f"Not posted (the store is busy; try again): {exc}")
            return
        app.refresh_dashboard()
        if due_at is not None:
            self.sending = False
            app.tell(f"Scheduled from {account.handle} for {local_time(due_at, account.tz, WHEN_FORMAT)}.")
            self.dismiss()
            return
        delivery = await self._deliver(entry)
        self.sending = False
        app.refresh_dashboard()
        if delivery is None:
            return
        if delivery.sent:
            app.tell(
                f"Posted from {account.handle}: {line_of(delivery.entry.url or delivery.entry.remote_id, 120)}"
            )
            self.dismiss()
        elif delivery.entry.state == "failed":
            self.show_problem(f"Not posted: {delivery.message}. The text is kept in the outbox.")
        else:
            app.tell(
                f"Not posted yet: {delivery.message}. It waits in the outbox and will be retried.", "warning"
            )
            self.dismiss()

    async def _deliver(self, entry: OutboxEntry) -> Delivery | None:
        app = self.app
        store, adapter, clock = app.store, self.adapter, app.clock

        async def send() -> Delivery:
            return await deliver(store, adapter, None, entry.id, clock)

        try:
            return await app.network.call(send)
        except Exception as exc:  # noqa: BLE001 - the entry stays in the outbox; the poller retries it
            app.tell(f"Not posted yet ({exc}); it waits in the outbox and will be retried.", "warning")
            self.dismiss()
            return None

    def action_close(self) -> None:
        self._close()

    @work(group="post-close", exclusive=True, exit_on_error=False)
    async def _close(self) -> None:
        if self.sending:
            self.app.tell("The post is on its way: wait for the result.", "warning")
            return
        unchanged = self.editing is not None and self.text.strip() == self.editing.text.strip()
        if self.text.strip() and not unchanged:
            leave = await self.app.push_screen_wait(
                ConfirmDialog(
                    "Leave without posting?", "The text is not kept.", yes="Leave", no="Keep writing"
                )
            )
            if not leave:
                return
        self.dismiss()

    def palette_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand(
            "Post / schedule", "Post now, or at the time given (asks first)", self.action_send
        )
        yield SystemCommand("Close the composer", "Leave without posting", self.action_close)


__all__ = ["WHEN_FORMAT", "PostComposerScreen"]
