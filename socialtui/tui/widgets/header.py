"""The header line: who is on shift since when (and which colleagues are on too), the totals, the
handoff flags, how the sync is doing.

Two flags are about handoff notes. `⚑ 1 handoff to acknowledge (h)` is this operator's own: a note
waiting for them, shown until they acknowledge it. `⚠ ack overdue: Bob` is the team's: a note some
operator on shift has left unacknowledged past `handoff_ack_within`, shown to everyone.
"""

from __future__ import annotations

from datetime import tzinfo

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from socialtui import care
from socialtui.model import Actor
from socialtui.timespec import format_duration, local_time
from socialtui.tui.data import Dashboard
from socialtui.tui.render import LEVEL_STYLE, ago, line_of

Part = str | tuple[str, str] | Content
LEVELS = 6
"""How far the line may be shortened to fit: 0 says it all; each level drops some words (1: the words
around the shift and the flags, 2: the sync's age, 3: the colleagues' names, 4: the shift's time,
5: the name of the program)."""


class HeaderBar(Widget):
    """One line: `socialtui  alice on shift since 08:02  7 unanswered (2 late)  ⚑ 1 handoff to
    acknowledge (h)  sync ok 4s ago`."""

    dashboard: reactive[Dashboard | None] = reactive(None)
    """The reading shown (set by the screen)."""
    store_problem: reactive[str] = reactive("")
    """Why the last reading of the store failed ("store busy ..."), or ""."""

    def __init__(self, actor: Actor, tz: tzinfo, *, demo: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.actor = actor
        self.tz = tz
        self.demo = demo

    def render(self) -> Content:
        # At 80 columns something must give, in the order of LEVELS. Never the flags.
        line = Content("")
        for level in range(LEVELS):
            line = self._line(level)
            if line.cell_length <= self.size.width:
                break
        return line

    def _line(self, level: int) -> Content:
        data = self.dashboard
        gap = "  " if level else "   "
        parts: list[Part] = []
        if level < 5:
            parts.append((" socialtui ", "bold $primary"))
        if self.demo:
            parts.append((" DEMO ", "bold reverse $warning"))
        name = line_of(self.actor.operator, 24)
        if data is None:
            if self.store_problem:
                parts.append((f" ⚠ {line_of(self.store_problem, 60)}", "$warning bold"))
            else:
                parts.append((f" {name}  reading the store…", "$text-muted"))
            return Content.assemble(*parts)
        if self.store_problem:
            # The problem takes the shift's place: it matters more, and there is no room for both.
            parts.append((f" ⚠ {line_of(self.store_problem, 56)}", "$warning bold"))
        else:
            parts.append(f" {name}")
            parts.extend(self._shift(data, level))
            parts.extend(self._colleagues(data, level))
        queue = data.queue
        late = sum(1 for entry in queue if entry.state == "late")
        parts.append(gap)
        parts.append((f"{data.unanswered} unanswered", "bold"))
        if late:
            parts.append(" (")
            # On the first look only the head of the queue is rated: at least this many are late.
            parts.append((f"{late}+ late" if data.partial else f"{late} late", "$error bold"))
            parts.append(")")
        for flag in self._flags(data, level):
            parts.append(gap)
            parts.append(flag)
        parts.append(gap)
        parts.extend(_sync_summary(data, with_age=level < 2))
        return Content.assemble(*parts)

    def _shift(self, data: Dashboard, level: int) -> list[Part]:
        shift = data.current_shift(self.actor.operator)
        if shift is not None:
            if level >= 4:
                return []
            since = local_time(shift.started_at, self.tz, "%H:%M")
            return [f" since {since}" if level else f" on shift since {since}"]
        last = data.last_shift(self.actor.operator)
        if last is not None and last.ended_at is not None:
            # Handed over: still watching, but the team should not count on this operator.
            return [(" off shift" if level else " shift ended", "$text-muted")]
        return []

    def _colleagues(self, data: Dashboard, level: int) -> list[Part]:
        """The other operators on shift now: `with Ben, Cat`, shortened to `+2` when room is short."""
        me = self.actor.operator
        others = sorted(
            {
                s.operator
                for s in data.shifts
                if s.ended_at is None and s.operator != me and s.started_at <= data.now
            },
            key=str.lower,
        )
        if not others:
            return []
        if level >= 3:
            short = len(others) == 1 and len(others[0]) <= 12
            return [(f" +{line_of(others[0], 12)}" if short else f" +{len(others)} on", "$secondary")]
        names = ", ".join(line_of(name, 12) for name in others[:2])
        if len(others) > 2:
            names += f" +{len(others) - 2}"
        return [(f" · with {names}" if level == 0 else f" +{names}", "$secondary")]

    def _flags(self, data: Dashboard, level: int) -> list[Part]:
        flags: list[Part] = []
        me = self.actor.operator
        overdue = data.overview.overdue_handoffs
        waiting = len(data.waiting)
        if waiting:
            noun = "handoff" if waiting == 1 else "handoffs"
            mine_overdue = any(late.shift.operator == me for late in overdue)
            text = f"⚑ {waiting} {noun} to acknowledge (h)" if level == 0 else f"⚑ {waiting} {noun} (h)"
            flags.append((text, "bold reverse $warning" if mine_overdue else "bold $warning"))
        others = sorted({late.shift.operator for late in overdue if late.shift.operator != me}, key=str.lower)
        if others:
            names = ", ".join(line_of(name, 16) for name in others[:2])
            if len(others) > 2:
                names += f" +{len(others) - 2}"
            text = f"⚠ handoff not acknowledged by {names}" if level == 0 else f"⚠ ack overdue: {names}"
            flags.append((text, "bold $warning"))
        return flags


def _sync_summary(data: Dashboard, *, with_age: bool = True) -> list[str | tuple[str, str]]:
    """`sync ok 4s ago`, `sync: 1 failing`, `sync stale 45m`, with `✖ 1 reply failed` before it.

    Staleness is read from the store's last sync times (`care.sync_age`): a poller in another process
    that stopped or hangs while keeping its leases is seen by every dashboard."""
    accounts = data.overview.accounts
    if not accounts:
        return [("no accounts", "$text-muted")]
    out: list[str | tuple[str, str]] = []
    failed = len(data.overview.failed)
    if failed:
        out += [(f"✖ {failed} {'reply' if failed == 1 else 'replies'} failed", "$error bold"), "  "]
    healths = [account.health for account in accounts]
    failing = [h for h in healths if h.state in ("auth", "unreachable", "rate_limited")]
    stale = [a.sync for a in accounts if a.sync.level != care.OK and a.sync.age_s is not None]
    synced = [h.last_sync_at for h in healths if h.last_sync_at is not None]
    last = max(synced) if synced else None
    if failing:
        word = "failing" if any(h.state != "rate_limited" for h in failing) else "rate limited"
        out.append((f"sync: {len(failing)} {word}", "$error bold"))
    elif stale:
        level = care.worst(s.level for s in stale)
        oldest = max(s.age_s or 0.0 for s in stale)
        return [*out, (f"sync stale {format_duration(oldest)}", LEVEL_STYLE[level])]
    elif last is None:
        return [*out, ("never synced", "$warning")]
    else:
        out.append(("sync ok", "$success"))
    if last is not None and with_age:
        out.append(f" {ago(last, data.now)}")
    return out
