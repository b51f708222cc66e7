"""How a handoff note is shown: who wrote it and when, its text in full (inert: operators paste
strangers' words into it), what it pins, who has acknowledged it and who still has to."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo

from rich.segment import Segment
from textual.content import Content
from textual.strip import Strip
from textual.widgets import SelectionList
from textual.widgets._toggle_button import ToggleButton
from textual.widgets.option_list import OptionDoesNotExist

from socialtui.care import handoffs_waiting
from socialtui.config import AccountConfig
from socialtui.model import HandedItem, HandoffNote
from socialtui.timespec import local_time
from socialtui.tui.data import Dashboard
from socialtui.tui.render import STATE_STYLE, account_label, age, author_label, inert, line_of, preview

Part = str | tuple[str, str] | Content


class PinList(SelectionList[str]):
    """The items and accounts to pin on a handoff note. Its checkboxes say pinned or not by their
    glyph (`X` or blank), not by colour alone: 16 colours show every box the same."""

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        segments = list(strip)
        if len(segments) < 4 or segments[1].text != ToggleButton.BUTTON_INNER:
            return strip
        try:
            option = self.get_option_at_index(self.scroll_offset.y + y)
        except OptionDoesNotExist:
            return strip
        pinned = option.value in self.selected
        segments[1] = Segment(ToggleButton.BUTTON_INNER if pinned else " ", segments[1].style)
        return Strip(segments, strip.cell_length)


def when(at: datetime, tz: tzinfo) -> str:
    """`Wed 18 Nov 14:00 CET`: when a note was written, in the team's zone, labelled."""
    return local_time(at, tz, "%a %d %b %H:%M")


def pending_readers(
    note: HandoffNote, data: Dashboard, ack_within: timedelta
) -> list[tuple[str, datetime, bool]]:
    """Operators on shift now who still have to read `note`: (name, shift start, overdue)."""
    out = []
    open_shifts = [shift for shift in data.shifts if shift.ended_at is None]
    for shift in open_shifts:
        if shift.operator == note.operator:
            continue
        if handoffs_waiting((note,), data.shifts, shift.operator, data.now):
            out.append((shift.operator, shift.started_at, data.now - shift.started_at > ack_within))
    return sorted(out, key=lambda row: row[1])


def pinned_item_line(item_id: str, data: Dashboard, accounts: Mapping[str, AccountConfig]) -> Content:
    """A pinned item: its account, author and first words, and whether it is still open."""
    item = data.items.get(item_id)
    if item is None:
        return Content.assemble(
            "▸ ", (f"item {line_of(item_id, 20)}", "bold"), ("  (no longer in the store)", "$text-muted")
        )
    account = accounts.get(item.account)
    entry = data.entry(item.id)
    if entry is not None:
        waited = age((data.now - item.received_at).total_seconds())
        state: Part = (f"open, waiting {waited} ({entry.state})", STATE_STYLE.get(entry.state, ""))
    else:
        state = ("answered", "$success")
    return Content.assemble(
        "▸ ",
        account_label(account) if account else Content(item.account),
        " ",
        (author_label(item.post.author, 40), "bold"),
        ": ",
        preview(item.post.text, 60),
        "  ",
        state,
    )


def handed_item_line(item: HandedItem, data: Dashboard, operator: str) -> Content:
    """An item the note carried as open work: as it was when written, and whether it is still open."""
    entry = data.entry(item.id)
    if entry is None:
        now: Part = ("answered since", "$success")
    elif entry.claim is not None:
        who = "you" if entry.claim.operator == operator else line_of(entry.claim.operator, 16)
        now = (f"open, claimed by {who}", "$warning")
    else:
        now = (f"open ({entry.state})", STATE_STYLE.get(entry.state, ""))
    return Content.assemble(
        ("▸ ", "$text-muted"),
        (line_of(item.account, 16), "bold"),
        " ",
        (line_of(item.author, 24), "bold"),
        f" waited {age(item.waited_s)}: ",
        preview(item.text, 40),
        "  ",
        now,
    )


def note_content(
    note: HandoffNote,
    data: Dashboard,
    operator: str,
    tz: tzinfo,
    accounts: Mapping[str, AccountConfig],
    ack_within: timedelta,
) -> tuple[Content, Content]:
    """One handoff note in full: (its head line, its body, to be shown indented)."""
    mine = note.operator == operator
    head: list[Part] = [
        ("── ", "bold $secondary"),
        (line_of(note.operator, 30), "bold $secondary"),
        (f" · {when(note.at, tz)}", "$text-muted"),
    ]
    if mine:
        head.append(("  (your note)", "$text-muted"))
    lines: list[Content] = []
    for text_line in (inert(note.text) or " ").split("\n"):
        lines.append(Content(text_line))
    if note.has_work:
        still = sum(1 for item in note.open_items if data.entry(item.id) is not None)
        lines.append(
            Content.assemble(
                (f"open when written: {len(note.open_items)} unanswered", "bold"),
                (f" ({still} still open now)" if note.open_items else "", "$text-muted"),
            )
        )
        lines.extend(handed_item_line(item, data, operator) for item in note.open_items)
        if note.claims:
            took = (
                f"taken over by {'you' if note.taken_over_by == operator else line_of(note.taken_over_by, 20)}"
                if note.taken_over_by
                else "the first to acknowledge takes them"
            )
            lines.append(
                Content.assemble(
                    ("claims released with the shift: ", "bold"), f"{len(note.claims)} item(s), {took}"
                )
            )
        if note.drafts:
            lines.append(Content.assemble(("drafts left: ", "bold"), ", ".join(d.item for d in note.drafts)))
        for account in note.failing:
            lines.append(
                Content.assemble(
                    ("failing: ", "$error bold"),
                    (line_of(account.account, 20), "bold"),
                    " ",
                    line_of(account.health_detail, 60),
                )
            )
    if note.pinned_items:
        lines.append(Content.styled("pinned items:", "bold"))
        lines.extend(pinned_item_line(item_id, data, accounts) for item_id in note.pinned_items)
    if note.pinned_accounts:
        labels: list[Part] = [("pinned accounts: ", "bold")]
        for index, account_id in enumerate(note.pinned_accounts):
            if index:
                labels.append(", ")
            configured = accounts.get(account_id)
            labels.append(account_label(configured) if configured else Content(line_of(account_id, 40)))
        lines.append(Content.assemble(*labels))
    if note.acks:
        acks = ", ".join(
            f"{line_of(ack.operator, 20)} {local_time(ack.at, tz, '%H:%M')}" for ack in note.acks
        )
        lines.append(Content.assemble(("✓ acknowledged by ", "$success"), (acks, "$success bold")))
    else:
        lines.append(Content.styled("nobody has acknowledged it yet", "$text-muted"))
    pending = pending_readers(note, data, ack_within)
    if pending:
        parts: list[Part] = [("… not yet: ", "$warning")]
        for index, (name, started, late) in enumerate(pending):
            if index:
                parts.append(", ")
            who = "you" if name == operator else line_of(name, 20)
            since = local_time(started, tz, "%H:%M")
            parts.append(
                (
                    f"{who} (on shift since {since}{', overdue' if late else ''})",
                    "$warning bold" if late else "$warning",
                )
            )
        lines.append(Content.assemble(*parts))
    return Content.assemble(*head), Content("\n").join(lines)


__all__ = ["PinList", "handed_item_line", "note_content", "pending_readers", "pinned_item_line", "when"]
