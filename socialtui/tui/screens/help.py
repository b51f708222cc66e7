"""Help: every key, where it works, as remapped by the config."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Static

from socialtui.tui.keys import KeyHelp
from socialtui.tui.screens.dialogs import focus_first


class HelpScreen(ModalScreen[None]):
    """The keys, grouped by where they work. Every action is in the command palette too (ctrl+p)."""

    BINDINGS = [Binding("escape,q,question_mark,f1", "close", "Close help", id="close-help")]

    def __init__(self, groups: list[tuple[str, list[KeyHelp]]]) -> None:
        super().__init__(classes="dialog")
        self.groups = groups

    def compose(self) -> ComposeResult:
        # One row per key: the keys in a column of their own and the description beside them, so a
        # description that wraps keeps its indent.
        rows: list[Widget] = []
        for where, keys in self.groups:
            if rows:
                rows.append(Static(" ", classes="help-gap"))
            rows.append(Static(Content.styled(where, "bold $secondary")))
            for key in keys:
                rows.append(
                    Horizontal(
                        Static(Content.styled(key.keys, "bold $accent"), classes="help-key"),
                        Static(
                            Content.assemble(
                                key.description, (f"  [{key.id}]" if key.id else "", "$text-muted")
                            ),
                            classes="help-desc",
                        ),
                        classes="help-row",
                    )
                )
        rows.append(Static(" ", classes="help-gap"))
        rows.append(
            Static(
                Content.styled(
                    'Remap keys in the config: [keys] then id = "key" (e.g. reply = "R"). '
                    "Every action is also in the command palette (ctrl+p).",
                    "$text-muted",
                )
            )
        )
        with Vertical(classes="dialog-box -wide -tall"):
            yield Static(Content.styled("Keys", "bold"), classes="dialog-title")
            yield VerticalScroll(*rows, id="help-keys")
            yield Static(Content.styled("Esc to close", "$text-muted"))

    def on_mount(self) -> None:
        focus_first(self, "#help-keys")

    def action_close(self) -> None:
        self.dismiss(None)
