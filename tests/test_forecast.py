"""The gap forecast: scheduled posts within active hours count as presence; fixed clocks across DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from socialtui.care import WARNING, forecast_problems, gap_forecast, quiet_gap
from socialtui.config import AccountConfig
from socialtui.model import Author, Post
from socialtui.timespec import ActiveHours, parse_duration

BERLIN = ZoneInfo("Europe/Berlin")


def account(
    hours: str = "Mon-Sun 08:00-20:00", max_quiet: str = "4h", timezone: str = "Europe/Berlin"
) -> AccountConfig:
    tz = ZoneInfo(timezone)
    return AccountConfig(
        id="nightowl",
        network="mastodon",
        server="https://example.invalid",
        handle="nightowl@example.org",
        timezone=timezone,
        tz=tz,
        active_hours=ActiveHours.parse(hours, tz),
        max_quiet=parse_duration(max_quiet),
        reply_within=parse_duration("1h"),
    )


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)  # type: ignore[misc]


def posted(acct: AccountConfig, at: datetime) -> list[Post]:
    return [Post(acct.id, f"p-{at.isoformat()}", Author("mastodon", acct.handle, "1"), "hi", at, own=True)]


def forecast(acct: AccountConfig, last: datetime, now: datetime, scheduled: list[datetime]):  # noqa: ANN201
    gap = quiet_gap(acct, posted(acct, last), now)
    return gap, gap_forecast(acct, gap, scheduled, now)


def test_nothing_scheduled_breaches_at_the_limit() -> None:
    acct = account()
    gap, f = forecast(acct, berlin(2026, 11, 18, 9, 0), berlin(2026, 11, 18, 10, 0), [])
    assert f.breach_at == berlin(2026, 11, 18, 13, 0) == gap.breach_at
    assert (f.scheduled, f.next_scheduled_at) == (0, None)
    assert f.summary(BERLIN, berlin(2026, 11, 18, 10, 0)) == "breach at 13:00 CET, nothing scheduled"


def test_scheduled_posts_in_active_hours_push_the_breach_on() -> None:
    acct = account()
    now = berlin(2026, 11, 18, 10, 0)
    _, f = forecast(
        acct, berlin(2026, 11, 18, 9, 0), now, [berlin(2026, 11, 18, 12, 30), berlin(2026, 11, 18, 16, 0)]
    )
    assert f.scheduled == 2 and f.next_scheduled_at == berlin(2026, 11, 18, 12, 30)
    # 16:00 + 4h of active time: 20:00 closes the day; the limit is reached at closing time.
    assert f.until == berlin(2026, 11, 18, 20, 0)
    _, f = forecast(
        acct, berlin(2026, 11, 18, 9, 0), now, [berlin(2026, 11, 18, 12, 30), berlin(2026, 11, 18, 16, 20)]
    )
    assert f.until == berlin(2026, 11, 19, 8, 20), "3h40m left tonight, 20 more minutes from 08:00"
    assert f.breach_at == f.until, "within the 24 hours ahead"
    assert f.summary(BERLIN, now) == "breach at Thu 08:20 CET after 2 scheduled"


def test_a_post_outside_active_hours_or_after_the_breach_does_not_count() -> None:
    acct = account()
    now = berlin(2026, 11, 18, 10, 0)
    _, f = forecast(acct, berlin(2026, 11, 18, 9, 0), now, [berlin(2026, 11, 18, 7, 30) + timedelta(days=1)])
    assert f.scheduled == 0 and f.breach_at == berlin(2026, 11, 18, 13, 0)
    _, f = forecast(acct, berlin(2026, 11, 18, 9, 0), now, [berlin(2026, 11, 18, 14, 0)])
    assert f.scheduled == 0 and f.breach_at == berlin(2026, 11, 18, 13, 0), "the breach comes first"
    assert f.summary(BERLIN, now) == "breach at 13:00 CET, next post 14:00 CET"


def test_covered_through_the_next_24_hours_has_no_breach() -> None:
    acct = account(hours="always", max_quiet="8h")
    now = berlin(2026, 11, 18, 10, 0)
    posts = [now + timedelta(hours=h) for h in (6, 13, 20)]
    _, f = forecast(acct, now - timedelta(hours=1), now, posts)
    assert f.breach_at is None and f.scheduled == 3
    assert f.until == posts[-1] + timedelta(hours=8)
    assert f.summary(BERLIN, now) == "covered until Thu 14:00 CET (3 scheduled)"


def test_the_spring_forward_night_counts_real_hours() -> None:
    # Berlin, Sunday 29 March 2026: 02:00 becomes 03:00. Always active, 4h limit, last post 00:00.
    acct = account(hours="always")
    now = berlin(2026, 3, 29, 1, 0)
    _, f = forecast(acct, berlin(2026, 3, 29, 0, 0), now, [])
    assert f.breach_at == datetime(2026, 3, 29, 3, 0, tzinfo=UTC), "4 real hours: 05:00 CEST on the wall"
    assert f.summary(BERLIN, now) == "breach at 05:00 CEST, nothing scheduled"
    # Active hours by the wall clock: 08:00-20:00 is 12 real hours on the DST day too.
    day = account()
    _, f = forecast(day, berlin(2026, 3, 28, 19, 0), berlin(2026, 3, 28, 19, 30), [berlin(2026, 3, 29, 9, 0)])
    assert f.scheduled == 1, "09:00 CEST is one hour into Sunday's active hours, before the breach at 11:00"
    assert f.until == berlin(2026, 3, 29, 13, 0)


def test_the_fall_back_night_counts_the_repeated_hour_once_lived() -> None:
    acct = account(hours="always")
    now = berlin(2026, 10, 25, 0, 30)
    _, f = forecast(acct, berlin(2026, 10, 25, 0, 0), now, [])
    assert f.breach_at == datetime(2026, 10, 25, 2, 0, tzinfo=UTC), "04:00 CEST is 03:00 CET: four real hours"
    assert f.breach_at.astimezone(BERLIN).strftime("%H:%M %Z") == "03:00 CET"


def test_check_warns_within_the_hour_before_a_breach_not_after() -> None:
    acct = account()
    last = berlin(2026, 11, 18, 9, 0)
    for minutes_before, warned in ((90, False), (40, True), (0, False)):
        now = berlin(2026, 11, 18, 13, 0) - timedelta(minutes=minutes_before)
        gap, f = forecast(acct, last, now, [])
        lines = forecast_problems([f], {acct.id: gap}, now, BERLIN)
        assert bool(lines) == warned, (minutes_before, lines)
        if warned:
            assert lines == [(WARNING, "nightowl breaches in 40m (13:00 CET), nothing scheduled before it")]
            assert forecast_problems([f], {acct.id: gap}, now)[0][1].endswith(
                "(12:00 UTC), nothing scheduled before it"
            )
    now = berlin(2026, 11, 18, 12, 20)
    gap, f = forecast(acct, last, now, [berlin(2026, 11, 18, 12, 45)])
    assert forecast_problems([f], {acct.id: gap}, now) == [], "the schedule covers it"


@settings(max_examples=150, deadline=None)
@given(
    last=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    after=st.integers(0, 6 * 3600),
    offsets=st.lists(st.integers(1, 30 * 3600), max_size=5),
    zone=st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]),
)
def test_a_scheduled_post_never_brings_a_breach_forward(
    last: datetime, after: int, offsets: list[int], zone: str
) -> None:
    acct = account(timezone=zone, hours="Mon-Fri 08:00-20:00, Sat 10:00-14:00")
    now = last + timedelta(seconds=after)
    _, bare = forecast(acct, last, now, [])
    _, planned = forecast(acct, last, now, [now + timedelta(seconds=s) for s in offsets])
    assert planned.until >= bare.until
    if planned.scheduled == 0:
        assert planned.until == bare.until


def test_the_day_strip_shows_posts_made_and_scheduled_active_hours_and_the_breach() -> None:
    from socialtui.schedule import day_strip

    acct = account(hours="Mon-Sun 08:00-20:00", max_quiet="4h")
    start = berlin(2026, 11, 18, 0, 0)
    end = start + timedelta(hours=24)
    # One cell per hour: a post at 09:10, one scheduled at 12:30; breach after 16:30 (12:30 + 4h).
    strip = day_strip(acct, [berlin(2026, 11, 18, 9, 10)], [berlin(2026, 11, 18, 12, 30)], start, end, 24)
    assert len(strip) == 24
    assert strip[:8] == " " * 8, "before the active hours"
    assert strip[8] == "░" and strip[9] == "█" and strip[12] == "▓"
    assert strip[10:12] == "░░" and strip[13:17] == "░" * 4, (
        "covered: the post at 09:10, then the scheduled one"
    )
    assert strip[17:20] == "▒▒▒", "12:30 + 4h: the gap would breach for the last active hours"
    assert strip[20:] == " " * 4
    late = day_strip(acct, [berlin(2026, 11, 18, 9, 10)], [berlin(2026, 11, 18, 15, 30)], start, end, 24)
    assert late[13:15] == "▒▒" and late[15] == "▓", "a post scheduled after the breach does not hide it"
    bare = day_strip(acct, [berlin(2026, 11, 18, 9, 10)], [], start, end, 24)
    assert bare[10:13] == "░░░" and bare[13:20] == "▒" * 7, "nothing scheduled: breach from 13:10"


def test_the_day_strip_on_the_fall_back_day_has_25_hours() -> None:
    from socialtui.schedule import day_strip

    acct = account(hours="always", max_quiet="4h")
    start, end = berlin(2026, 10, 25, 0, 0), berlin(2026, 10, 26, 0, 0)
    assert end - start == timedelta(hours=25)
    strip = day_strip(acct, [start], [], start, end, 25)
    assert strip[0] == "█" and strip[1:4] == "░░░" and strip[4:] == "▒" * 21, "real hours, not wall hours"


def test_post_figures_count_made_on_time_late_missed_and_cancelled() -> None:
    from dataclasses import replace as with_

    from socialtui.model import OutboxEntry
    from socialtui.schedule import post_figures

    now = berlin(2026, 11, 18, 18, 0)
    since = now - timedelta(hours=24)

    def post(key: str, due_h: float, state: str, sent_after_s: float | None = None) -> OutboxEntry:
        due = now - timedelta(hours=due_h)
        entry = OutboxEntry(
            key,
            f"post:{key}",
            "nightowl",
            "hi",
            "alice",
            "Alice",
            due - timedelta(hours=1),
            due,
            state=state,
            kind="post",
            due_at=due,
        )
        return (
            with_(entry, sent_at=due + timedelta(seconds=sent_after_s)) if sent_after_s is not None else entry
        )

    outbox = [
        post("a", 5, "sent", 3),
        post("b", 4, "sent", 240),
        post("c", 3, "missed"),
        post("d", 2, "cancelled"),
        post("e", -2, "scheduled"),
        post("f", 30, "sent", 1),  # before the window
    ]
    acct = account()
    own = [*posted(acct, now - timedelta(hours=5)), *posted(acct, now - timedelta(hours=40))]
    own.append(
        Post(
            acct.id,
            "r",
            Author("mastodon", acct.handle, "1"),
            "a reply",
            now - timedelta(hours=1),
            own=True,
            reply_to="x",
        )
    )
    (figures,) = post_figures(["nightowl"], outbox, own, since, now)
    assert (figures.made, figures.scheduled) == (1, 5)
    assert (figures.on_time, figures.late, figures.missed, figures.cancelled) == (1, 1, 1, 1)
