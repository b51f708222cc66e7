"""Strangers' text made safe to show: no terminal control, no bidi tricks, no invisible characters.

Post texts, display names and handles come from people we do not know. Before any of it reaches a
terminal (the CLI) or a widget (as `Text`, never as markup), it passes through `clean`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

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
    """A cleaned single-line preview, cut to `width` terminal cells with an ellipsis (never inside
    a grapheme: an emoji sequence or a letter with its marks stays whole or goes)."""
    flat = _SPACES.sub(" ", clean(text).replace("\n", " ")).strip()
    if width is not None and cell_width(flat) > width:
        return _cut(flat, width)
    return flat


def cell_width(text: str) -> int:
    """Terminal cells the text takes, grapheme by grapheme: a ZWJ emoji sequence or a flag is 2 (wcwidth),
    a Thai or Devanagari vowel sign above or below 0, wide CJK 2. Other graphemes are counted code point
    by code point, as tmux, xterm and VTE draw them: a spacing vowel sign (Unicode Mc, `ा`) is 1 cell and
    a conjunct (`र्म`) is as wide as its letters, where wcwidth's grapheme measure says 0 and 1
    (`नेहा शर्मा`: 8 cells here and in those terminals; wcwidth 7; Rich 6 unless the dashboard's
    `tui.cells.count_spacing_marks` has run, which makes Rich agree)."""
    return 0 if not text else _width(text)


def _cut(text: str, cells: int) -> str:
    """Whole graphemes up to `cells - 1` cells, then an ellipsis."""
    if cells <= 0:
        return ""
    out: list[str] = []
    used = 0
    for grapheme in _graphemes(text):
        size = _width(grapheme)
        if used + size > cells - 1:
            break
        out.append(grapheme)
        used += size
    return "".join(out).rstrip(" ") + "…"


def fit(text: str, cells: int) -> str:
    """Pad or cut a cleaned one-line text to exactly `cells` terminal cells."""
    used = cell_width(text)
    if used <= cells:
        return text + " " * (cells - used)
    cut = _cut(text, cells)
    return cut + " " * (cells - cell_width(cut))


def _plain(text: str) -> bool:
    """Printable ASCII (and our own ellipsis): one cell and one grapheme per character, no need of
    wcwidth (whose import is a good part of a `status` run's start-up)."""
    return (text.isascii() or text.replace("…", "").isascii()) and text.isprintable()


def _width(text: str) -> int:
    if _plain(text):
        return len(text)
    if text.isascii():  # with controls: as wcwidth reads them
        from wcwidth import width

        return max(width(text), 0)
    return sum(_grapheme_width(grapheme) for grapheme in _graphemes(text))


# Emoji presentation and sequences (ZWJ, VS16, flags, skin tones): measured whole by wcwidth.
_EMOJI_PARTS = re.compile("[\u200d\ufe0f\U0001f1e6-\U0001f1ff\U0001f3fb-\U0001f3ff]")


def _grapheme_width(grapheme: str) -> int:
    from wcwidth import wcwidth, width

    if len(grapheme) == 1 or _EMOJI_PARTS.search(grapheme):
        return max(width(grapheme), 0)
    # Letters with marks, conjuncts: each code point as terminals draw it (a spacing mark is 1).
    return sum(max(wcwidth(point), 0) or (unicodedata.category(point) == "Mc") for point in grapheme)


def _graphemes(text: str) -> Iterable[str]:
    if _plain(text):
        return text
    from wcwidth import iter_graphemes

    return iter_graphemes(text)
