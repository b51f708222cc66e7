"""The reply race through the command line: two shells run `socialtui reply ITEM ...` on the same
item at the same moment, N times, on the sandbox over a real socket; the server counts the replies.

    .venv/bin/python bench/reply_race.py --engine files|postgresql [--rounds 50]

Prints per round nothing, at the end: rounds, replies on the server per item (doubles must be 0),
how the losing shell was told (its exit status and message), and exits 1 on any double or on a
round where neither shell sent. `--engine postgresql` starts a throw-away cluster (tests/pgcluster.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from socialtui.sandbox import World, start
from socialtui.sandbox.server import demo_world

ROOT = Path(__file__).resolve().parent.parent
SOCIALTUI = [sys.executable, "-m", "socialtui"]


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOCIALTUI_CONFIG": str(config)}
    return subprocess.run([*SOCIALTUI, *args], env=env, capture_output=True, text=True, timeout=120)


def brand_replies(world: World) -> Counter[str]:
    """Replies by a brand account, counted per parent post (Mastodon status id or Bluesky URI)."""
    counts: Counter[str] = Counter()
    with world.lock:
        for parent, children in world.replies.items():
            for child in children:
                status = world.statuses.get(child)
                if status and world.m_accounts[status.account_id].brand_key:
                    counts[parent] += 1
        brand_dids = {actor.did for actor in world.bluesky_brands()}
        for parent, children in world.b_replies.items():
            counts[parent] += sum(1 for uri in children if uri.split("/")[2] in brand_dids)
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=("files", "postgresql"), default="files")
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    cluster = None
    with tempfile.TemporaryDirectory(prefix="socialtui-race-") as tmp:
        world = demo_world()
        sandbox = start(world, port=0, write_config=Path(tmp) / "config.toml", traffic=False)
        config = Path(tmp) / "config.toml"
        try:
            if args.engine == "postgresql":
                sys.path.insert(0, str(ROOT / "tests"))
                from pgcluster import PgCluster

                cluster = PgCluster().start()
                url = cluster.create_database("race")
                text = config.read_text().replace("[team]\n", f'[team]\nstore = "{url}"\n', 1)
                config.write_text(text)
            before = brand_replies(world)
            sync = run(config, "sync", "--once")
            if sync.returncode not in (0, 1):
                print(sync.stdout, sync.stderr, file=sys.stderr)
                return 2
            status = json.loads(run(config, "status", "--json", "--all").stdout)
            items = [entry for entry in status["queue"]][: args.rounds]
            if len(items) < args.rounds:
                print(f"only {len(items)} unanswered items in the sandbox; racing on those", file=sys.stderr)
            env = {**os.environ, "SOCIALTUI_CONFIG": str(config)}
            outcomes: Counter[str] = Counter()
            none_sent = 0
            for n, entry in enumerate(items):
                racers = [
                    subprocess.Popen(
                        [*SOCIALTUI, "--operator", who, "reply", entry["id"], f"Thanks, from {who} ({n})"],
                        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                    )
                    for who in ("alice", "bob")
                ]
                results = [(racer.wait(120), *racer.communicate()) for racer in racers]
                sent = [r for r in results if r[0] == 0]
                none_sent += not sent
                for code, _out, err in results:
                    if code != 0:
                        outcomes[f"exit {code}: {err.strip().splitlines()[-1][:90] if err.strip() else '-'}"] += 1
            after = brand_replies(world)
            new = Counter({parent: after[parent] - before.get(parent, 0) for parent in after})
            per_parent = Counter(v for v in new.values() if v)
            doubles = sum(1 for v in new.values() if v > 1)
            print(f"engine {args.engine}: {len(items)} rounds of two shells replying to one item at once")
            print(f"  replies on the server per item: {dict(sorted(per_parent.items()))}  doubles: {doubles}  (budget 0)")
            print(f"  rounds where neither sent: {none_sent}")
            for line, count in outcomes.most_common():
                print(f"  the other shell, {count}x: {line}")
            return 1 if doubles or none_sent else 0
        finally:
            sandbox.stop()
            if cluster is not None:
                cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
