"""The header line: who is on shift since when, the totals, and how the sync is doing."""

from __future__ import annotations

from datetime import tzinfo

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from socialtui.model import Actor
from socialtui.tui.data import Dashboard
from socialtui.tui.render import ago, line_of


class HeaderBar(Widget):
    """One line: `socialtui  alice on shift since 08:02  7 unanswered (2 late)  sync ok 4s ago`."""

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
        full = self._line(short=False)
        # At 80 columns something must give: the words around the shift go first, then the gaps.
        return full if full.cell_length <= self.size.width else self._line(short=True)

    def _line(self, *, short: bool) -> Content:
        data = self.dashboard
        gap = "  " if short else "   "
        parts: list[str | tuple[str, str] | Content] = [(" socialtui ", "bold $primary")]
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
            if data.shift_start is not None:
                since = data.shift_start.astimezone(self.tz).strftime("%H:%M")
                parts.append(f" since {since}" if short else f" on shift since {since}")
        queue = data.queue
        late = sum(1 for entry in queue if entry.state == "late")
        parts.append(gap)
        parts.append((f"{len(queue)} unanswered", "bold"))
        if late:
            parts.append(" (")
            parts.append((f"{late} late", "$error bold"))
            parts.append(")")
        parts.append(gap)
        parts.extend(_sync_summary(data))
        return Content.assemble(*parts)


def _sync_summary(data: Dashboard) -> list[str | tuple[str, str]]:
    healths = [account.health for account in data.overview.accounts]
    if not healths:
        return [("no accounts", "$text-muted")]
    failing = [h for h in healths if h.state in ("auth", "unreachable", "rate_limited")]
    synced = [h.last_sync_at for h in healths if h.last_sync_at is not None]
    last = max(synced) if synced else None
    if failing:
        word = "failing" if any(h.state != "rate_limited" for h in failing) else "rate limited"
        out: list[str | tuple[str, str]] = [(f"sync: {len(failing)} {word}", "$error bold")]
    elif last is None:
        return [("never synced", "$warning")]
    else:
        out = [("sync ok", "$success")]
    if last is not None:
        out.append(f" {ago(last, data.now)}")
    return out
