"""Store benchmark: a team's worth of data, and the operations operators wait on.

The store: 20 accounts x 2,000 cached posts (a quarter of them the account's own posts and replies
over the retention period, the rest its home timeline), 2,000 open items, 2,000 answered ones (1,500
by a reply sent through the outbox, 500 marked done), 300 contacts with notes and 60 handoffs.

    python bench/store.py [--accounts 20] [--posts 2000] [--open-items 2000] [--own-share 0.25]

Prints, each against its budget:
    action_commit_p50 / action_commit_p95   an operator action (done, claim, note) committed
    status_end_to_end                        `socialtui status` as a new process, median of 5
    queue_computation                        the unanswered queue from a loaded snapshot, median of 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from socialtui import care
from socialtui.config import load_config
from socialtui.model import Actor, Author, Item, OutboxEntry, Post, item_id, to_record
from socialtui.store import Store

NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
ACCOUNT_TEMPLATE = """
[[accounts]]
id = "brand{n:02d}"
network = "{network}"
server = "https://{network}.example"
handle = "{handle}"
{secret} = "BRAND{n:02d}_SECRET"
active_hours = "Mon-Fri 08:00-20:00, Sat-Sun 10:00-16:00"
timezone = "{tz}"
max_quiet = "4h"
reply_within = "30m"
"""
ZONES = ("Europe/London", "America/New_York", "Europe/Berlin", "Asia/Tokyo", "Australia/Sydney")


def account_handle(n: int) -> tuple[str, str, str]:
    """(network, handle in the config, handle as authors carry it)."""
    if n % 2 == 0:
        return "mastodon", f"@brand{n:02d}@mastodon.example", f"brand{n:02d}@mastodon.example"
    return "bluesky", f"brand{n:02d}.bsky.example", f"brand{n:02d}.bsky.example"


def write_config(directory: Path, accounts: int) -> Path:
    parts = [f'[team]\ndata_dir = "{directory / "data"}"\ntimezone = "Europe/London"\n']
    for n in range(accounts):
        network, handle, _ = account_handle(n)
        secret = "token_env" if network == "mastodon" else "app_password_env"
        parts.append(ACCOUNT_TEMPLATE.format(n=n, network=network, handle=handle, secret=secret, tz=ZONES[n % len(ZONES)]))
    path = directory / "config.toml"
    path.write_text("\n".join(parts))
    return path


def build_store(
    directory: Path,
    *,
    accounts: int = 20,
    posts: int = 2000,
    open_items: int = 2000,
    own_share: float = 0.25,
    now: datetime = NOW,
) -> tuple[Path, Store]:
    """Write a config and fill its store. Returns (config path, store)."""
    config_path = write_config(directory, accounts)
    store = Store(directory / "data")
    actor = Actor("bench", "Bench")
    per_account_open = open_items // accounts
    own_count = int(posts * own_share)
    home_count = posts - own_count
    items: list[Item] = []
    own: list[Post] = []
    home: list[Post] = []
    states = {}
    outbox = {}
    for n in range(accounts):
        account = f"brand{n:02d}"
        network, _, author_handle = account_handle(n)
        us = Author(network, author_handle, f"us{n}", f"Brand {n}")
        span = timedelta(days=13)
        # Per account: `per_account_open` open items and as many answered (most by an own reply,
        # every fourth marked done); own posts are those replies plus the account's own posts.
        answered = per_account_open
        for k in range(per_account_open + answered):
            crowd = k % 400
            stranger = Author(
                network,
                f"person{crowd}@crowd.example" if network == "mastodon" else f"person{crowd}.crowd.example",
                f"p{crowd}",
                f"Person {crowd}",
            )
            at = now - span * (k / (per_account_open + answered)) - timedelta(minutes=3)
            remote = f"{account}-in-{k:06d}"
            text = f"Question {k} about the order I placed last week, is it on its way?"
            post = Post(account, remote, stranger, text, at, url=f"https://x.example/{remote}")
            item = Item(item_id(account, remote), account, "mention" if k % 3 else "reply", post)
            items.append(item)
            if k % 2 == 0:  # interleaved: open and answered items spread over the whole period
                continue
            if k % 4 == 1:
                states[item.id] = {
                    "item": item.id, "account": account, "done": True, "reason": "thanked",
                    "login": "bench", "operator": "Bench", "at": (at + timedelta(minutes=5)).isoformat(),
                }
                continue
            reply = Post(
                account, f"{account}-re-{k:06d}", us, "Thanks for asking! It ships today.",
                at + timedelta(minutes=20), reply_to=remote, own=True,
            )
            own.append(reply)
            key = f"key-{account}-{k}"
            outbox[key] = to_record(
                OutboxEntry(
                    id=key, item=item.id, account=account, text=reply.text, login="bench", operator="Bench",
                    created_at=at, updated_at=at, state="sent", sent_at=reply.created_at,
                    remote_id=reply.remote_id, in_reply_to=remote,
                )
            )
        plain = max(own_count - sum(1 for p in own if p.account == account), 0)
        for k in range(plain):
            own.append(Post(account, f"{account}-own-{k:06d}", us, f"News from Brand {n}, part {k}", now - span * (k / max(plain, 1)) - timedelta(minutes=40), own=True))
        for k in range(home_count):
            friend = Author(network, f"friend{k % 150}@elsewhere.example", f"f{k % 150}", f"Friend {k % 150}")
            home.append(Post(account, f"{account}-home-{k:06d}", friend, f"Something worth reading, number {k}, with a link https://example.org/{k}", now - span * (k / home_count)))
    store.put_items(items)
    store.put_own_posts(own)
    store.put_home_posts(home)
    with store.ops.write() as db:
        db.table("states").put_many(states)
        db.table("outbox").put_many(outbox)
    for c in range(300):
        store.add_note(f"@person{c}@crowd.example", f"Regular; prefers short answers ({c})", actor, now)
        store.add_note(f"@person{c}@crowd.example", "Asked about refunds before", actor, now)
    for h in range(60):
        store.write_handoff(f"Shift {h}: all calm, watch brand03 in the evening", actor, now - timedelta(hours=8 * h))
    return config_path, store


def report(metric: str, value: float, unit: str, budget: float) -> None:
    verdict = "ok" if value <= budget else "over"
    print(f"{metric}: {value:.1f} {unit} (budget {budget:g} {unit}) {verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--open-items", type=int, default=2000)
    parser.add_argument("--own-share", type=float, default=0.25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        started = time.perf_counter()
        config_path, store = build_store(
            directory, accounts=args.accounts, posts=args.posts, open_items=args.open_items, own_share=args.own_share
        )
        sizes = {p.name: p.stat().st_size for p in (directory / "data").glob("*.json")}
        print(f"# built in {time.perf_counter() - started:.1f}s: " + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sorted(sizes.items())))
        config = load_config(config_path)

        # An operator action: a fresh process's store, as each dashboard has its own.
        store = Store(directory / "data")
        store.states()  # a dashboard has the ops file loaded already
        actor = Actor("alice", "Alice")
        open_items = [i for i in store.items() if i.id not in store.states()][:200]
        timings = []
        for n, item in enumerate(open_items):
            t = time.perf_counter()
            if n % 3 == 0:
                store.mark_done(item, "spam", actor, NOW)
            elif n % 3 == 1:
                store.claim(item, actor, NOW, timedelta(minutes=10))
            else:
                store.add_note(item.post.author.label, "Follow up tomorrow", actor, NOW)
            timings.append((time.perf_counter() - t) * 1000)
        timings.sort()
        report("action_commit_p50", statistics.median(timings), "ms", 25)
        report("action_commit_p95", timings[int(len(timings) * 0.95) - 1], "ms", 25)

        env = {**os.environ, "SOCIALTUI_NOW": NOW.isoformat()}
        runs = []
        for _ in range(5):
            t = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-m", "socialtui", "--config", str(config_path), "status"],
                env=env, capture_output=True, text=True,
            )
            runs.append((time.perf_counter() - t) * 1000)
            if result.returncode != 0:
                print(result.stderr, file=sys.stderr)
                return 1
        report("status_end_to_end", statistics.median(runs), "ms", 300)

        snap = store.snapshot(NOW)
        queue_runs = []
        for _ in range(20):
            t = time.perf_counter()
            queue = care.unanswered_queue(snap.items, snap.own_posts, snap.states, config.accounts, NOW, claims=snap.claims, outbox=snap.outbox)
            queue_runs.append((time.perf_counter() - t) * 1000)
        print(f"# queue: {len(queue)} unanswered of {len(snap.items)} items, {len(snap.own_posts)} own posts")
        report("queue_computation", statistics.median(queue_runs), "ms", 50)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
