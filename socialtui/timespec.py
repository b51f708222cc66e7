"""Durations (`45s`, `30m`, `1h30m`) and active hours (`Mon-Fri 08:00-20:00, Sat 10:00-14:00`).

Pure and Textual-free. Active hours are wall-clock windows in an account's own time zone; every
computation returns real elapsed time (UTC differences), so DST days are counted as they were lived.

How active hours are computed: each local day's windows are turned into UTC intervals once (cached),
and the UTC time line is cut into fixed blocks of one week, each holding its merged intervals with
running totals. `active_seconds` is then two binary searches plus a sum over the blocks in between,
which keeps thousands of queue ages per refresh cheap. Instants are handled as integer microseconds
since the epoch, so sums are exact and `windows`, `is_active`, `active_seconds` and `advance` agree.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache

# --- durations -----------------------------------------------------------------------------------------

_DURATION_EXPECTED = "expected a duration such as 45s, 30m, 4h, 2d or 1h30m"
_DURATION_RE = re.compile(
    r"(?:(?P<d>\d+)\s*d)?\s*(?:(?P<h>\d+)\s*h)?\s*(?:(?P<m>\d+)\s*m)?\s*(?:(?P<s>\d+)\s*s)?",
    re.IGNORECASE,
)


def parse_duration(text: str) -> timedelta:
    """`45s`, `30m`, `4h`, `2d`, `1h30m` as a timedelta. Raises ValueError saying what is expected.

    Units are d, h, m, s, largest first, each at most once, whole numbers only; `0s` is allowed.
    """
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a duration: {_DURATION_EXPECTED}")
    stripped = text.strip()
    if not stripped:
        raise ValueError(f"empty duration: {_DURATION_EXPECTED}")
    if stripped.startswith("-"):
        raise ValueError(f"`{stripped}` is negative: {_DURATION_EXPECTED}")
    match = _DURATION_RE.fullmatch(stripped)
    if match is None or not any(match.groupdict().values()):
        raise ValueError(f"`{stripped}` is not a duration: {_DURATION_EXPECTED}")
    parts = {unit: int(value) if value else 0 for unit, value in match.groupdict().items()}
    return timedelta(days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"])


def parse_since(text: str, now: datetime, tz: tzinfo) -> datetime:
    """The start of a window (`report --since`): a duration back from `now` (`24h`, `7d`), or a
    moment in ISO 8601 (`2026-11-18`, `2026-11-18T08:00`, `2026-11-18T08:00+01:00`), read by
    python-dateutil's strict `isoparse`; a time without an offset is wall time in `tz` (the team's
    time zone). Raises ValueError saying what is expected; a moment after `now` too.

    Not dateutil's free-form `parse`: it reads `10/11` as either October or November depending on a
    flag, and guesses at anything, where a report needs an unambiguous start."""
    stripped = text.strip() if isinstance(text, str) else ""
    try:
        return now - parse_duration(stripped)
    except ValueError:
        pass
    try:
        from dateutil.parser import isoparse  # only when a time is typed in: not on every start

        at = isoparse(stripped)
    except (ValueError, OverflowError):
        raise ValueError(
            f"`{stripped}` is neither a duration nor a date: expected e.g. 24h, 7d, 2026-11-18 or "
            "2026-11-18T08:00 (the team's time zone unless an offset is given)"
        ) from None
    at = wall_to_utc(at, tz) if at.tzinfo is None else at.astimezone(UTC)
    if at > now:
        raise ValueError(f"`{stripped}` is in the future")
    return at


def format_duration(seconds: float) -> str:
    """A compact, operator-readable duration: `45s`, `12m`, `1h12m`, `2d3h`.

    Truncates to the two largest units (never rounds up, so a gap never looks longer than it is);
    negative values get a leading `-`.
    """
    if seconds < 0:
        return "-" + format_duration(-seconds)
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def local_time(at: datetime, tz: tzinfo, fmt: str = "%Y-%m-%d %H:%M", *, labelled: bool = True) -> str:
    """A time as a person reads it: in `tz` (the team's zone, or an account's), labelled with the
    zone's abbreviation at that instant (`14:00 GMT`, `09:30 +0530`). Machine-readable output (JSON)
    stays UTC ISO-8601 and never goes through this.

    `labelled=False` only for a time whose label stands once nearby for a whole column or list
    (`zone_label`): a table's `when (CET)` header over its rows."""
    local = at.astimezone(tz)
    shown = local.strftime(fmt)
    return f"{shown} {_abbreviation(local)}" if labelled else shown


def _abbreviation(local: datetime) -> str:
    return local.strftime("%Z") or "UTC"


def zone_label(tz: tzinfo, *moments: datetime) -> str:
    """The label for times shown together without one each (a column, a list): the abbreviation of
    `tz` at those moments, `CET`; `CET/CEST` (in the order first met) when a clock change falls
    among them, so a column that spans one says so rather than naming one of its zones for all."""
    return "/".join(dict.fromkeys(_abbreviation(at.astimezone(tz)) for at in moments))


def local_span(start: datetime, end: datetime, tz: tzinfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A window as a person reads it, labelled once: `17 Nov 14:00 → 18 Nov 14:00 CET`; each end
    labelled when a clock change falls between them (`25 Oct 14:00 CEST → 26 Oct 14:00 CET`)."""
    first, last = start.astimezone(tz), end.astimezone(tz)
    if _abbreviation(first) == _abbreviation(last):
        return f"{first.strftime(fmt)} → {local_time(last, tz, fmt)}"
    return f"{local_time(first, tz, fmt)} → {local_time(last, tz, fmt)}"


_STORED_MOMENT = re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)")


def local_times_in(text: str, tz: tzinfo) -> str:
    """`text` (an audit line's detail, written in UTC ISO 8601 by the store, which knows no zone) with
    each moment in it as a person reads it: `local_time` in `tz`, labelled."""

    def local(match: re.Match[str]) -> str:
        try:
            return local_time(datetime.fromisoformat(match.group().replace("Z", "+00:00")), tz)
        except ValueError:
            return match.group()

    return _STORED_MOMENT.sub(local, text) if "T" in text else text


# --- active hours: parsing -----------------------------------------------------------------------------

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAYS_EXPECTED = "expected Mon, Tue, Wed, Thu, Fri, Sat or Sun"
_SPEC_EXPECTED = "expected `always` or windows such as `Mon-Fri 08:00-20:00, Sat 10:00-14:00`"
_WINDOW_RE = re.compile(r"(?P<days>.*?)\s*(?P<start>\S+?)\s*-\s*(?P<end>\d\S*)")
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})")
_DAY_TERM_RE = re.compile(r"([A-Za-z]+)\s*(?:-\s*([A-Za-z]+))?")


def _day_index(name: str, spec: str) -> int:
    lowered = name.lower()
    if lowered in _DAYS:
        return _DAYS.index(lowered)
    if lowered in _FULL_DAYS:
        return _FULL_DAYS.index(lowered)
    raise ValueError(f"active hours `{spec}`: `{name}` is not a day: {_DAYS_EXPECTED}")


def _parse_days(text: str, spec: str) -> frozenset[int]:
    """`Mon`, `Mon-Fri`, `Fri-Mon` (wrapping) and lists of those joined by `/`."""
    days: set[int] = set()
    for term in text.split("/"):
        match = _DAY_TERM_RE.fullmatch(term.strip())
        if match is None:
            raise ValueError(
                f"active hours `{spec}`: `{term.strip()}` is not a day or day range: "
                f"expected e.g. `Mon`, `Mon-Fri` or `Sat/Sun`"
            )
        first = _day_index(match.group(1), spec)
        last = _day_index(match.group(2), spec) if match.group(2) else first
        # A range that runs backwards wraps over the weekend: Fri-Mon is Fri, Sat, Sun, Mon.
        days.update((first + i) % 7 for i in range((last - first) % 7 + 1))
    return frozenset(days)


def _parse_time(text: str, spec: str, *, end: bool) -> int:
    """Minutes after local midnight; `24:00` only as the end of a window."""
    match = _TIME_RE.fullmatch(text)
    hours, minutes = (int(match.group(1)), int(match.group(2))) if match else (-1, -1)
    limit = "24:00" if end else "23:59"
    if not match or minutes > 59 or hours > 24 or (hours == 24 and (minutes or not end)):
        raise ValueError(
            f"active hours `{spec}`: `{text}` is not a valid {'end' if end else 'start'} time: "
            f"expected HH:MM from 00:00 to {limit}"
        )
    return hours * 60 + minutes


def _parse_spec(spec: str) -> tuple[tuple[tuple[int, int], ...], ...] | None:
    """The windows per weekday (Mon=0) as (start, end) minutes, or None for `always`."""
    text = spec.strip()
    if not text:
        raise ValueError(f"active hours are empty: {_SPEC_EXPECTED}")
    if text.lower() == "always":
        return None
    per_day: list[set[tuple[int, int]]] = [set() for _ in range(7)]
    pending: set[int] = set()
    pending_text = ""
    for position, raw in enumerate(text.split(","), start=1):
        piece = raw.strip()
        if not piece:
            raise ValueError(f"active hours `{spec}`: window {position} is empty: {_SPEC_EXPECTED}")
        if piece.lower() == "always":
            raise ValueError(f"active hours `{spec}`: `always` cannot be combined with windows")
        if not any(ch.isdigit() for ch in piece):
            # Days with no time yet: they share the next window's time (`Sat, Sun 10:00-14:00`).
            pending |= _parse_days(piece, spec)
            pending_text = piece
            continue
        match = _WINDOW_RE.fullmatch(piece)
        if match is None:
            raise ValueError(
                f"active hours `{spec}`: `{piece}` is not a window: expected `DAYS HH:MM-HH:MM` "
                f"such as `Mon-Fri 08:00-20:00` or `08:00-20:00` for every day"
            )
        start = _parse_time(match.group("start"), spec, end=False)
        end = _parse_time(match.group("end"), spec, end=True)
        days_text = match.group("days").strip()
        days = set(_parse_days(days_text, spec)) if days_text else set()
        days |= pending
        if not days:
            days = set(range(7))
        pending, pending_text = set(), ""
        for day in days:
            per_day[day].add((start, end))
    if pending:
        raise ValueError(
            f"active hours `{spec}`: `{pending_text}` has no time window: expected e.g. "
            f"`{pending_text} 10:00-14:00`"
        )
    return tuple(tuple(sorted(windows)) for windows in per_day)


# --- active hours: the time line -----------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_SECOND = 1_000_000
_BLOCK = 7 * 86400 * _SECOND
"""The time line is cached in UTC blocks of one week: a 14-day age spans at most three."""
_MAX_EMPTY_BLOCKS = 1100
"""`advance` gives up after ~21 years in a row with no active time (impossible by grammar; a guard).
A sparse schedule asked for much active time searches as far as it takes."""


def _to_us(at: datetime) -> int:
    """An aware datetime as integer microseconds since the epoch (exact, unlike `timestamp()`)."""
    return (at - _EPOCH) // _US


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _wall_to_us(local: datetime, tz: tzinfo, *, latest: bool) -> int:
    """A naive local wall time as epoch microseconds: first (or last) time the clock shows it."""
    earlier = local.replace(tzinfo=tz).utcoffset()
    if earlier is not None and earlier == local.replace(tzinfo=tz, fold=1).utcoffset():
        # The common case: one offset. Still check the round trip, because dateutil reports one
        # offset for both folds of a time that a spring-forward gap skips.
        utc = (local - earlier).replace(tzinfo=UTC)
        if utc.astimezone(tz).replace(tzinfo=None) == local:
            return _to_us(utc)
    found: list[int] = []
    for fold in (0, 1):
        utc = local.replace(tzinfo=tz, fold=fold).astimezone(UTC)
        if utc.astimezone(tz).replace(tzinfo=None) == local:
            found.append(_to_us(utc))
    if found:
        return max(found) if latest else min(found)
    return _gap_end_us(local, tz)


def _gap_end_us(local: datetime, tz: tzinfo) -> int:
    """The instant a spring-forward gap containing `local` ends: the first one whose wall time is
    at or past `local`. Binary search in whole seconds (zone transitions fall on whole seconds)."""
    base = _to_us(local.replace(tzinfo=UTC)) // _SECOND
    # UTC offsets lie within -12h..+14h, so the answer is within this bracket.
    lo, hi = base - 15 * 3600, base + 15 * 3600
    while hi - lo > 1:
        mid = (lo + hi) // 2
        wall = _from_us(mid * _SECOND).astimezone(tz).replace(tzinfo=None)
        if wall >= local:
            hi = mid
        else:
            lo = mid
    return hi * _SECOND


def wall_to_utc(local: datetime, tz: tzinfo, *, latest: bool = False) -> datetime:
    """The real instant at which the wall clock in `tz` shows the naive time `local`, as active
    hours read it: the first showing (the last with `latest`) of a time repeated when clocks fall
    back, and the end of the jump for a time skipped when they spring forward."""
    return _from_us(_wall_to_us(local.replace(tzinfo=None), tz, latest=latest))


@dataclass(frozen=True, slots=True)
class _Block:
    """The merged active intervals inside one UTC week, with running totals for binary search."""

    starts: tuple[int, ...]
    ends: tuple[int, ...]
    before: tuple[int, ...]
    """Active microseconds in this block before interval i starts."""
    upto: tuple[int, ...]
    """Active microseconds in this block up to the end of interval i."""
    total: int

    def active_until(self, x: int) -> int:
        """Active microseconds from the start of the block to x (x inside the block)."""
        i = bisect_right(self.starts, x) - 1
        if i < 0:
            return 0
        return self.before[i] + min(x, self.ends[i]) - self.starts[i]

    def instant_at(self, amount: int) -> int:
        """The earliest x in the block with active_until(x) == amount (0 < amount <= total)."""
        i = bisect_left(self.upto, amount)
        return self.starts[i] + amount - self.before[i]


class _Timeline:
    """The UTC time line of one schedule in one time zone, built lazily a week at a time and cached.

    Shared by every ActiveHours with the same windows and zone, so a reloaded config or twenty
    accounts on the same hours do not rebuild it."""

    def __init__(self, by_weekday: tuple[tuple[tuple[int, int], ...], ...], tz: tzinfo) -> None:
        self._by_weekday = by_weekday
        self._tz = tz
        self._day_intervals = lru_cache(maxsize=4096)(self._day_intervals_uncached)
        self.block = lru_cache(maxsize=1024)(self._block_uncached)

    def _day_intervals_uncached(self, day: date) -> tuple[tuple[int, int], ...]:
        """The UTC intervals (epoch microseconds) of the windows that open on local `day`."""
        midnight = datetime(day.year, day.month, day.day)
        out = []
        for start, end in self._by_weekday[day.weekday()]:
            opens = midnight + timedelta(minutes=start)
            closes = (
                midnight + timedelta(minutes=end)
                if end > start
                else midnight + timedelta(days=1, minutes=end)
            )
            s = _wall_to_us(opens, self._tz, latest=False)
            e = _wall_to_us(closes, self._tz, latest=True)
            if e > s:
                out.append((s, e))
        return tuple(out)

    def _block_uncached(self, k: int) -> _Block:
        lo, hi = k * _BLOCK, (k + 1) * _BLOCK
        # Local days that can reach into this UTC week: offsets lie within a day, and a window ends
        # at most two local midnights after the day it opens on.
        first = _from_us(lo).date() - timedelta(days=2)
        last = _from_us(hi).date() + timedelta(days=1)
        raw: list[tuple[int, int]] = []
        day = first
        while day <= last:
            raw.extend(self._day_intervals(day))
            day += timedelta(days=1)
        raw.sort()
        merged: list[list[int]] = []
        for s, e in raw:
            s, e = max(s, lo), min(e, hi)
            if e <= s:
                continue
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        before, upto, running = [], [], 0
        for s, e in merged:
            before.append(running)
            running += e - s
            upto.append(running)
        return _Block(
            starts=tuple(s for s, _ in merged),
            ends=tuple(e for _, e in merged),
            before=tuple(before),
            upto=tuple(upto),
            total=running,
        )


def _no_blocks(k: int) -> _Block:
    raise AssertionError("`always` has no time line")


_SHARED: dict[tuple[object, ...], _Timeline] = {}
_SHARED_LIMIT = 256


def _timeline(by_weekday: tuple[tuple[tuple[int, int], ...], ...], tz: tzinfo) -> _Timeline:
    """The shared time line for a schedule and zone (a private one if the zone is unhashable, as
    dateutil's zones are)."""
    key = (by_weekday, tz)
    try:
        found = _SHARED.get(key)
    except TypeError:
        return _Timeline(by_weekday, tz)
    if found is None:
        if len(_SHARED) >= _SHARED_LIMIT:
            # Forget the oldest; tolerant of another thread doing the same at once.
            _SHARED.pop(next(iter(_SHARED), None), None)  # type: ignore[arg-type]  # None when another thread emptied it: pop(None, None) is a harmless miss
        found = _SHARED[key] = _Timeline(by_weekday, tz)
    return found


class ActiveHours:
    """When an account is expected to be present, in its own time zone.

    Grammar (case-insensitive, whitespace-tolerant)::

        spec    := "always" | entry ("," entry)*
        entry   := [DAYS] HH:MM "-" HH:MM     a window; without DAYS it applies every day
                 | DAYS                       days only: they join the next window's days
        DAYS    := TERM ("/" TERM)*           TERM is `Mon` or a range `Mon-Fri`, wrapping `Fri-Mon`

    So `Sat,Sun 10:00-14:00`, `Sat/Sun 10:00-14:00` and `Sat-Sun 10:00-14:00` are the same, and
    `Mon 08:00-12:00, Mon 13:00-17:00` gives two windows on Monday. Full day names work too.
    Times run from 00:00 to 23:59, and `24:00` may end a window. A window whose end is not after its
    start belongs to its start day and runs across midnight: `Fri 22:00-02:00` ends Saturday 02:00.

    Wall times map to real instants in the time zone as the wall clock shows them: a window opens the
    first time the clock reaches its start and closes the last time the clock reaches its end. A time
    skipped by a spring-forward gap maps to the instant the gap ends (the clock jumps past it there),
    so a 00:00-04:00 window lasts 3 real hours on a spring-forward night and 5 on a fall-back night.
    Overlapping windows merge. All instants returned are aware UTC datetimes.
    """

    def __init__(self, spec: str, tz: tzinfo, windows: tuple[tuple[tuple[int, int], ...], ...] | None):
        """Use `ActiveHours.parse`: `windows` are (start, end) minutes per weekday, None for always."""
        self._spec = spec.strip()
        self._tz = tz
        self._by_weekday = windows
        self._block: Callable[[int], _Block] = (
            _timeline(windows, tz).block if windows is not None else _no_blocks
        )

    @classmethod
    def parse(cls, spec: str, tz: tzinfo) -> ActiveHours:
        """`always`, or comma-separated `DAYS HH:MM-HH:MM` windows; days `Mon`, `Mon-Fri`, `Sat,Sun`
        (also `Sat-Sun`, wrapping ranges like `Fri-Mon`); several windows a day; a window whose end is
        not after its start runs across midnight (`Fri 22:00-02:00` ends Saturday 02:00); `24:00` ends a
        day. Raises ValueError saying what is expected."""
        if not isinstance(spec, str):
            raise ValueError(f"active hours {spec!r} are not text: {_SPEC_EXPECTED}")
        return cls(spec, tz, _parse_spec(spec))

    def __repr__(self) -> str:
        return f"ActiveHours({self._spec!r}, {self._tz})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ActiveHours):
            return NotImplemented
        return self._by_weekday == other._by_weekday and (self.always or self._tz == other._tz)

    def __hash__(self) -> int:
        return hash(self._by_weekday)

    @property
    def spec(self) -> str:
        """The spec as written in the config."""
        return self._spec

    @property
    def tz(self) -> tzinfo:
        """The time zone the windows are read in."""
        return self._tz

    @property
    def always(self) -> bool:
        """True for `always`: every instant is active."""
        return self._by_weekday is None

    # -- queries -------------------------------------------------------------------------------------

    def is_active(self, at: datetime) -> bool:
        """Whether `at` lies inside an active window (windows are half-open: [open, close))."""
        if self._by_weekday is None:
            return True
        x = _to_us(at)
        block = self._block(x // _BLOCK)
        i = bisect_right(block.starts, x) - 1
        return i >= 0 and x < block.ends[i]

    def windows(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The active intervals within [start, end], clipped, in order, as aware UTC datetimes."""
        if end <= start:
            return
        if self._by_weekday is None:
            yield start.astimezone(UTC), end.astimezone(UTC)
            return
        lo, hi = _to_us(start), _to_us(end)
        pending: tuple[int, int] | None = None
        for k in range(lo // _BLOCK, (hi - 1) // _BLOCK + 1):
            block = self._block(k)
            for i in range(max(bisect_right(block.starts, lo) - 1, 0), len(block.starts)):
                s, e = max(block.starts[i], lo), min(block.ends[i], hi)
                if s >= hi:
                    break
                if e <= s:
                    continue
                # An interval that spans a block boundary is stored as two pieces: join them again.
                if pending is not None and pending[1] == s:
                    pending = (pending[0], e)
                    continue
                if pending is not None:
                    yield _from_us(pending[0]), _from_us(pending[1])
                pending = (s, e)
        if pending is not None:
            yield _from_us(pending[0]), _from_us(pending[1])

    def active_seconds(self, start: datetime, end: datetime) -> float:
        """Active time between two instants, in real seconds (0 when end <= start)."""
        if self._by_weekday is None:
            return max((end - start).total_seconds(), 0.0)
        a, b = _to_us(start), _to_us(end)
        if b <= a:
            return 0.0
        ka, kb = a // _BLOCK, b // _BLOCK
        first = self._block(ka)
        if ka == kb:
            return (first.active_until(b) - first.active_until(a)) / _SECOND
        total = first.total - first.active_until(a)
        for k in range(ka + 1, kb):
            total += self._block(k).total
        total += self._block(kb).active_until(b)
        return total / _SECOND

    def seconds_until(self, end: datetime) -> Callable[[datetime], float]:
        """`active_seconds(start, end)` as a function of `start`, for many starts and one end (the
        ages of a queue's items at `now`): the active time from each week's start to `end` is
        summed once, so each start costs one lookup in its own week. The same figures, exactly."""
        if self._by_weekday is None:
            return lambda start: max((end - start).total_seconds(), 0.0)
        b = _to_us(end)
        kb = b // _BLOCK
        last = self._block(kb)
        tail = last.active_until(b)
        after = {kb: tail}  # block k -> active microseconds from the start of block k to `end`
        lowest = kb

        def seconds(start: datetime) -> float:
            nonlocal lowest
            a = _to_us(start)
            if b <= a:
                return 0.0
            ka = a // _BLOCK
            if ka == kb:
                return (tail - last.active_until(a)) / _SECOND
            while lowest > ka + 1:
                after[lowest - 1] = after[lowest] + self._block(lowest - 1).total
                lowest -= 1
            first = self._block(ka)
            return (first.total - first.active_until(a) + after[ka + 1]) / _SECOND

        return seconds

    def point(self, start: datetime) -> tuple[int, int, int]:
        """What `seconds_from_point` needs of a start, made once for many ends (a queue's item, aged
        at every reading): its microseconds since the epoch, its week, and the active microseconds
        from it to the end of its week."""
        a = _to_us(start)
        if self._by_weekday is None:
            return (a, 0, 0)
        ka = a // _BLOCK
        block = self._block(ka)
        return (a, ka, block.total - block.active_until(a))

    def seconds_from_point(self, end: datetime) -> Callable[[tuple[int, int, int]], float]:
        """`seconds_until(end)` of starts given as `point(start)`: the same figures, exactly (the same
        integer sums, divided once), without the start's calendar work."""
        b = _to_us(end)
        if self._by_weekday is None:
            return lambda point: (b - point[0]) / _SECOND if b > point[0] else 0.0
        kb = b // _BLOCK
        last = self._block(kb)
        tail = last.active_until(b)
        head = tail - last.total  # a start in the last week: its rest of the week plus this
        after = {kb: tail}  # block k -> active microseconds from the start of block k to `end`
        lowest = kb

        def seconds(point: tuple[int, int, int]) -> float:
            nonlocal lowest
            a, ka, rest = point
            if b <= a:
                return 0.0
            if ka == kb:
                return (rest + head) / _SECOND
            while lowest > ka + 1:
                after[lowest - 1] = after[lowest] + self._block(lowest - 1).total
                lowest -= 1
            return (rest + after[ka + 1]) / _SECOND

        return seconds

    def advance(self, start: datetime, seconds: float) -> datetime:
        """The instant at which `seconds` of active time will have passed after `start`.

        The earliest such instant, so `active_seconds(start, advance(start, s)) == s` (to the
        microsecond) and `advance(start, active_seconds(start, end)) <= end`. Zero or negative
        seconds give `start`. Raises ValueError if ~21 years pass in a row with no active time.
        """
        need = round(seconds * _SECOND)
        if need <= 0:
            return start.astimezone(UTC)
        if self._by_weekday is None:
            return start.astimezone(UTC) + timedelta(microseconds=need)
        x = _to_us(start)
        k = x // _BLOCK
        block = self._block(k)
        used = block.active_until(x)
        empty = 0  # weeks in a row without active time: only those count towards giving up
        while empty < _MAX_EMPTY_BLOCKS:
            if used + need <= block.total:
                return _from_us(block.instant_at(used + need))
            need -= block.total - used
            empty = empty + 1 if block.total == 0 else 0
            k += 1
            block, used = self._block(k), 0
        raise ValueError(f"active hours `{self._spec}` have no active time after {start.isoformat()}")


# --- WHEN: the time a post is scheduled for ---------------------------------------------------------------

WHEN_EXPECTED = (
    "expected an ISO time (2026-11-20T09:00, in the account's time zone unless it has an offset), "
    "a delay (+2h, +1h30m), `today 18:00`, `tomorrow 09:00`, a weekday and time (`Sat 10:30`) or a time (`09:00`)"
)
_CLOCK_RE = re.compile(r"(\d{1,2}):(\d{2})")


def _local_instant(local: datetime, tz: tzinfo) -> datetime:
    """The instant a naive local time names, as a person scheduling a post means it: a time repeated
    when clocks fall back is its first showing; a time skipped when they spring forward is moved on
    by the length of the jump (02:30 on a spring-forward night is 03:30), as dateutil resolves it."""
    from dateutil import tz as dateutil_tz

    aware = dateutil_tz.resolve_imaginary(local.replace(tzinfo=tz, fold=0))
    return aware.astimezone(UTC)


def _clock_time(text: str, original: str) -> tuple[int, int]:
    match = _CLOCK_RE.fullmatch(text)
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(
            f"`{original}`: `{text}` is not a time of day (HH:MM, 00:00 to 23:59); {WHEN_EXPECTED}"
        )
    return int(match.group(1)), int(match.group(2))


def parse_when(text: str, tz: tzinfo, now: datetime) -> datetime:
    """When a post is due, as an aware UTC datetime: WHEN read in the account's time zone `tz` at
    `now`. Raises ValueError saying what was expected, or that the time has passed."""
    from dateutil import parser as dateutil_parser

    original = text.strip() if isinstance(text, str) else ""
    if not original:
        raise ValueError(f"no time given: {WHEN_EXPECTED}")
    now = now.astimezone(UTC)
    local_now = now.astimezone(tz)
    words = original.lower().split()
    at: datetime
    if original.startswith("+"):
        try:
            delay = parse_duration(original[1:])
        except ValueError:
            raise ValueError(f"`{original}` is not a delay: {WHEN_EXPECTED}") from None
        at = now + delay
    elif len(words) in (1, 2) and (len(words) == 2 or _CLOCK_RE.fullmatch(words[0])):
        day_word, clock = (words[0], words[1]) if len(words) == 2 else ("", words[0])
        hour, minute = _clock_time(clock, original)
        today = local_now.date()
        if day_word == "today":
            days = [today]
        elif day_word == "tomorrow":
            days = [today + timedelta(days=1)]
        elif day_word == "":
            days = [today, today + timedelta(days=1)]  # the next time the clock shows it
        else:
            if day_word in _DAYS:
                weekday = _DAYS.index(day_word)
            elif day_word in _FULL_DAYS:
                weekday = _FULL_DAYS.index(day_word)
            else:
                raise ValueError(f"`{original}`: `{words[0]}` is not a day: {WHEN_EXPECTED}")
            ahead = (weekday - today.weekday()) % 7
            days = [today + timedelta(days=ahead), today + timedelta(days=ahead + 7)]
        candidates = [_local_instant(datetime(d.year, d.month, d.day, hour, minute), tz) for d in days]
        at = next((c for c in candidates if c > now), candidates[-1])
    else:
        try:
            parsed = dateutil_parser.isoparse(original)
        except (ValueError, OverflowError):
            raise ValueError(f"`{original}` cannot be read as a time: {WHEN_EXPECTED}") from None
        if parsed.tzinfo is None:
            at = _local_instant(parsed, tz)
        else:
            at = parsed.astimezone(UTC)
    if at <= now:
        shown = local_time(at, tz, "%a %Y-%m-%d %H:%M")
        raise ValueError(f"`{original}` is {shown}, which has passed: a post can only be scheduled ahead")
    return at


__all__ = [
    "parse_duration",
    "format_duration",
    "local_time",
    "local_span",
    "local_times_in",
    "zone_label",
    "wall_to_utc",
    "parse_when",
    "WHEN_EXPECTED",
    "ActiveHours",
]
