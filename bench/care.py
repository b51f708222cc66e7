"""Care-rule benchmark: the pure rules at a team's scale, on a fixed clock (moved here from the unit
tests, which must not hold wall-clock budgets).

    python bench/care.py [--repeat 5]

Prints, each against its budget (`<metric>: <value> <unit> (budget <value> <unit>) ok|over`), the
best of `--repeat` runs:

    unanswered_queue_2000_items_40000_posts
        `care.unanswered_queue` over 2,000 items and 20 accounts with 2,000 own posts each (a third
        of them replies to the items). An O(items x posts) rule would take minutes. Budget 1 s.
    active_seconds_2000_ages
        `ActiveHours.active_seconds` for 2,000 item ages over up to 14 days (a refresh of the queue),
        the schedule's cache warm as the previous refresh left it. A per-minute loop would take
        seconds. Budget 0.25 s.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from socialtui.care import unanswered_queue
from socialtui.config import AccountConfig
from socialtui.model import Author, Item, Post, item_id
from socialtui.timespec import ActiveHours, parse_duration

NOW = datetime(2024, 6, 3, 20, 0, tzinfo=UTC)  # a Monday
LONDON = ZoneInfo("Europe/London")
STRANGER = Author("mastodon", "sam@example.org", id="9001")


def account(n: int) -> AccountConfig:
    return AccountConfig(
        id=f"acct{n}",
        network="mastodon",
        server="https://example.invalid",
        handle=f"brand{n}@example.social",
        timezone="Europe/London",
        tz=LONDON,
        active_hours=ActiveHours.parse("Mon-Fri 08:00-20:00, Sat-Sun 10:00-16:00", LONDON),
        max_quiet=parse_duration("4h"),
        reply_within=parse_duration("1h"),
    )


def queue_scenario() -> tuple[list[Item], list[Post], list[AccountConfig]]:
    accounts = [account(i) for i in range(20)]
    items = []
    for i in range(2000):
        acct = accounts[i % 20]
        post = Post(acct.id, f"q{i}", STRANGER, "hello", NOW - timedelta(minutes=10 * i))
        items.append(Item(item_id(acct.id, f"q{i}"), acct.id, "mention", post))
    me = {a.id: Author("mastodon", a.handle, id="1") for a in accounts}
    posts = [
        Post(
            a.id,
            f"{a.id}-p{j}",
            me[a.id],
            "",
            NOW - timedelta(minutes=7 * j),
            reply_to=f"q{j}" if j % 3 == 0 else "",
            reply_to_author="9001" if j % 3 == 0 else "",
            own=True,
        )
        for a in accounts
        for j in range(2000)
    ]
    return items, posts, accounts


def best_of(repeat: int, run) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return min(times)


def report(metric: str, value: float, budget: float) -> bool:
    ok = value <= budget
    print(f"{metric}: {value:.3f} s (budget {budget} s) {'ok' if ok else 'over'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    items, posts, accounts = queue_scenario()
    queue = unanswered_queue(items, posts, {}, accounts, NOW)
    assert len(queue) == 2000 - sum(1 for i in range(2000) if i % 3 == 0), "the queue is wrong"
    ok = report(
        "unanswered_queue_2000_items_40000_posts",
        best_of(args.repeat, lambda: unanswered_queue(items, posts, {}, accounts, NOW)),
        1.0,
    )

    hours = ActiveHours.parse("Mon-Fri 08:00-20:00, Sat-Sun 10:00-16:00", LONDON)
    now = datetime(2024, 3, 31, 12, tzinfo=UTC)
    starts = [now - timedelta(minutes=10 * i) for i in range(2000)]
    hours.active_seconds(starts[-1], now)  # warm the cache, as the previous refresh did
    ok &= report(
        "active_seconds_2000_ages",
        best_of(args.repeat, lambda: [hours.active_seconds(start, now) for start in starts]),
        0.25,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
