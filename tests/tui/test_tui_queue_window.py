"""The queue at team scale holds a window of rows, not every item (issue 14): moving, paging, Home,
End, `select` and the filter reach every item all the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from textual import events
from textual.app import App, ComposeResult
from tuikit import wait_for

from socialtui.care import QueueEntry
from socialtui.model import Author, Item, Post, item_id
from socialtui.tui.widgets.queue import QueueTable

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
COUNT = 1000


def entries(count: int = COUNT) -> tuple[QueueEntry, ...]:
    out = []
    for k in range(count):
        account = f"brand{k % 20:02d}"
        author = Author("mastodon", f"fan{k}@example.social", display_name=f"Fan {k}")
        post = Post(
            account, f"r{k}", author, f"Question #{k:04d} about shipping", NOW - timedelta(seconds=count - k)
        )
        item = Item(item_id(account, f"r{k}"), account, "mention", post)
        out.append(QueueEntry(item, 60.0, 3600.0, "ok", waited_s=float(count - k)))
    return tuple(out)


class QueueApp(App[None]):
    def compose(self) -> ComposeResult:
        yield QueueTable({}, "me", id="queue")


async def test_a_long_queue_is_a_window_of_rows_that_moves_with_the_cursor() -> None:
    app = QueueApp()
    shown = entries()
    ids = [entry.item.id for entry in shown]
    async with app.run_test(size=(80, 24)) as pilot:
        queue = app.query_one(QueueTable)
        queue.now = NOW
        queue.entries = shown
        await wait_for(lambda: queue.selected_id == ids[0], pilot, what="the oldest selected")
        assert queue.shown_ids == ids
        assert queue.row_count < 200, "the table holds a window, not every item"

        for n in range(1, 70):  # past the window's first edge, row by row
            await pilot.press("down")
            assert queue.selected_id == ids[n]
        for _ in range(10):
            await pilot.press("pagedown")
        at = ids.index(queue.selected_id or "")
        assert at > 150
        await pilot.press("up")
        assert queue.selected_id == ids[at - 1]

        await pilot.press("end")
        await wait_for(lambda: queue.selected_id == ids[-1], pilot, what="End: the newest")
        await pilot.pause()
        assert f"Question #{COUNT - 1:04d}" in "".join(
            strip.text for strip in queue.render_lines(queue.region.reset_offset)
        )
        await pilot.press("home")
        await wait_for(lambda: queue.selected_id == ids[0], pilot, what="Home: the oldest")
        # What a row shows (the author cut to its column, the text's preview) is made for the rows
        # the table holds, and let go of as the window moves on: only the filter's words are kept
        # for every item.
        assert len(queue._words) == COUNT
        assert len(queue._shown) <= 4 * queue.row_count + 100
        assert set(queue._shown) >= set(ids[: queue.row_count])

        assert queue.select(ids[600])
        assert queue.selected_id == ids[600]

        queue.query_text = "question #07"  # items 0700-0799
        await wait_for(lambda: len(queue.shown_ids) == 100, pilot, what="the filter")
        assert queue.shown_ids == ids[700:800]
        queue.query_text = "question #079"
        await wait_for(lambda: queue.shown_ids == ids[790:800], pilot, what="narrowed")
        queue.query_text = "question #0"  # wider again: not only among the last matches
        await wait_for(lambda: queue.shown_ids == ids, pilot, what="widened")

        queue.entries = shown[5:]  # a reading: five answered
        await wait_for(lambda: queue.shown_ids == ids[5:], pilot, what="the reading")


def screen_rows(queue: QueueTable) -> str:
    return "\n".join(strip.text for strip in queue.render_lines(queue.region.reset_offset))


async def wheel(pilot, queue: QueueTable, down: bool) -> None:  # type: ignore[no-untyped-def]
    """One turn of the mouse wheel over the queue (as the terminal reports it)."""
    kind = events.MouseScrollDown if down else events.MouseScrollUp
    x, y = queue.region.x + 10, queue.region.y + 5
    queue.post_message(kind(queue, 10, 5, 0, 1 if down else -1, 0, False, False, False, x, y))
    await pilot.pause()


async def test_the_mouse_wheel_reaches_every_item_of_a_long_queue() -> None:
    """The table holds a window of rows: the wheel slides it as the view nears its edge, the rows on
    screen staying put, down to the newest item and back up to the oldest."""
    app = QueueApp()
    count = 300  # several windows (of 78 rows at 80x24)
    shown = entries(count)
    ids = [entry.item.id for entry in shown]
    async with app.run_test(size=(80, 24)) as pilot:
        queue = app.query_one(QueueTable)
        queue.now = NOW
        queue.entries = shown
        await wait_for(lambda: queue.selected_id == ids[0], pilot, what="the oldest selected")
        tops: list[int] = []
        for _ in range(count):  # at least a line a turn: more turns than rows never run out
            if f"Question #{count - 1:04d}" in screen_rows(queue):
                break
            await wheel(pilot, queue, down=True)
            top = queue._base + round(queue.scroll_y)  # the item at the top of the screen
            assert not tops or top >= tops[-1], "the view never jumps back"
            tops.append(top)
        else:
            raise AssertionError("the wheel never reached the newest item")
        assert queue.row_count < 200, "still a window"
        assert len(set(tops)) > 50, "the view moved a few lines at a time, not by jumps"
        assert queue.selected_id in queue.shown_ids  # the selection followed onto the screen
        assert queue.selected_id in [ids[queue._base + n] for n in range(queue.row_count)]

        for _ in range(count):
            if "Question #0000" in screen_rows(queue):
                break
            await wheel(pilot, queue, down=False)
        else:
            raise AssertionError("the wheel never came back to the oldest item")
        await pilot.press("down")  # the keys go on from the selection the wheel left
        assert queue.selected_id is not None
