"""Strangers' text made safe to show: no terminal control, no bidi tricks, no invisible characters.

Post texts, display names and handles come from people we do not know. Before any of it reaches a
terminal (the CLI) or a widget (as `Text`, never as markup), it passes through `clean`.
"""

from __future__ import annotations

import re
import unicodedata

# C0 and C1 controls except newline and tab; DEL.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidi embeddings, overrides and isolates can reorder what the operator reads; zero-width characters
# and other format characters hide text. (ZWJ, U+200D, is kept: emoji sequences need it.)
_INVISIBLE = re.compile(
    "[\u200b\u200c\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad\u061c\u180e]"
)
_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")
_SPACES = re.compile(r"[ \t]+")


def strip_controls(value: object) -> str:
    """A string from the network as it is stored: a str, line breaks normalised to `\n`, no C0/C1
    control characters (an ESC never even reaches the store). Bidi marks and joiners are kept here:
    they are part of what people wrote; `clean` deals with them on display."""
    if not isinstance(value, str):
        return ""
    return _CONTROLS.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))


def clean(text: str, *, max_length: int | None = None) -> str:
    """Text as plain characters: escape sequences and controls removed, line breaks kept."""
    text = _ANSI.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROLS.sub("", text)
    text = _INVISIBLE.sub("", text)
    if max_length is not None and len(text) > max_length:
        text = text[: max_length - 1] + "…"
    return text


def one_line(text: str, width: int | None = None) -> str:
    """A cleaned single-line preview, cut to `width` characters with an ellipsis."""
    flat = _SPACES.sub(" ", clean(text).replace("\n", " ")).strip()
    if width is not None and len(flat) > width:
        return flat[: max(width - 1, 0)] + "…"
    return flat


def cell_width(text: str) -> int:
    """Terminal cells the text takes (wide CJK and emoji take two)."""
    return sum(
        2 if unicodedata.east_asian_width(ch) in "WF" else 0 if unicodedata.combining(ch) else 1
        for ch in text
    )


def fit(text: str, width: int) -> str:
    """Pad or cut a cleaned one-line text to exactly `width` terminal cells."""
    if text.isascii():
        return text.ljust(width) if len(text) <= width else text[: max(width - 1, 0)] + "…"[:width]
    out, used = [], 0
    for ch in text:
        w = 2 if unicodedata.east_asian_width(ch) in "WF" else 0 if unicodedata.combining(ch) else 1
        if used + w > width:
            while out and used + 1 > width:
                used -= cell_width(out.pop())
            if width >= 1:
                out.append("…")
                used += 1
            break
        out.append(ch)
        used += w
    return "".join(out) + " " * max(width - used, 0)
