"""Every key binding of the dashboard, by where it works, and the config's `[keys]` table applied to them.

Bindings carry ids; one id may name the same action in several places (`reply` on the queue and on
the timeline), so one line in the config remaps it everywhere:

    [keys]
    reply = "R"
    done = "x,delete"
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from textual.binding import Binding, BindingType
from textual.dom import DOMNode


@dataclass(frozen=True)
class KeyHelp:
    """One line of the help screen."""

    id: str
    keys: str
    description: str


def bindings_of(node_class: type[DOMNode]) -> list[Binding]:
    """The bindings a class declares itself (not those it inherits from Textual)."""
    declared: Iterable[BindingType] = node_class.__dict__.get("BINDINGS", [])
    return list(Binding.make_bindings(declared))


_QUEUE_MOVES = [
    Binding("up,down,pageup,pagedown,home,end", "", "Move in the queue"),
    Binding("enter", "", "Show the item in full (narrow screens) / read it"),
    Binding("tab,shift+tab", "", "Move between the queue, the detail and the accounts"),
]


_PIN_MOVES = [
    Binding("tab,shift+tab", "", "Move between the text and the pins"),
    Binding("space", "", "Pin or unpin the item or account under the cursor"),
]


def binding_groups() -> list[tuple[str, list[Binding]]]:
    """(where, bindings) for every place of the dashboard, in the order the help shows them."""
    from socialtui.tui.app import SocialApp
    from socialtui.tui.screens.audit import AuditScreen
    from socialtui.tui.screens.composer import ComposerScreen
    from socialtui.tui.screens.contacts import ContactsScreen
    from socialtui.tui.screens.dialogs import ConfirmDialog, DoneDialog
    from socialtui.tui.screens.handoff import HandoffComposer, HandoffScreen
    from socialtui.tui.screens.help import HelpScreen
    from socialtui.tui.screens.main import MainScreen
    from socialtui.tui.screens.post_composer import PostComposerScreen
    from socialtui.tui.screens.report import ReportScreen
    from socialtui.tui.screens.schedule import ScheduleScreen
    from socialtui.tui.screens.timeline import TimelineScreen
    from socialtui.tui.widgets.accounts import AccountsPanel

    return [
        ("Everywhere", bindings_of(SocialApp) + [Binding("ctrl+p", "command_palette", "Command palette")]),
        ("Queue (main screen)", bindings_of(MainScreen) + _QUEUE_MOVES),
        ("Accounts pane", bindings_of(AccountsPanel)),
        ("Reply composer", bindings_of(ComposerScreen)),
        ("New post composer", bindings_of(PostComposerScreen)),
        ("Schedule", bindings_of(ScheduleScreen)),
        ("Timelines", bindings_of(TimelineScreen)),
        ("Handoff notes", bindings_of(HandoffScreen)),
        ("End of shift: the handoff note", bindings_of(HandoffComposer) + _PIN_MOVES),
        ("People (contacts)", bindings_of(ContactsScreen)),
        ("Audit trail", bindings_of(AuditScreen)),
        ("Report", bindings_of(ReportScreen)),
        ("Dialogs", bindings_of(ConfirmDialog) + bindings_of(DoneDialog) + bindings_of(HelpScreen)),
    ]


def known_ids() -> set[str]:
    return {b.id for _, group in binding_groups() for b in group if b.id}


def split_keymap(keys: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The config's `[keys]` as (a keymap of known binding ids, the unknown ids)."""
    known = known_ids()
    keymap = {binding_id: value for binding_id, value in keys.items() if binding_id in known}
    unknown = sorted(binding_id for binding_id in keys if binding_id not in known)
    return keymap, unknown


def help_lines(keymap: Mapping[str, str], display: Callable[[str], str]) -> list[tuple[str, list[KeyHelp]]]:
    """What the help screen lists: per place, each binding with the keys it has now."""
    out = []
    for where, group in binding_groups():
        # Textual splits "a,b" into one binding per key: gather them again, by id and description.
        merged: dict[tuple[str, str], list[str]] = {}
        for binding in group:
            keys = keymap.get(binding.id, binding.key) if binding.id else binding.key
            description = binding.description or binding.action.replace("_", " ")
            shown = merged.setdefault((binding.id or "", description), [])
            for key in keys.split(","):
                label = display(key.strip())
                if label not in shown:
                    shown.append(label)
        out.append(
            (
                where,
                [
                    KeyHelp(binding_id, ", ".join(keys), description)
                    for (binding_id, description), keys in merged.items()
                ],
            )
        )
    return out
