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

SIGNS = [
    (
        "live",
        "the server streams the account's notifications: a mention shows at once; polled every 5 minutes as a safety net",
    ),
    ("poll", "polled every poll_interval (Bluesky always; Mastodon while its stream is down)"),
    ("⚠", "failing or stale: the line below says why"),
]
"""The last word of an account's row at narrow widths (`widgets.accounts.SYNC_WORDS`), explained."""


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
        rows.append(Static(Content.styled("Signs in the accounts rows", "bold $secondary")))
        for sign, meaning in SIGNS:
            rows.append(
                Horizontal(
                    Static(Content.styled(sign, "bold $accent"), classes="help-key"),
                    Static(Content(meaning), classes="help-desc"),
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
