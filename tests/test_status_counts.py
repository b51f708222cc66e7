"""`status` and `check` from counts (`Store.queue_counts`, `build_status_overview`): the same
accounts, counts, gaps, verdict and head of the queue as the full computation, on both engines,
over items placed on and around the deadline instants, in and out of active hours."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from socialtui import care
from socialtui.config import load_config
from socialtui.model import AccountHealth, Actor, Author, Item, OutboxEntry, Post, item_id
from socialtui.overview import Overview, build_overview, build_status_overview
from socialtui.store import Store

NOW = datetime(2026, 11, 18, 14, 7, 30, 250_000, tzinfo=UTC)  # a Wednesday

CONFIG = """
[team]
data_dir = "data"
timezone = "Europe/London"
poll_interval = "30s"

[[accounts]]
id = "acme-mastodon"
network = "mastodon"
server = "https://mastodon.example"
handle = "@Acme@mastodon.example"
token_env = "ACME_TOKEN"
active_hours = "Mon-Fri 09:00-17:30"
timezone = "America/New_York"
max_quiet = "4h"
reply_within = "45m"
reply_within_talk = "2h"

[[accounts]]
id = "acme-bluesky"
network = "bluesky"
server = "https://bsky.example"
handle = "acme.bsky.example"
app_password_env = "ACME_BSKY"
active_hours = "always"
max_quiet = "4h"
reply_within = "30m"

[[accounts]]
id = "acme-quiet"
network = "mastodon"
server = "https://mastodon.example"
handle = "@quiet@mastodon.example"
token_env = "QUIET_TOKEN"
active_hours = "Sat-Sun 10:00-12:00"
timezone = "Asia/Tokyo"
max_quiet = "2h"
reply_within = "1h"
"""
ACCOUNTS = ("acme-mastodon", "acme-bluesky", "acme-quiet")
NETWORK = {"acme-mastodon": "mastodon", "acme-bluesky": "bluesky", "acme-quiet": "mastodon"}


def _item(n: int, account: str, at: datetime, kind: str, author: Author | None = None) -> Item:
    network = NETWORK[account]
    author = author or Author(network, f"person{n % 7}@example.org", f"p{n % 7}", f"Person {n % 7}")
    remote = f"r{n:05d}"
    post = Post(account, remote, author, f"Question {n}", at, url=f"https://x/{n}")
    return Item(item_id(account, remote), account, kind, post)


def _filled(tmp_path: Path) -> tuple[Store, Path]:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    config = load_config(path)
    store = Store(tmp_path / "data")
    rng = random.Random(8)
    items: list[Item] = []
    n = 0
    # Around every deadline instant (a microsecond either side, and on it), and at random.
    for account in config.accounts:
        for kind, instants in care.queue_edges(account, NOW).items():
            for edge in instants:
                for delta in (-1, 0, 1):
                    n += 1
                    items.append(_item(n, account.id, edge + timedelta(microseconds=delta), kind))
    for _ in range(300):
        n += 1
        account = rng.choice(ACCOUNTS)
        at = NOW - timedelta(seconds=rng.uniform(-600, 5 * 86400))
        items.append(_item(n, account, at, rng.choice(("mention", "reply", "quote", "talk"))))
    # Same instant on two accounts (ties by id), and one of our accounts mentioning another.
    for account in ACCOUNTS:
        n += 1
        items.append(_item(n, account, NOW - timedelta(days=6), "mention"))
    us = Author("mastodon", "acme@mastodon.example", "us", "Acme")
    n += 1
    items.append(_item(n, "acme-quiet", NOW - timedelta(days=9), "mention", author=us))
    store.put_items(items)
    actor = Actor("alice", "Alice")
    for item in rng.sample(items, 60):
        store.mark_done(item, "spam", actor, NOW)
    replies = rng.sample(items, 30)
    store.put_own_posts(
        Post(
            item.account,
            f"re{k}",
            us,
            "Thanks",
            item.received_at + timedelta(minutes=5),
            reply_to=item.post.remote_id,
            own=True,
        )
        for k, item in enumerate(replies)
    )
    store.put_own_posts([Post("acme-bluesky", "own1", us, "News", NOW - timedelta(hours=3), own=True)])
    open_items = [i for i in items if i not in replies]
    store.claim(open_items[5], actor, NOW, timedelta(minutes=10))
    failed = OutboxEntry(
        id="key-f", item=open_items[7].id, account=open_items[7].account, text="Sorry!", login="alice",
        operator="Alice", created_at=NOW, updated_at=NOW, in_reply_to=open_items[7].post.remote_id,
    )  # fmt: skip
    store.outbox_add(failed, actor, NOW)
    store.outbox_update(replace(failed, state="failed", error="refused"), actor, "failed")
    sent = replace(failed, id="key-s", item=open_items[9].id, in_reply_to=open_items[9].post.remote_id)
    store.outbox_add(sent, actor, NOW)
    store.outbox_update(replace(sent, state="sent", sent_at=NOW, remote_id="s9"), actor, "sent")
    for account in ("acme-mastodon", "acme-bluesky"):
        store.set_health(AccountHealth(account=account, state="ok", last_sync_at=NOW, last_ok_at=NOW))
    return store, path


def _accounts(overview: Overview) -> list[tuple[object, ...]]:
    return [
        (
            a.account.id,
            a.unanswered,
            a.due,
            a.late,
            a.oldest_unanswered_s,
            a.oldest_waited_s,
            a.gap.state,
            a.gap.quiet_s,
            a.gap.last_post_at,
            a.gap.breach_at,
            a.health_summary,
            a.health_level,
            a.forecast,
            [e.id for e in a.failed],
        )  # fmt: skip
        for a in overview.accounts
    ]


def test_status_from_counts_is_the_full_computation(tmp_path: Path) -> None:
    store, path = _filled(tmp_path)
    config = load_config(path)
    for at in (NOW, NOW + timedelta(hours=30), NOW + timedelta(days=3, hours=7)):
        full = build_overview(config, store, at, tones=False)
        fast = build_status_overview(config, store, at, head=40)
        assert _accounts(fast) == _accounts(full)
        assert [(e.item.id, e.state, e.age_s, e.waited_s, e.claim) for e in fast.queue] == [
            (e.item.id, e.state, e.age_s, e.waited_s, e.claim) for e in full.queue[:40]
        ]
        assert (fast.unanswered, fast.late) == (len(full.queue), full.late)
        assert fast.check() == full.check()
        assert care.tally_queue(full.queue) == fast.tally
        if at == NOW:  # the data covers every case
            assert {e.state for e in full.queue} == {"ok", "due", "late"}
            assert {e.item.kind for e in full.queue} == {"mention", "reply", "quote", "talk"}
    store.close()


def test_status_counts_an_empty_store(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    config = load_config(path)
    store = Store(tmp_path / "data")
    full = build_overview(config, store, NOW, tones=False)
    fast = build_status_overview(config, store, NOW, head=40)
    assert _accounts(fast) == _accounts(full)
    assert fast.queue == [] and fast.unanswered == 0 and fast.check() == full.check()
    store.close()


@pytest.mark.parametrize("hours", ["always", "Mon-Fri 09:00-17:30", "Sat-Sun 10:00-12:00", "Fri 22:00-02:00"])
@pytest.mark.parametrize("limit", [0.0, 1.5, 1800.0, 2700.0, 86400.0 * 3])
def test_the_split_instant_splits_ages_exactly(hours: str, limit: float) -> None:
    from zoneinfo import ZoneInfo

    from socialtui.timespec import ActiveHours

    active = ActiveHours.parse(hours, ZoneInfo("America/New_York"))
    for now in (
        NOW,
        datetime(2026, 3, 8, 7, 30, tzinfo=UTC),
        datetime(2026, 11, 1, 5, 59, 59, 999_999, tzinfo=UTC),
    ):
        edge = care.over_limit_before(active, now, limit)
        assert active.active_seconds(edge, now) <= limit
        if edge > datetime(1970, 1, 1, tzinfo=UTC):
            assert active.active_seconds(edge - timedelta(microseconds=1), now) > limit


@pytest.mark.files_only("the files engine's partition summaries")
def test_files_summaries_stale_missing_or_odd_are_never_counted(tmp_path: Path) -> None:
    """The files engine counts the items from each partition's summary (`TableFiles.summary`): one
    left behind by a writer killed between its partition and its summary, one missing and one cut
    short are all found out, the partition read instead and the summary made again."""
    import os

    import orjson

    store, path = _filled(tmp_path)
    config = load_config(path)
    items_dir = tmp_path / "data" / "tables" / "items"
    partitions = sorted(items_dir.glob("*.json"))
    summaries = sorted(items_dir.glob(".*.tally"))
    assert len(summaries) == len(partitions) >= 3, "the writer leaves a summary beside each partition"
    old = {summary: summary.read_bytes() for summary in summaries}
    # More items, then the summaries as they were: as if each writer had died after its partition.
    store.put_items(
        [_item(9000 + k, "acme-mastodon", NOW - timedelta(minutes=k), "mention") for k in range(5)]
    )
    for summary, raw in old.items():
        summary.write_bytes(raw)
    summaries[0].unlink()
    summaries[1].write_bytes(b'{"signature": [1, 2')
    expected = build_overview(config, store, NOW, tones=False)
    store.close()
    for _ in range(2):  # the first finds the odd ones and makes them again, the second reads them
        fresh = Store(tmp_path / "data")  # another process: nothing decoded yet
        fast = build_status_overview(config, fresh, NOW, head=40)
        fresh.close()
        assert _accounts(fast) == _accounts(expected)
        assert [e.item.id for e in fast.queue] == [e.item.id for e in expected.queue[:40]]
        assert (fast.unanswered, fast.late) == (len(expected.queue), expected.late)
    for partition in partitions:
        st = os.lstat(partition)
        made = orjson.loads((items_dir / f".{partition.name}.tally").read_bytes())
        assert made["signature"] == [st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size]


@pytest.mark.files_only("the files engine's partition summaries")
def test_files_tally_from_summaries_is_the_tally_over_every_item(tmp_path: Path) -> None:
    """The files engine's `tally_open` (partition summaries, counted by column) is `Reader.tally_open`
    over every item read (each edge, our own accounts left out, ties, the head), and a summary of
    the format before (one row per item, unmarked) with the partition's signature is stale: made
    again, never read as if it were of this format."""
    import os

    import orjson

    from socialtui.store.engine import Reader

    store, path = _filled(tmp_path)
    config = load_config(path)
    items_dir = tmp_path / "data" / "tables" / "items"
    partition = sorted(items_dir.glob("*.json"))[0]
    st = os.lstat(partition)
    old = {"signature": [st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size], "rows": [["k", "a", "mention"]]}
    (items_dir / f".{partition.name}.tally").write_bytes(orjson.dumps(old))
    others = [("mastodon", "acme@mastodon.example")]
    for at in (NOW, NOW + timedelta(days=3, hours=7)):
        edges = {
            (account.id, kind): instants
            for account in config.accounts
            for kind, instants in care.queue_edges(account, at).items()
        }
        fresh = Store(tmp_path / "data")  # another process: nothing decoded yet
        with fresh.engine.read() as reader:
            for head in (0, 7, 500):
                fast = reader.tally_open(edges, others, head)
                assert fast == Reader.tally_open(reader, edges, others, head)
                assert len(fast[1]) == min(head, sum(sum(t.counts) for t in fast[0].values()))
        fresh.close()
    made = orjson.loads((items_dir / f".{partition.name}.tally").read_bytes())
    assert made["signature"] == old["signature"] and "rows" not in made and made["format"] >= 2
    store.close()
