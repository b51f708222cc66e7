"""Durations and active hours: parsing, DST arithmetic, and the invariants that tie the queries together."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest
from dateutil import tz as dateutil_tz
from hypothesis import given, settings
from hypothesis import strategies as st

from socialtui.timespec import ActiveHours, format_duration, parse_duration, wall_to_utc

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
KOLKATA = ZoneInfo("Asia/Kolkata")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def hours(h: ActiveHours, start: datetime, end: datetime) -> float:
    return h.active_seconds(start, end) / 3600


# --- durations ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45s", timedelta(seconds=45)),
        ("30m", timedelta(minutes=30)),
        ("4h", timedelta(hours=4)),
        ("2d", timedelta(days=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("0s", timedelta(0)),
        (" 90m ", timedelta(minutes=90)),
        ("1H 30M", timedelta(hours=1, minutes=30)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
    ],
)
def test_parse_duration_accepts(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "-5m", "5", "1.5h", "5x", "m", "30m1h", "1h1h", "4 hours", "h4"])
def test_parse_duration_rejects_with_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="expected a duration such as 45s, 30m, 4h, 2d or 1h30m"):
        parse_duration(text)


def test_parse_duration_says_negative_is_the_problem() -> None:
    with pytest.raises(ValueError, match="`-5m` is negative"):
        parse_duration("-5m")


def test_parse_duration_refuses_a_number_from_toml() -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(4)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (45, "45s"),
        (59.9, "59s"),
        (60, "1m"),
        (720, "12m"),
        (4320, "1h12m"),
        (4 * 3600, "4h"),
        (4 * 3600 + 20 * 60 + 59, "4h20m"),
        (86400, "1d"),
        (2 * 86400 + 3 * 3600 + 59 * 60, "2d3h"),
        (-4320, "-1h12m"),
        (-30, "-30s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(min_value=0, max_value=400 * 86400))
def test_format_duration_never_overstates(seconds: int) -> None:
    shown = parse_duration(format_duration(seconds)).total_seconds()
    assert shown <= seconds
    assert seconds - shown < 86400


# --- active hours: parsing ------------------------------------------------------------------------------


def test_always_is_always_active() -> None:
    h = ActiveHours.parse(" Always ", LONDON)
    assert h.always
    assert h.spec == "Always"
    assert h.is_active(utc(2024, 3, 31, 1, 30))
    assert h.active_seconds(utc(2024, 1, 1), utc(2024, 1, 2)) == 86400


@pytest.mark.parametrize(
    "spec",
    [
        "Sat,Sun 10:00-14:00",
        "Sat, Sun 10:00-14:00",
        "Sat/Sun 10:00-14:00",
        "sat-SUN 10:00-14:00",
        "Saturday, Sunday 10:00 - 14:00",
        "Sat 10:00-14:00, Sun 10:00-14:00",
        "Sat, 10:00-14:00, Sun 10:00-14:00",
        "Sat 10:00-12:00, Sat-Sun 11:00-14:00, Sun 10:00-11:00",
    ],
)
def test_equivalent_ways_to_write_weekend_hours(spec: str) -> None:
    h = ActiveHours.parse(spec, UTC)
    assert not h.always
    week = (utc(2024, 6, 3), utc(2024, 6, 10))  # Monday to Monday
    assert list(h.windows(*week)) == [
        (utc(2024, 6, 8, 10), utc(2024, 6, 8, 14)),
        (utc(2024, 6, 9, 10), utc(2024, 6, 9, 14)),
    ]


def test_wrapping_day_range() -> None:
    h = ActiveHours.parse("Fri-Mon 09:00-10:00", UTC)
    # 2024-06-03 is a Monday.
    active_days = [d for d in range(7) if h.is_active(utc(2024, 6, 3 + d, 9, 30))]
    assert active_days == [0, 4, 5, 6]


def test_window_without_days_applies_every_day() -> None:
    h = ActiveHours.parse("08:00-20:00", UTC)
    assert hours(h, utc(2024, 6, 3), utc(2024, 6, 10)) == 7 * 12


def test_several_windows_a_day() -> None:
    h = ActiveHours.parse("Mon 08:00-12:00, Mon 13:00-17:00", UTC)
    assert h.is_active(utc(2024, 6, 3, 11, 59))
    assert not h.is_active(utc(2024, 6, 3, 12, 30))
    assert h.is_active(utc(2024, 6, 3, 13))
    assert hours(h, utc(2024, 6, 3), utc(2024, 6, 4)) == 8


def test_24_00_ends_the_day() -> None:
    h = ActiveHours.parse("Mon 20:00-24:00", UTC)
    assert h.is_active(utc(2024, 6, 3, 23, 59, 59))
    assert not h.is_active(utc(2024, 6, 4, 0, 0))
    assert hours(h, utc(2024, 6, 3), utc(2024, 6, 5)) == 4


def test_equal_start_and_end_is_a_whole_day_across_midnight() -> None:
    h = ActiveHours.parse("Mon 09:00-09:00", UTC)
    assert list(h.windows(utc(2024, 6, 1), utc(2024, 6, 8))) == [(utc(2024, 6, 3, 9), utc(2024, 6, 4, 9))]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "active hours are empty: expected `always` or windows such as `Mon-Fri 08:00-20:00"),
        ("Mo 08:00-10:00", "`Mo` is not a day: expected Mon, Tue, Wed, Thu, Fri, Sat or Sun"),
        ("Mon-Fro 08:00-10:00", "`Fro` is not a day"),
        ("Mon 8am-5pm", "`8am` is not a valid start time: expected HH:MM from 00:00 to 23:59"),
        ("Mon 08:00-25:00", "`25:00` is not a valid end time: expected HH:MM from 00:00 to 24:00"),
        ("Mon 08:60-10:00", "`08:60` is not a valid start time"),
        ("Mon 24:00-02:00", "`24:00` is not a valid start time"),
        ("Mon 08:00-24:30", "`24:30` is not a valid end time"),
        ("Sat", "`Sat` has no time window: expected e.g. `Sat 10:00-14:00`"),
        ("Mon-Fri 08:00-20:00,", "window 2 is empty"),
        ("Mon-Fri 08:00-20:00,, Sat 10:00-12:00", "window 2 is empty"),
        ("always, Mon 08:00-09:00", "`always` cannot be combined with windows"),
        (
            "Sat Sun 10:00-12:00",
            "`Sat Sun` is not a day or day range: expected e.g. `Mon`, `Mon-Fri` or `Sat/Sun`",
        ),
        ("Mon 08:00-20:00 extra", "is not a window: expected `DAYS HH:MM-HH:MM`"),
        ("Mon 08:00", "is not a window: expected `DAYS HH:MM-HH:MM`"),
    ],
)
def test_bad_active_hours_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ActiveHours.parse(spec, UTC)


def test_equality_follows_meaning() -> None:
    assert ActiveHours.parse("Sat,Sun 10:00-14:00", LONDON) == ActiveHours.parse(
        "Sat-Sun 10:00-14:00", LONDON
    )
    assert ActiveHours.parse("Sat 10:00-14:00", LONDON) != ActiveHours.parse("Sat 10:00-14:00", NEW_YORK)
    assert ActiveHours.parse("always", LONDON) == ActiveHours.parse("always", NEW_YORK)


# --- active hours: arithmetic ---------------------------------------------------------------------------


def test_window_across_midnight_belongs_to_its_start_day() -> None:
    h = ActiveHours.parse("Fri 22:00-02:00", UTC)
    # 2024-06-07 is a Friday.
    assert not h.is_active(utc(2024, 6, 7, 21))
    assert h.is_active(utc(2024, 6, 7, 22))
    assert h.is_active(utc(2024, 6, 8, 0, 0))
    assert h.is_active(utc(2024, 6, 8, 1, 59))
    assert not h.is_active(utc(2024, 6, 8, 2))
    assert hours(h, utc(2024, 6, 8), utc(2024, 6, 9)) == 2  # Saturday holds Friday's tail
    assert list(h.windows(utc(2024, 6, 3), utc(2024, 6, 10))) == [(utc(2024, 6, 7, 22), utc(2024, 6, 8, 2))]


@pytest.mark.parametrize("make_tz", [ZoneInfo, dateutil_tz.gettz], ids=["zoneinfo", "dateutil"])
@pytest.mark.parametrize(
    ("zone", "spring", "autumn", "spring_hours", "autumn_hours"),
    [
        ("Europe/London", (2024, 3, 31), (2024, 10, 27), 3, 5),
        ("America/New_York", (2024, 3, 10), (2024, 11, 3), 3, 5),
        # Lord Howe moves its clocks by 30 minutes (spring in October, autumn in April).
        ("Australia/Lord_Howe", (2024, 10, 6), (2024, 4, 7), 3.5, 4.5),
        ("Asia/Kolkata", (2024, 3, 31), (2024, 10, 27), 4, 4),
    ],
)
def test_a_night_window_lasts_as_long_as_it_was_lived(
    make_tz, zone: str, spring: tuple[int, int, int], autumn: tuple[int, int, int], spring_hours, autumn_hours
) -> None:
    tz: tzinfo = make_tz(zone)
    h = ActiveHours.parse("00:00-04:00", tz)
    for day, expected in ((spring, spring_hours), (autumn, autumn_hours)):
        start = datetime(*day, tzinfo=tz)
        end = start + timedelta(days=1) - timedelta(hours=12)  # local midday, far from the next window
        assert hours(h, start.astimezone(UTC), end.astimezone(UTC)) == expected
        assert [(e - s).total_seconds() / 3600 for s, e in h.windows(start, end)] == [expected]


@pytest.mark.parametrize("make_tz", [ZoneInfo, dateutil_tz.gettz], ids=["zoneinfo", "dateutil"])
def test_a_window_opening_in_the_spring_gap_opens_when_the_clock_jumps(make_tz) -> None:
    h = ActiveHours.parse("Sun 02:30-04:00", make_tz("America/New_York"))
    # 2024-03-10: clocks jump from 02:00 EST (07:00Z) to 03:00 EDT; 02:30 is never shown.
    assert list(h.windows(utc(2024, 3, 10), utc(2024, 3, 11))) == [(utc(2024, 3, 10, 7), utc(2024, 3, 10, 8))]


@pytest.mark.parametrize("make_tz", [ZoneInfo, dateutil_tz.gettz], ids=["zoneinfo", "dateutil"])
def test_a_window_in_the_repeated_hour_runs_from_first_to_last_showing(make_tz) -> None:
    h = ActiveHours.parse("Sun 01:00-01:30", make_tz("America/New_York"))
    # 2024-11-03: 01:00-02:00 is shown twice (EDT from 05:00Z, then EST from 06:00Z).
    assert list(h.windows(utc(2024, 11, 3), utc(2024, 11, 4))) == [
        (utc(2024, 11, 3, 5), utc(2024, 11, 3, 6, 30))
    ]


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
@pytest.mark.parametrize("day", ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
def test_windows_across_midnight_survive_every_week_boundary(zone: str, day: str) -> None:
    """Extreme offsets (+14h, -11h) and every start day: no piece of a window may be lost or doubled
    wherever the cache cuts the time line."""
    h = ActiveHours.parse(f"{day} 21:00-20:00", ZoneInfo(zone))
    found = list(h.windows(utc(2024, 6, 1), utc(2024, 7, 1)))
    inside = [(s, e) for s, e in found if s > utc(2024, 6, 1) and e < utc(2024, 7, 1)]
    assert len(inside) >= 3
    assert all(e - s == timedelta(hours=23) for s, e in inside)
    assert all(s.astimezone(ZoneInfo(zone)).strftime("%a %H:%M") == f"{day} 21:00" for s, _ in inside)


@pytest.mark.parametrize("make_tz", [ZoneInfo, dateutil_tz.gettz], ids=["zoneinfo", "dateutil"])
def test_wall_to_utc_reads_the_clock_like_active_hours(make_tz) -> None:
    new_york, santiago = make_tz("America/New_York"), make_tz("America/Santiago")
    assert wall_to_utc(datetime(2024, 6, 3, 9), new_york) == utc(2024, 6, 3, 13)
    # Skipped by the spring jump: the instant the clock jumps past it.
    assert wall_to_utc(datetime(2024, 3, 10, 2, 30), new_york) == utc(2024, 3, 10, 7)
    # Shown twice in autumn: the first showing, or the last on request.
    assert wall_to_utc(datetime(2024, 11, 3, 1, 30), new_york) == utc(2024, 11, 3, 5, 30)
    assert wall_to_utc(datetime(2024, 11, 3, 1, 30), new_york, latest=True) == utc(2024, 11, 3, 6, 30)
    # Santiago springs forward at midnight: 2024-09-08 starts at 01:00 local (-03), 04:00Z.
    assert wall_to_utc(datetime(2024, 9, 8), santiago) == utc(2024, 9, 8, 4)


def test_half_hour_offsets() -> None:
    h = ActiveHours.parse("09:00-17:00", KOLKATA)
    assert list(h.windows(utc(2024, 6, 3), utc(2024, 6, 3, 23))) == [
        (utc(2024, 6, 3, 3, 30), utc(2024, 6, 3, 11, 30))
    ]


def test_whole_day_windows_merge_into_one_interval_across_weeks_and_dst() -> None:
    h = ActiveHours.parse("00:00-24:00", LONDON)
    start, end = utc(2024, 3, 1), utc(2024, 4, 30)
    assert list(h.windows(start, end)) == [(start, end)]
    assert h.active_seconds(start, end) == (end - start).total_seconds()


def test_windows_are_clipped_and_empty_for_an_empty_range() -> None:
    h = ActiveHours.parse("Mon-Fri 09:00-17:00", UTC)
    assert list(h.windows(utc(2024, 6, 3, 12), utc(2024, 6, 3, 13))) == [
        (utc(2024, 6, 3, 12), utc(2024, 6, 3, 13))
    ]
    assert list(h.windows(utc(2024, 6, 3, 13), utc(2024, 6, 3, 12))) == []
    assert h.active_seconds(utc(2024, 6, 3, 13), utc(2024, 6, 3, 12)) == 0


def test_advance_skips_inactive_time() -> None:
    h = ActiveHours.parse("Mon-Fri 09:00-17:00", UTC)
    friday_4pm = utc(2024, 6, 7, 16)
    assert h.advance(friday_4pm, 2 * 3600) == utc(2024, 6, 10, 10)
    # The earliest instant: a budget that ends with a window ends at its close, not the next opening.
    assert h.advance(utc(2024, 6, 10, 9), 8 * 3600) == utc(2024, 6, 10, 17)
    assert h.advance(utc(2024, 6, 8, 12), 60) == utc(2024, 6, 10, 9, 1)
    assert h.advance(friday_4pm, 0) == friday_4pm
    assert h.advance(friday_4pm, -5) == friday_4pm


def test_advance_for_always_and_for_sparse_schedules_terminates() -> None:
    always = ActiveHours.parse("always", LONDON)
    assert always.advance(utc(2024, 3, 30, 23), 7200) == utc(2024, 3, 31, 1)
    sparse = ActiveHours.parse("Sun 02:00-02:01", NEW_YORK)
    start = utc(2024, 1, 1)
    # Ten minutes of presence takes ten Sundays, except the one whose 02:00-02:01 the clocks skip.
    end = sparse.advance(start, 600)
    assert sparse.active_seconds(start, end) == 600
    assert end.date() == datetime(2024, 3, 17).date()


def test_a_window_a_dst_jump_swallows_adds_nothing() -> None:
    h = ActiveHours.parse("Sun 02:00-03:00", NEW_YORK)
    assert h.active_seconds(utc(2024, 3, 9), utc(2024, 3, 12)) == 0
    assert h.active_seconds(utc(2024, 3, 16), utc(2024, 3, 19)) == 3600


# --- property tests -------------------------------------------------------------------------------------

ZONES = [
    "Europe/London",
    "America/New_York",
    "Australia/Sydney",
    "Pacific/Chatham",
    "America/Santiago",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "UTC",
]
DAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
LOW, HIGH = utc(2019, 1, 1), utc(2031, 1, 1)
SPAN_US = int((HIGH - LOW).total_seconds()) * 1_000_000


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@st.composite
def windows(draw) -> tuple[frozenset[int], int, int]:
    """One window as (days, start minute, end minute), end 1440 meaning 24:00."""
    days = draw(
        st.one_of(
            st.just(frozenset(range(7))),
            st.frozensets(st.integers(0, 6), min_size=1, max_size=7),
        )
    )
    start = draw(st.integers(0, 24 * 4 - 1)) * 15 + draw(st.sampled_from([0, 0, 0, 7]))
    end = draw(st.integers(1, 24 * 4)) * 15
    return days, start, end


@st.composite
def schedules(draw) -> tuple[str, tuple[tuple[frozenset[int], int, int], ...] | None, tzinfo]:
    zone = draw(st.sampled_from(ZONES))
    tz = ZoneInfo(zone) if draw(st.booleans()) else dateutil_tz.gettz(zone)
    if draw(st.integers(0, 9)) == 0:
        return "always", None, tz
    parts = draw(st.lists(windows(), min_size=1, max_size=3))
    texts = []
    for days, start, end in parts:
        day_text = "" if len(days) == 7 else "/".join(DAY_NAMES[d] for d in sorted(days)) + " "
        texts.append(f"{day_text}{hhmm(start)}-{hhmm(end)}")
    return ", ".join(texts), tuple(parts), tz


instants = st.integers(0, SPAN_US).map(lambda us: LOW + timedelta(microseconds=us))
PROPERTY = settings(max_examples=200, deadline=None)


def by_wall_clock(parts: tuple[tuple[frozenset[int], int, int], ...], local: datetime) -> bool:
    """An independent oracle: is the local wall time inside a window (today's, or yesterday's tail)?"""
    minute = local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 60e6
    today, yesterday = local.weekday(), (local.weekday() - 1) % 7
    for days, start, end in parts:
        crosses = end <= start
        if today in days and start <= minute < (1440 if crosses else end):
            return True
        if crosses and yesterday in days and minute < end:
            return True
    return False


@PROPERTY
@given(schedules(), instants, instants, instants)
def test_active_seconds_is_additive_and_bounded(schedule, a: datetime, b: datetime, c: datetime) -> None:
    spec, _, tz = schedule
    h = ActiveHours.parse(spec, tz)
    a, b, c = sorted((a, b, c))
    c = min(c, a + timedelta(days=40))
    b = min(b, c)
    whole = h.active_seconds(a, c)
    assert whole == pytest.approx(h.active_seconds(a, b) + h.active_seconds(b, c), abs=1e-6)
    assert 0 <= whole <= (c - a).total_seconds() + 1e-6
    assert h.active_seconds(c, a) == 0
    if h.always:
        assert whole == pytest.approx((c - a).total_seconds(), abs=1e-6)


@PROPERTY
@given(schedules(), instants, st.floats(0, 21 * 86400))
def test_advance_is_the_inverse_of_active_seconds(schedule, start: datetime, seconds: float) -> None:
    spec, _, tz = schedule
    h = ActiveHours.parse(spec, tz)
    at = h.advance(start, seconds)
    assert at >= start
    assert h.active_seconds(start, at) == pytest.approx(seconds, abs=1e-6)
    if seconds >= 1:
        # The earliest such instant: a millisecond sooner, the budget is not yet spent.
        assert h.active_seconds(start, at - timedelta(milliseconds=1)) < seconds


@PROPERTY
@given(schedules(), instants, st.integers(0, 30 * 86400 * 1_000_000))
def test_advance_by_the_active_time_lands_at_or_before_the_end(
    schedule, start: datetime, span_us: int
) -> None:
    spec, _, tz = schedule
    h = ActiveHours.parse(spec, tz)
    end = start + timedelta(microseconds=span_us)
    spent = h.active_seconds(start, end)
    landed = h.advance(start, spent)
    assert landed <= end
    assert h.active_seconds(landed, end) == 0 or spent == 0


@PROPERTY
@given(schedules(), instants)
def test_is_active_agrees_with_windows_and_the_wall_clock(schedule, at: datetime) -> None:
    spec, parts, tz = schedule
    h = ActiveHours.parse(spec, tz)
    around = list(h.windows(at - timedelta(days=3), at + timedelta(days=3)))
    assert h.is_active(at) == any(s <= at < e for s, e in around)
    # The windows are ordered, disjoint and merged, and they add up to active_seconds.
    assert all(s < e for s, e in around)
    assert all(e1 < s2 for (_, e1), (s2, _) in zip(around, around[1:], strict=False))
    total = sum((e - s).total_seconds() for s, e in around)
    assert total == pytest.approx(h.active_seconds(at - timedelta(days=3), at + timedelta(days=3)), abs=1e-6)
    # Away from any change of UTC offset, being active is just reading the wall clock.
    offset = at.astimezone(tz).utcoffset()
    steady = all((at + timedelta(hours=d)).astimezone(tz).utcoffset() == offset for d in range(-50, 51, 1))
    if parts is not None and steady:
        assert h.is_active(at) == by_wall_clock(parts, at.astimezone(tz))


def test_advance_on_a_sparse_schedule_goes_as_far_as_it_takes() -> None:
    """15 minutes a week, asked for 275 active hours: about 21 years ahead, and found (the guard is for
    weeks in a row with no active time at all, not for a long search)."""
    import zoneinfo

    h = ActiveHours.parse("Mon 00:00-00:15", zoneinfo.ZoneInfo("Europe/London"))
    start = datetime(2019, 1, 1, tzinfo=UTC)
    at = h.advance(start, 989101.0)
    assert h.active_seconds(start, at) == pytest.approx(989101.0, abs=1e-6)
    assert at.year >= 2040


def test_since_is_a_duration_back_or_a_moment_in_the_team_s_time_zone() -> None:
    from socialtui.timespec import parse_since

    now = datetime(2026, 11, 18, 14, 0, tzinfo=UTC)
    london = ZoneInfo("Europe/London")
    berlin = ZoneInfo("Europe/Berlin")
    assert parse_since("24h", now, london) == now - timedelta(hours=24)
    assert parse_since("7d", now, london) == now - timedelta(days=7)
    assert parse_since("2026-11-18", now, berlin) == datetime(2026, 11, 17, 23, 0, tzinfo=UTC)
    assert parse_since("2026-11-18T08:00", now, berlin) == datetime(2026, 11, 18, 7, 0, tzinfo=UTC)
    assert parse_since("2026-11-18T08:00+00:00", now, berlin) == datetime(2026, 11, 18, 8, 0, tzinfo=UTC)
    # Summer time in London: the wall time is an hour ahead of UTC.
    assert parse_since("2026-07-01T09:00", now, london) == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
    for bad in ("yesterday", "10/11", "", "2026-13-01"):
        with pytest.raises(ValueError, match="neither a duration nor a date"):
            parse_since(bad, now, london)
    with pytest.raises(ValueError, match="in the future"):
        parse_since("2026-11-19", now, london)


# --- times as a person reads them ---------------------------------------------------------------------


def test_a_time_a_person_reads_is_labelled_with_its_zone_at_that_instant() -> None:
    from socialtui.timespec import local_time

    berlin = ZoneInfo("Europe/Berlin")
    assert local_time(utc(2026, 11, 18, 14, 0), berlin) == "2026-11-18 15:00 CET"
    assert local_time(utc(2026, 7, 1, 14, 0), berlin, "%H:%M") == "16:00 CEST"
    assert local_time(utc(2026, 11, 18, 14, 0), KOLKATA, "%H:%M") == "19:30 IST"
    assert local_time(utc(2026, 11, 18, 14, 0), ZoneInfo("America/Sao_Paulo"), "%H:%M") == "11:00 -03"
    assert local_time(utc(2026, 11, 18, 14, 0), UTC, "%H:%M") == "14:00 UTC"
    # Under a label that stands once for a column: the time alone.
    assert local_time(utc(2026, 11, 18, 14, 0), berlin, "%d %b %H:%M", labelled=False) == "18 Nov 15:00"


def test_times_shown_together_are_labelled_once_and_a_clock_change_among_them_is_said() -> None:
    from socialtui.timespec import local_span, zone_label

    berlin = ZoneInfo("Europe/Berlin")
    autumn = utc(2026, 10, 25, 1, 0)  # 03:00 CEST becomes 02:00 CET
    assert zone_label(berlin, utc(2026, 11, 18, 14), utc(2026, 11, 17, 9)) == "CET"
    assert zone_label(berlin, autumn + timedelta(hours=1), autumn - timedelta(hours=1)) == "CET/CEST"
    assert zone_label(UTC, utc(2026, 11, 18, 14)) == "UTC"
    week = utc(2026, 11, 11, 14), utc(2026, 11, 18, 14)
    assert local_span(*week, berlin, "%d %b %H:%M") == "11 Nov 15:00 → 18 Nov 15:00 CET"
    across = autumn - timedelta(days=1), autumn + timedelta(days=1)
    assert local_span(*across, berlin, "%d %b %H:%M") == "24 Oct 03:00 CEST → 26 Oct 02:00 CET"


@settings(max_examples=60, deadline=None)
@given(
    spec=st.sampled_from(
        ["always", "Mon-Fri 08:00-20:00, Sat-Sun 10:00-16:00", "Fri 22:00-02:00", "00:30-04:00"]
    ),
    end_offset_h=st.integers(min_value=0, max_value=24 * 60),
    starts_h=st.lists(st.floats(min_value=-24 * 40, max_value=2), min_size=1, max_size=30),
)
def test_seconds_until_is_active_seconds_to_one_end(
    spec: str, end_offset_h: int, starts_h: list[float]
) -> None:
    """The queue's ages at `now` (`seconds_until`, a running sum per week) are exactly what
    `active_seconds` says, across DST changes and weeks, in any order of starts."""
    hours = ActiveHours.parse(spec, LONDON)
    end = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(hours=end_offset_h)
    seconds = hours.seconds_until(end)
    from_point = hours.seconds_from_point(end)
    later = hours.seconds_from_point(end + timedelta(hours=end_offset_h / 7))
    for offset in starts_h:
        start = end + timedelta(hours=offset)
        assert seconds(start) == hours.active_seconds(start, end)
        # The dashboard's queue keeps each item's point and ages it at every reading's now.
        point = hours.point(start)
        assert from_point(point) == hours.active_seconds(start, end)
        assert later(point) == hours.active_seconds(start, end + timedelta(hours=end_offset_h / 7))
