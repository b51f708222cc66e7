"""The dashboard's reader of the store: what it reads again, and when."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from tuikit import ALICE, BOB, NOW, World, bluesky_author, make_item, mastodon_author, own_post

from socialtui.care import CARE_LOOKBACK
from socialtui.config import Config
from socialtui.model import AccountHealth, Author, Draft, Item, OutboxEntry, Post, from_record
from socialtui.model_work import ItemState
from socialtui.overview import AccountOverview, build_overview
from socialtui.store import Store, follow, open_store
from socialtui.store.schema import post_key
from socialtui.timespec import ActiveHours
from socialtui.tui import data
from socialtui.tui.data import (
    AuditQuery,
    Dashboard,
    StoreFollower,
    TimelineQuery,
    item_for_post,
    read_audit,
    read_timeline,
)


def test_the_bulky_files_are_decoded_again_only_when_another_process_changed_them(world: World) -> None:
    follower = StoreFollower(world.config, world.store)
    first = follower.read(NOW)
    again = follower.read(NOW + timedelta(seconds=1))
    assert (again.items_version, again.own_version) == (first.items_version, first.own_version)
    assert again.snapshot.items is first.snapshot.items, "the same decoded items, not a new copy"

    other = Store(world.config.team.data_dir)  # another operator's process
    other.mark_done(world.items[0], "spam", BOB, NOW)
    after_done = follower.read(NOW)
    assert after_done.items_version == first.items_version, (
        "an operator action rewrites operators' tables only"
    )
    assert world.items[0].id not in {entry.item.id for entry in after_done.queue}, "but it shows at once"

    new = make_item("acme-mastodon", "1300", mastodon_author("ana"), "hello", 1)
    other.put_items([new])
    after_poll = follower.read(NOW)
    assert after_poll.items_version == first.items_version + 1
    assert new.id in after_poll.items and after_poll.queue[-1].item.id == new.id


def test_the_contact_view_gathers_notes_and_past_conversations_across_accounts(world: World) -> None:
    follower = StoreFollower(world.config, world.store)
    view = follower.contact_view(world.items[0])
    assert view.key == "mastodon:sam@example.org"
    assert view.contact is not None and view.contact.tags == ("customer", "vip")
    [past] = view.conversations
    assert past.item.post.text == "Last week's order arrived broken."
    assert [reply.text for reply in past.replies] == ["Sorry to hear that, we'll send a new one."]


def test_the_contact_view_says_why_a_past_item_was_done_before_and_after_the_first_reading(
    world: World,
) -> None:
    """The done reasons come from the store before the dashboard's first reading, and from the
    last reading after it (the follower holds every state: the store is not asked to decode them
    all again, and its engine keeps none of them)."""
    sam = world.items[0].post.author
    spam = make_item("acme-mastodon", "0990", sam, "Buy cheap followers", 60 * 24)
    thanks = make_item("acme-bluesky", "0991", sam, "Thanks, all good now!", 60 * 20)
    other = Store(world.config.team.data_dir)  # another operator's process
    other.put_items([spam, thanks])
    other.mark_done(spam, "spam", BOB, NOW)

    def reasons(follower: StoreFollower) -> tuple[str, str]:
        view = {
            past.item.id: past.done_reason for past in follower.contact_view(world.items[0]).conversations
        }
        return view[spam.id], view[thanks.id]

    assert reasons(StoreFollower(world.config, open_store(world.config))) == ("spam", "")
    store = open_store(world.config)  # a dashboard's own, fresh
    follower = StoreFollower(world.config, store)
    follower.read(NOW)
    other.mark_done(thanks, "thanked", BOB, NOW)
    follower.read(NOW + timedelta(seconds=1))
    assert reasons(follower) == ("spam", "thanked")
    tables = getattr(store.engine, "_tables", {})
    if "states" in tables:  # the files engine: nothing of the states kept decoded
        assert not tables["states"]._cache


def test_timelines_merge_newest_first_and_filter(world: World) -> None:
    reading = read_timeline(world.store, TimelineQuery(kind="ours"), world.config, limit=3)
    rows = reading.rows
    assert len(rows) == 3 and reading.more, "the newest 3, and older ones match too"
    assert [row.post.created_at for row in rows] == sorted(
        (row.post.created_at for row in rows), reverse=True
    )
    everything = read_timeline(world.store, TimelineQuery(kind="ours"), world.config)
    assert len(everything.rows) == 8 and not everything.more
    assert [row.key for row in everything.rows[:3]] == [row.key for row in rows]
    bluesky = read_timeline(world.store, TimelineQuery(kind="ours", network="bluesky"), world.config).rows
    assert bluesky and {row.post.account for row in bluesky} == {"acme-bluesky"}
    words = read_timeline(world.store, TimelineQuery(kind="all", words=("norway",)), world.config).rows
    assert [row.post.text for row in words] == ["Also: do you ship to Norway?"]
    by_author = read_timeline(world.store, TimelineQuery(kind="all", words=("lee",)), world.config).rows
    assert by_author and all("lee" in row.post.author.handle for row in by_author), "the author is searched"
    # The items among the rows come whole: one is replied to as itself. A post that is not an item
    # can still be answered: it becomes an item on the spot.
    items = [row for row in everything.rows if row.kind == "item"]
    assert items and all(everything.items[_item_id(row)].post == row.post for row in items)
    ours = next(row for row in everything.rows if row.kind == "ours")
    item = item_for_post(ours.post, everything.items)
    assert item.account == ours.post.account and item.post == ours.post


def _item_id(row: data.TimelinePost) -> str:
    from socialtui.model import item_id

    return item_id(row.post.account, row.post.remote_id)


def test_the_timeline_reads_the_newest_posts_of_each_account_not_the_store(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without words, the timeline decodes the newest `limit` posts of each account and table it
    covers, no more (it used to hold every item and post of the store while open); with words,
    only the posts that hold them."""
    posts = [own_post("acme-bluesky", f"many-{n}", 60 * 24 + n, text=f"post {n}") for n in range(40)]
    world.store.put_own_posts(posts)
    decoded: list[object] = []
    real = from_record

    def counting(cls: type, doc: dict) -> object:
        made = real(cls, doc)
        decoded.append(made)
        return made

    monkeypatch.setattr("socialtui.store.items.from_record", counting)
    reading = read_timeline(world.store, TimelineQuery(kind="ours", account="acme-bluesky"), world.config, 5)
    assert len(reading.rows) == 5 and reading.more
    assert len(decoded) == 6, "the newest 6 of its items and own posts, no more"
    decoded.clear()
    words = TimelineQuery(kind="ours", account="acme-bluesky", words=("post", "17"))
    assert [row.post.text for row in read_timeline(world.store, words, world.config, 5).rows] == ["post 17"]
    assert len(decoded) == 1, "only the match decoded"


def test_each_reading_carries_the_handoff_notes_waiting_for_its_operator(world: World) -> None:
    other = Store(world.config.team.data_dir)  # Bob's process
    note = other.write_handoff("Watch the Bluesky gap", BOB, NOW - timedelta(minutes=5))
    world.store.start_shift(ALICE, NOW)
    follower = StoreFollower(world.config, world.store, ALICE.operator)
    data = follower.read(NOW)
    assert [n.id for n in data.waiting] == [note.id]
    assert data.current_shift("Alice") is not None and data.current_shift("Bob") is None
    assert StoreFollower(world.config, world.store, "Bob").read(NOW).waiting == (), "not one's own note"
    other.ack_handoffs(ALICE, NOW, note.id)
    assert follower.read(NOW).waiting == (), "acknowledged: no longer waiting"


def test_the_audit_trail_is_read_newest_first_and_filtered(world: World) -> None:
    world.store.mark_done(world.items[0], "spam", ALICE, NOW)
    reading = read_audit(world.store, AuditQuery())
    assert [(e.operator, e.action) for e in reading.events] == [
        ("Alice", "done"),
        ("Bob", "tags"),
        ("Bob", "note"),
    ]
    assert (reading.operators, reading.actions) == (("Alice", "Bob"), ("done", "note", "tags"))
    assert [e.action for e in read_audit(world.store, AuditQuery(operator="Bob")).events] == ["tags", "note"]
    assert [e.action for e in read_audit(world.store, AuditQuery(words=("vip",))).events] == ["tags"]
    assert read_audit(world.store, AuditQuery(since=NOW - timedelta(hours=1))).matched == 1


def test_the_dashboard_reading_is_the_same_snapshot_as_the_store_s(world: World) -> None:
    """One Snapshot builder: the dashboard's reading holds what the store's does, drafts included
    (the handoff auto-draft lists them)."""
    item = world.items[0]
    world.store.save_draft(Draft(item.id, item.account, "Half a reply", "bob", "Bob", NOW, "key-1"))
    reading = StoreFollower(world.config, world.store).read(NOW).snapshot
    stored = world.store.snapshot(NOW)
    assert reading.drafts == stored.drafts and set(reading.drafts) == {item.id}
    assert reading.claims == stored.claims and reading.health == stored.health
    # The items of the dashboard's reading are the open ones (the working set), as the store has them.
    opened = build_overview(world.config, world.store, NOW)
    assert {i.id for i in reading.items} == {entry.item.id for entry in opened.queue} != set()
    by_id = {i.id: i for i in stored.items}
    assert all(by_id[i.id] == i for i in reading.items), "whole, as stored"


def test_the_first_look_reads_the_head_of_the_queue_and_counts_the_rest(world: World) -> None:
    follower = StoreFollower(world.config, world.store, ALICE.operator)
    whole = follower.read(NOW)
    oldest = [entry.item.id for entry in whole.queue][:2]
    first = follower.first_look(NOW, oldest=2)
    assert [entry.item.id for entry in first.queue] == oldest, "the oldest items, in the queue's order"
    assert first.partial and first.unanswered == len(whole.queue), "the header's count is the whole queue's"
    by_account = {a.account.id: a.unanswered for a in whole.overview.accounts}
    assert {a.account.id: a.unanswered for a in first.overview.accounts} == by_account

    everything = follower.first_look(NOW, oldest=len(whole.queue) + 5)
    assert not everything.partial, "a queue read to its end is whole"
    assert [entry.item.id for entry in everything.queue] == [entry.item.id for entry in whole.queue]


def _row(reading: Dashboard, account: str) -> AccountOverview:
    return next(row for row in reading.overview.accounts if row.account.id == account)


def test_a_health_only_change_reads_the_accounts_again_and_not_the_queue(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live poller confirms its stream by rewriting the account's health, about once per poll
    interval and account, and every dashboard wakes for it. On a big store the care rules over the
    queue take a good part of a second (the reading stands for 4 times that while only the clock
    moves): a change to the health alone reads the accounts' rows again, at the reading's time, and
    leaves the queue as it was made."""
    monkeypatch.setattr(data, "CLOCK_SLACK_SHARE", 10**6)  # a big store's slack: CLOCK_SLACK_MAX
    follower = StoreFollower(world.config, world.store, ALICE.operator)
    first = follower.read(NOW)
    assert follower.queue_readings == 1 and _row(first, "acme-mastodon").health.mode == ""
    poller = Store(world.config.team.data_dir)  # the sync service's process
    try:
        at = NOW + timedelta(seconds=2)
        live = AccountHealth(
            "acme-mastodon",
            "ok",
            last_sync_at=at,
            last_ok_at=at,
            mode="live",
            live_until=at + timedelta(seconds=60),
        )
        poller.set_health(live)
        confirmed = follower.read(at)
        assert follower.queue_readings == 1, "no care rules applied over the queue for a health write"
        assert confirmed.queue is first.queue and confirmed.items is first.items
        row = _row(confirmed, "acme-mastodon")
        assert (row.health.mode, row.health.live_until, confirmed.now) == ("live", live.live_until, at)
        assert row.sync.age_s == 0.0 and row.health_summary == "ok, live"
        assert row.gap.state != "unknown", "the account synced: its gap is known from its posts"
        assert confirmed.snapshot.health["acme-mastodon"] == live
        other, before = _row(confirmed, "acme-bluesky"), _row(first, "acme-bluesky")
        assert (other.health, other.gap, other.unanswered) == (before.health, before.gap, before.unanswered)

        poller.set_health(replace(live, live_until=at + timedelta(seconds=90)))  # the next confirmation
        again = follower.read(at + timedelta(seconds=1))
        assert follower.queue_readings == 1 and again.queue is first.queue
        assert _row(again, "acme-mastodon").health.live_until == at + timedelta(seconds=90)

        poller.set_health(replace(live, mode="polling", live_until=None))  # the stream failed
        assert _row(follower.read(at + timedelta(seconds=2)), "acme-mastodon").health.mode == "polling"
        assert follower.queue_readings == 1

        poller.set_health(live)
        poller.mark_done(world.items[0], "spam", BOB, NOW)  # the health and the queue: both again
        mixed = follower.read(at + timedelta(seconds=3))
        assert follower.queue_readings == 2 and follower.full_readings == 1, "the queue, by what changed"
        assert world.items[0].id not in {e.item.id for e in mixed.queue}
        assert _row(mixed, "acme-mastodon").health.mode == "live"
    finally:
        poller.close()


def test_a_live_confirmation_that_lapses_reads_as_polling_after_health_only_readings(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The promise of `AccountHealth.live_until` holds through the light readings: once a dead
    poller's confirmation lapses (two poll intervals), the next reading past the clock's slack says
    polling, with nothing written to the store."""
    monkeypatch.setattr(data, "CLOCK_SLACK_SHARE", 10**6)
    follower = StoreFollower(world.config, world.store)
    follower.read(NOW)
    poller = Store(world.config.team.data_dir)
    try:
        hold = 2 * world.config.team.poll_interval
        poller.set_health(
            AccountHealth(
                "acme-mastodon", "ok", last_sync_at=NOW, last_ok_at=NOW, mode="live", live_until=NOW + hold
            )
        )
    finally:
        poller.close()  # the poller dies: nothing confirms the stream again
    assert _row(follower.read(NOW + timedelta(seconds=1)), "acme-mastodon").health.mode == "live"
    assert follower.queue_readings == 1
    lapsed = follower.read(NOW + hold + data.CLOCK_SLACK_MAX)
    assert _row(lapsed, "acme-mastodon").health.mode == "polling"
    assert _row(lapsed, "acme-mastodon").health_summary == "ok"


def test_the_first_look_counts_what_the_full_reading_shows(world: World) -> None:
    """The first look counts the open items without decoding them (the store's tally): an item
    one of our own accounts wrote, one answered, and one of an account not in the config are no
    work there as in the full reading."""
    ours = Author("mastodon", "acme@mastodon.example", "us", "Acme")
    written_by_us = make_item("acme-bluesky", "by-us", ours, "cross-post from our other account", 50)
    answered = make_item("acme-mastodon", "answered", mastodon_author("sam"), "thanks!", 40)
    elsewhere = make_item("gone-account", "elsewhere", mastodon_author("kim"), "hello?", 30)
    world.store.put_items([written_by_us, answered, elsewhere])
    world.store.mark_done(answered, "thanked", ALICE, NOW)
    follower = StoreFollower(world.config, world.store, ALICE.operator)
    whole = follower.read(NOW)
    assert written_by_us.id not in {entry.item.id for entry in whole.queue}
    first = follower.first_look(NOW, oldest=1)
    assert first.partial and first.unanswered == len(whole.queue)
    assert {a.account.id: a.unanswered for a in first.overview.accounts} == {
        a.account.id: a.unanswered for a in whole.overview.accounts
    }


def vars_of(row: AccountOverview) -> dict[str, object]:
    return {name: getattr(row, name) for name in row.__dataclass_fields__}


def _same_as_a_full_reading(world: World, config: Config, reading: Dashboard) -> None:
    """`reading` (made by what changed since the last) is what a fresh full reading gives at its time,
    and what `build_overview` (the care rules over every record) gives: of the fresh reading's
    records, and the store's own posts (the reading holds their times, not the posts)."""
    fresh = StoreFollower(config, world.store).read(reading.now)
    own = world.store.snapshot(reading.now, posts_since=reading.now - CARE_LOOKBACK).own_posts
    whole = build_overview(config, world.store, reading.now, replace(fresh.snapshot, own_posts=own))
    for made in (fresh.overview, whole):
        assert reading.queue == made.queue
        for mine, theirs in zip(reading.overview.accounts, made.accounts, strict=True):
            assert vars_of(mine) == vars_of(theirs)
        assert (reading.unanswered, reading.overview.late) == (len(made.queue), made.late)
    assert reading.items == fresh.items and reading.snapshot.states == fresh.snapshot.states
    assert reading.snapshot.claims == fresh.snapshot.claims


def test_a_reading_made_by_what_changed_is_the_full_reading(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dashboard's reading after a change redoes the care rules for what changed only (items,
    own posts, states, claims, drafts, the outbox, health, handoffs) and moves the ages and states
    with the clock: after each of a seeded random run of changes by another process, its queue,
    counts and accounts' rows are those of a fresh full reading at the same time."""
    # Every reading reads: none stands on the last for the clock (nor for a health write alone).
    monkeypatch.setattr(data, "CLOCK_SLACK_SHARE", 0)
    monkeypatch.setattr(data, "CLOCK_SLACK_MAX", timedelta(0))
    rng = random.Random(14)
    # One account on office hours in Berlin (ages count active hours only), talk with a target.
    office, talk = ActiveHours.parse("Mon-Fri 08:00-18:00", ZoneInfo("Europe/Berlin")), timedelta(hours=2)
    config = replace(
        world.config,
        accounts=[
            replace(account, active_hours=office, reply_within_talk=talk)
            if account.id == "acme-bluesky"
            else account
            for account in world.config.accounts
        ],
    )
    follower = StoreFollower(config, world.store, ALICE.operator)
    now = NOW
    follower.read(now)
    other = Store(world.config.team.data_dir)  # another operator's process, and a poller's
    items = list(world.items)
    own: list[Post] = []
    accounts = ("acme-mastodon", "acme-bluesky")
    authors = [mastodon_author("ana"), mastodon_author("sam"), bluesky_author("kim"), bluesky_author("jo")]
    try:
        for step in range(60):
            action = rng.choice(
                ["item", "item", "done", "reopen", "reply", "unreply", "claim", "outbox", "draft", "health"]
            )
            item = rng.choice(items)
            if action == "item":  # a poller's page: new items, and now and then one edited
                new = [
                    make_item(
                        rng.choice(accounts),
                        f"{step}-{n}",
                        rng.choice(authors),
                        rng.choice(["Thanks!", "This is broken and awful", "Where is my order?"]),
                        rng.uniform(-30, 600),
                        kind=rng.choice(["mention", "reply", "talk"]),
                    )
                    for n in range(rng.randint(1, 3))
                ]
                if rng.random() < 0.3:
                    new.append(replace(item, post=replace(item.post, text=item.post.text + " (edited)")))
                other.put_items(new)
                items = [i for i in items if i.id not in {n.id for n in new}] + new
            elif action == "done":
                other.mark_done(item, "no reply needed", BOB, now)
            elif action == "reopen":
                other.reopen(item, BOB, now)
            elif action == "reply":  # an own post: a reply to an item (from any app), or news
                post = own_post(
                    item.account,
                    f"own-{step}",
                    rng.uniform(0, 900),
                    reply_to=item.post.remote_id if rng.random() < 0.7 else "",
                )
                other.put_own_posts([post])
                own.append(post)
            elif action == "unreply" and own:  # retention lets an own post go
                gone = own.pop(rng.randrange(len(own)))
                other._write(
                    ["own"], lambda w, gone=gone: w.delete("own", [post_key(gone.account, gone.remote_id)])
                )
            elif action == "claim":
                other.claim(item, BOB, now, timedelta(minutes=rng.choice([1, 10])))
            elif action == "outbox":  # a reply through the outbox: sent, or failed for good
                state = rng.choice(["sent", "failed", "queued"])
                other.outbox_update(
                    OutboxEntry(
                        f"out-{item.id}",  # one entry per item: its state moves
                        item.id,
                        item.account,
                        "Thank you!",
                        BOB.login,
                        BOB.operator,
                        now,
                        now,
                        state=state,
                        in_reply_to=item.post.remote_id,
                        sent_at=now if state == "sent" else None,
                    )
                )
            elif action == "draft":
                other.save_draft(
                    Draft(item.id, item.account, "Hello", BOB.login, BOB.operator, now, f"k{step}")
                )
            else:
                other.set_health(
                    AccountHealth(
                        rng.choice(accounts), rng.choice(["ok", "auth"]), last_sync_at=now, last_ok_at=now
                    )
                )
            # The clock moves too: seconds (the next reading of a busy minute) or past a deadline.
            now += timedelta(seconds=rng.choice([0, 1, 7, 600, 1900, 6 * 3600]))
            _same_as_a_full_reading(world, config, follower.read(now))
    finally:
        other.close()
    assert follower.full_readings == 1, "one full reading: the others redid what changed"


def test_the_reading_holds_the_open_items_and_reads_an_answered_one_again_when_it_reopens(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dashboard's reading holds the working set, not the store: the open items decoded (and
    those a handoff note pins), the outbox entries not sent, a stand-in per done state; not the
    sent replies nor the own posts (the care rules' keepers index what they count of them, and
    the reading gives the own posts' times); an item answered
    (done, replied to by an own post, a reply sent through the outbox) is let go of, and comes back
    whole, read from the store, when it opens again (reopened, the own reply deleted, the sent
    reply gone)."""
    follower = StoreFollower(world.config, world.store)
    first = follower.read(NOW)
    done, replied, sent_to, pinned = world.items[:4]
    assert {done.id, replied.id, sent_to.id, pinned.id} <= {entry.item.id for entry in first.queue}
    other = Store(world.config.team.data_dir)  # another operator's process, and a poller's
    try:
        other.mark_done(done, "spam", BOB, NOW)
        other.mark_done(pinned, "handled", BOB, NOW)
        reply = own_post(replied.account, "own-reply", 1, text="Sorry!", reply_to=replied.post.remote_id)
        other.put_own_posts([reply])
        # Two old posts of an account: let go of (its gap runs from its newer post).
        older = [own_post("acme-bluesky", f"old-{days}", 60 * 24 * days) for days in (12, 10)]
        other.put_own_posts(older)
        old_keys = [post_key(post.account, post.remote_id) for post in older]
        sent = OutboxEntry(
            f"out-{sent_to.id}",
            sent_to.id,
            sent_to.account,
            "Thank you!",
            BOB.login,
            BOB.operator,
            NOW,
            NOW,
            state="sent",
            in_reply_to=sent_to.post.remote_id,
            sent_at=NOW,
            target=sent_to.post,
        )
        other.outbox_update(sent)
        other.write_handoff("Watch this one", BOB, NOW, pinned_items=[pinned.id])
        answered = follower.read(NOW + timedelta(seconds=1))
        queued = {entry.item.id for entry in answered.queue}
        assert not {done.id, replied.id, sent_to.id, pinned.id} & queued
        assert set(follower.held("items")) == queued | {pinned.id}, "the open items and the pinned one"
        assert answered.items[pinned.id] == pinned, "a pinned item is held whole, answered or not"
        assert set(answered.items) == queued | {pinned.id}
        assert all(answered.has_item(item.id) for item in world.items) and not answered.has_item("nope")
        assert sent.id not in follower.held("outbox"), "a sent reply is not held: the queue indexed it"
        assert sent.id not in {entry.id for entry in answered.snapshot.outbox}
        assert follower.held("own") == {} and answered.snapshot.own_posts == [], "no own post held"
        times = answered.own_times["acme-bluesky"]
        assert reply.created_at in answered.own_times[reply.account], "their times, within the lookback"
        assert times == tuple(sorted(times)) and min(times) >= NOW - CARE_LOOKBACK
        states = follower.held("states")
        assert (states[done.id].done, states[done.id].reason, states[done.id].operator) == (
            True,
            "spam",
            BOB.operator,
        )
        assert not isinstance(states[done.id], ItemState), "a done state is held as a stand-in"
        more_spam = make_item("acme-mastodon", "0980", done.post.author, "Cheap followers again", 30)
        other.put_items([more_spam])
        other.mark_done(more_spam, "spam", BOB, NOW)
        again = follower.read(NOW + timedelta(seconds=1))
        assert more_spam.id not in {entry.item.id for entry in again.queue}
        assert follower.held("states")[more_spam.id] is follower.held("states")[done.id], (
            "one stand-in for every done state of the same reason and operator"
        )
        assert again.snapshot.states[more_spam.id].reason == "spam"
        shown = read_timeline(world.store, TimelineQuery(kind="ours"), world.config)  # read whole
        assert shown.items[done.id] == done and reply in [row.post for row in shown.rows]
        # Another dashboard's first reading does not even decode the answered items (but the pinned),
        # nor the sent replies nor the old own posts (the keepers read what they index of them from
        # stand-ins).
        decoded: list[str] = []

        def counting(cls: type, doc: dict) -> object:
            made = from_record(cls, doc)
            if isinstance(made, Item | OutboxEntry):
                decoded.append(made.id)
            elif isinstance(made, Post):
                decoded.append(post_key(made.account, made.remote_id))
            return made

        monkeypatch.setattr(follow, "from_record", counting)
        fresh = StoreFollower(world.config, world.store).read(NOW + timedelta(seconds=1))
        assert fresh.queue == again.queue and decoded
        assert not {done.id, replied.id, sent_to.id, sent.id, *old_keys} & set(decoded)
        assert post_key(reply.account, reply.remote_id) not in decoded, "nor a recent own post"
        monkeypatch.undo()

        other.reopen(done, BOB, NOW)
        other._write(["own"], lambda w: w.delete("own", [post_key(reply.account, reply.remote_id)]))
        other.outbox_update(replace(sent, state="failed", sent_at=None, error="refused"))
        newer = [p for p in world.store.own_posts("acme-bluesky") if p.created_at > older[1].created_at]
        other._write(["own"], lambda w: w.delete("own", [post_key(p.account, p.remote_id) for p in newer]))
        reopened = follower.read(NOW + timedelta(seconds=2))
        assert follower.held("own") == {}
        assert _row(reopened, "acme-bluesky").gap.last_post_at == older[1].created_at, "its newest now"
        assert reopened.own_times["acme-bluesky"] == ()
        entries = {entry.item.id: entry.item for entry in reopened.queue}
        for item in (done, replied, sent_to):
            assert entries[item.id] == item, "back in the queue, whole"
            assert reopened.items[item.id] == item
        assert reopened.overview.failed[0].text == "Thank you!", "a failed reply is held whole"
        _same_as_a_full_reading(world, world.config, reopened)
        assert follower.full_readings == 1
    finally:
        other.close()


def test_a_health_write_stands_on_the_last_queue_even_past_a_cheap_readings_slack(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The queue is made again by what changed, so a reading's slack is short (4 times its cost); a
    live poller's health write that lands after it still reads the accounts' rows only (the timed
    reading moves the ages on), within `CLOCK_SLACK_MAX`."""
    monkeypatch.setattr(data, "CLOCK_SLACK_SHARE", 0)
    follower = StoreFollower(world.config, world.store)
    first = follower.read(NOW)
    poller = Store(world.config.team.data_dir)
    try:
        at = NOW + timedelta(seconds=3)
        poller.set_health(AccountHealth("acme-mastodon", "ok", last_sync_at=at, last_ok_at=at, mode="live"))
        confirmed = follower.read(at)
        assert confirmed.queue is first.queue and follower.queue_readings == 1
        assert _row(confirmed, "acme-mastodon").health.last_sync_at == at
        moved = follower.read(at + timedelta(seconds=2))  # the timed reading: nothing written
        assert follower.queue_readings == 2 and moved.overview.generated_at == at + timedelta(seconds=2)
        assert moved.queue[0].waited_s == first.queue[0].waited_s + 5
        late = follower.read(NOW + data.CLOCK_SLACK_MAX + timedelta(seconds=10))
        poller.set_health(
            AccountHealth("acme-mastodon", "ok", last_sync_at=at, last_ok_at=at, mode="polling")
        )
        assert follower.read(late.now + data.CLOCK_SLACK_MAX).queue is not late.queue, "ages lag no more"
    finally:
        poller.close()
