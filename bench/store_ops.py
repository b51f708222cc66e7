"""Per-operation figures of the files engine that the machine's load does not change much: what one
poller page of 40 items and one operator action cost in CPU, files and bytes written, fsyncs and
time the write locks were held, and what a following dashboard's refresh costs after each.

    python bench/store_ops.py --items 10000 [--pages 40] [--actions 30] [--beside]

One process, one operation at a time, on a store built as `bench/store.py` builds it (the contention
scenario's poller and operators, without the contention): compare branches with it when the
machine is too busy for the contention figures to mean much. Files engine only.

The follower is another dashboard's (an engine of its own); with `--beside` it shares the writer's
engine, as a dashboard's follower does with its operator's actions (what the follower read is
what the actions find in the process).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.store import NOW, PAGE, POSTS_CAP, build_store  # noqa: E402
from socialtui.model import Actor, Author, Item, OutboxEntry, Post, item_id  # noqa: E402
from socialtui.store import Store, files, safefile  # noqa: E402
from socialtui.store.files_engine import FilesEngine  # noqa: E402
from socialtui.store.follow import Follower  # noqa: E402

FOLLOWED = ("items", "states", "claims", "outbox")


class Meter:
    """Counts fsyncs, files and bytes written, and how long each exclusive lock was held."""

    def __init__(self) -> None:
        self.fsyncs = 0
        self.files = 0
        self.bytes = 0
        self.held: list[tuple[str, float]] = []
        real_fsync, real_many, real_hold = os.fsync, safefile.write_atomic_many, files.FileLock.hold
        meter = self

        def fsync(fd: int) -> None:
            meter.fsyncs += 1
            real_fsync(fd)

        def many(batch: Any, *args: Any, **kwargs: Any) -> None:
            meter.files += len(batch)
            meter.bytes += sum(len(data) for _, data, _ in batch)
            real_many(batch, *args, **kwargs)

        @contextmanager
        def hold(lock: files.FileLock, exclusive: bool) -> Iterator[int]:
            with real_hold(lock, exclusive) as fd:
                started = time.perf_counter()
                try:
                    yield fd
                finally:
                    if exclusive:
                        meter.held.append((lock.path.name, (time.perf_counter() - started) * 1000))

        os.fsync = fsync
        safefile.write_atomic_many = many
        files.write_atomic_many = many  # type: ignore[attr-defined]  # imported there by name
        files.FileLock.hold = hold  # type: ignore[method-assign]

    def reset(self) -> None:
        self.fsyncs = self.files = self.bytes = 0
        self.held.clear()


def run(label: str, op: Callable[[int], None], n: int, meter: Meter, follower: Follower) -> None:
    wall, cpu, follow_cpu, held, written, fsyncs, count = [], [], [], [], [], [], []
    for k in range(n):
        meter.reset()
        started, started_cpu = time.perf_counter(), time.process_time()
        op(k)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        # Nested locks (a transaction over several tables) overlap: the longest is the time held.
        held.append(max((ms for _, ms in meter.held), default=0.0))
        written.append(meter.bytes / 1000)
        fsyncs.append(meter.fsyncs)
        count.append(meter.files)
        started_cpu = time.process_time()
        follower.refresh()
        follow_cpu.append((time.process_time() - started_cpu) * 1000)
    med = statistics.median
    print(
        f"{label:<12} CPU {med(cpu):6.1f} ms (wall {med(wall):6.1f} ms), lock held {med(held):6.1f} ms, "
        f"{med(count):.0f} files {med(written):6.0f} kB {med(fsyncs):.0f} fsyncs; "
        f"a follower's refresh after it: CPU {med(follow_cpu):5.1f} ms (max {max(follow_cpu):.1f})  [medians of {n}]",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--actions", type=int, default=30)
    parser.add_argument(
        "--beside", action="store_true", help="the follower shares the writer's engine (a dashboard's own)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        n = args.items
        _, store = build_store(
            directory,
            posts=max(min(n // 2, POSTS_CAP), 1),
            open_items=n // 2,
            contacts=max(n * 300 // 4000, 1),
            handoffs=max(n * 60 // 4000, 1),
        )
        store.close()
        meter = Meter()
        store = Store(directory / "data")
        # Another dashboard's engine, or (--beside) the writer's own.
        follower = Follower(store.engine if args.beside else FilesEngine(directory / "data"), FOLLOWED)
        follower.refresh()
        states = store.states()
        open_items = [item for item in store.items() if item.id not in states]
        random.Random(7).shuffle(open_items)
        actor = Actor("op1", "Operator 1")
        counter = [0]

        def page(_: int) -> None:
            batch = []
            for _ in range(PAGE):
                k = counter[0]
                author = Author(
                    "mastodon", f"new{k % 500}@crowd.example", f"n{k % 500}", f"Newcomer {k % 500}"
                )
                remote = f"brand00-live-{k:07d}"
                post = Post("brand00", remote, author, f"Live question {k}?", NOW - timedelta(seconds=30))
                batch.append(Item(item_id("brand00", remote), "brand00", "mention", post))
                counter[0] += 1
            store.put_items(batch)

        actions = args.actions
        run("poller page", page, args.pages, meter, follower)
        run(
            "mark_done",
            lambda k: store.mark_done(open_items[k], "handled", actor, NOW),
            actions,
            meter,
            follower,
        )
        run(
            "claim",
            lambda k: store.claim(open_items[actions + k], actor, NOW, timedelta(minutes=10)),
            actions,
            meter,
            follower,
        )
        run(
            "note",
            lambda k: store.add_note(
                open_items[2 * actions + k].post.author.contact_key, "Follow up tomorrow", actor, NOW
            ),
            actions,
            meter,
            follower,
        )

        def reply(k: int) -> None:
            item = open_items[3 * actions + k]
            entry = OutboxEntry(
                id=f"bench-reply-{k}",
                item=item.id,
                account=item.account,
                text="Thanks for asking!",
                login=actor.operator,
                operator=actor.operator,
                created_at=NOW,
                updated_at=NOW,
                in_reply_to=item.post.remote_id,
                target=item.post,
            )
            store.outbox_add(entry, actor, NOW)

        run("reply", reply, actions, meter, follower)
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
