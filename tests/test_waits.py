"""Issue 13 §2: wherever a person reads how long someone has waited, it is the wall-clock wait (the
queue, the handoff draft's late list; a pinned item's `open, waiting` is in tui/test_tui_shifts.py); the active-hours age only where so labelled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from socialtui.config import load_config
from socialtui.handoff import draft_handoff
from socialtui.model import Actor, Author, Item, Post, item_id
from socialtui.overview import build_overview
from socialtui.store import Store
from socialtui.timespec import format_duration

NOW = datetime(2026, 11, 18, 14, 0, tzinfo=UTC)  # a Wednesday
RECEIVED = NOW - timedelta(days=3, hours=9)
CONFIG = """
[team]
data_dir = "data"
timezone = "Europe/Paris"

[[accounts]]
id = "acme"
network = "mastodon"
server = "https://mastodon.example"
handle = "@acme@mastodon.example"
token_env = "ACME_TOKEN"
active_hours = "Mon-Fri 09:00-17:00"
reply_within = "4h"
"""


def test_the_queue_the_handoff_draft_and_a_pin_read_the_same_wall_clock_wait(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    config = load_config(path)
    store = Store(tmp_path / "data")
    post = Post("acme", "r1", Author("mastodon", "sam@example.org", "1", "Sam"), "hello?", RECEIVED)
    store.put_items([Item(item_id("acme", "r1"), "acme", "mention", post)])
    overview = build_overview(config, store, NOW)
    [entry] = overview.queue
    assert format_duration(entry.waited_s) == "3d9h"
    assert format_duration(entry.age_s) != "3d9h", "active hours count less: the test would prove nothing"
    draft = draft_handoff(config, store, Actor("ann", "Ann"), NOW, overview)
    [late] = [line for line in draft.splitlines() if entry.item.id in line]
    assert f"{entry.item.id} waited 3d9h late acme" in late, draft
