"""Rich, and so Textual, made to count cells as common terminals draw them.

Textual lays a row out by Rich's cell measure, then writes it as one run of text: where the terminal
draws a character wider than Rich counted, everything right of it in that row moves. Rich counts
every combining mark as 0 cells, including the *spacing* ones (Unicode category Mc: Devanagari's
vowel sign AA `ा`, Bengali, Gurmukhi, Tamil ...), while tmux, xterm and VTE draw those as 1 cell
(glibc's `wcwidth`, xterm's own table and VTE all make only Mn, Me and Cf zero-width). So `नेहा शर्मा`
was 6 cells to Textual, 8 in tmux, and the claim and text columns after it moved by 2.

`count_spacing_marks` edits Rich's loaded width table once, at start, so that spacing marks are 1
cell, as `socialtui.text.cell_width` counts them. Emoji sequences are left as Rich counts them
(terminals disagree among themselves there). Rich's table is private API: `tests/tui/test_tui_cells.py`
checks that the edit took effect, so an upgrade that moves it fails a test rather than the screen.
"""

from __future__ import annotations

import unicodedata

_done = False


def count_spacing_marks() -> None:
    """Make Rich measure spacing combining marks (Mc) as one cell. Idempotent."""
    global _done
    if _done:
        return
    from rich import cells
    from rich._unicode_data import load

    table = load("auto")
    widths: list[tuple[int, int, int]] = []
    for start, end, width in table.widths:
        if width != 0:
            widths.append((start, end, width))
            continue
        run = None  # the start of the current run of zero-width code points
        for point in range(start, end + 1):
            if unicodedata.category(chr(point)) == "Mc":  # absent from the table: 1 cell
                if run is not None:
                    widths.append((run, point - 1, 0))
                    run = None
            elif run is None:
                run = point
        if run is not None:
            widths.append((run, end, 0))
    table.widths[:] = widths  # type: ignore[index]
    cells.get_character_cell_size.cache_clear()
    cells.cached_cell_len.cache_clear()
    _done = True


__all__ = ["count_spacing_marks"]
