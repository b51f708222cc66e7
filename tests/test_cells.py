"""Cell widths: names with ZWJ emoji, Devanagari and Thai keep CLI columns aligned and are never cut
inside a grapheme (no stray joiner, no orphaned vowel sign)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wcwidth import iter_graphemes

from socialtui.text import cell_width, fit, one_line

NAMES = ["👩‍💻 Priya", "नमस्ते दुनिया", "สวัสดีครับ ทุกคน", "日本語のなまえ", "Zoë", "plain ascii name"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("width", [1, 2, 3, 5, 8, 12, 30])
def test_fit_is_exactly_the_width_and_cuts_between_graphemes(name: str, width: int) -> None:
    out = fit(name, width)
    assert cell_width(out) == width
    body = out.rstrip(" ").removesuffix("…")
    assert name.startswith(body), "a prefix of whole graphemes"
    bounds, at = {0}, 0
    for grapheme in iter_graphemes(name):
        at += len(grapheme)
        bounds.add(at)
    assert len(body.rstrip(" ")) in bounds or len(body) in bounds, f"cut inside a grapheme: {body!r}"


def test_a_zwj_emoji_is_two_cells_not_five() -> None:
    assert cell_width("👩‍💻") == 2 and cell_width("नमस्ते") == 4


@given(st.text(max_size=40), st.integers(min_value=1, max_value=40))
def test_one_line_never_exceeds_its_width(text: str, width: int) -> None:
    assert cell_width(one_line(text, width)) <= width


def test_the_cli_columns_stay_aligned_with_such_names(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import contextlib
    import io
    from datetime import UTC, datetime, timedelta

    from socialtui.cli import main
    from socialtui.clock import FixedClock
    from socialtui.model import Actor
    from socialtui.store import Store

    config = tmp_path / "config.toml"
    config.write_text('[team]\ndata_dir = "data"\n')
    now = datetime(2026, 11, 18, 14, 0, tzinfo=UTC)
    store = Store(tmp_path / "data")
    for n, name in enumerate(NAMES):
        store.start_shift(Actor(f"u{n}", name), now - timedelta(minutes=n + 1))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--config", str(config), "shift", "show", "--all"], clock=FixedClock(now)) == 0
    columns = {cell_width(line.split(" on shift since")[0]) for line in out.getvalue().splitlines()}
    assert columns == {20}, out.getvalue()


@given(st.text(alphabet=st.sampled_from([chr(c) for c in range(0x20, 0x7F)] + ["\n", "…"])))
def test_ascii_is_counted_without_wcwidth_as_wcwidth_counts_it(text: str) -> None:
    """Printable ASCII (and the ellipsis of a cut) skips the wcwidth import (a fast `status`): the
    same widths and cuts. Only text as `clean` leaves it is measured: wcwidth's whole-string `width`
    plays a cursor over controls (`0\r…` is 1 there: the ellipsis overwrites the 0), which never
    reach a measure (a whole-suite run under load drew that case)."""
    from wcwidth import width

    assert cell_width(text) == (max(width(text), 0) if text else 0)
    if text.isprintable():
        assert list(iter_graphemes(text)) == list(text)
