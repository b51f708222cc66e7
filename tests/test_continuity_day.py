"""The proof of continuity: a 24-hour day of three shifts, taken through the command line with the
clock fixed by `SOCIALTUI_NOW`, each command a separate process. Items arrive all day (written into
the store as the poller would); operators answer some, claim some, and hand over at the end of each
shift. Every item open at a handoff must be named in the note the next operator reads, and the
report's dropped count must be 0; when an operator leaves without a note, the report names what
was dropped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from socialtui import care
from socialtui.cli import unix_login
from socialtui.config import load_config
from socialtui.model import AccountHealth, Actor, Author, Item, Post, item_id
from socialtui.store import Store

D0 = datetime(2026, 11, 18, 0, 0, tzinfo=UTC)  # a Wednesday
CONFIG = """
[team]
data_dir = "data"
timezone = "UTC"
claim_ttl = "30m"
handoff_ack_within = "30m"

[[accounts]]
id = "acme"
network = "mastodon"
server = "https://mastodon.example"
handle = "@acme@mastodon.example"
token_env = "ACME_TOKEN"
active_hours = "always"
max_quiet = "4h"
reply_within = "1h"
"""
SHIFTS = [("Ana", 0), ("Ben", 8), ("Cat", 16)]


def at(hours: float) -> datetime:
    return D0 + timedelta(hours=hours)


@pytest.fixture
def day(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return path


def sh(config: Path, operator: str, when: datetime, *args: str) -> str:
    env = {**os.environ, "SOCIALTUI_NOW": when.isoformat()}
    done = subprocess.run(
        [sys.executable, "-m", "socialtui", "--config", str(config), "--operator", operator, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
    return done.stdout


def arrive(store: Store, n: int, when: datetime) -> Item:
    """A mention arrives, as the poller would write it."""
    author = Author("mastodon", f"person{n}@example.org", str(n), f"Person {n}")
    post = Post("acme", f"s{n:04d}", author, f"question number {n}", when)
    item = Item(item_id("acme", post.remote_id), "acme", "mention", post)
    store.put_items([item])
    store.set_health(AccountHealth("acme", "ok", last_sync_at=when, last_ok_at=when))
    return item


def open_at(config: Path, store: Store, when: datetime) -> list[str]:
    """The items open at `when`, by the care rules on the store (independently of the note)."""
    snap = store.snapshot(when)
    queue = care.unanswered_queue(snap.items, snap.own_posts, snap.states, load_config(config).accounts, when)
    return [entry.item.id for entry in queue]


def live_a_day(config: Path, *, leave_without_note: str = "") -> tuple[Store, dict[str, list[str]]]:
    """Three shifts over 24 hours. Returns the store and, per operator who wrote a note, the items
    open when they wrote it."""
    store = Store(config.parent / "data")
    items: list[Item] = []
    handed: dict[str, list[str]] = {}
    left: dict[str, list[str]] = {}
    n = 0
    for index, (operator, start) in enumerate(SHIFTS):
        actor = Actor(unix_login(), operator)
        begin = at(start)
        shown = sh(config, operator, begin + timedelta(minutes=2), "shift", "start")
        if index:
            previous = SHIFTS[index - 1][0]
            if previous in handed:
                # The note comes first, and it names every item open when it was written.
                assert f"by {previous}" in shown
                missing = [i for i in handed[previous] if i not in shown]
                assert not missing, f"{len(missing)} open items not named in {previous}'s note"
                sh(config, operator, begin + timedelta(minutes=3), "handoff", "ack")
        # Eight hours: a mention every 40 minutes; the operator answers the two newest of every four as they go
        # (the older ones wait: they are the ones a handover must not lose).
        for step in range(12):
            when = begin + timedelta(minutes=5 + 40 * step)
            items.append(arrive(store, n, when))
            n += 1
            if step % 4 == 3:
                queue = open_at(config, store, when)
                for item_id_ in queue[-2:]:
                    item = store.find_item(item_id_)
                    store.mark_done(item, "thanked", actor, when + timedelta(minutes=1))
        # One done through the command line, one claim left open for the next shift.
        queue = open_at(config, store, begin + timedelta(hours=7, minutes=50))
        sh(config, operator, begin + timedelta(hours=7, minutes=51), "done", queue[0], "--reason", "spam")
        store.claim(
            store.find_item(queue[-1]), actor, begin + timedelta(hours=7, minutes=52), timedelta(minutes=30)
        )
        end = begin + timedelta(hours=7, minutes=55)
        if operator == leave_without_note:
            left[operator] = open_at(config, store, end)
            ended = sh(config, operator, end, "shift", "end")
            assert "Your claims were released" in ended
            continue
        handed[operator] = open_at(config, store, end)
        wrote = sh(
            config, operator, end, "handoff", "write", f"{operator}: the refund question is still open"
        )
        assert f"({len(handed[operator])} unanswered)" in wrote
    # The next morning Ana is back and reads Cat's note.
    morning = at(24) + timedelta(minutes=2)
    shown = sh(config, "Ana", morning, "shift", "start")
    if "Cat" in handed:
        assert all(i in shown for i in handed["Cat"])
        sh(config, "Ana", morning + timedelta(minutes=1), "handoff", "ack")
    return store, handed | {f"{k} (no note)": v for k, v in left.items()}


def test_a_day_of_three_shifts_drops_nothing(day: Path) -> None:
    store, handed = live_a_day(day)
    assert [len(open_items) for open_items in handed.values()] == [5, 10, 15], (
        "real open work at each handoff"
    )
    notes = store.handoffs()
    assert [n.operator for n in notes] == ["Ana", "Ben", "Cat"]
    for note in notes:
        assert [i.id for i in note.open_items] == handed[note.operator], "the note's data is the open work"
        assert note.claims, "the writer's claim was released into the note"
        assert note.taken_over_by, "and taken over by whoever acknowledged"

    now = at(24) + timedelta(minutes=5)
    report = json.loads(sh(day, "Ana", now, "report", "--since", "25h", "--json"))["continuity"]
    assert [c["operator"] for c in report["shift_changes"]] == ["Ana", "Ben", "Cat"]
    assert report["dropped"] == 0 and report["dropped_items"] == []
    assert report["handed_over"] == len({i for open_items in handed.values() for i in open_items})
    text = sh(day, "Ana", now, "report", "--since", "25h")
    assert f"handed over {report['handed_over']}, dropped 0 (goal: 0)" in text


def test_an_operator_who_leaves_without_a_note_drops_the_open_work(day: Path) -> None:
    store, handed = live_a_day(day, leave_without_note="Ben")
    assert "Ben" not in handed
    ben_end = at(8 + 7) + timedelta(minutes=55)
    left_open = handed["Ben (no note)"]
    still_open = set(open_at(day, store, at(24) + timedelta(minutes=5)))
    expected = [i for i in left_open if i in still_open]
    assert expected, "some of what Ben left is still open at the end of the day"

    now = at(24) + timedelta(minutes=5)
    report = json.loads(sh(day, "Ana", now, "report", "--since", "25h", "--json"))["continuity"]
    assert report["dropped_items"] == expected
    text = sh(day, "Ana", now, "report", "--since", "25h")
    assert f"dropped {len(expected)} (goal: 0)" in text
    for item in expected[:20]:
        assert f"  - {item}" in text, "the report names the dropped items"
    # Ben's claim was released when he ended his shift: nobody holds it.
    assert all(c.operator != "Ben" for c in store.claims(ben_end + timedelta(minutes=1)).values())
