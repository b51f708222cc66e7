"""The schedule: the coming posts of one account or of all merged, in order, with their times in each
account's zone, its forecast and day strip; edit, move, cancel or send now until they are sent.

It reads nothing itself: the dashboard's reading (every second) holds the outbox and the forecasts.
Changes go through the store API (`outbox_reschedule`), which refuses them once a poller has taken
the post, and are audited there.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Input, Static

from socialtui.config import AccountConfig
from socialtui.model import OutboxEntry
from socialtui.outbox import Delivery, deliver
from socialtui.schedule import ScheduledPost, day_strip, scheduled_posts
from socialtui.store import NotChangeable, StoreError
from socialtui.timespec import format_duration, local_time, parse_when
from socialtui.tui.render import CellStyles, account_label, cell, line_of
from socialtui.tui.screens.dialogs import ConfirmDialog, focus_first
from socialtui.tui.screens.post_composer import WHEN_FORMAT

if TYPE_CHECKING:
    from socialtui.tui.app import SocialApp
    from socialtui.tui.data import Dashboard

STATE_STYLE = {"held": "due", "missed": "late", "failed": "late", "sending": "due", "queued": "due"}


class ScheduleTable(DataTable[Text]):
    """The posts shown, soonest first."""


class WhenDialog(ModalScreen[str | None]):
    """A new time for a post: a WHEN, read in the account's zone, checked as it is typed."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog-cancel")]

    def __init__(self, account: AccountConfig, about: Content) -> None:
        super().__init__(classes="dialog")
        self.account = account
        self.about = about

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static(Content.styled("Move the post to", "bold"), classes="dialog-title")
            yield Static(self.about, classes="dialog-body")
            yield Input(placeholder="+2h, tomorrow 09:00, Sat 10:30, 2026-11-20T09:00", id="when")
            yield Static(id="when-shown")
            yield Static(Content.styled("Enter to move, Esc to cancel", "$text-muted"))

    def on_mount(self) -> None:
        focus_first(self, "Input")

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        shown = self.query_one("#when-shown", Static)
        if not event.value.strip():
            shown.update("")
            return
        try:
            at = parse_when(event.value, self.account.tz, self.app.clock.now())  # type: ignore[attr-defined]  # self.app is the SocialApp, which has a clock
        except ValueError as exc:
            shown.update(Content.styled(line_of(str(exc), 200), "$error"))
        else:
            shown.update(Content.styled(local_time(at, self.account.tz, WHEN_FORMAT), "bold"))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class ScheduleScreen(Screen[None]):
    """The scheduled posts: `a` steps through the accounts and all of them merged."""

    BINDINGS = [
        Binding("a", "cycle_account", "Account", id="schedule-account"),
        Binding("n", "new_post", "New post", id="schedule-new"),
        Binding("e,enter", "edit", "Edit", id="schedule-edit"),
        Binding("m", "move", "Move", id="schedule-move"),
        Binding("x", "cancel_post", "Cancel post", id="schedule-cancel"),
        Binding("s", "send_now", "Send now", id="schedule-send-now"),
        Binding("escape", "back", "Back", id="back"),
    ]

    app: SocialApp

    def __init__(self, account_id: str | None = None) -> None:
        super().__init__(classes="schedule")
        self.account_id = account_id
        """The account shown, or None for all of them merged."""
        self.posts: list[ScheduledPost] = []
        self._shown: tuple[object, ...] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="schedule-title")
        yield Static(id="schedule-forecast")
        yield ScheduleTable(id="schedule-table", cursor_type="row", cursor_foreground_priority="renderable")
        yield Static(id="schedule-post")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(ScheduleTable)
        table.add_column(Text("when (account time)", style="bold"), width=21, key="at")
        table.add_column(Text("account", style="bold"), width=14, key="account")
        table.add_column(Text("state", style="bold"), width=9, key="state")
        table.add_column(Text("text", style="bold"), width=120, key="text")
        table.focus()
        self._show(self.app.dashboard)
        self.watch(self.app, "dashboard", self._show)

    @property
    def accounts(self) -> dict[str, AccountConfig]:
        return {account.id: account for account in self.app.config.accounts}

    # -- showing the dashboard's reading --------------------------------------------------------

    def _show(self, data: Dashboard | None) -> None:
        if data is None:
            return
        overview = data.overview
        healths = {a.account.id: a.health for a in overview.accounts}
        grace = self.app.config.team.schedule_grace
        self.posts = scheduled_posts(
            overview.snapshot.outbox, healths, data.now, grace, account=self.account_id
        )
        self._show_title(data)
        rows = tuple((p.entry.id, p.state, p.at, p.entry.text) for p in self.posts)
        if rows == self._shown:
            return
        self._shown = rows
        table = self.query_one(ScheduleTable)
        selected = self.selected.entry.id if self.selected else None
        styles = CellStyles.from_theme(self.app.current_theme)
        table.clear()
        for post in self.posts:
            account = self.accounts.get(post.entry.account)
            at = local_time(post.at, account.tz, WHEN_FORMAT) if account else post.at.isoformat()
            style = styles.state(STATE_STYLE.get(post.state, "ok")) if post.state != "scheduled" else ""
            table.add_row(
                cell(at),
                cell(post.entry.account, styles.muted),
                cell(post.state, style),
                cell(line_of(post.entry.text, 200), width=120),
                key=post.entry.id,
            )
        if selected is not None and selected in {p.entry.id for p in self.posts}:
            table.move_cursor(row=table.get_row_index(selected))
        self._show_post()

    def _show_title(self, data: Dashboard) -> None:
        title = self.query_one("#schedule-title", Static)
        forecast = self.query_one("#schedule-forecast", Static)
        waiting = sum(1 for p in self.posts if p.state in ("scheduled", "held"))
        if self.account_id is None:
            title.update(
                Content.assemble(
                    ("Schedule ", "bold"),
                    ("all accounts, merged", "bold $secondary"),
                    (f"   {waiting} coming   a: one account", "$text-muted"),
                )
            )
            lines = []
            for row in data.overview.accounts:
                if row.forecast is None:
                    continue
                summary = row.forecast.summary(row.account.tz, data.now)
                style = "$warning" if row.forecast.breach_at is not None else "$text-muted"
                lines.append(
                    Content.assemble((line_of(row.account.id, 16).ljust(17), "$text-muted"), (summary, style))
                )
            forecast.update(Content("\n").join(lines[:4]))
            return
        account = self.accounts[self.account_id]
        title.update(
            Content.assemble(
                ("Schedule ", "bold"),
                account_label(account),
                (f"   {waiting} coming   a: next account", "$text-muted"),
            )
        )
        mine = next((a for a in data.overview.accounts if a.account.id == self.account_id), None)
        if mine is None or mine.forecast is None:
            forecast.update("")
            return
        summary = mine.forecast.summary(account.tz, data.now)
        own = list(data.own_times.get(account.id, ()))
        planned = [p.at for p in self.posts if p.state == "scheduled"]
        width = max(self.size.width - 2, 24)
        start = data.now - timedelta(hours=6)
        strip = day_strip(account, own, planned, start, start + timedelta(hours=24), width)
        now_at = int(width * 6 / 24)
        marker = " " * now_at + "▲ now " + local_time(data.now, account.tz, WHEN_FORMAT)
        style = "$warning" if mine.forecast.breach_at is not None else "$text-muted"
        forecast.update(
            Content.assemble(
                ("quiet gap: ", "$text-muted"),
                (summary, style),
                "\n",
                (strip, "$secondary"),
                "\n",
                (marker[:width], "$text-muted"),
                "\n",
                ("█ made  ▓ scheduled  ░ active  ▒ would breach   (24h from 6h ago)", "$text-muted"),
            )
        )

    @property
    def selected(self) -> ScheduledPost | None:
        table = self.query_one(ScheduleTable)
        if not self.posts or table.row_count == 0:
            return None
        index = table.cursor_row
        return self.posts[index] if 0 <= index < len(self.posts) else None

    def _show_post(self) -> None:
        post = self.selected
        shown = self.query_one("#schedule-post", Static)
        if post is None:
            where = "for this account" if self.account_id else ""
            shown.update(
                Content.styled(f"Nothing scheduled {where}. n: a new post.".replace("  ", " "), "$text-muted")
            )
            return
        entry = post.entry
        extra = f"  {entry.visibility}" if entry.visibility != "public" else ""
        cw = f"  CW {line_of(entry.spoiler_text, 40)}" if entry.spoiler_text else ""
        error = f"\n{line_of(entry.error, 200)}" if entry.error else ""
        shown.update(
            Content.assemble(
                (f"by {line_of(entry.operator, 30)}{extra}{cw}", "$text-muted"),
                "\n",
                line_of(entry.text, 400),
                (error, "$error"),
            )
        )

    @on(DataTable.RowHighlighted)
    def _highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_post()

    # -- actions --------------------------------------------------------------------------------

    def action_cycle_account(self) -> None:
        ids = [None, *self.accounts]
        self.account_id = ids[(ids.index(self.account_id) + 1) % len(ids)] if self.account_id in ids else None
        self._shown = None
        self._show(self.app.dashboard)

    def action_back(self) -> None:
        self.dismiss()

    def action_new_post(self) -> None:
        account_id = self.account_id or (self.selected.entry.account if self.selected else None)
        self.app.open_post_composer(account_id or self.app.config.accounts[0].id)

    def _changeable(self) -> OutboxEntry | None:
        post = self.selected
        if post is None:
            self.app.tell("Nothing selected.", "warning")
            return None
        if post.entry.state not in ("scheduled", "missed"):
            self.app.tell(f"This post is {post.entry.state}: it can no longer be changed.", "warning")
            return None
        return post.entry

    def action_edit(self) -> None:
        entry = self._changeable()
        if entry is not None:
            self.app.open_post_composer(entry.account, editing=entry)

    def action_move(self) -> None:
        entry = self._changeable()
        if entry is not None:
            self._move(entry)

    @work(group="schedule-move", exclusive=True, exit_on_error=False)
    async def _move(self, entry: OutboxEntry) -> None:
        app = self.app
        account = self.accounts[entry.account]
        about = Content.assemble(account_label(account), "\n", line_of(entry.text, 120))
        typed = await app.push_screen_wait(WhenDialog(account, about))
        if not typed:
            return
        try:
            due_at = parse_when(typed, account.tz, app.now())
        except ValueError as exc:
            app.tell(f"Not moved: {exc}", "error")
            return
        try:
            await app.in_thread(
                lambda: app.store.outbox_reschedule(entry.id, app.actor, app.now(), due_at=due_at)
            )
        except (NotChangeable, StoreError) as exc:
            app.tell(f"Not moved: {exc}", "error")
            return
        app.tell(f"Moved to {local_time(due_at, account.tz, WHEN_FORMAT)}.")
        app.refresh_dashboard()

    def action_cancel_post(self) -> None:
        entry = self._changeable()
        if entry is not None:
            self._cancel(entry)

    @work(group="schedule-cancel", exclusive=True, exit_on_error=False)
    async def _cancel(self, entry: OutboxEntry) -> None:
        app = self.app
        account = self.accounts[entry.account]
        when = local_time(entry.due_at, account.tz, WHEN_FORMAT) if entry.due_at else "now"
        body = Content.assemble(account_label(account), f"  {when}\n\n", line_of(entry.text, 300))
        if not await app.push_screen_wait(
            ConfirmDialog("Cancel this post?", body, yes="Cancel it", no="Keep it")
        ):
            return
        try:
            await app.in_thread(
                lambda: app.store.outbox_reschedule(entry.id, app.actor, app.now(), cancel=True)
            )
        except (NotChangeable, StoreError) as exc:
            app.tell(f"Not cancelled: {exc}", "error")
            return
        app.tell("Cancelled: it will not be posted.")
        app.refresh_dashboard()

    def action_send_now(self) -> None:
        entry = self._changeable()
        if entry is not None:
            self._send_now(entry)

    @work(group="schedule-send", exclusive=True, exit_on_error=False)
    async def _send_now(self, entry: OutboxEntry) -> None:
        app = self.app
        account = self.accounts[entry.account]
        late = ""
        if entry.due_at is not None and entry.due_at < app.now():
            late = f"It was due {format_duration((app.now() - entry.due_at).total_seconds())} ago."
        body = Content.assemble(account_label(account), "\n\n", line_of(entry.text, 300))
        if not await app.push_screen_wait(
            ConfirmDialog("Post this now?", body, yes="Post now", no="Not now", warning=late)
        ):
            return
        try:
            await app.in_thread(lambda: app.store.outbox_reschedule(entry.id, app.actor, app.now()))
        except (NotChangeable, StoreError) as exc:
            app.tell(f"Not posted: {exc}", "error")
            return
        network, clock, store = app.network, app.clock, app.store

        async def send() -> Delivery:
            return await deliver(store, network.adapter(entry.account), None, entry.id, clock)

        try:
            delivery = await network.call(send)
        except Exception as exc:  # noqa: BLE001 - queued: the poller sends it
            app.tell(f"Not posted yet ({exc}); it waits in the outbox and will be retried.", "warning")
        else:
            if delivery.sent:
                app.tell(f"Posted from {account.handle}.")
            else:
                app.tell(f"Not posted yet: {delivery.message}", "warning")
        app.refresh_dashboard()

    def palette_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand(
            "New post", "Write a post from this account, now or scheduled", self.action_new_post
        )
        yield SystemCommand("Edit the post", "Change its text or time", self.action_edit)
        yield SystemCommand("Move the post", "Give it a new time", self.action_move)
        yield SystemCommand("Cancel the post", "It will not be posted", self.action_cancel_post)
        yield SystemCommand("Send now", "Post it now (a missed one, say)", self.action_send_now)
        yield SystemCommand("Account", "One account, the next, or all merged", self.action_cycle_account)


__all__ = ["ScheduleScreen", "WhenDialog"]
