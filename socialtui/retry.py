"""The one retry and backoff policy: capped exponential backoff with jitter.

Used by the HTTP wrapper (a GET retried on a 5xx or a timeout), the outbox (a reply retried with its
key) and the poller (an account's next try after a failure). Each waits for the `retry`-th time
(1-based) a random time in [floor x c, c], where c = min(cap, base x 2^(retry-1)):

- `floor=0` is "full jitter", the spread that best keeps many clients apart (the HTTP wrapper);
- `floor=0.5` keeps at least half of the step, where waiting too little costs more than a late try
  (the poller must not hammer a failing server; the outbox must not burn its few attempts at once).

Why not a library such as `stamina`: it wraps a call and does the sleeping itself, while here the
caller owns the waiting (an injectable `asyncio.sleep` for tests, the poller's own schedule, the
outbox's look on the server between tries). What is shared is the arithmetic, and that is this.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long to wait before a retry. See the module."""

    base: float
    """Seconds before the first retry (before jitter)."""
    cap: float
    """The longest wait, in seconds."""
    floor: float = 0.0
    """The share of the step always waited (0 full jitter, 0.5 "equal jitter")."""

    def ceiling(self, retry: int) -> float:
        """The step for the `retry`-th retry (1-based), before jitter."""
        return min(self.cap, self.base * 2 ** max(0, retry - 1))

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        """A jittered wait for the `retry`-th retry (1-based), in seconds."""
        ceiling = self.ceiling(retry)
        return (rng or _RANDOM).uniform(ceiling * self.floor, ceiling)


_RANDOM = random.Random()

__all__ = ["Backoff"]
