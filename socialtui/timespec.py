"""Durations (`45s`, `30m`, `1h30m`) and active hours (`Mon-Fri 08:00-20:00, Sat 10:00-14:00`).

Pure and Textual-free. Active hours are wall-clock windows in an account's own time zone; every
computation returns real elapsed time (UTC differences), so DST days are counted as they were lived.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, tzinfo


def parse_duration(text: str) -> timedelta:
    """`45s`, `30m`, `4h`, `2d`, `1h30m` as a timedelta. Raises ValueError saying what is expected."""
    raise NotImplementedError


def format_duration(seconds: float) -> str:
    """A compact, operator-readable duration: `45s`, `12m`, `1h12m`, `2d3h`."""
    raise NotImplementedError


class ActiveHours:
    """When an account is expected to be present, in its own time zone."""

    @classmethod
    def parse(cls, spec: str, tz: tzinfo) -> ActiveHours:
        """`always`, or comma-separated `DAYS HH:MM-HH:MM` windows; days `Mon`, `Mon-Fri`, `Sat,Sun`
        (also `Sat-Sun`, wrapping ranges like `Fri-Mon`); several windows a day; a window whose end is
        not after its start runs across midnight (`Fri 22:00-02:00` ends Saturday 02:00); `24:00` ends a
        day. Raises ValueError saying what is expected."""
        raise NotImplementedError

    @property
    def spec(self) -> str:
        raise NotImplementedError

    @property
    def always(self) -> bool:
        raise NotImplementedError

    def is_active(self, at: datetime) -> bool:
        raise NotImplementedError

    def windows(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The active intervals within [start, end], clipped, in order, as aware UTC datetimes."""
        raise NotImplementedError

    def active_seconds(self, start: datetime, end: datetime) -> float:
        """Active time between two instants, in real seconds (0 when end <= start)."""
        raise NotImplementedError

    def advance(self, start: datetime, seconds: float) -> datetime:
        """The instant at which `seconds` of active time will have passed after `start`."""
        raise NotImplementedError
