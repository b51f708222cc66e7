"""Names and texts in Devanagari, Thai, ZWJ emoji and flags in the dashboard's tables at 80x24: each
cell is cut by the project's cell measure between graphemes and fits its column, so Rich never cuts
one itself (it split flags and conjuncts, leaving stray characters that shifted the columns)."""

from __future__ import annotations

from rich.text import Text
from tuikit import ALICE, World, make_item, mastodon_author, screen_text, wait_for
from wcwidth import iter_graphemes

from socialtui.text import cell_width
from socialtui.tui.screens.main import MainScreen
from socialtui.tui.widgets.queue import QueueTable

NAMES = {
    "neha": "नेहा शर्मा नेहा शर्मा",
    "thai": "สวัสดีครับ ทุกคน สวัสดีครับ",
    "priya": "👩‍💻👩‍💻 Priya 👩‍💻 developer",
    "lina": "🇸🇪🇸🇪🇸🇪🇸🇪🇸🇪🇸🇪🇸🇪🇸🇪🇸🇪🇸🇪",
}
TEXT = "नमस्ते! क्या आप रविवार को खुले हैं? สวัสดีครับ 🇸🇪🇸🇪🇸🇪 👩‍💻 " * 4


def whole_graphemes(shown: str, full: str) -> bool:
    """`shown` is `full` cut between two graphemes (an ellipsis may end it)."""
    body = shown.removesuffix("…").rstrip(" ")
    at, bounds = 0, {0}
    for grapheme in iter_graphemes(full):
        at += len(grapheme)
        bounds.add(at)
    return full.startswith(body) and len(body) in bounds


async def test_cells_with_such_names_fit_their_columns_between_graphemes(world: World) -> None:
    items = [
        make_item("acme-mastodon", f"c{n}", mastodon_author(handle, name), TEXT, 500 - n)
        for n, (handle, name) in enumerate(NAMES.items())
    ]
    world.store.put_items(items)
    app = world.app(ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one(QueueTable)
        await wait_for(
            lambda: isinstance(app.screen, MainScreen) and {i.id for i in items} <= set(table.shown_ids),
            pilot,
            what="the queue",
        )
        await pilot.pause()
        widths = {str(key.value): column.width for key, column in table.columns.items()}
        for item in items:
            cells: list[Text] = table.get_row(item.id)
            for key, value in zip(("age", "account", "author", "claim", "text"), cells, strict=True):
                plain = value.plain
                assert cell_width(plain) <= widths[key], (key, plain)
                assert value.cell_len <= widths[key], f"Rich would cut {plain!r} itself"
            author = cells[2].plain
            full_author = f"{item.post.author.display_name} ({item.post.author.handle})"
            assert whole_graphemes(author, full_author), author
            text = cells[4].plain
            assert whole_graphemes(text, TEXT.strip()), text
        for line in screen_text(app).splitlines():
            flags = sum(1 for ch in line if 0x1F1E6 <= ord(ch) <= 0x1F1FF)
            assert flags % 2 == 0, f"half a flag on screen: {line!r}"
            assert "्…" not in line and "\u200d…" not in line, f"a cut conjunct or emoji: {line!r}"


def terminal_cells(line: str) -> int:
    """Cells as tmux, xterm and VTE draw a line without emoji: code point by code point, only
    non-spacing and enclosing marks and format characters zero-width (a spacing mark, Mc, is 1)."""
    import unicodedata

    return sum(
        0
        if unicodedata.category(ch) in ("Mn", "Me", "Cf")
        else 2
        if unicodedata.east_asian_width(ch) in "WF"
        else 1
        for ch in line
    )


def test_rich_counts_spacing_marks_as_terminals_draw_them() -> None:
    from rich.cells import cell_len

    from socialtui.tui.cells import count_spacing_marks

    count_spacing_marks()
    for name, cells in {"नेहा शर्मा": 8, "বাংলা": 5, "தமிழ்": 4, "ਪੰਜਾਬੀ": 5, "สวัสดีครับ ทุกคน": 12, "Zoë": 3}.items():
        assert cell_len(name) == cell_width(name) == terminal_cells(name) == cells, name
    assert cell_len("👩‍💻 Priya") == cell_width("👩‍💻 Priya") == 8  # emoji: as Rich and wcwidth count them


async def test_columns_right_of_a_devanagari_name_stay_where_a_terminal_draws_them(world: World) -> None:
    """Before Rich was told that a spacing vowel sign takes a cell, `नेहा शर्मा` was 6 cells to the
    layout and 8 in tmux: the claim and text columns of its row moved 2 cells right (82-cell row)."""
    author = mastodon_author("neha", "नेहा शर्मा")
    world.store.put_items([make_item("acme-mastodon", "n1", author, "कृपया मदद करें, ऐप बंद हो जाता है", 300)])
    app = world.app(ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one(QueueTable)
        await wait_for(
            lambda: isinstance(app.screen, MainScreen) and bool(table.shown_ids), pilot, what="the queue"
        )
        await pilot.pause()
        lines = screen_text(app).splitlines()
        [row] = [line for line in lines if "नेहा" in line]
        [header] = [line for line in lines if "waiting" in line and "text" in line]
        assert terminal_cells(row) == 80, row
        at = row.index("कृपया")
        assert terminal_cells(row[:at]) == header.index("text"), (row, header)
