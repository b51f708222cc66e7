"""The dashboard's reader of the store: what it reads again, and when."""

from __future__ import annotations

from datetime import timedelta

from tuikit import ALICE, BOB, NOW, World, make_item, mastodon_author

from socialtui.model import Author, Draft
from socialtui.store import Store
from socialtui.tui.data import AuditQuery, StoreFollower, TimelineQuery, item_for_post, read_audit, timeline


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


def test_timelines_merge_newest_first_and_filter(world: World) -> None:
    data = StoreFollower(world.config, world.store).read(NOW)
    rows, matched = timeline(data, [], TimelineQuery(kind="ours"), world.config, limit=3)
    assert matched == 8 and len(rows) == 3
    assert [row.post.created_at for row in rows] == sorted(
        (row.post.created_at for row in rows), reverse=True
    )
    bluesky, _ = timeline(data, [], TimelineQuery(kind="ours", network="bluesky"), world.config)
    assert {row.post.account for row in bluesky} == {"acme-bluesky"}
    words, _ = timeline(data, [], TimelineQuery(kind="all", words=("norway",)), world.config)
    assert [row.post.text for row in words] == ["Also: do you ship to Norway?"]
    # A post that is not an item can still be answered: it becomes an item on the spot.
    item = item_for_post(rows[0].post, data.items)
    assert item.account == rows[0].post.account and item.post == rows[0].post


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
    assert {i.id for i in reading.items} == {i.id for i in stored.items}


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
