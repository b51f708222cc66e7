"""The one retry policy: capped exponential backoff with jitter, as every retrying part uses it."""

from __future__ import annotations

import random

from socialtui.networks.http import HttpClient
from socialtui.outbox import RETRY
from socialtui.retry import Backoff


def test_steps_double_up_to_the_cap() -> None:
    policy = Backoff(base=1.0, cap=10.0)
    assert [policy.ceiling(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert policy.ceiling(0) == 1.0  # a retry count from 0 is read as the first


def test_jitter_stays_between_the_floor_and_the_step() -> None:
    rng = random.Random(3)
    for floor in (0.0, 0.5):
        policy = Backoff(base=2.0, cap=30.0, floor=floor)
        for retry in range(1, 8):
            delays = [policy.delay(retry, rng) for _ in range(300)]
            top = policy.ceiling(retry)
            assert all(top * floor <= d <= top for d in delays)
            assert max(delays) - min(delays) > top * (1 - floor) * 0.5, "spread out, not in step"


def test_the_http_wrapper_and_the_outbox_use_it() -> None:
    client = HttpClient("https://example.social", backoff_base=0.5, backoff_cap=4.0)
    assert client.backoff == Backoff(0.5, 4.0)
    assert RETRY.floor == 0.5 and RETRY.cap == 10.0
