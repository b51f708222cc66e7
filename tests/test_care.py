"""The care rules: unanswered queue, quiet gaps, report metrics and the monitoring check, on a fixed clock."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from socialtui.care import (
    CRITICAL,
    ELSEWHERE,
    OK,
    UNKNOWN,
    WARNING,
    QueueEntry,
    QuietGap,
    QuietSpan,
    SyncAge,
    check_summary,
    failed_replies,
    percentile,
    quiet_gap,
    quiet_gaps,
    reply_deadline,
    report,
    sync_age,
    unanswered_queue,
)
from socialtui.config import AccountConfig
from socialtui.model import AccountHealth, Author, Claim, Item, ItemState, OutboxEntry, Post, item_id
from socialtui.timespec import ActiveHours, parse_duration

NOW = datetime(2024, 6, 3, 20, 0, tzinfo=UTC)  # a Monday
STRANGER = Author("mastodon", "sam@example.org", id="9001")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def account(
    id: str = "acme-mastodon",
    *,
    network: str = "mastodon",
    handle: str = "acme@mastodon.social",
    timezone: str = "UTC",
    hours: str = "always",
    max_quiet: str = "4h",
    reply_within: str = "1h",
) -> AccountConfig:
    tz = ZoneInfo(timezone)
    return AccountConfig(
        id=id,
        network=network,
        server="https://example.invalid",
        handle=handle,
        timezone=timezone,
        tz=tz,
        active_hours=ActiveHours.parse(hours, tz),
        max_quiet=parse_duration(max_quiet),
        reply_within=parse_duration(reply_within),
    )


MASTODON = account()
BLUESKY = account(
    "acme-bluesky", network="bluesky", handle="acme.bsky.social", timezone="Asia/Kolkata", reply_within="2h"
)


def author_of(acct: AccountConfig) -> Author:
    return Author(acct.network, acct.handle, id=f"id-{acct.id}")


def own_post(
    acct: AccountConfig, remote_id: str, at: datetime, *, reply_to: str = "", reply_to_author: str = "9001"
) -> Post:
    """A post by the managed account itself."""
    return Post(
        account=acct.id,
        remote_id=remote_id,
        author=author_of(acct),
        text="",
        created_at=at,
        reply_to=reply_to,
        reply_to_author=reply_to_author if reply_to else "",
        own=True,
    )


def make_item(
    acct: AccountConfig,
    remote_id: str,
    at: datetime,
    *,
    kind: str = "mention",
    author: Author = STRANGER,
    own: bool = False,
) -> Item:
    post = Post(account=acct.id, remote_id=remote_id, author=author, text="hello", created_at=at, own=own)
    return Item(id=item_id(acct.id, remote_id), account=acct.id, kind=kind, post=post)


def sent(it: Item, login: str, at: datetime, remote_id: str, *, state: str = "sent") -> OutboxEntry:
    return OutboxEntry(
        id=f"key-{remote_id}",
        item=it.id,
        account=it.account,
        text="thanks!",
        login=login,
        operator=login.title(),
        created_at=at - timedelta(seconds=5),
        updated_at=at,
        state=state,
        in_reply_to=it.post.remote_id,
        remote_id=remote_id if state == "sent" else "",
        sent_at=at if state == "sent" else None,
    )


def done(it: Item, login: str, reason: str = "", *, is_done: bool = True) -> ItemState:
    return ItemState(it.id, it.account, is_done, reason, login, login.title(), NOW)


def ids(entries: list[QueueEntry]) -> list[str]:
    return [entry.item.post.remote_id for entry in entries]


# --- the unanswered queue -------------------------------------------------------------------------------


def test_queue_is_oldest_first_with_ties_by_id() -> None:
    items = [
        make_item(MASTODON, "late", utc(2024, 6, 3, 19)),
        make_item(MASTODON, "x", utc(2024, 6, 3, 18)),
        make_item(BLUESKY, "y", utc(2024, 6, 3, 18)),
        make_item(MASTODON, "first", utc(2024, 6, 3, 17)),
    ]
    queue = unanswered_queue(items, [], {}, [MASTODON, BLUESKY], NOW)
    tied = sorted(items[1:3], key=lambda it: it.id)
    assert ids(queue) == ["first", *(it.post.remote_id for it in tied), "late"]


def test_a_reply_from_any_app_answers_the_item() -> None:
    asked = make_item(MASTODON, "q1", utc(2024, 6, 3, 19))
    seen_elsewhere = make_item(MASTODON, "q2", utc(2024, 6, 3, 19))
    open_item = make_item(MASTODON, "q3", utc(2024, 6, 3, 19))
    posts = [
        own_post(MASTODON, "r1", utc(2024, 6, 3, 19, 5), reply_to="q1"),
        # Our reply as seen through the other account's timeline: not `own` there, but our handle.
        Post(
            account=BLUESKY.id,
            remote_id="r2",
            author=Author("mastodon", "@ACME@Mastodon.Social"),
            text="",
            created_at=utc(2024, 6, 3, 19, 6),
            reply_to="q2",
        ),
        # A stranger answering the item is not us answering it.
        Post(MASTODON.id, "r3", STRANGER, "", utc(2024, 6, 3, 19, 7), reply_to="q3"),
    ]
    queue = unanswered_queue([asked, seen_elsewhere, open_item], posts, {}, [MASTODON, BLUESKY], NOW)
    assert ids(queue) == ["q3"]


def test_a_reply_from_another_managed_account_does_not_answer() -> None:
    it = make_item(MASTODON, "q1", utc(2024, 6, 3, 19))
    posts = [own_post(BLUESKY, "r1", utc(2024, 6, 3, 19, 5), reply_to="q1")]
    assert ids(unanswered_queue([it], posts, {}, [MASTODON, BLUESKY], NOW)) == ["q1"]


def test_sent_outbox_entries_and_done_states_answer_the_item() -> None:
    items = [make_item(MASTODON, f"q{i}", utc(2024, 6, 3, 19, i)) for i in range(5)]
    outbox = [
        sent(items[0], "kim", utc(2024, 6, 3, 19, 30), "r0"),
        sent(items[1], "kim", utc(2024, 6, 3, 19, 30), "r1", state="failed"),
        sent(items[2], "kim", utc(2024, 6, 3, 19, 30), "r2", state="queued"),
    ]
    states = {
        items[3].id: done(items[3], "lee", "spam"),
        items[4].id: done(items[4], "lee", is_done=False),  # reopened
    }
    queue = unanswered_queue(items, [], states, [MASTODON], NOW, outbox=outbox)
    assert ids(queue) == ["q1", "q2", "q4"]


def test_posts_by_our_own_accounts_are_never_items() -> None:
    items = [
        make_item(
            MASTODON, "ours-own", utc(2024, 6, 3, 19), author=Author("mastodon", "renamed@x"), own=True
        ),
        make_item(
            MASTODON, "ours-handle", utc(2024, 6, 3, 19), author=Author("mastodon", "@Acme@mastodon.SOCIAL")
        ),
        make_item(BLUESKY, "ours-bluesky", utc(2024, 6, 3, 19), author=Author("bluesky", "ACME.bsky.social")),
        # Same name on another network: a stranger.
        make_item(BLUESKY, "namesake", utc(2024, 6, 3, 19), author=Author("bluesky", "acme@mastodon.social")),
    ]
    queue = unanswered_queue(items, [], {}, [MASTODON, BLUESKY], NOW)
    assert ids(queue) == ["namesake"]


def test_only_mentions_replies_and_quotes_of_configured_accounts_once_each() -> None:
    it = make_item(MASTODON, "q1", utc(2024, 6, 3, 19), kind="quote")
    items = [
        it,
        it,
        make_item(MASTODON, "q2", utc(2024, 6, 3, 19), kind="reply"),
        make_item(MASTODON, "fav", utc(2024, 6, 3, 19), kind="favourite"),
        make_item(account("retired"), "q3", utc(2024, 6, 3, 19)),
    ]
    assert sorted(ids(unanswered_queue(items, [], {}, [MASTODON], NOW))) == ["q1", "q2"]


@pytest.mark.parametrize(
    ("age", "state"),
    [
        (timedelta(minutes=45), "ok"),
        (timedelta(minutes=45, seconds=1), "due"),
        (timedelta(hours=1), "due"),
        (timedelta(hours=1, seconds=1), "late"),
    ],
)
def test_due_and_late_thresholds(age: timedelta, state: str) -> None:
    queue = unanswered_queue([make_item(MASTODON, "q", NOW - age)], [], {}, [MASTODON], NOW)
    assert queue[0].state == state
    assert queue[0].age_s == age.total_seconds()
    assert queue[0].left_s == 3600 - age.total_seconds()


def test_age_counts_active_hours_only() -> None:
    office = account(hours="Mon-Fri 09:00-17:00")
    friday = make_item(office, "q", utc(2024, 5, 31, 16, 30))
    entry = unanswered_queue([friday], [], {}, [office], utc(2024, 6, 3, 9, 45))[0]
    assert entry.age_s == 75 * 60  # 30 minutes on Friday, 45 on Monday
    assert entry.state == "late"
    assert reply_deadline(office, friday) == utc(2024, 6, 3, 9, 30)


def test_queue_entries_carry_live_claims() -> None:
    a, b, c = (make_item(MASTODON, name, utc(2024, 6, 3, 19)) for name in "abc")
    mine = Claim(a.id, "kim", "Kim", NOW - timedelta(minutes=2), NOW + timedelta(minutes=8))
    newer = Claim(a.id, "lee", "Lee", NOW - timedelta(minutes=1), NOW + timedelta(minutes=9))
    expired = Claim(b.id, "kim", "Kim", NOW - timedelta(minutes=10), NOW)
    for claims in ([mine, newer, expired], {a.id: newer, b.id: expired}):
        queue = {
            entry.item.post.remote_id: entry
            for entry in unanswered_queue([a, b, c], [], {}, [MASTODON], NOW, claims=claims)
        }
        assert queue["a"].claim == newer
        assert queue["b"].claim is None
        assert queue["c"].claim is None


# --- quiet gaps -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quiet_for", "state"),
    [
        (timedelta(hours=1), "ok"),
        (timedelta(hours=3), "ok"),
        (timedelta(hours=3, seconds=1), "warn"),
        (timedelta(hours=4), "warn"),
        (timedelta(hours=4, minutes=20), "breach"),
    ],
)
def test_quiet_gap_states(quiet_for: timedelta, state: str) -> None:
    last = NOW - quiet_for
    posts = [own_post(MASTODON, "p0", last - timedelta(hours=2)), own_post(MASTODON, "p1", last)]
    gap = quiet_gap(MASTODON, posts, NOW)
    assert (gap.state, gap.quiet_s, gap.last_post_at, gap.since) == (
        state,
        quiet_for.total_seconds(),
        last,
        last,
    )
    assert gap.left_s == max(0.0, 4 * 3600 - quiet_for.total_seconds())
    assert gap.breach_at == last + timedelta(hours=4)


def test_quiet_gap_is_frozen_off_hours_and_counts_on() -> None:
    office = account(hours="Mon-Fri 09:00-17:00", max_quiet="6h")
    posts = [own_post(office, "p1", utc(2024, 5, 31, 12))]  # Friday noon
    saturday, sunday = (
        quiet_gap(office, posts, utc(2024, 6, 1, 10)),
        quiet_gap(office, posts, utc(2024, 6, 2, 20)),
    )
    for gap in (saturday, sunday):
        assert (gap.state, gap.quiet_s, gap.left_s) == ("off-hours", 5 * 3600, 3600)
        assert gap.breach_at == utc(2024, 6, 3, 10)  # one more active hour: Monday 10:00
    monday = quiet_gap(office, posts, utc(2024, 6, 3, 10, 30))
    assert (monday.state, monday.quiet_s, monday.left_s) == ("breach", 6.5 * 3600, 0)


def test_quiet_gap_unknown_until_synced_then_measured_from_the_lookback() -> None:
    never = quiet_gap(MASTODON, [], NOW, synced=False)
    assert (never.state, never.quiet_s, never.left_s, never.breach_at, never.since) == (
        "unknown",
        0,
        None,
        None,
        None,
    )
    silent = quiet_gap(MASTODON, [], NOW, lookback=timedelta(hours=2))
    assert (silent.state, silent.quiet_s, silent.last_post_at, silent.since) == (
        "ok",
        7200,
        None,
        NOW - timedelta(hours=2),
    )
    assert quiet_gap(MASTODON, [], NOW).state == "breach"  # a week without a post
    known = quiet_gap(MASTODON, [own_post(MASTODON, "p", NOW - timedelta(hours=1))], NOW, synced=False)
    assert known.state == "ok"


def test_quiet_gap_counts_only_its_own_account() -> None:
    posts = [
        own_post(MASTODON, "p1", NOW - timedelta(hours=5)),
        own_post(BLUESKY, "p2", NOW - timedelta(minutes=5)),
    ]
    assert quiet_gap(MASTODON, posts, NOW).quiet_s == 5 * 3600
    gaps = quiet_gaps([MASTODON, BLUESKY, account("new")], posts, NOW, synced={MASTODON.id, BLUESKY.id})
    assert {key: gap.state for key, gap in gaps.items()} == {
        "acme-mastodon": "breach",
        "acme-bluesky": "ok",
        "new": "unknown",
    }


def test_long_gaps_over_the_last_seven_days() -> None:
    times = [
        NOW - timedelta(days=6),
        NOW - timedelta(days=5),
        NOW - timedelta(days=5) + timedelta(hours=3),
        NOW - timedelta(hours=5),
    ]
    posts = [own_post(MASTODON, f"p{i}", at) for i, at in enumerate(times)]
    gap = quiet_gap(MASTODON, posts, NOW)
    window = NOW - timedelta(days=7)
    assert gap.long_gaps == (
        QuietSpan(window, times[0], 86400.0),  # clipped to the seven days
        QuietSpan(times[0], times[1], 86400.0),
        # times[1] -> times[2] is 3h: within the 4h limit
        QuietSpan(times[2], times[3], (times[3] - times[2]).total_seconds()),
        QuietSpan(times[3], NOW, 5 * 3600.0, open=True),
    )


def test_long_gaps_count_active_hours() -> None:
    office = account(hours="Mon-Fri 09:00-17:00")
    # Friday 16:00 to Monday 11:00 is 3 active hours: not a long gap despite the weekend.
    posts = [own_post(office, "p1", utc(2024, 5, 31, 16)), own_post(office, "p2", utc(2024, 6, 3, 11))]
    gap = quiet_gap(office, posts, utc(2024, 6, 3, 12))
    assert [(span.start, span.end) for span in gap.long_gaps] == [
        (utc(2024, 5, 27, 12), utc(2024, 5, 31, 16))
    ]


def test_rhythm_buckets() -> None:
    new_york = account(timezone="America/New_York")
    now = utc(2024, 6, 10, 3)  # Sunday 23:00 in New York
    times = [
        now - timedelta(minutes=10),
        now - timedelta(minutes=59, seconds=59),
        now - timedelta(hours=1),
        now - timedelta(hours=23, minutes=59),
        now - timedelta(hours=24),  # not in the last 24 hours
        now + timedelta(minutes=5),  # from a fast clock: not counted
        utc(2024, 6, 9, 2, 30),  # Saturday 22:30 local: yesterday
        utc(2024, 6, 3, 5),  # Monday 01:00 local: six days ago
        utc(2024, 6, 3, 3),  # Sunday 23:00 local: a week ago, out
    ]
    posts = [own_post(new_york, f"p{i}", at) for i, at in enumerate(times)]
    posts.append(own_post(new_york, "p0", times[0]))  # the same post seen twice
    gap = quiet_gap(new_york, posts, now)
    assert gap.hourly == (1,) + (0,) * 21 + (1, 2)
    # Today (Sunday) holds the three posts of the last hour; yesterday (Saturday) holds 23:01
    # (now-23h59m), 23:00 (now-24h) and 22:30; Monday 01:00 is six days ago.
    assert gap.daily == (1, 0, 0, 0, 0, 3, 3)


# --- metrics --------------------------------------------------------------------------------------------


def scenario() -> tuple[list[Item], list[Post], dict[str, ItemState], list[OutboxEntry], list[AccountConfig]]:
    """Monday 2024-06-03, window 00:00-20:00 UTC. Mastodon works Mon-Fri 09:00-17:00 UTC, target 1h;
    Bluesky is always on, target 2h, and lives in Kolkata (UTC+5:30) for the activity grid."""
    office = account(hours="Mon-Fri 09:00-17:00")
    sky = BLUESKY
    at = lambda h, m=0, s=0: utc(2024, 6, 3, h, m, s)  # noqa: E731
    a1, a2, a3, a4 = (make_item(office, f"a{i}", at(h)) for i, h in ((1, 8), (2, 10), (3, 11), (4, 15)))
    a5 = make_item(office, "a5", at(16, 30))
    a6 = make_item(office, "a6", utc(2024, 6, 2, 22))  # received before the window
    a7 = make_item(office, "a7", at(12), author=Author("mastodon", "@ACME@mastodon.social"))  # ours
    b1, b2, b3, b4, b5 = (
        make_item(sky, f"b{i}", at(h)) for i, h in ((1, 10), (2, 12), (3, 13), (4, 14), (5, 19))
    )
    items = [a1, a2, a3, a4, a5, a6, a7, b1, b2, b3, b4, b5]
    posts = [
        own_post(office, "r-a6", at(9, 10), reply_to="a6"),  # from another app
        own_post(office, "r-a1", at(9, 30), reply_to="a1"),  # from another app
        own_post(office, "r-a2", at(12, 0, 1), reply_to="a2"),  # kim's outbox reply, seen a second later
        own_post(office, "p-a1", at(14)),
        own_post(
            office, "p-a2", at(14, 5), reply_to="p-a1", reply_to_author=author_of(office).id
        ),  # a thread
        own_post(sky, "p-b0", utc(2024, 6, 2, 20)),  # before the window
        own_post(sky, "p-b1", at(8)),
        own_post(sky, "r-b1", at(10, 20, 5), reply_to="b1"),  # kim's outbox reply
        own_post(sky, "r-b2", at(13), reply_to="b2"),  # from another app
        own_post(sky, "p-b2", at(18)),
    ]
    states = {
        a3.id: done(a3, "lee", "spam"),
        b2.id: done(b2, "lee", "thanked"),  # also replied: counts as answered
        b3.id: done(b3, "lee"),
    }
    outbox = [
        sent(a2, "kim", at(12), "r-a2"),
        sent(b1, "kim", at(10, 20), "r-b1"),
        sent(a4, "lee", at(16), "never", state="failed"),
    ]
    return items, posts, states, outbox, [office, sky]


def test_report_on_a_worked_scenario() -> None:
    items, posts, states, outbox, accounts = scenario()
    result = report(items, posts, states, outbox, accounts, utc(2024, 6, 3), NOW)
    mastodon, bluesky = result.accounts

    # Mastodon: a1..a5 received (a6 before the window, a7 is ours).
    #   a1 08:00, answered 09:30 elsewhere: 30m active (hours open at 09:00): on time.
    #   a2 10:00, kim's outbox at 12:00 (the post shows 12:00:01; the earlier counts): 2h, late.
    #   a3 done (spam). a4 15:00 open: 2h active by 17:00 > 1h, overdue. a5 16:30 open: 30m, not yet.
    #   within target = 1 on time / (2 answered + 1 overdue).
    #   posts: r-a6, r-a1, r-a2, p-a1, p-a2 = 5; conversation: r-a6, r-a1, r-a2 (p-a2 is a thread).
    #   longest quiet: 14:05 -> 17:00 active (2h55m) beats 09:30 -> 12:00:01 (2h30m1s).
    assert (mastodon.received, mastodon.answered, mastodon.done, mastodon.overdue, mastodon.on_time) == (
        5,
        2,
        1,
        1,
        1,
    )
    assert mastodon.response_times_s == (1800.0, 7200.0)
    assert (mastodon.median_s, mastodon.p90_s) == (1800.0, 7200.0)
    assert mastodon.within_target == pytest.approx(1 / 3)
    assert mastodon.done_reasons == (("spam", 1),)
    assert (mastodon.posts, mastodon.replies, mastodon.conversation_share) == (5, 3, 0.6)
    assert mastodon.longest_quiet_s == 2 * 3600 + 55 * 60

    # Bluesky (always on): b1 20m via kim's outbox, b2 1h elsewhere (its done state is moot),
    #   b3 done without reason, b4 14:00 open 6h > 2h overdue, b5 19:00 open 1h not yet.
    #   within = 2 / (2 + 1). posts p-b1, r-b1, r-b2, p-b2 = 4, two of them replies.
    #   longest quiet: 00:00 -> 08:00 (clipped at the window start) = 8h.
    assert (bluesky.received, bluesky.answered, bluesky.done, bluesky.overdue, bluesky.on_time) == (
        5,
        2,
        1,
        1,
        2,
    )
    assert bluesky.response_times_s == (1200.0, 3600.0)
    assert bluesky.within_target == pytest.approx(2 / 3)
    assert bluesky.done_reasons == (("(no reason)", 1),)
    assert (bluesky.posts, bluesky.replies, bluesky.conversation_share) == (4, 2, 0.5)
    assert bluesky.longest_quiet_s == 8 * 3600

    # Total: times 1200, 1800, 3600, 7200; nearest rank: median = 2nd (1800), p90 = ceil(3.6) = 4th.
    #   within = 3 on time / (4 answered + 2 overdue) = 0.5.
    total = result.total
    assert (total.received, total.answered, total.done, total.overdue, total.on_time) == (10, 4, 2, 2, 3)
    assert total.response_times_s == (1200.0, 1800.0, 3600.0, 7200.0)
    assert (total.median_s, total.p90_s, total.within_target) == (1800.0, 7200.0, 0.5)
    assert total.done_reasons == (("(no reason)", 1), ("spam", 1))
    assert (total.posts, total.replies, total.conversation_share, total.longest_quiet_s) == (
        9,
        5,
        5 / 9,
        8 * 3600,
    )

    # Operators: kim sent a2 (late) and b1 (on time); lee marked a3 and b3 done; elsewhere: a1, b2.
    #   Replies written in the window: kim r-a2, r-b1; elsewhere r-a6, r-a1, r-b2.
    rows = {row.key: row for row in result.operators}
    assert [row.key for row in result.operators] == ["Kim", "Lee", ELSEWHERE]
    kim, lee, elsewhere = rows["Kim"], rows["Lee"], rows[ELSEWHERE]
    assert (kim.name, kim.answered, kim.on_time, kim.within_target, kim.replies) == ("Kim", 2, 1, 0.5, 2)
    assert kim.response_times_s == (1200.0, 7200.0)
    assert (lee.answered, lee.done, lee.within_target, lee.done_reasons) == (
        0,
        2,
        None,
        (("(no reason)", 1), ("spam", 1)),
    )
    # Operator rows count the actions in the window: r-a6 answers a6, received before it (issue 13).
    assert (elsewhere.answered, elsewhere.within_target, elsewhere.replies) == (3, 1.0, 3)
    assert all(row.received is None and row.posts is None for row in result.operators)
    # Every answer of an item received in the window is credited to someone, plus a6's (older item).
    assert sum(row.answered for row in result.operators) == total.answered + 1
    assert sum(row.done for row in result.operators) == total.done

    # Activity (Monday row): Mastodon in UTC at 9, 9, 12, 14, 14; Bluesky in Kolkata (+5:30):
    #   08:00 -> 13:30, 10:20 -> 15:50, 13:00 -> 18:30, 18:00 -> 23:30.
    monday = result.activity[0]
    assert {hour: n for hour, n in enumerate(monday) if n} == {9: 2, 12: 1, 13: 1, 14: 2, 15: 1, 18: 1, 23: 1}
    assert sum(map(sum, result.activity)) == 9


def test_report_with_nothing_to_measure() -> None:
    result = report([], [], {}, [], [MASTODON], NOW - timedelta(hours=24), NOW)
    row = result.accounts[0]
    assert (
        row.received,
        row.answered,
        row.median_s,
        row.p90_s,
        row.within_target,
        row.conversation_share,
    ) == (
        0,
        0,
        None,
        None,
        None,
        None,
    )
    assert row.longest_quiet_s == 24 * 3600
    assert result.operators == ()


def test_report_counts_a_sent_reply_before_it_is_fetched_back() -> None:
    it = make_item(MASTODON, "q1", NOW - timedelta(hours=2))
    outbox = [sent(it, "kim", NOW - timedelta(hours=1, minutes=30), "r1")]
    result = report([it], [], {}, outbox, [MASTODON], NOW - timedelta(hours=24), NOW)
    row = result.accounts[0]
    assert (row.answered, row.response_times_s, row.posts, row.replies, row.conversation_share) == (
        1,
        (1800.0,),
        1,
        1,
        1.0,
    )
    assert [(op.key, op.name, op.answered, op.replies) for op in result.operators] == [("Kim", "Kim", 1, 1)]
    assert result.activity[0][18] == 1  # Monday 18:30 UTC
    # Once fetched back, the same reply is not counted twice.
    posts = [own_post(MASTODON, "r1", NOW - timedelta(hours=1, minutes=30), reply_to="q1")]
    again = report([it], posts, {}, outbox, [MASTODON], NOW - timedelta(hours=24), NOW)
    assert (again.accounts[0].posts, again.operators[0].replies) == (1, 1)


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([], 50, None),
        ([5.0], 90, 5.0),
        ([1.0, 2.0], 50, 1.0),
        ([1.0, 2.0, 3.0], 50, 2.0),
        (list(range(1, 11)), 90, 9),
    ],
)
def test_percentile_is_nearest_rank(values: list[float], p: float, expected: float | None) -> None:
    assert percentile(values, p) == expected


# --- check ----------------------------------------------------------------------------------------------

OPS = account("acme-ops", handle="ops@mastodon.social")


def entry(acct: AccountConfig, name: str, age: float, state: str) -> QueueEntry:
    return QueueEntry(make_item(acct, name, NOW - timedelta(seconds=age)), age, 3600, state)


def gap(acct: AccountConfig, state: str, quiet: float) -> QuietGap:
    return QuietGap(acct.id, state, quiet, acct.max_quiet.total_seconds(), None, None, 0, None)


def healthy(*accounts: AccountConfig) -> dict[str, AccountHealth]:
    return {a.id: AccountHealth(a.id, "ok", last_sync_at=NOW) for a in accounts}


ALL = [MASTODON, BLUESKY, OPS]


def test_check_unknown_without_accounts_or_any_sync() -> None:
    assert check_summary([], [], {}, {}, NOW) == (UNKNOWN, "UNKNOWN: no accounts configured")
    code, line = check_summary(ALL, [], {}, {"acme-ops": AccountHealth("acme-ops")}, NOW)
    assert (code, line) == (UNKNOWN, "UNKNOWN: none of the 3 accounts has synced yet")
    assert check_summary([OPS], [], {}, {}, NOW) == (UNKNOWN, "UNKNOWN: acme-ops has never synced")


def test_check_ok() -> None:
    queue = [entry(MASTODON, f"q{i}", 600, "ok") for i in range(5)]
    gaps = {a.id: gap(a, "ok", 600) for a in ALL} | {OPS.id: gap(OPS, "off-hours", 5 * 3600)}
    assert check_summary(ALL, queue, gaps, healthy(*ALL), NOW) == (
        OK,
        "OK: 3 accounts, 5 unanswered (none late), no quiet gap near its limit",
    )


def test_check_critical_lists_the_worst_first() -> None:
    queue = [
        entry(BLUESKY, "q1", 1000, "late"),
        entry(MASTODON, "q2", 4320, "late"),
        entry(MASTODON, "q3", 3000, "due"),
    ]
    gaps = {
        MASTODON.id: gap(MASTODON, "warn", 3.5 * 3600),
        BLUESKY.id: gap(BLUESKY, "breach", 4 * 3600 + 20 * 60),
    }
    code, line = check_summary(ALL, queue, gaps, healthy(*ALL), NOW)
    assert code == CRITICAL
    assert line == (
        "CRITICAL: 2 late items (oldest 1h12m on acme-mastodon); acme-bluesky quiet 4h20m of 4h; "
        "acme-mastodon quiet 3h30m of 4h; 1 due item (50m on acme-mastodon)"
    )


def test_check_account_health() -> None:
    healths = healthy(*ALL)
    healths[MASTODON.id] = AccountHealth(MASTODON.id, "unreachable", since=NOW - timedelta(minutes=5))
    healths[BLUESKY.id] = AccountHealth(BLUESKY.id, "rate_limited", until=utc(2024, 6, 3, 20, 5))
    assert check_summary(ALL, [], {}, healths, NOW) == (
        WARNING,
        "WARNING: acme-mastodon unreachable for 5m; acme-bluesky rate limited until 20:05 UTC",
    )
    healths[MASTODON.id] = AccountHealth(MASTODON.id, "unreachable", since=NOW - timedelta(minutes=16))
    healths[OPS.id] = AccountHealth(OPS.id, "auth", since=NOW - timedelta(minutes=20), error="token revoked")
    assert check_summary(ALL, [], {}, healths, NOW) == (
        CRITICAL,
        "CRITICAL: acme-mastodon unreachable for 16m; acme-ops auth refused for 20m; "
        "acme-bluesky rate limited until 20:05 UTC",
    )
    del healths[OPS.id]  # never synced, while the others have: not knowing beats a known small problem
    assert check_summary(ALL, [], {}, healths, NOW)[1] == (
        "CRITICAL: acme-mastodon unreachable for 16m; acme-ops never synced; acme-bluesky rate limited until 20:05 UTC"
    )
    healths[MASTODON.id] = AccountHealth(MASTODON.id, "ok", last_sync_at=NOW)
    assert check_summary(ALL, [], {}, healths, NOW) == (
        UNKNOWN,
        "UNKNOWN: acme-ops never synced; acme-bluesky rate limited until 20:05 UTC",
    )


POLL = timedelta(seconds=30)


def test_sync_age_against_the_poll_interval() -> None:
    def at(seconds: float, state: str = "ok", **kw: object) -> tuple[int, float | None]:
        health = AccountHealth(MASTODON.id, state, last_sync_at=NOW - timedelta(seconds=seconds), **kw)  # type: ignore[arg-type]
        age = sync_age(health, POLL, NOW)
        return age.level, age.age_s

    assert at(0) == (OK, 0.0)
    assert at(90) == (OK, 90.0)  # exactly 3 intervals: not yet
    assert at(91) == (WARNING, 91.0)
    assert at(300) == (WARNING, 300.0)
    assert at(301) == (CRITICAL, 301.0)
    assert sync_age(AccountHealth(MASTODON.id), POLL, NOW) == SyncAge(OK, None)
    # Rate limited until a time to come: not expected before then, so not stale.
    assert at(3600, "rate_limited", until=NOW + timedelta(minutes=5))[0] == OK
    assert at(3600, "rate_limited", until=NOW - timedelta(minutes=2))[0] == WARNING
    # A failing account says so itself, growing worse with its own duration.
    assert at(3600, "unreachable", since=NOW - timedelta(hours=2))[0] == OK
    # Live, confirmed by its poller: judged by the 5-minute safety net (WARNING after 15 minutes).
    confirmed = NOW + timedelta(seconds=30)
    assert at(600, mode="live", live_until=confirmed) == (OK, 600.0)
    assert at(901, mode="live", live_until=confirmed)[0] == WARNING
    # Live no one confirms any more (the poller died, or an older one wrote no live_until): polling.
    assert at(91, mode="live", live_until=NOW)[0] == WARNING
    assert at(301, mode="live")[0] == CRITICAL


def test_check_sees_a_poller_that_stopped() -> None:
    gaps = {a.id: gap(a, "ok", 600) for a in ALL}
    healths = healthy(*ALL)
    healths[BLUESKY.id] = AccountHealth(BLUESKY.id, "ok", last_sync_at=NOW - timedelta(minutes=2))
    assert check_summary(ALL, [], gaps, healths, NOW, poll_interval=POLL) == (
        WARNING,
        "WARNING: acme-bluesky not synced for 2m",
    )
    healths[MASTODON.id] = AccountHealth(MASTODON.id, "ok", last_sync_at=NOW - timedelta(hours=3))
    assert check_summary(ALL, [], gaps, healths, NOW, poll_interval=POLL) == (
        CRITICAL,
        "CRITICAL: acme-mastodon not synced for 3h; acme-bluesky not synced for 2m",
    )
    # Without a poll interval (an old caller) nothing is judged stale.
    assert check_summary(ALL, [], gaps, healths, NOW)[0] == OK


def test_an_account_that_never_synced_successfully_has_an_unknown_gap_not_a_breach() -> None:
    health = AccountHealth(MASTODON.id, "auth", since=NOW - timedelta(minutes=5), last_sync_at=NOW, error="x")
    unknown = quiet_gap(MASTODON, [], NOW, synced=False)
    assert unknown.state == "unknown"
    code, line = check_summary(
        [MASTODON], [], {MASTODON.id: unknown}, {MASTODON.id: health}, NOW, poll_interval=POLL
    )
    assert (code, line) == (
        UNKNOWN,
        "UNKNOWN: acme-mastodon quiet gap unknown (never synced successfully); acme-mastodon auth refused for 5m",
    )
    assert "breach" not in line and "quiet 7d" not in line


def test_check_reports_failed_replies_until_retried_or_discarded() -> None:
    gaps = {a.id: gap(a, "ok", 600) for a in ALL}

    def reply(key: str, item: str, state: str, minute: int, acct: AccountConfig = MASTODON) -> OutboxEntry:
        at = NOW - timedelta(minutes=60 - minute)
        return OutboxEntry(key, item, acct.id, "hi", "ops", "ops", at, at, state=state, error="HTTP 422")

    failed = reply("k1", "i1", "failed", 1)
    assert failed_replies([failed]) == [failed]
    code, line = check_summary(ALL, [], gaps, healthy(*ALL), NOW, failed=failed_replies([failed]))
    assert (code, line) == (CRITICAL, "CRITICAL: 1 reply failed on acme-mastodon")
    two = [failed, reply("k2", "i2", "failed", 2), reply("k3", "i3", "failed", 3, BLUESKY)]
    assert check_summary(ALL, [], gaps, healthy(*ALL), NOW, failed=failed_replies(two))[1] == (
        "CRITICAL: 2 replies failed on acme-mastodon; 1 reply failed on acme-bluesky"
    )
    # Retried: a later reply to the same item, queued or sent. Discarded: no longer `failed`.
    assert failed_replies([failed, reply("k4", "i1", "queued", 5)]) == []
    assert failed_replies([failed, reply("k4", "i1", "sent", 5)]) == []
    assert failed_replies([replace(failed, state="discarded")]) == []
    # An older reply sent before this one failed does not hide it.
    assert failed_replies([reply("k0", "i1", "sent", 0), failed]) == [failed]


def test_check_line_stays_short() -> None:
    many = [account(f"brand-account-number-{i:02d}") for i in range(40)]
    gaps = {a.id: gap(a, "breach", 5 * 3600) for a in many}
    code, line = check_summary(many, [], gaps, healthy(*many), NOW)
    assert code == CRITICAL
    assert len(line) <= 300
    shown = line.count(" quiet ")
    assert line.endswith(f"; +{40 - shown} more")
    assert shown >= 5


# --- scale ----------------------------------------------------------------------------------------------


def test_queue_of_many_items_and_posts() -> None:
    """2,000 items, 20 accounts with 2,000 own posts each. Its speed is measured in bench/care.py."""
    accounts = [
        account(
            f"acct{i}",
            handle=f"brand{i}@example.social",
            hours="Mon-Fri 08:00-20:00, Sat-Sun 10:00-16:00",
            timezone="Europe/London",
        )
        for i in range(20)
    ]
    items = [make_item(accounts[i % 20], f"q{i}", NOW - timedelta(minutes=10 * i)) for i in range(2000)]
    posts = [
        own_post(a, f"{a.id}-p{j}", NOW - timedelta(minutes=7 * j), reply_to=f"q{j}" if j % 3 == 0 else "")
        for a in accounts
        for j in range(2000)
    ]
    queue = unanswered_queue(items, posts, {}, accounts, NOW)
    # Every account replied to q{j} for j % 3 == 0, the item's own account among them.
    assert len(queue) == 2000 - sum(1 for i in range(2000) if i % 3 == 0)


# --- talk and tone ---------------------------------------------------------------------------------


def _with_text(it: Item, text: str) -> Item:
    from dataclasses import replace

    return replace(it, post=replace(it.post, text=text))


def test_talk_has_its_own_target_and_by_default_is_never_late() -> None:
    from dataclasses import replace

    talk = make_item(MASTODON, "t1", NOW - timedelta(days=3), kind="talk")
    mention = make_item(MASTODON, "m1", NOW - timedelta(days=3))
    queue = unanswered_queue([talk, mention], [], {}, [MASTODON], NOW)
    states = {e.item.kind: (e.state, e.target_s) for e in queue}
    assert states["mention"] == ("late", 3600)
    assert states["talk"][0] == "ok" and math.isinf(states["talk"][1])
    assert reply_deadline(MASTODON, talk).year == 9999
    # With reply_within_talk, talk is late like anything else, by its own target.
    strict = replace(MASTODON, reply_within_talk=timedelta(hours=4))
    (late_talk,) = [e for e in unanswered_queue([talk], [], {}, [strict], NOW)]
    assert (late_talk.state, late_talk.target_s) == ("late", 4 * 3600)
    fresh = make_item(MASTODON, "t2", NOW - timedelta(hours=2), kind="talk")
    assert unanswered_queue([fresh], [], {}, [strict], NOW)[0].state == "ok"
    # And the report counts talk answered within its own target.
    answer = own_post(MASTODON, "r1", NOW - timedelta(days=3) + timedelta(hours=5), reply_to="t1")
    rep = report([talk], [answer], {}, [], [strict], NOW - timedelta(days=7), NOW)
    assert rep.total.answered == 1


def test_entries_carry_the_tone_and_negative_first_keeps_states_apart() -> None:
    from socialtui.care import queue_order
    from socialtui.tone import ToneLexicon

    lexicon = ToneLexicon(negative=("kaputt",))
    old_calm = _with_text(make_item(MASTODON, "a", NOW - timedelta(hours=3)), "Is the shop open?")
    old_angry = _with_text(make_item(MASTODON, "b", NOW - timedelta(hours=2)), "Rad kaputt")
    new_calm = _with_text(make_item(MASTODON, "c", NOW - timedelta(minutes=5)), "Thanks!")
    new_angry = _with_text(make_item(MASTODON, "d", NOW - timedelta(minutes=1)), "Worst service, I hate it")
    items = [new_angry, old_calm, new_calm, old_angry]
    queue = unanswered_queue(items, [], {}, [MASTODON], NOW, lexicon=lexicon)
    assert [e.item.post.remote_id for e in queue] == ["a", "b", "c", "d"], "oldest first by default"
    assert {e.item.post.remote_id: e.tone.label for e in queue} == {
        "a": "neutral",
        "b": "negative",
        "c": "positive",
        "d": "negative",
    }
    assert queue[1].tone.reason == "negative: 'kaputt'"
    first = unanswered_queue(items, [], {}, [MASTODON], NOW, lexicon=lexicon, negative_first=True)
    # Late: b (negative) before a; on time: d (negative) before c. A late calm item still comes
    # before an angry one on time.
    assert [e.item.post.remote_id for e in first] == ["b", "a", "d", "c"]
    assert queue_order(first) == queue


def test_the_report_gives_complaints_apart() -> None:
    from socialtui.tone import ToneLexicon

    lexicon = ToneLexicon(negative=("refund",))
    since = NOW - timedelta(days=1)
    quick = _with_text(make_item(MASTODON, "n1", NOW - timedelta(hours=5)), "I want a refund")
    waiting = _with_text(make_item(MASTODON, "n2", NOW - timedelta(hours=3)), "Worst shop ever, I hate it")
    calm = _with_text(make_item(MASTODON, "c1", NOW - timedelta(hours=4)), "Is the shop open?")
    answers = [
        own_post(MASTODON, "r1", NOW - timedelta(hours=5) + timedelta(minutes=20), reply_to="n1"),
        own_post(MASTODON, "r2", NOW - timedelta(hours=4) + timedelta(minutes=10), reply_to="c1"),
    ]
    rep = report([quick, waiting, calm], answers, {}, [], [MASTODON], since, NOW, lexicon=lexicon)
    assert rep.complaints is not None and rep.others is not None
    # Two complaints: one answered in 20m (target 1h), one waiting 3h (overdue): 1 of 2.
    assert (rep.complaints.received, rep.complaints.answered, rep.complaints.overdue) == (2, 1, 1)
    assert rep.complaints.within_target == 0.5
    assert rep.complaints.median_s == 20 * 60
    assert (rep.others.received, rep.others.within_target) == (1, 1.0)
    assert rep.total.received == 3

    from socialtui.report import render_report, report_json

    class _Team:
        tz = UTC

    class _Config:
        accounts = [MASTODON]
        team = _Team()

    text = "\n".join(render_report(rep, _Config(), since, NOW))  # type: ignore[arg-type]
    assert (
        "complaints answered within target: 50% (the rest: 100%)\n"
        "  2 received, 1 answered, median first response 20m\n"
    ) in text
    assert report_json(rep, since, NOW)["complaints"]["within_target"] == 0.5
