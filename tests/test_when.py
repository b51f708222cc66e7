"""WHEN for scheduled posts: read in the account's time zone, DST-correct, refused when past or unreadable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialtui.timespec import parse_when

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
# Saturday 28 March 2026, 13:00 in Berlin: clocks spring forward (02:00 -> 03:00) that night.
BEFORE_SPRING = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
# Saturday 24 October 2026, 13:00 in Berlin (CEST): clocks fall back (03:00 -> 02:00) that night.
BEFORE_FALL = datetime(2026, 10, 24, 11, 0, tzinfo=UTC)


def local(at: datetime, tz: ZoneInfo = BERLIN) -> str:
    return at.astimezone(tz).strftime("%a %Y-%m-%d %H:%M %Z")


def test_a_delay_is_real_elapsed_time_across_the_spring_forward_night() -> None:
    at = parse_when("+14h", BERLIN, BEFORE_SPRING)
    assert at == BEFORE_SPRING + timedelta(hours=14)
    assert local(at) == "Sun 2026-03-29 04:00 CEST", "14 real hours, though the wall clock moved 15"


def test_tomorrow_morning_is_the_wall_time_after_the_change() -> None:
    at = parse_when("tomorrow 09:00", BERLIN, BEFORE_SPRING)
    assert local(at) == "Sun 2026-03-29 09:00 CEST"
    assert at == datetime(2026, 3, 29, 7, 0, tzinfo=UTC), "UTC+2 after the change, not UTC+1"


def test_a_time_the_spring_forward_skips_is_moved_on_by_the_jump() -> None:
    at = parse_when("tomorrow 02:30", BERLIN, BEFORE_SPRING)
    assert local(at) == "Sun 2026-03-29 03:30 CEST"
    assert parse_when("2026-03-29T02:30", BERLIN, BEFORE_SPRING) == at


def test_a_time_repeated_when_clocks_fall_back_is_its_first_showing() -> None:
    at = parse_when("tomorrow 02:30", BERLIN, BEFORE_FALL)
    assert at == datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "02:30 CEST, the first of the two"
    assert parse_when("Sun 09:00", BERLIN, BEFORE_FALL) == datetime(2026, 10, 25, 8, 0, tzinfo=UTC)


def test_a_weekday_is_the_next_one_at_that_time() -> None:
    assert local(parse_when("Sat 14:00", BERLIN, BEFORE_SPRING)) == "Sat 2026-03-28 14:00 CET", "later today"
    assert local(parse_when("Sat 10:30", BERLIN, BEFORE_SPRING)) == "Sat 2026-04-04 10:30 CEST", (
        "passed: a week on"
    )
    assert local(parse_when("saturday 10:30", BERLIN, BEFORE_SPRING)) == "Sat 2026-04-04 10:30 CEST"
    assert local(parse_when("Mon 08:15", BERLIN, BEFORE_SPRING)) == "Mon 2026-03-30 08:15 CEST"


def test_a_bare_time_is_the_next_time_the_clock_shows_it() -> None:
    assert local(parse_when("18:00", BERLIN, BEFORE_SPRING)) == "Sat 2026-03-28 18:00 CET"
    assert local(parse_when("09:00", BERLIN, BEFORE_SPRING)) == "Sun 2026-03-29 09:00 CEST"


def test_the_account_zone_decides_not_the_host() -> None:
    berlin = parse_when("tomorrow 09:00", BERLIN, BEFORE_SPRING)
    new_york = parse_when("tomorrow 09:00", NEW_YORK, BEFORE_SPRING)
    assert new_york - berlin == timedelta(hours=6), "both on summer time by then: 6 hours apart"
    assert parse_when("2026-04-01T09:00+00:00", NEW_YORK, BEFORE_SPRING) == datetime(
        2026, 4, 1, 9, 0, tzinfo=UTC
    )
    assert parse_when("2026-04-01T09:00Z", BERLIN, BEFORE_SPRING) == datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("when", "says"),
    [
        ("today 10:00", "has passed"),
        ("2026-03-28T12:59", "has passed"),
        ("2020-01-01", "has passed"),
        ("+0s", "has passed"),
        ("yesterday 09:00", "not a day"),
        ("Sat 25:00", "not a time of day"),
        ("Sat 1030", "not a time of day"),
        ("next week", "not a time of day"),
        ("soon", "cannot be read as a time"),
        ("+2 hours", "not a delay"),
        ("", "no time given"),
        ("\x1b[31m", "cannot be read"),
    ],
)
def test_a_past_or_unreadable_when_is_refused_saying_what_was_expected(when: str, says: str) -> None:
    with pytest.raises(ValueError, match=says) as refused:
        parse_when(when, BERLIN, BEFORE_SPRING)
    message = str(refused.value)
    assert "expected" in message or "scheduled ahead" in message


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    zone=st.sampled_from([BERLIN, NEW_YORK, ZoneInfo("Australia/Lord_Howe"), ZoneInfo("Asia/Kolkata")]),
)
def test_tomorrow_is_always_ahead_and_shows_the_asked_time_unless_skipped(
    start: datetime, hour: int, minute: int, zone: ZoneInfo
) -> None:
    at = parse_when(f"tomorrow {hour:02d}:{minute:02d}", zone, start)
    assert at > start
    shown = at.astimezone(zone)
    assert shown.date() == start.astimezone(zone).date() + timedelta(days=1)
    wanted = hour * 60 + minute
    got = shown.hour * 60 + shown.minute
    assert got == wanted or 0 < got - wanted <= 60, "only a skipped wall time moves, and only by the jump"
