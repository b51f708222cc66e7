"""The `/` filter of the list screens (queue, timeline, audit, contacts): one behaviour everywhere.

- `/` opens it (`open`): the screen gets the `-filtering` class (its stylesheet shows the input)
  and the input takes the focus, at once (the screens bind `/` with priority: see `open`).
- Typing narrows the list: the screen handles `Input.Changed` for its own input (what a filter
  means differs from screen to screen: words, `account:`, tags...).
- Enter goes back to the list, the filter kept; an empty filter closes.
- Escape (`escape`, from the screen's back action) clears a focused filter and goes back to the list.
  With the list focused, Escape leaves a screen that can be left (the filter goes with it); the
  queue, which cannot be left, clears its applied filter instead (`applied_too`).
"""

from __future__ import annotations

from textual.actions import SkipAction
from textual.widgets import Input, TextArea


class FilterInput(Input):
    """A list screen's filter. `list_selector` names the widget that gets the focus back."""

    def __init__(self, placeholder: str, *, list_selector: str, id: str, always_shown: bool = False) -> None:
        super().__init__(placeholder=placeholder, id=id)
        self.list_selector = list_selector
        self.always_shown = always_shown
        """Shown all the time (contacts' search) rather than opened by `/`."""

    def open(self) -> None:
        """`/`: show the input and type in it, at once. The screens bind `/` with priority: the app
        runs it as the key comes, so the keys typed after it in the same burst (a fast typist over
        SSH, a paste) go to the input. Bound as usual, `/` reached the list after those keys were
        sent to it too, and their bindings fired (`/refund`: `r` replied, `d` marked done).
        Where text is typed (this input, another), `/` is text: the binding steps aside."""
        if isinstance(self.screen.focused, Input | TextArea):
            raise SkipAction()
        if not self.always_shown:
            self.screen.add_class("-filtering")
            self.app.stylesheet.update_nodes([self])  # shown now: it can take the focus now
        self.screen.set_focus(self)

    def _back_to_list(self) -> None:
        self.screen.query_one(self.list_selector).focus()

    def close(self) -> None:
        """Clear the filter, hide the input and go back to the list."""
        self.value = ""
        if not self.always_shown:
            self.screen.remove_class("-filtering")
        self._back_to_list()

    def escape(self, *, applied_too: bool = False) -> bool:
        """The screen's back action asks first: True if the filter took the key."""
        if self.has_focus or (applied_too and self.value):
            self.close()
            return True
        return False

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter: back to the list, the filter kept (an empty one closes)."""
        event.stop()
        if not self.value.strip():
            if not self.always_shown:
                self.screen.remove_class("-filtering")
        self._back_to_list()


__all__ = ["FilterInput"]
