"""A handoff note carries the open work as data, on both engines; the acknowledger takes it over."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from socialtui import care
from socialtui.config import AccountConfig
from socialtui.model import (
    Actor,
    Author,
    Draft,
    HandedAccount,
    HandedDraft,
    HandedItem,
    HandoffAck,
    HandoffNote,
    Item,
    ItemState,
    OpenWork,
    Post,
    Shift,
    item_id,
)
from socialtui.store import Store
from socialtui.timespec import ActiveHours

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ANA = Actor("ana", "Ana")
BEN = Actor("ben", "Ben")
CAT = Actor("cat", "Cat")
TTL = timedelta(minutes=10)


@pytest.fixture(params=["files", "postgresql"])
def engine_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("pg_url") if request.param == "postgresql" else ""


def open_store(data_dir: Path, url: str) -> Store:
    if url:
        from socialtui.store.postgres import PgEngine

        return Store(data_dir, engine=PgEngine(url))
    return Store(data_dir)


def make_item(n: int, at: datetime = NOW) -> Item:
    author = Author("mastodon", f"user{n}@example.org", str(n), f"User {n}")
    post = Post("acme", str(n), author, f"question {n}", at)
    return Item(item_id("acme", str(n)), "acme", "mention", post)


def work_of(items: list[Item], claims: tuple[str, ...] = ()) -> OpenWork:
    handed = tuple(
        HandedItem(
            i.id,
            i.account,
            i.post.author.label,
            i.received_at,
            600.0,
            "ok",
            "Ana" if i.id in claims else "",
            i.post.text,
        )
        for i in items
    )
    account = HandedAccount(
        "acme", len(items), 0, "warn", 3 * 3600, 4 * 3600, "unreachable", "no answer since 11:40"
    )
    return OpenWork(handed, claims, (HandedDraft(items[0].id, "acme", "half a reply"),), (account,))


def test_a_note_carries_the_open_work_and_releases_the_writers_claims(
    tmp_path: Path, engine_url: str
) -> None:
    store = open_store(tmp_path, engine_url)
    items = [make_item(n) for n in range(4)]
    store.put_items(items)
    store.start_shift(ANA, NOW - timedelta(hours=8))
    for item in items[:2]:
        store.claim(item, ANA, NOW - timedelta(minutes=2), TTL)
    store.claim(items[3], BEN, NOW - timedelta(minutes=1), TTL)
    work = work_of(items, claims=(items[0].id, items[1].id))

    note = store.write_handoff("watch the refund thread", ANA, NOW, pinned_items=[items[2].id], work=work)

    again = store.handoffs()[-1]
    assert again == note and again.has_work
    assert [i.id for i in again.open_items] == [i.id for i in items]
    assert again.open_items[0].waited_s == 600.0 and again.open_items[0].received_at == NOW
    assert again.claims == tuple(sorted((items[0].id, items[1].id))), "the claims actually released"
    assert again.drafts[0].text == "half a reply" and again.failing[0].account == "acme"
    assert again.named_items == {i.id for i in items}
    claims = store.claims(NOW)
    assert set(claims) == {items[3].id}, "Ana's claims are released, Ben's stays"
    assert store.shifts("Ana")[-1].ended_at == NOW

    # Ben acknowledges first and takes over Ana's claims; Cat acknowledges too and takes nothing.
    later = NOW + timedelta(minutes=5)
    [acked] = store.ack_handoffs(BEN, later, take_over=TTL)
    assert acked.taken_over_by == "Ben"
    claims = store.claims(later)
    assert {k: c.operator for k, c in claims.items()} == {
        items[0].id: "Ben",
        items[1].id: "Ben",
        items[3].id: "Ben",
    }
    assert claims[items[0].id].expires_at == later + TTL
    [acked] = store.ack_handoffs(CAT, later, take_over=TTL)
    assert acked.taken_over_by == "Ben" and {c.operator for c in store.claims(later).values()} == {"Ben"}
    takes = [
        (e.operator, e.item) for e in store.audit_events() if e.action == "claim" and "taken over" in e.detail
    ]
    assert sorted(takes) == sorted([("Ben", items[0].id), ("Ben", items[1].id)])


def test_an_item_answered_or_claimed_meanwhile_is_not_taken_over(tmp_path: Path, engine_url: str) -> None:
    store = open_store(tmp_path, engine_url)
    items = [make_item(n) for n in range(3)]
    store.put_items(items)
    for item in items:
        store.claim(item, ANA, NOW, TTL)
    store.write_handoff("bye", ANA, NOW, work=work_of(items, claims=tuple(i.id for i in items)))
    store.mark_done(items[0], "thanked", CAT, NOW + timedelta(minutes=1))
    store.claim(items[1], CAT, NOW + timedelta(minutes=1), TTL)
    store.ack_handoffs(BEN, NOW + timedelta(minutes=2), take_over=TTL)
    claims = store.claims(NOW + timedelta(minutes=2))
    assert {k: c.operator for k, c in claims.items()} == {items[1].id: "Cat", items[2].id: "Ben"}


def test_ending_a_shift_without_a_note_releases_the_claims(tmp_path: Path, engine_url: str) -> None:
    store = open_store(tmp_path, engine_url)
    items = [make_item(n) for n in range(2)]
    store.put_items(items)
    store.start_shift(ANA, NOW - timedelta(hours=1))
    store.claim(items[0], ANA, NOW, TTL)
    store.claim(items[1], BEN, NOW, TTL)
    assert store.end_shift(ANA, NOW + timedelta(minutes=1)) == [items[0].id]
    assert set(store.claims(NOW + timedelta(minutes=1))) == {items[1].id}
    assert [s.operator for s in store.on_shift(NOW + timedelta(minutes=1))] == []


def test_a_note_written_before_open_work_existed_still_reads(tmp_path: Path, engine_url: str) -> None:
    store = open_store(tmp_path, engine_url)
    old = {
        "id": "20261101T080000-abcdef",
        "login": "ana",
        "operator": "Ana",
        "at": NOW.isoformat(),
        "text": "old note",
    }
    store.engine.transact(["handoffs"], lambda w: w.put("handoffs", old["id"], old))
    [note] = store.handoffs()
    assert (
        note.text == "old note" and not note.has_work and note.open_items == () and note.named_items == set()
    )
    [acked] = store.ack_handoffs(BEN, NOW, take_over=TTL)
    assert acked.acked_by("Ben") is not None and acked.taken_over_by == ""


def _acknowledger(data_dir: str, url: str, who: str, start, results) -> None:  # type: ignore[no-untyped-def]
    store = open_store(Path(data_dir), url)
    start.wait()
    [note] = store.ack_handoffs(Actor(who, who), NOW + timedelta(minutes=3), take_over=TTL)
    results.put((who, note.taken_over_by))


def test_two_operators_acknowledging_at_once_one_takes_over(tmp_path: Path, engine_url: str) -> None:
    store = open_store(tmp_path, engine_url)
    items = [make_item(n) for n in range(5)]
    store.put_items(items)
    store.save_draft(Draft(items[0].id, "acme", "half", "ana", "Ana", NOW, "k1"))
    for item in items:
        store.claim(item, ANA, NOW, TTL)
    store.write_handoff("bye", ANA, NOW, work=work_of(items, claims=tuple(i.id for i in items)))
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(2), ctx.Queue()
    procs = [
        ctx.Process(target=_acknowledger, args=(str(tmp_path), engine_url, w, start, results))
        for w in ("b", "c")
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0
    seen = dict(results.get(timeout=5) for _ in procs)
    [winner] = set(seen.values())
    assert winner in ("b", "c"), seen
    claims = store.claims(NOW + timedelta(minutes=3))
    assert {c.operator for c in claims.values()} == {winner} and len(claims) == 5
    assert store.handoffs()[-1].taken_over_by == winner


# --- the figure: handed over and dropped, a pure function of the store's records and a fixed clock ---


ACME = AccountConfig(
    id="acme",
    network="mastodon",
    server="https://mastodon.example",
    handle="acme@mastodon.example",
    timezone="UTC",
    tz=UTC,
    active_hours=ActiveHours.parse("always", UTC),
    max_quiet=timedelta(hours=4),
    reply_within=timedelta(hours=1),
)
D0 = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return D0 + timedelta(hours=hours)


def note_by(operator: str, when: datetime, named: tuple[str, ...], acked_by: str = "") -> HandoffNote:
    handed = tuple(HandedItem(i, "acme", "@x@y", when, 0.0, "ok") for i in named)
    acks = (HandoffAck(acked_by.lower(), acked_by, when + timedelta(minutes=5)),) if acked_by else ()
    return HandoffNote(
        f"n-{operator}-{when:%H%M}",
        operator.lower(),
        operator,
        when,
        "text",
        acks=acks,
        has_work=True,
        open_items=handed,
    )


def figure(
    items: list[Item],
    shifts: list[Shift],
    notes: list[HandoffNote],
    states: dict[str, ItemState] | None = None,
    now: datetime | None = None,
) -> care.Continuity:
    return care.continuity(items, [], states or {}, [], [ACME], shifts, notes, D0, now or at(24))


def test_items_named_in_an_acknowledged_note_are_handed_over_and_none_dropped() -> None:
    items = [make_item(n, at(1 + n)) for n in range(3)]
    shifts = [Shift("ana", "Ana", at(0), at(8)), Shift("ben", "Ben", at(8))]
    c = figure(items, shifts, [note_by("Ana", at(8), tuple(i.id for i in items), acked_by="Ben")])
    assert [len(ch.open_items) for ch in c.changes] == [3]
    assert set(c.handed_over) == {i.id for i in items} and c.dropped == ()


def test_an_open_item_left_out_of_the_note_is_dropped_until_it_is_answered() -> None:
    items = [make_item(n, at(1 + n)) for n in range(3)]
    later = make_item(9, at(9))  # arrived after the change: never crossed one
    shifts = [Shift("ana", "Ana", at(0), at(8)), Shift("ben", "Ben", at(8))]
    notes = [note_by("Ana", at(8), (items[0].id,), acked_by="Ben")]
    c = figure([*items, later], shifts, notes)
    assert c.handed_over == (items[0].id,) and c.dropped == (items[1].id, items[2].id)
    # Ben later marks one done: no longer dropped. Done before the change counts too.
    states = {items[1].id: ItemState(items[1].id, "acme", True, "thanked", "ben", "Ben", at(10))}
    assert figure([*items, later], shifts, notes, states).dropped == (items[2].id,)
    # A fixed clock before Ben's done: it was dropped then.
    assert figure([*items, later], shifts, notes, states, now=at(9)).dropped == (items[1].id, items[2].id)


def test_no_shift_change_without_someone_to_take_over() -> None:
    items = [make_item(1, at(1))]
    c = figure(items, [Shift("ana", "Ana", at(0), at(8))], [])
    assert c.changes == () and c.dropped == ()
    # Ben on shift since before Ana left (an overlap) is a change too.
    c = figure(items, [Shift("ben", "Ben", at(7)), Shift("ana", "Ana", at(0), at(8))], [])
    assert c.dropped == (items[0].id,)


def test_a_note_nobody_acknowledged_does_not_hand_over_and_a_note_after_the_shift_end_does() -> None:
    items = [make_item(1, at(1))]
    shifts = [Shift("ana", "Ana", at(0), at(8)), Shift("ben", "Ben", at(8))]
    c = figure(items, shifts, [note_by("Ana", at(8), (items[0].id,))])
    assert c.dropped == (items[0].id,) and c.awaiting_ack == (items[0].id,)
    # `shift end`, then `handoff write` a minute later, acknowledged: handed over.
    c = figure(items, shifts, [note_by("Ana", at(8.02), (items[0].id,), acked_by="Ben")])
    assert c.handed_over == (items[0].id,) and c.dropped == ()
    # Ana acknowledging her own note is no handover; nor is someone else's note.
    assert figure(items, shifts, [note_by("Ana", at(8), (items[0].id,), acked_by="Ana")]).dropped == (
        items[0].id,
    )
    assert figure(items, shifts, [note_by("Cat", at(8), (items[0].id,), acked_by="Ben")]).dropped == (
        items[0].id,
    )


def test_each_change_counts_an_item_handed_over_once_and_dropped_at_the_next() -> None:
    items = [make_item(1, at(1))]
    shifts = [
        Shift("ana", "Ana", at(0), at(8)),
        Shift("ben", "Ben", at(8), at(16)),
        Shift("cat", "Cat", at(16)),
    ]
    notes = [
        note_by("Ana", at(8), (items[0].id,), acked_by="Ben"),
        note_by("Ben", at(16), (), acked_by="Cat"),
    ]
    c = figure(items, shifts, notes)
    assert c.handed_over == (items[0].id,) and c.dropped == (items[0].id,)
    assert [ch.operator for ch in c.changes] == ["Ana", "Ben"]
    # Outside the window, a change does not count.
    assert care.continuity(items, [], {}, [], [ACME], shifts, notes, at(12), at(24)).handed_over == ()


# --- who is on shift, through the command line ---------------------------------------------------------


def test_shift_show_all_lists_who_is_on_and_shift_end_releases_claims(tmp_path: Path) -> None:
    import contextlib
    import io

    from socialtui.cli import main
    from socialtui.clock import FixedClock

    config = tmp_path / "config.toml"
    config.write_text('[team]\ndata_dir = "data"\ntimezone = "Europe/London"\n')

    def run(operator: str, when: datetime, *args: str) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["--config", str(config), "--operator", operator, *args], clock=FixedClock(when)) == 0
        return out.getvalue()

    assert run("Ana", NOW, "shift", "show", "--all") == "Nobody is on shift.\n"
    run("Ana", NOW - timedelta(hours=2), "shift", "start")
    run("Ben", NOW - timedelta(minutes=30), "shift", "start")
    shown = run("Ben", NOW, "shift", "show", "--all").splitlines()
    assert shown[0].startswith("Ana ") and "on shift since 2026-11-20 10:00 GMT (2h)" in shown[0]
    assert shown[1].startswith("Ben ") and shown[1].endswith("(30m)  (you)")
    store = Store(tmp_path / "data")
    item = make_item(1)
    store.put_items([item])
    store.claim(item, Actor("x", "Ana"), NOW, TTL)
    ended = run("Ana", NOW + timedelta(minutes=1), "shift", "end")
    assert f"Your claims were released: {item.id}." in ended
    assert store.claims(NOW + timedelta(minutes=1)) == {}
    assert [line.split()[0] for line in run("Ben", NOW, "shift", "show", "--all").splitlines()] == ["Ben"]


def test_operator_rows_count_work_done_in_the_window_on_older_items() -> None:
    old = make_item(1, at(-72))
    fresh = make_item(2, at(1))
    states = {
        old.id: ItemState(old.id, "acme", True, "thanked", "ben", "Ben", at(2)),
        fresh.id: ItemState(fresh.id, "acme", True, "spam", "ben", "Ben", at(3)),
    }
    result = care.report([old, fresh], [], states, [], [ACME], at(0), at(24))
    [ben] = result.operators
    assert (ben.name, ben.done) == ("Ben", 2), "today's work on a three-day-old item counts"
    assert (result.accounts[0].received, result.accounts[0].done) == (1, 1), "the account row: today's items"
    # Done before the window: not today's work.
    early = {old.id: ItemState(old.id, "acme", True, "thanked", "ben", "Ben", at(-1))}
    assert care.report([old], [], early, [], [ACME], at(0), at(24)).operators == ()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("@acme you're the best, thank you!", "thanks"),
        ("@nightowl.sandbox.bsky Ευχαριστώ πολύ!", "thanks"),
        ("cheers!", "thanks"),
        ("🚲🚲🚲🔥", "emoji"),
        ("@acme 👩‍💻❤️", "emoji"),
        ("thanks, but when does the shop open?", None),
        ("The app crashed again", None),
        ("thanks for nothing, the app crashed three times today and support never answered me", None),
        ("@acme", None),
    ],
)
def test_thank_yous_and_emoji_only_posts_are_recognised(text: str, kind: str | None) -> None:
    assert care.quick_reply_kind(text) == kind


def test_the_demo_starts_with_saved_replies_and_a_handoff_waiting(tmp_path: Path) -> None:
    import argparse

    from socialtui.cli import Context, _demo_handoff
    from socialtui.clock import FixedClock
    from socialtui.config import load_config
    from socialtui.sandbox.server import demo_world, start

    clock = FixedClock(datetime(2026, 11, 18, 22, 0, tzinfo=UTC))
    world = demo_world(clock.now)
    with start(world, port=0, write_config=tmp_path / "config.toml", traffic=False) as sandbox:
        config = load_config(sandbox.config_path)
        assert {"thanks", "hours", "looking", "dm"} <= set(config.saved_replies)
        ctx = Context(argparse.Namespace(config=str(sandbox.config_path), operator="Nina"), clock)
        _demo_handoff(ctx)
        [note] = ctx.store.handoffs()
        assert note.operator == "Jo (night lead)" and note.has_work and len(note.open_items) > 10
        assert len(note.claims) == 2 and "take them over when you acknowledge" in note.text
        waiting = care.handoffs_waiting([note], ctx.store.shifts("Nina"), "Nina", clock.now())
        assert waiting == [note], "Nina sees it first"


def test_the_bell_is_a_boolean_in_team(tmp_path: Path) -> None:
    from socialtui.config import ConfigError, load_config

    path = tmp_path / "config.toml"
    path.write_text('[team]\ndata_dir = "data"\nbell = true\n')
    assert load_config(path).team.bell is True
    path.write_text('[team]\ndata_dir = "data"\n')
    assert load_config(path).team.bell is False
    path.write_text('[team]\ndata_dir = "data"\nbell = "yes"\n')
    with pytest.raises(ConfigError, match="bell"):
        load_config(path)


def test_people_are_everyone_who_talked_to_us_and_bluesky_ones_are_headed_by_their_handle(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path)
    kim = Author("bluesky", "kim.example.com", "did:plc:kim", "Kim")
    post = Post("acme-bsky", "at://did:plc:kim/app.bsky.feed.post/1", kim, "hi", NOW)
    store.add_note("did:plc:kim", "prefers DMs", ANA, NOW)  # a dossier opened by DID, before Kim wrote
    assert store.contacts()["bluesky:did:plc:kim"].handle == "did:plc:kim"
    store.put_items([Item(item_id("acme-bsky", post.remote_id), "acme-bsky", "mention", post), make_item(1)])
    people = store.people()
    assert set(people) == {"bluesky:did:plc:kim", "mastodon:user1@example.org"}, "no notes needed"
    assert people["bluesky:did:plc:kim"].handle == "kim.example.com"
    assert people["bluesky:did:plc:kim"].notes[0].text == "prefers DMs"
    assert [c.key for c in store.search_contacts("user1")] == ["mastodon:user1@example.org"]
    assert [c.key for c in store.search_contacts("kim.example")] == ["bluesky:did:plc:kim"]
