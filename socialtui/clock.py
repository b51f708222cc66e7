"""The one clock. Everything that needs "now" takes a Clock, so tests can fix time."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta


class Clock:
    """Wall-clock time as aware UTC datetimes, plus a monotonic counter for measuring intervals."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class FixedClock(Clock):
    """A clock that stands still until told to move; for tests and benchmarks."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at.astimezone(UTC)
        self._mono = 0.0

    def now(self) -> datetime:
        return self._at

    def monotonic(self) -> float:
        return self._mono

    def advance(self, delta: timedelta | float) -> None:
        seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
        self._at += timedelta(seconds=seconds)
        self._mono += seconds

    def set(self, at: datetime) -> None:
        self._mono += (at.astimezone(UTC) - self._at).total_seconds()
        self._at = at.astimezone(UTC)


def system_clock() -> Clock:
    """The process clock. `SOCIALTUI_NOW` (ISO-8601) fixes it, for demos, snapshots and CLI tests."""
    fixed = os.environ.get("SOCIALTUI_NOW")
    if fixed:
        at = datetime.fromisoformat(fixed)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return FixedClock(at)
    return Clock()
