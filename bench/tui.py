"""Dashboard benchmark: the team's worth of data of bench/store.py, and what an operator waits on.

The store: 20 accounts x 10,000 cached posts, 2,000 open items (and as many answered), contacts and
handoffs (`bench.store.build_store`, bulk and linear). The dashboard runs headless at 80x24 in a fresh
process, with the store followed every second as in production (no network: the adapters are stubs).

    python bench/tui.py [--engine files|postgresql] [--accounts 20] [--posts 10000]
                        [--open-items 2000|20000|50000] [--answered-per-open 1] [--size 80x24]

`--engine postgresql` starts a throw-away cluster (tests/pgcluster.py) and puts the store there.

Prints, each against its budget:
    cold_start_first_paint   from starting the process to the first paint showing the oldest open item
                             with the right count of open items in the header
    queue_step               moving the selection one row: key press to the repainted screen (median)
    end_to_last_row          `End`: key press to the paint showing the newest item selected (median of 3)
    filter_keystroke         one key typed in the `/` filter to the repainted queue (median)
    rss_after_start          resident memory once the first full paint is done
    rss_after_full_reading   resident memory once every open item is read and shown: it may grow with
                             the open items (the queue), never with the answered ones or the own posts
                             (RSS_BASE_MB + RSS_PER_OPEN_KB per open item)
    another_operator_seen    another operator marks an item done: from the commit to the paint
                             without it (the slowest of SEEN_ROUNDS)
    timeline_open            `t`: key press to the timelines' rows in their table (the app idle after),
                             and what they add to the memory (TIMELINE_RSS_MB: they hold what they
                             show, the newest 500 posts, not the store)
    health_write_reading     another process rewrites an account's health only (a live poller's
                             confirmation, once per poll interval and live account): how long the
                             dashboard's reading it wakes takes (median of HEALTH_ROUNDS; the full
                             reading after an operator's action is printed beside it)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

PROCESS_STARTED = time.time()  # before any import: the child's cold start counts its imports

import argparse  # noqa: E402
import asyncio  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BUDGETS = {
    "cold_start_first_paint": 1.5,
    "queue_step": 50.0,
    "end_to_last_row": 200.0,
    "filter_keystroke": 100.0,
    "rss_after_start": 150.0,
    "another_operator_seen": 2.0,
    "health_write_reading": 50.0,
    "timeline_open": 1.5,
}
RSS_BASE_MB = 100.0
"""rss_after_full_reading's budget without open items: the process and its UI (`rss_after_start`
is 60-100 MB with the first look's head of the queue)."""
RSS_PER_OPEN_KB = 4.0
"""...and per open item: the item decoded (about 650 bytes), its queue entry and row (about 1 KB),
and its share of what the bench's store ties to each open item, held slim or as a fingerprint (an
answered item, an own post, half an outbox entry and half a state) and the store's caches of them.
At 50,000 open items that is 295 MB: a dashboard that held the whole store decoded took 360 MB
(files) and 310 MB (PostgreSQL); holding the working set, 322 MB and 266 MB; with the own posts, the
done states and the answered items not held (and the engines' caches of them gone), 202 and 211 MB."""
TIMELINE_RSS_MB = 20.0
"""What opening the timelines may add to the dashboard's memory: they hold what they show (the
newest 500 posts), not the store (at bdf352e they added 114 MB at 20,000 open items)."""
STEPS = 40
SEEN_ROUNDS = 5
HEALTH_ROUNDS = 5


def verdict(value: float, budget: float) -> str:
    return "ok" if value <= budget else "over"


# --- the measured process ------------------------------------------------------------------------


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def child(
    config_path: str, size: tuple[int, int], expected: int, oldest: list[str], newest: list[str]
) -> None:
    from dataclasses import replace
    from datetime import datetime, timedelta

    from textual import events

    from socialtui.clock import Clock
    from socialtui.config import load_config
    from socialtui.model import AccountHealth, Actor, Item, Post
    from socialtui.networks.base import ReplyDraft
    from socialtui.store import open_store
    from socialtui.tui.app import SocialApp
    from socialtui.tui.widgets.accounts import AccountsPanel
    from socialtui.tui.widgets.header import HeaderBar
    from socialtui.tui.widgets.queue import QueueTable

    now = datetime.fromisoformat(os.environ["SOCIALTUI_NOW"])

    class StubAdapter:
        """No network: a thread of one post, replies that never leave."""

        def __init__(self, account: object) -> None:
            self.account = account

        async def fetch_thread(self, post: Post) -> list[Post]:
            return [post]

        def prepare_reply(self, item: Item, text: str, *, visibility: str | None = None) -> ReplyDraft:
            return ReplyDraft(text, item.post.remote_id, "public", "", (), len(text), 500, bool(text))

        def new_idempotency_key(self) -> str:
            return "bench"

        async def aclose(self) -> None:
            pass

    class RunningClock(Clock):
        """The bench's `now` at start, then running as the wall clock does: the dashboard's readings
        see time pass, as in production (a clock that stands still lets every reading be skipped)."""

        def __init__(self, at: datetime) -> None:
            self.started = time.monotonic()
            self.at = at

        def now(self) -> datetime:
            return self.at + timedelta(seconds=time.monotonic() - self.started)

    config = load_config(config_path)
    store = open_store(config)
    clock = RunningClock(now)
    app = SocialApp(config, store, clock, Actor("bench", "Bench"), adapter_factory=StubAdapter, sync=False)  # type: ignore[arg-type]
    result: dict[str, float | list[float]] = {}

    async def run() -> None:
        async with app.run_test(size=size) as pilot:
            screen = app.screen
            queue = screen.query_one(QueueTable)
            assert queue.row_count == 0, "the queue filled before it could be watched"
            paints: list[float] = []
            first: list[float] = []
            full: list[float] = []
            original = screen._compositor_refresh
            header = screen.query_one(HeaderBar)

            def painted() -> None:
                original()
                paints.append(time.perf_counter())
                if not first and queue.row_count and queue.shown_ids[0] in oldest:
                    data = header.dashboard
                    if data is not None and getattr(data, "unanswered", len(data.queue)) == expected:
                        first.append(time.time())  # the oldest item on screen, the right count above
                if not full and len(queue.entries) >= expected:
                    full.append(time.time())  # every open item read

            screen._compositor_refresh = painted  # type: ignore[method-assign]
            while not first:
                await asyncio.sleep(0.002)
            result["first_paint"] = first[0]
            result["first_paint_cpu"] = time.process_time()  # the process's CPU, all its threads
            result["rss"] = rss_mb()
            while not full:
                await asyncio.sleep(0.002)
            result["full_paint"] = full[0]
            result["rss_full"] = rss_mb()
            result["rows"] = len(queue.entries)
            await pilot.pause(1.5)  # the next readings of the store come and go: steps run among them
            # When the cursor actually moved (the paint showing it necessarily comes after).
            moves: list[float] = []
            watch_cursor = queue.watch_cursor_coordinate

            def moved(old: object, new: object) -> None:
                moves.append(time.perf_counter())
                watch_cursor(old, new)

            queue.watch_cursor_coordinate = moved  # type: ignore[method-assign]
            steps: list[float] = []
            for _ in range(STEPS):
                pressed = time.perf_counter()
                app.post_message(events.Key("down", None))
                while not moves or moves[-1] < pressed:
                    await asyncio.sleep(0.0005)
                at = moves[-1]
                while not paints or paints[-1] < at:
                    await asyncio.sleep(0.0005)
                shown_at = next(paint for paint in paints if paint >= at)
                steps.append((shown_at - pressed) * 1000)
                await asyncio.sleep(0.03)  # a person's key repeat is slower than this
            result["steps"] = steps

            async def shown_after(pressed: float, done: Callable[[], bool]) -> float:
                """ms from `pressed` to the first paint after `done()` became true."""
                while not done():
                    await asyncio.sleep(0.0005)
                at = time.perf_counter()
                while not paints or paints[-1] < at:
                    await asyncio.sleep(0.0005)
                return (next(paint for paint in paints if paint >= at) - pressed) * 1000

            ends: list[float] = []
            for _ in range(3):
                app.post_message(events.Key("home", None))
                await pilot.pause()
                pressed = time.perf_counter()
                app.post_message(events.Key("end", None))
                ends.append(await shown_after(pressed, lambda: queue.selected_id in newest))
                await asyncio.sleep(0.05)
            result["ends"] = ends
            app.post_message(events.Key("home", None))
            await pilot.pause()
            await pilot.press("slash")
            await pilot.pause()
            typed: list[float] = []
            watch_query = queue.watch_query_text
            filtered: list[float] = []

            def query_changed() -> None:
                watch_query()
                filtered.append(time.perf_counter())

            queue.watch_query_text = query_changed  # type: ignore[method-assign]
            for key in "brand03":
                pressed = time.perf_counter()
                app.post_message(events.Key(key, key))
                typed.append(
                    await shown_after(pressed, lambda at=pressed: bool(filtered) and filtered[-1] >= at)
                )
                await asyncio.sleep(0.03)
            result["typed"] = typed
            result["rss_after_steps"] = rss_mb()

            # Every reading of the store from here on is timed: (the reading, took in ms, the queue
            # made again?), for the readings after another operator's action and after a health write.
            readings: list[tuple[Any, float, bool]] = []
            follower = app.follower
            read = follower.read

            def timed_read(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                reading = read(*args, **kwargs)
                last = readings[-1][0] if readings else app.dashboard
                made_again = last is None or reading.queue is not last.queue
                readings.append((reading, (time.perf_counter() - started) * 1000, made_again))
                return reading

            follower.read = timed_read  # type: ignore[method-assign]

            def reading_of(saw: Callable[[Any], bool]) -> tuple[float, bool]:
                """(ms, the queue made again) of the first reading that saw a write."""
                return next((took, again) for reading, took, again in readings if saw(reading))

            # Another operator marks items done (another store object on the same data dir, in this
            # process, as the tests do): how long until this dashboard has repainted without each.
            other = open_store(config)
            someone = Actor("other", "Other")
            seen: list[float] = []
            after_action: list[float] = []
            try:
                # Items on screen (the filter typed above shows one account's): an item the table does
                # not show would be "gone" before any reading saw it done.
                visible = set(queue.shown_ids)
                on_screen = [e for e in app.dashboard.queue if e.item.id in visible] if app.dashboard else []
                for entry in on_screen[:SEEN_ROUNDS]:
                    other.mark_done(entry.item, "bench", someone, now)
                    committed = time.perf_counter()
                    while entry.item.id in queue.shown_ids:
                        await asyncio.sleep(0.002)
                    gone = time.perf_counter()
                    while not paints or paints[-1] < gone:
                        await asyncio.sleep(0.002)
                    seen.append(paints[-1] - committed)
                    done = entry.item.id
                    after_action.append(
                        reading_of(lambda r, done=done: all(e.item.id != done for e in r.queue))[0]
                    )
                # A live poller's confirmation (`sync`, once per poll interval and live account):
                # another process moves an account's `live_until` on. Written just after a reading,
                # as a confirmation lands between two timed readings: how long the reading it wakes
                # takes, and until the accounts' rows are repainted with it.
                account = config.accounts[0].id
                at = clock.now()
                live = AccountHealth(account, "ok", last_sync_at=at, last_ok_at=at, mode="live")
                confirmed: list[float] = []
                after_health: list[float] = []
                remade = 0
                panel = screen.query_one(AccountsPanel)
                for round in range(HEALTH_ROUNDS + 1):  # the first (never synced -> ok) is not counted
                    while not app._reading_idle.is_set():  # the last reading done
                        await asyncio.sleep(0.002)
                    live = replace(live, live_until=clock.now() + timedelta(minutes=1 + round))
                    other.set_health(live)
                    committed = time.perf_counter()

                    def shown(until: datetime | None = live.live_until) -> bool:
                        data = panel.dashboard
                        health = data.snapshot.health.get(account) if data is not None else None
                        return health is not None and health.live_until == until

                    while not shown():
                        await asyncio.sleep(0.002)
                    at_shown = time.perf_counter()
                    while not paints or paints[-1] < at_shown:
                        await asyncio.sleep(0.002)
                    if round:
                        confirmed.append(paints[-1] - committed)
                        took, again = reading_of(
                            lambda r, until=live.live_until: (
                                getattr(r.snapshot.health.get(account), "live_until", 0) == until
                            )
                        )
                        after_health.append(took)
                        remade += again
            finally:
                other.close()
            result["seen"] = seen
            result["after_action_ms"] = after_action
            result["confirmed"] = confirmed
            result["after_health_ms"] = after_health
            result["health_remade"] = remade

            # The timelines: from `t` to the paint of their rows (the newest 500 of every account's
            # items, own posts and followed posts), and the memory with them open.
            from socialtui.tui.screens.timeline import TimelineScreen

            await pilot.press("escape", "escape")  # the queue's filter emptied and closed
            while queue.query_text or len(queue.shown_ids) != len(queue.entries):
                await asyncio.sleep(0.01)
            await pilot.pause()
            gc.collect()
            result["rss_before_timeline"] = rss_mb()
            # (The pushed screen's own paints are not hooked: to the rows in its table, then the
            # app idle, its paint made.)
            pressed = time.perf_counter()
            await pilot.press("t")
            while not (isinstance(app.screen, TimelineScreen) and app.screen._rows):
                await asyncio.sleep(0.0005)
            await pilot.pause()
            result["timeline_ms"] = (time.perf_counter() - pressed) * 1000
            gc.collect()
            result["rss_timeline"] = rss_mb()

    asyncio.run(run())
    print(json.dumps(result))


# --- the driver ----------------------------------------------------------------------------------


def build(
    directory: Path, accounts: int, posts: int, open_items: int, url: str | None, answered_per_open: int = 1
) -> tuple[Path, str, int]:
    """The store of bench/store.py; (config path, the fixed `now`, how many items are open)."""
    from bench.store import NOW, build_store, open_engine

    config_path, store = build_store(
        directory,
        accounts=accounts,
        posts=posts,
        open_items=open_items,
        answered_per_open=answered_per_open,
        engine=lambda: open_engine(url),
        store_url=url,
    )
    store.close()
    return config_path, NOW.isoformat(), (open_items // accounts) * accounts


def open_ids(accounts: int, k: int) -> str:
    """Each account's open item number `k` of bench/store.py's set-up (items `k` of all accounts are
    received at the same time: 0 the newest, (1 + answered per open) x (open per account - 1) the
    oldest open)."""
    from socialtui.model import item_id

    return ",".join(item_id(f"brand{n:02d}", f"brand{n:02d}-in-{k:06d}") for n in range(accounts))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engine", choices=("files", "postgresql"), default="files")
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--posts", type=int, default=10_000, help="cached posts per account")
    parser.add_argument("--open-items", type=int, default=2000)
    parser.add_argument(
        "--answered-per-open",
        type=int,
        default=1,
        help="answered items per open item (the store grows, the working set does not)",
    )
    parser.add_argument("--size", default="80x24")
    parser.add_argument("--child", nargs=3, metavar=("CONFIG", "SIZE", "EXPECTED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        config_path, size, expected = args.child
        width, height = (int(n) for n in size.split("x"))
        child(
            config_path,
            (width, height),
            int(expected),
            os.environ["BENCH_OLDEST"].split(","),
            os.environ["BENCH_NEWEST"].split(","),
        )
        return 0
    cluster = None
    url = None
    if args.engine == "postgresql":
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        from pgcluster import PgCluster

        cluster = PgCluster().start()
        url = cluster.create_database("bench")
    try:
        return drive(args, url)
    finally:
        if cluster is not None:
            cluster.stop()


def drive(args: argparse.Namespace, url: str | None) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        started = time.perf_counter()
        config_path, now, expected = build(
            directory, args.accounts, args.posts, args.open_items, url, args.answered_per_open
        )
        sizes: dict[str, int] = {}
        for part in (directory / "data" / "tables").glob("*/*.json"):  # per table, all its files
            sizes[part.parent.name] = sizes.get(part.parent.name, 0) + part.stat().st_size
        print(
            f"# {args.engine}: {args.open_items} open items ({args.answered_per_open} answered per open item),"
            f" {args.accounts} accounts x {args.posts} posts;"
            f" store built in {time.perf_counter() - started:.1f}s: "
            + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sorted(sizes.items())),
            flush=True,
        )
        env = {
            **os.environ,
            "SOCIALTUI_NOW": now,
            "PYTHONDONTWRITEBYTECODE": "1",
            "BENCH_NEWEST": open_ids(args.accounts, 0),
            "BENCH_OLDEST": open_ids(
                args.accounts, (1 + args.answered_per_open) * (args.open_items // args.accounts - 1)
            ),
        }
        # As installed (a wheel's modules are byte-compiled at install): the child does not compile
        # the package's sources on its clock, as a run from a fresh checkout would.
        root = Path(__file__).resolve().parent.parent
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(root / "socialtui")], check=True)
        spawned = time.time()
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(config_path), args.size, str(expected)],
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 1
        result = json.loads(done.stdout.strip().splitlines()[-1])
        if os.environ.get("BENCH_RAW"):
            print(json.dumps({k: v for k, v in result.items() if isinstance(v, list)}))
    cold = result["first_paint"] - spawned
    print(
        f"# cold start: {result['first_paint_cpu']:.2f} s of CPU to the first paint (the figure a busy machine disturbs least)"
    )
    print(
        f"# every open item read and shown after {result['full_paint'] - spawned:.2f} s, RSS then {result['rss_full']:.0f} MB"
    )
    steps = sorted(result["steps"])
    step = statistics.median(steps)
    print(
        f"# {result['rows']} rows in the queue at {args.size}; steps: median {step:.0f} ms, p95 {steps[int(len(steps) * 0.95) - 1]:.0f} ms, max {steps[-1]:.0f} ms"
    )
    print(
        f"cold_start_first_paint: {cold:.2f} s (budget {BUDGETS['cold_start_first_paint']} s) {verdict(cold, BUDGETS['cold_start_first_paint'])}"
    )
    print(
        f"queue_step: {step:.0f} ms (budget {BUDGETS['queue_step']:.0f} ms) {verdict(step, BUDGETS['queue_step'])}"
    )
    end = statistics.median(result["ends"])
    print(
        f"end_to_last_row: {end:.0f} ms (budget {BUDGETS['end_to_last_row']:.0f} ms) {verdict(end, BUDGETS['end_to_last_row'])}"
    )
    typed = statistics.median(result["typed"])
    print(
        f"filter_keystroke: {typed:.0f} ms, max {max(result['typed']):.0f} ms (budget {BUDGETS['filter_keystroke']:.0f} ms) {verdict(typed, BUDGETS['filter_keystroke'])}"
    )
    rss = result["rss"]
    print(
        f"rss_after_start: {rss:.0f} MB (budget {BUDGETS['rss_after_start']:.0f} MB) {verdict(rss, BUDGETS['rss_after_start'])}"
    )
    full_rss = result["rss_full"]
    full_budget = RSS_BASE_MB + RSS_PER_OPEN_KB * result["rows"] / 1024
    print(
        f"rss_after_full_reading: {full_rss:.0f} MB (budget {full_budget:.0f} MB) {verdict(full_rss, full_budget)}"
    )
    seen = result["seen"]
    if seen:
        worst = max(seen)
        print(
            f"another_operator_seen: {worst:.2f} s, the slowest of {len(seen)} (median {statistics.median(seen):.2f} s; budget {BUDGETS['another_operator_seen']} s) {verdict(worst, BUDGETS['another_operator_seen'])}"
        )
    print(
        f"# RSS in use: {full_rss:.0f} MB once every open item is read, {result['rss_after_steps']:.0f} MB after the"
        f" steps, End and the filter, {result['rss_before_timeline']:.0f} MB after the other operators' actions"
        " (two readings of the queue alive at a time; the other operator's store, and its writes' caches, are in"
        " this process too)"
    )
    timeline_s = result["timeline_ms"] / 1000
    grew = result["rss_timeline"] - result["rss_before_timeline"]
    print(
        f"timeline_open: {timeline_s:.2f} s, RSS {result['rss_before_timeline']:.0f} MB before, +{grew:.0f} MB with them"
        f" (budget {BUDGETS['timeline_open']} s, +{TIMELINE_RSS_MB:.0f} MB)"
        f" {verdict(timeline_s, BUDGETS['timeline_open']) if grew <= TIMELINE_RSS_MB else 'over'}"
    )
    if result["after_health_ms"]:
        health = statistics.median(result["after_health_ms"])
        action = statistics.median(result["after_action_ms"])
        print(
            f"# a live confirmation (another process rewrites an account's health): accounts rows repainted after"
            f" median {statistics.median(result['confirmed']) * 1000:.0f} ms; the queue made again by"
            f" {result['health_remade']} of {len(result['after_health_ms'])} of its readings"
        )
        print(
            f"health_write_reading: {health:.1f} ms, max {max(result['after_health_ms']):.1f} ms, the reading a health-only change wakes"
            f" (a full reading, after an operator's action: {action:.0f} ms) (budget {BUDGETS['health_write_reading']:.0f} ms) {verdict(health, BUDGETS['health_write_reading'])}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
