"""Small modal dialogs: confirm, done-with-a-reason, contact note and tags, saved replies."""

from __future__ import annotations

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option

DONE_REASONS = ("spam", "thanked", "handled elsewhere", "no reply needed")
OTHER = "other"


def focus_first(screen: ModalScreen, selector: str) -> None:
    """Focus the dialog's first widget matching `selector`, if it is still there: a dialog taken away
    before it mounted (the app popped it; a key answered it at once) has no children left by the time
    its Mount handler runs, and `query_one` raised NoMatches there."""
    for widget in screen.query(selector):
        widget.focus()
        return


class ConfirmDialog(ModalScreen[bool]):
    """A question with a yes and a no. `y` answers yes, `n` or Escape no; Enter presses the focused
    button (the `yes` one when `default_yes`)."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm-yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm-no"),
    ]

    def __init__(
        self,
        title: str,
        body: Content | str,
        *,
        yes: str = "Yes",
        no: str = "No",
        default_yes: bool = False,
        warning: Content | str = "",
    ) -> None:
        super().__init__(classes="dialog")
        self.title_text = title
        self.body = body if isinstance(body, Content) else Content(body)
        self.warning = warning if isinstance(warning, Content) else Content(warning)
        self.yes_label = yes
        self.no_label = no
        self.default_yes = default_yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static(Content.styled(self.title_text, "bold"), classes="dialog-title")
            yield Static(self.body, classes="dialog-body")
            if self.warning.plain:
                yield Static(self.warning, classes="dialog-warning")
            with Horizontal(classes="dialog-buttons"):
                yield Button(Content(f"{self.yes_label} (y)"), id="yes", variant="primary")
                yield Button(Content(f"{self.no_label} (n)"), id="no")

    def on_mount(self) -> None:
        focus_first(self, "#yes" if self.default_yes else "#no")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class QuitDialog(ModalScreen[str]):
    """Quitting while on shift: `handoff` (end the shift and write the note), `quit` (leave the
    dashboard, stay on shift: claims stay yours) or `cancel`."""

    BINDINGS = [
        Binding("e", "answer('handoff')", "End shift", id="quit-handoff"),
        Binding("q", "answer('quit')", "Quit, stay on shift", id="quit-stay"),
        Binding("escape,c", "answer('cancel')", "Cancel", id="quit-cancel"),
    ]

    def __init__(self, claims: int = 0) -> None:
        super().__init__(classes="dialog")
        self.claims = claims

    def compose(self) -> ComposeResult:
        held = f" and your {self.claims} claim(s) go" if self.claims else " goes"
        with Vertical(classes="dialog-box"):
            yield Static(Content.styled("You are on shift. Quit?", "bold"), classes="dialog-title")
            yield Static(
                Content(
                    f"Ending the shift writes the handoff note: the open work{held} to the next "
                    "operator. Staying on shift keeps your claims; the team still counts on you."
                ),
                classes="dialog-body",
            )
            with Vertical(classes="dialog-choices"):
                yield Button(Content("End shift and write the handoff (e)"), id="handoff", variant="primary")
                yield Button(Content("Quit and stay on shift (q)"), id="quit")
                yield Button(Content("Cancel (Esc)"), id="cancel")

    def on_mount(self) -> None:
        focus_first(self, "#handoff")

    def action_answer(self, answer: str) -> None:
        self.dismiss(answer)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "cancel")


class DoneDialog(ModalScreen[str | None]):
    """Why no reply is needed: spam, thanked, handled elsewhere, no reply needed, or a reason typed in."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog-cancel")]

    def __init__(self, what: Content) -> None:
        super().__init__(classes="dialog")
        self.what = what

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static(Content.styled("Done without a reply: why?", "bold"), classes="dialog-title")
            yield Static(self.what, classes="dialog-body")
            options = [
                Option(Content(f"{n}  {reason}"), id=reason) for n, reason in enumerate(DONE_REASONS, 1)
            ]
            options.append(Option(Content(f"{len(DONE_REASONS) + 1}  other reason…"), id=OTHER))
            yield OptionList(*options, id="reasons")
            yield Input(placeholder="the reason, then Enter", id="other-reason", classes="-hidden")
            yield Static(Content.styled("↑↓ or 1-5, Enter to choose, Esc to cancel", "$text-muted"))

    def on_mount(self) -> None:
        focus_first(self, "OptionList")

    def on_key(self, event: events.Key) -> None:
        if self.query_one(OptionList).has_focus and event.character and event.character.isdigit():
            index = int(event.character) - 1
            options = self.query_one(OptionList)
            if 0 <= index < options.option_count:
                event.stop()
                options.highlighted = index
                options.action_select()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option.id == OTHER:
            other = self.query_one("#other-reason", Input)
            other.remove_class("-hidden")
            other.focus()
            return
        self.dismiss(event.option.id)

    @on(Input.Submitted, "#other-reason")
    def _typed(self, event: Input.Submitted) -> None:
        reason = " ".join(event.value.split())
        if reason:
            self.dismiss(reason)

    def action_cancel(self) -> None:
        self.dismiss(None)


class NoteDialog(ModalScreen[str | None]):
    """A note about a contact, for the whole team."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog-cancel")]

    def __init__(self, about: Content) -> None:
        super().__init__(classes="dialog")
        self.about = about

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static(Content.styled("A note for the team about", "bold"), classes="dialog-title")
            yield Static(self.about, classes="dialog-body")
            yield Input(placeholder="e.g. prefers German; journalist at …", id="note")
            yield Static(Content.styled("Enter to save, Esc to cancel", "$text-muted"))

    def on_mount(self) -> None:
        focus_first(self, "Input")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if text:
            self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class SavedRepliesDialog(ModalScreen[str | None]):
    """The team's saved replies, `{name}` already filled in; Enter puts one in the composer."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog-cancel")]

    def __init__(self, replies: dict[str, str]) -> None:
        super().__init__(classes="dialog")
        self.replies = replies

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box -wide"):
            yield Static(Content.styled("Saved replies", "bold"), classes="dialog-title")
            if not self.replies:
                yield Static(
                    Content.styled("None yet: add them to the config under [saved_replies].", "$text-muted")
                )
            options = [
                Option(Content.assemble((name, "bold"), "\n  ", (text, "$text-muted")), id=name)
                for name, text in self.replies.items()
            ]
            yield OptionList(*options, id="saved")
            yield Static(Content.styled("Enter to use, Esc to cancel", "$text-muted"))

    def on_mount(self) -> None:
        focus_first(self, "OptionList")

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.replies.get(event.option.id or ""))

    def action_cancel(self) -> None:
        self.dismiss(None)


class TagsDialog(ModalScreen[tuple[str, ...] | None]):
    """A contact's tags, for the whole team: edited as one line, separated by commas or spaces."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog-cancel")]

    def __init__(self, about: Content, tags: tuple[str, ...]) -> None:
        super().__init__(classes="dialog")
        self.about = about
        self.tags = tags

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static(Content.styled("Tags for the team about", "bold"), classes="dialog-title")
            yield Static(self.about, classes="dialog-body")
            yield Input(
                ", ".join(self.tags),
                placeholder="e.g. vip, press, repeat-complaint",
                id="tags",
                select_on_focus=False,
            )
            yield Static(Content.styled("Enter to save (empty: no tags), Esc to cancel", "$text-muted"))

    def on_mount(self) -> None:
        focus_first(self, "Input")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(parse_tags(event.value))

    def action_cancel(self) -> None:
        self.dismiss(None)


def parse_tags(text: str) -> tuple[str, ...]:
    """`vip, press  repeat-complaint` as tags (the store lowercases and sorts them)."""
    return tuple(tag for tag in text.replace(",", " ").split() if tag)
