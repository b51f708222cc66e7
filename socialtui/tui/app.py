"""The dashboard application: the services every screen uses, and the loop that follows the store.

- The store is read in a worker thread (`StoreFollower`): store reads take file locks that another
  process may hold for seconds, so never on the UI thread. A reading starts as soon as the store
  says it changed (a watching thread blocks in `StoreFollower.wait`: inotify for the files engine,
  LISTEN/NOTIFY for PostgreSQL), and every `refresh_every` seconds for the clock alone (ages, late
  items). A reading that fails (`StoreBusy`) is shown in the header and the dashboard keeps the last
  good one.
- Every network call runs on `NetworkLoop`'s thread, and so does the poller for the accounts no
  `socialtui sync` holds.
- Readings go down as the `dashboard` attribute; screens watch it.
- Starting the dashboard starts (or resumes) the operator's shift. The handoff notes waiting for
  them come first: the first reading after the shift started opens the handoff screen over the
  queue, before the queue is ever drawn.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.content import Content
from textual.reactive import reactive
from textual.screen import Screen

from socialtui.clock import Clock
from socialtui.config import Config
from socialtui.model import Actor, Contact, HandoffNote, Item, OutboxEntry, Post
from socialtui.networks.base import Adapter
from socialtui.store import Store, StoreBusy, StoreError
from socialtui.sync import AdapterFactory, Syncer, default_adapter_factory
from socialtui.timespec import local_time
from socialtui.tui.cells import count_spacing_marks
from socialtui.tui.data import Dashboard, StoreFollower
from socialtui.tui.drafts import DraftKeeper
from socialtui.tui.keys import help_lines, split_keymap
from socialtui.tui.network import NetworkLoop
from socialtui.tui.render import WIDE_FROM, ago, line_of
from socialtui.tui.screens.dialogs import ConfirmDialog

if TYPE_CHECKING:
    from socialtui.context import Context

T = TypeVar("T")

HANG_UPS = (signal.SIGHUP, signal.SIGTERM)
REFRESH_EVERY = 5.0
"""Seconds between readings for the clock's sake (ages, items turning late): a change in the store is
read at once, without waiting for this (`WATCH_STEP`)."""
WATCH_STEP = 1.0
"""The longest the watching thread blocks in one wait: how soon it notices the app is closing."""
SWITCH_INTERVAL = 0.001
"""Seconds a thread holds the interpreter before another that waits for it may take it (Python's
default is 5 ms). The store is read in a thread while the UI thread builds and paints the screen;
the reading makes a system call for every file it opens, and after each one it waited up to the
whole interval for the interpreter: the first look took three times its work while the screen was
being built, and a key pressed during a reading waited in 5 ms steps."""


class SocialApp(App[int]):
    """socialtui's dashboard."""

    CSS_PATH = "app.tcss"
    TITLE = "socialtui"
    ENABLE_COMMAND_PALETTE = True
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE_FROM, "-wide")]
    BINDINGS = [
        Binding("question_mark,f1", "help", "Help", id="help"),
        Binding("ctrl+r", "refresh", "Refresh now", show=False, id="refresh"),
    ]

    dashboard: reactive[Dashboard | None] = reactive(None, always_update=True)
    """The latest reading of the store (None until the first one)."""
    store_problem: reactive[str] = reactive("")
    """Why the last reading failed (another process holding the store, a bad file), or ""."""

    def __init__(
        self,
        config: Config,
        store: Store,
        clock: Clock,
        actor: Actor,
        *,
        adapter_factory: AdapterFactory | None = None,
        sync: bool = True,
        refresh_every: float = REFRESH_EVERY,
        cursor_blink: bool = True,
        theme: str | None = None,
        demo: bool = False,
    ) -> None:
        count_spacing_marks()  # lay rows out as tmux, xterm and VTE draw them (see tui/cells.py)
        super().__init__()
        self.config = config
        self.store = store
        self.clock = clock
        self.actor = actor
        self.follower = StoreFollower(config, store, actor.operator)
        self.network = NetworkLoop(config, adapter_factory or default_adapter_factory(config, store, clock))
        self.sync_enabled = sync
        self.refresh_every = refresh_every
        self.cursor_blink = cursor_blink
        self.told: list[tuple[str, str]] = []
        """Every notification shown, (severity, message): what tests and the operator's log read."""
        self.shift_start: datetime | None = None
        self._shift_tried = False
        """The shift start was attempted (and may have failed): readings may greet the operator."""
        self._greeted = False
        """The handoff notes waiting at start have been shown (or there were none)."""
        self.handoff_pins: set[str] = set()
        """What the operator pinned on the handoff note being written (`item:ID`, `account:ID`).
        In memory only: the store keeps the note's text as a draft, but has no place for pins."""
        self.keymap_applied: dict[str, str] = {}
        self._reading = threading.Lock()
        """Guards `_reading_active` and `_read_again`: one reading at a time, and one more if asked."""
        self._reading_active = False
        self._read_again = False
        self._reading_idle = threading.Event()
        """Set while no reading is under way: the watcher waits for it before it waits on the store."""
        self._reading_idle.set()
        self._watch_stop = threading.Event()
        self._store_watcher: threading.Thread | None = None
        self._first_look_done = False
        """The first look (the head of the queue) was read: from then on, full readings only."""
        self._wanted_theme = theme
        self.demo = demo
        """Running on the sandbox network (`socialtui demo`): the header says so."""
        self._signals_caught = False
        self._switch_interval = sys.getswitchinterval()
        self.alerts = 0
        """Alerts given (an item turned late, a direct message arrived): what tests read."""
        self.leaving = False
        """Quitting: the draft is being saved and the app is closing."""
        self.gc_frozen = False
        """What the first full reading decoded is out of the collector's full passes (`gc.freeze`)."""
        self._ended = False
        """The app unmounted: nothing is frozen any more (`_freeze_what_stays`)."""

    # -- start and stop -----------------------------------------------------------------------------

    def get_default_screen(self) -> Screen[Any]:
        from socialtui.tui.screens.main import MainScreen

        return MainScreen()

    def on_mount(self) -> None:
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(SWITCH_INTERVAL, self._switch_interval))
        self._catch_hangups()
        self._choose_theme()
        self._apply_keymap()
        self.network.start()
        if self.sync_enabled and self.config.accounts:
            self.network.start_syncer(Syncer(self.config, self.store, self.clock, self.network.factory))
        # The first reading waits for the shift to start, so the notes waiting since the operator's
        # last shift are known before the queue is ever drawn.
        self.start_shift()
        self.set_interval(self.refresh_every, self._follow_store, name="follow-store")
        if self.demo:
            self.tell(
                "Demo: open a second dashboard on this data as another operator: socialtui --config "
                f"{self.config.path} --operator Robin (the command is printed when you quit).",
                timeout=20,
            )

    def _catch_hangups(self) -> None:
        """A dropped SSH session (SIGHUP) or a `kill` (SIGTERM) ends the dashboard the orderly way:
        the draft being written is saved, the poller's leases go back, the demo cleans up."""
        try:
            loop = asyncio.get_running_loop()
            for signum in HANG_UPS:
                loop.add_signal_handler(signum, self._hang_up)
        except (NotImplementedError, RuntimeError, ValueError, AttributeError):
            return  # not the main thread, or no such signals here
        self._signals_caught = True

    async def on_event(self, event: events.Event) -> None:
        if self.leaving and isinstance(event, (events.Key, events.MouseDown, events.Click)):
            return  # on the way out: keys typed meanwhile must not open screens that will not live
        await super().on_event(event)

    def _writers(self) -> list[Any]:
        """The screens holding a draft: reply composers and the handoff note being written."""
        from socialtui.tui.screens.composer import ComposerScreen
        from socialtui.tui.screens.handoff import HandoffComposer

        return [
            screen for screen in self.screen_stack if isinstance(screen, (ComposerScreen, HandoffComposer))
        ]

    def _hang_up(self) -> None:
        self.leaving = True
        for screen in self._writers():
            screen.keep_draft_now()
        self.exit(0)

    async def action_quit(self) -> None:
        """Quit (q, ctrl+q): the draft being written is saved first, to the last keystroke."""
        self.leaving = True
        for screen in self._writers():
            screen.keeper.set_text(screen.text)
            try:
                await self.in_thread(screen.keeper.flush)
            except StoreError:
                pass  # the draft as it was half a second ago stays
        self.exit(0)

    def _choose_theme(self) -> None:
        wanted = self._wanted_theme or os.environ.get("SOCIALTUI_THEME", "")
        if wanted and wanted in self.available_themes:
            self.theme = wanted
        elif self.console.color_system in ("standard", "windows"):
            # 16 colours (TERM=screen, old terminals, some SSH setups): the ANSI theme reads best.
            self.theme = "ansi-dark"

    def _apply_keymap(self) -> None:
        keymap, unknown = split_keymap(self.config.keys)
        if unknown:
            self.tell(
                f"{self.config.path}: [keys] names unknown bindings: {', '.join(unknown)}; "
                "they were ignored (press ? for the binding ids).",
                "error",
                timeout=20,
            )
        self.keymap_applied = keymap
        self.set_keymap(keymap)

    async def on_unmount(self) -> None:
        self._ended = True
        sys.setswitchinterval(self._switch_interval)
        if self.gc_frozen:
            gc.unfreeze()
        if self._signals_caught:
            loop = asyncio.get_running_loop()
            for signum in HANG_UPS:
                loop.remove_signal_handler(signum)
        # Stop polling (leases go back, so another dashboard or `socialtui sync` takes over) and close
        # the network clients, off the UI thread.
        await asyncio.to_thread(self.network.stop)
        await asyncio.to_thread(self._stop_watching)

    # -- services for the screens -------------------------------------------------------------------

    def tell(self, message: str, severity: str = "information", *, timeout: float | None = None) -> None:
        """A notification. Never markup: messages quote servers and strangers."""
        self.told.append((severity, message))
        self.notify(message, severity=severity, markup=False, timeout=timeout)  # type: ignore[arg-type]  # severity is one of Textual's SeverityLevel strings, passed through as str

    async def in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking work (the store) in a thread, from an async worker."""
        return await asyncio.to_thread(fn, *args)

    def now(self) -> datetime:
        return self.clock.now()

    def keys_help(self) -> list[tuple[str, list[Any]]]:
        return help_lines(self.keymap_applied, self.get_key_display_for)

    def get_key_display_for(self, key: str) -> str:
        return self.get_key_display(Binding(key, ""))

    # -- following the store ------------------------------------------------------------------------

    def refresh_dashboard(self) -> None:
        """Read the store again now (in a thread); if a reading is under way, once more after it, so
        that what an action just changed shows at once."""
        self._start_reading(again=True)

    def _follow_store(self) -> None:
        """The reading for the clock's sake: skipped while one is still under way."""
        self._start_reading(again=False)

    def _start_reading(self, *, again: bool) -> None:
        with self._reading:
            self._reading_idle.clear()
            if self._reading_active:
                self._read_again = self._read_again or again
                return
            self._reading_active = True
        self._read_store()

    def _start_watching(self) -> None:
        self._watch_stop.clear()
        self._store_watcher = threading.Thread(target=self._watch_store, name="watch-store", daemon=True)
        self._store_watcher.start()

    def _stop_watching(self) -> None:
        self._watch_stop.set()
        if self._store_watcher is not None:
            self._store_watcher.join(WATCH_STEP * 3)
            self._store_watcher = None

    def _watch_store(self) -> None:
        """The watching thread: a reading as soon as the store changed, then (once it is done) the
        next wait, which starts from what that reading saw."""
        while not self._watch_stop.is_set():
            self._reading_idle.wait(WATCH_STEP)
            if not self._reading_idle.is_set():
                continue
            try:
                changed = self.follower.wait(WATCH_STEP)
            except StoreError:
                changed = False  # the timed reading says what is wrong; look again after a step
                self._watch_stop.wait(WATCH_STEP)
            if changed and not self._watch_stop.is_set():
                with self._reading:
                    self._reading_idle.clear()  # before the reading is asked for: never waited past
                self._from_thread(self.refresh_dashboard)

    @work(thread=True, group="follow-store", exit_on_error=False)
    def _read_store(self) -> None:
        while True:
            try:
                if self.dashboard is None and not self._first_look_done:
                    # The head of the queue and the counts first, on screen at once; the full reading
                    # (every item decoded, then followed) comes right after it.
                    self._first_look_done = True
                    first = self.follower.first_look(self.now(), self.shift_start)
                    if first.partial:
                        shown = threading.Event()
                        self._from_thread(self._first_look_done_reading, first, shown)
                        # The full reading holds the interpreter for seconds: let the first screen
                        # be painted before it starts.
                        shown.wait(2.0)
                reading = self.follower.read(self.now(), self.shift_start)
            except StoreBusy:
                self._from_thread(self._reading_failed, "store busy: locked by another process; retrying")
            except StoreError as exc:
                self._from_thread(self._reading_failed, str(exc))
            except BaseException:
                with self._reading:
                    self._reading_active = self._read_again = False
                    self._reading_idle.set()
                raise
            else:
                self._from_thread(self._reading_done, reading)
            with self._reading:
                if not self._read_again:
                    self._reading_active = False
                    self._reading_idle.set()
                    return
                self._read_again = False

    def _freeze_what_stays(self) -> None:
        """After the first full reading: what it decoded (every open item, every record the care
        rules keep) stays for the dashboard's life, and the collector's full passes over it took
        150 ms of every other reading at 50,000 open items, the interpreter held. Frozen
        (`gc.freeze`), it is left out of them; objects are freed by their counts all the same.
        The young generations are collected first, so little garbage is frozen with it.

        Run on the UI thread, as `on_unmount` is, once the reading is the app's: frozen from the
        reading thread as the app ended, it stayed frozen after it (the next app of a test process
        found the collector half off)."""
        if self._ended:
            return
        gc.collect(1)
        gc.freeze()
        self.gc_frozen = True

    def _from_thread(self, callback: Callable[..., Any], *args: Any) -> None:
        try:
            self.call_from_thread(callback, *args)
        except RuntimeError:
            pass  # the app is closing

    def _first_look_done_reading(self, reading: Dashboard, shown: threading.Event) -> None:
        self._reading_done(reading)
        self.call_after_refresh(shown.set)

    def _reading_done(self, reading: Dashboard) -> None:
        if self._store_watcher is None and not self.leaving:
            self._start_watching()  # after the first reading: it waits for the shift to start
        before = self.dashboard
        self.store_problem = ""
        self.dashboard = reading
        if not self.gc_frozen and reading.items_version >= 0:  # the first full reading (not the first look)
            self._freeze_what_stays()
        if before is not None:
            self._tell_acknowledgements(before.handoffs, reading.handoffs)
            if not before.partial:  # after the first look, the rest of the queue: nothing turned late
                self._alert(before, reading)
        if not self._greeted and (reading.shift_start is not None or self._shift_tried):
            self._greeted = True
            if reading.waiting:
                self.open_handoffs()

    def _alert(self, before: Dashboard, now: Dashboard) -> None:
        """A flash and a notification when an item turns late or a direct message arrives; the
        terminal bell too where `[team] bell = true`. (Not at the first reading: what was already
        late then is in the header.)"""
        if before.queue is now.queue:
            return  # the same queue (only the clock or the accounts' health moved): nothing new
        was = {entry.item.id: entry.state for entry in before.queue}
        late = [e for e in now.queue if e.state == "late" and was.get(e.item.id) not in ("late",)]
        direct = [e for e in now.queue if e.item.id not in was and e.item.post.visibility == "direct"]
        if not late and not direct:
            return
        parts = []
        if direct:
            first = direct[0].item
            more = f" (+{len(direct) - 1})" if len(direct) > 1 else ""
            parts.append(
                f"✉ direct message from {line_of(first.post.author.label, 30)} on {first.account}{more}"
            )
        if late:
            first = late[0].item
            more = f" (+{len(late) - 1} more)" if len(late) > 1 else ""
            parts.append(f"⚠ now late: {line_of(first.post.author.label, 30)} on {first.account}{more}")
        self.alerts += 1
        self.tell("; ".join(parts), "warning", timeout=10)
        # The flash ends on the screen it began on: by then the operator may have opened another, or
        # the app may be closing with no screen at all.
        flashed = self.screen
        flashed.add_class("-alert")
        self.set_timer(0.6, lambda: flashed.remove_class("-alert"))
        if self.config.team.bell:
            self.bell()

    def _tell_acknowledgements(self, before: tuple[HandoffNote, ...], now: tuple[HandoffNote, ...]) -> None:
        """Tell the writer of a handoff note when someone acknowledges it."""
        seen = {(note.id, ack.operator) for note in before for ack in note.acks}
        tz = self.config.team.tz
        for note in now:
            if note.operator != self.actor.operator:
                continue
            for ack in note.acks:
                if (note.id, ack.operator) not in seen:
                    written = local_time(note.at, tz, "%H:%M")
                    when = local_time(ack.at, tz, "%H:%M")
                    self.tell(
                        f"{line_of(ack.operator, 30)} acknowledged your handoff note of {written} at {when}."
                    )

    def _reading_failed(self, problem: str) -> None:
        if problem != self.store_problem and "busy" not in problem:
            # A damaged or newer store file: the header has no room for the whole message.
            self.tell(f"Cannot read the store: {problem}", "error", timeout=15)
        self.store_problem = problem

    @work(group="shift", exit_on_error=False)
    async def start_shift(self) -> None:
        """Start or resume the operator's shift, then read the store."""
        try:
            shift = await self.in_thread(self.store.start_shift, self.actor, self.now())
        except StoreError as exc:
            self.tell(f"Could not start your shift in the store: {exc}", "warning")
        else:
            self.shift_start = shift.started_at
        finally:
            self._shift_tried = True
        self.refresh_dashboard()

    def action_refresh(self) -> None:
        self.network.poll_now()
        self.refresh_dashboard()

    def action_help(self) -> None:
        from socialtui.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.keys_help()))

    # -- actions shared by the screens ----------------------------------------------------------------

    async def claim(self, item: Item) -> bool:
        """Claim the item for `claim_ttl`; if another operator holds it, ask before taking it over.
        Call from a worker. Raises StoreError."""
        ttl = self.config.team.claim_ttl
        now = self.now()
        claim = await self.in_thread(self.store.claim, item, self.actor, now, ttl)
        if claim.operator == self.actor.operator:
            return True
        until = local_time(claim.expires_at, self.config.team.tz, "%H:%M")
        body = Content.assemble(
            (line_of(claim.operator, 40), "bold"),
            f" claimed this item {ago(claim.at, now)} (until {until}): they may be answering it now.",
        )
        take = await self.push_screen_wait(
            ConfirmDialog("Someone is answering this", body, yes="Take it over", no="Leave it")
        )
        if not take:
            return False
        await self.in_thread(self.store.take_over_claim, item, self.actor, self.now(), ttl)
        return True

    def open_composer(self, item: Item) -> None:
        """Claim the item (asking first if someone else holds it), then open the reply composer."""
        self._open_composer(item)

    @work(group="composer", exclusive=True, exit_on_error=False)
    async def _open_composer(self, item: Item) -> None:
        from socialtui.tui.screens.composer import ComposerScreen

        try:
            if not await self.claim(item):
                return
            draft = await self.in_thread(self.store.draft, item.id)
        except StoreError as exc:
            self.tell(f"Cannot reply now: {exc}", "error")
            return
        network = self.network

        async def adapter() -> Adapter:
            return network.adapter(item.account)

        try:
            account_adapter = await network.call(adapter)
        except Exception as exc:  # noqa: BLE001 - a missing or unreadable secret: say which, go on
            self.tell(f"Cannot reply from {item.account}: {exc}", "error")
            await self.in_thread(self.store.release, item, self.actor, self.now())
            self.refresh_dashboard()
            return
        self.refresh_dashboard()
        first = account_adapter.prepare_reply(item, "")
        keeper = DraftKeeper.for_reply(
            self.store,
            item,
            self.actor,
            self.clock,
            existing=draft,
            new_key=draft.idempotency_key if draft else account_adapter.new_idempotency_key(),
            visibility=first.visibility,
            spoiler_text=first.spoiler_text,
        )
        if draft is None:
            # A reply that failed for good and has no draft left (it failed in the background): the
            # composer starts from its text, to edit and send again under a new key.
            data = self.dashboard
            failed = [e for e in data.overview.failed if e.item == item.id] if data is not None else []
            if failed:
                keeper.set_text(failed[-1].text)
        await self.push_screen(ComposerScreen(item, account_adapter, keeper))

    def open_post(self, post: Post) -> None:
        """Open the post in the browser (on the machine running the dashboard) and show its link."""
        url = web_link(post)
        if not url:
            self.tell("This post has no web link.", "warning")
            return
        self.open_url(url)
        self.tell(f"Opening {url}")

    def copy_post_link(self, post: Post) -> None:
        """Copy the post's link (OSC 52: reaches the operator's own clipboard over SSH)."""
        url = web_link(post)
        if not url:
            self.tell("This post has no web link.", "warning")
            return
        self.copy_to_clipboard(url)
        self.tell(f"Copied {url}")

    def open_timeline(self) -> None:
        from socialtui.tui.screens.timeline import TimelineScreen

        if not isinstance(self.screen, TimelineScreen):
            self.push_screen(TimelineScreen())

    def open_handoffs(self, *, history: bool = False) -> None:
        """The handoff notes: those waiting for this operator (all of them, newest first, when
        `history` or when none is waiting)."""
        from socialtui.tui.screens.handoff import HandoffScreen

        if isinstance(self.screen, HandoffScreen):
            self.screen.history = history
            return
        self.push_screen(HandoffScreen(history=history))

    def open_contacts(self, focus: Contact | None = None) -> None:
        """The team's contacts, searchable; `focus`: show this one's dossier first."""
        from socialtui.tui.screens.contacts import ContactsScreen

        if not isinstance(self.screen, ContactsScreen):
            self.push_screen(ContactsScreen(focus))

    def open_audit(self) -> None:
        from socialtui.tui.screens.audit import AuditScreen

        if not isinstance(self.screen, AuditScreen):
            self.push_screen(AuditScreen())

    def open_report(self) -> None:
        from socialtui.tui.screens.report import ReportScreen

        if not isinstance(self.screen, ReportScreen):
            self.push_screen(ReportScreen())

    def open_schedule(self, account_id: str | None = None) -> None:
        """The scheduled posts of one account, or of all of them merged (None)."""
        from socialtui.tui.screens.schedule import ScheduleScreen

        if not isinstance(self.screen, ScheduleScreen):
            self.push_screen(ScheduleScreen(account_id))

    def open_post_composer(self, account_id: str, editing: OutboxEntry | None = None) -> None:
        """The composer for a new post from the account (or to edit one of its scheduled posts)."""
        self._open_post_composer(account_id, editing)

    @work(group="post-composer", exclusive=True, exit_on_error=False)
    async def _open_post_composer(self, account_id: str, editing: OutboxEntry | None) -> None:
        from socialtui.tui.screens.post_composer import PostComposerScreen

        network = self.network

        async def adapter() -> Adapter:
            return network.adapter(account_id)

        try:
            account_adapter = await network.call(adapter)
        except Exception as exc:  # noqa: BLE001 - a missing or unreadable secret: say which, go on
            self.tell(f"Cannot post from {account_id}: {exc}", "error")
            return
        await self.push_screen(PostComposerScreen(self.config.account(account_id), account_adapter, editing))

    def write_handoff(self, selected: Item | None = None) -> None:
        """End the shift: the handoff note, auto-drafted (or the draft left unfinished), to edit,
        pin items and accounts on, and save. `selected`: the item selected in the queue."""
        self._write_handoff(selected)

    @work(group="handoff-composer", exclusive=True, exit_on_error=False)
    async def _write_handoff(self, selected: Item | None) -> None:
        from socialtui.handoff import draft_handoff
        from socialtui.tui.screens.handoff import HandoffComposer

        if any(isinstance(screen, HandoffComposer) for screen in self.screen_stack):
            return
        try:
            existing = await self.in_thread(self.store.handoff_draft, self.actor.operator)
            text = (
                existing.text
                if existing is not None
                else await self.in_thread(draft_handoff, self.config, self.store, self.actor, self.now())
            )
        except StoreError as exc:
            self.tell(f"Cannot write a handoff now: {exc}", "error")
            return
        keeper = DraftKeeper.for_handoff(self.store, self.actor, self.clock, existing=existing, text=text)
        if existing is not None:  # the pins come back with the text
            self.handoff_pins = {f"item:{i}" for i in existing.pinned_items} | {
                f"account:{a}" for a in existing.pinned_accounts
            }
        await self.push_screen(HandoffComposer(keeper, selected))
        if existing is not None:
            when = local_time(existing.updated_at, self.config.team.tz, "%H:%M")
            self.tell(f"Your handoff draft from {when} is back (F3 drafts it afresh).")

    def handoff_written(self) -> None:
        """The operator's handoff note is saved: their shift has ended."""
        from socialtui.tui.screens.main import MainScreen

        self.shift_start = None
        self.handoff_pins.clear()
        self.refresh_dashboard()
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                screen.show_oldest()

    # -- the command palette ------------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Every action of the current screen, then Textual's own (theme, keys, quit...)."""
        commands = getattr(screen, "palette_commands", None)
        own = list(commands()) if commands is not None else []
        yield from own
        yield SystemCommand("Help: keys", "Every key, where it works, and its binding id", self.action_help)
        yield SystemCommand("Refresh now", "Read the store and poll the accounts now", self.action_refresh)
        # Each command once: "Help: keys" is ours, and a screen's own Quit (which asks first when
        # on shift) replaces Textual's.
        titles = {command.title for command in own}
        for command in super().get_system_commands(screen):
            if command.title == "Keys" or command.title in titles:
                continue
            yield command


def web_link(post: Post) -> str:
    """The post's web address, if it is one a browser should open (http or https, no control characters)."""
    url = line_of(post.url)
    return url if url.startswith(("https://", "http://")) and " " not in url else ""


def run_dashboard(ctx: Context) -> int:
    """`socialtui`: the dashboard on the configured accounts. Returns the exit status."""
    config = ctx.config  # a bad config raises ConfigError here: the CLI says which file and key
    store = ctx.store
    actor = ctx.actor
    app = SocialApp(config, store, ctx.clock, actor, demo=bool(getattr(ctx, "demo", False)))
    result = app.run()
    return result if isinstance(result, int) else 0


__all__ = ["SocialApp", "run_dashboard"]
