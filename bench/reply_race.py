"""The reply race through the command line: two shells run `socialtui reply ITEM ...` on the same
item at the same moment, N times, on the sandbox over a real socket; the server counts the replies.

    .venv/bin/python bench/reply_race.py --engine files|postgresql [--rounds 50]

Prints at the end: rounds, replies on the server per item (doubles must be 0), how each round ended
(one shell sent, the other was told why not: its exit status and message), and exits 1 on any
double, on a round where neither shell sent, or on a round where both said they sent.
`--engine postgresql` starts a throw-away cluster (tests/pgcluster.py) and names it in the config.
`tests/test_reply_race.py` runs `race()` in the test suite, on both engines, with fewer rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from socialtui.sandbox import World, start
from socialtui.sandbox.server import demo_world

ROOT = Path(__file__).resolve().parent.parent
SOCIALTUI = [sys.executable, "-m", "socialtui"]
RACERS = ("alice", "bob")
GATED = (
    "import sys\n"
    "import psycopg, httpx\n"  # what a reply imports on its way: not part of the race
    "from socialtui.cli import main\n"
    "print('ready', flush=True)\n"
    "sys.stdin.read(1)\n"
    "raise SystemExit(main(sys.argv[1:]))\n"
)
"""`python -m socialtui ARGS`, but held at a gate once its imports are done: the two shells of a
round start `main()` when the gate opens, within a millisecond or so of each other (started as
plain processes, one is often half a second ahead, and the race is not a race)."""


@dataclass(frozen=True)
class Shell:
    """How one `socialtui reply` ended."""

    operator: str
    code: int
    stdout: str
    stderr: str

    @property
    def said(self) -> str:
        """Its last line (stderr for a refusal), for the report."""
        text = (self.stderr if self.code else self.stdout).strip()
        return text.splitlines()[-1] if text else "-"


@dataclass(frozen=True)
class Round:
    item: str
    shells: tuple[Shell, ...]

    @property
    def senders(self) -> list[Shell]:
        return [s for s in self.shells if s.code == 0]


@dataclass
class RaceResult:
    rounds: list[Round] = field(default_factory=list)
    replies: Counter[str] = field(default_factory=Counter)
    """New brand replies on the server, per parent post."""

    @property
    def doubles(self) -> int:
        return sum(1 for n in self.replies.values() if n > 1)

    @property
    def none_sent(self) -> int:
        return sum(1 for r in self.rounds if not r.senders)

    @property
    def both_sent(self) -> int:
        return sum(1 for r in self.rounds if len(r.senders) > 1)

    def report(self, engine: str) -> list[str]:
        per_item = Counter(n for n in self.replies.values() if n)
        lines = [
            f"engine {engine}: {len(self.rounds)} rounds of two shells replying to one item at once",
            f"  replies on the server per item: {dict(sorted(per_item.items()))}  doubles: {self.doubles}  (budget 0)",
            f"  rounds where neither sent: {self.none_sent}; where both said they sent: {self.both_sent}  (budget 0)",
        ]
        told = Counter(
            f"exit {s.code}: {_generic(s.said, r.item)[:100]}"
            for r in self.rounds
            for s in r.shells
            if s.code != 0
        )
        lines.extend(f"  the other shell, {count}x: {line}" for line, count in told.most_common())
        return lines


def _generic(line: str, item: str) -> str:
    """A loser's message with the round's specifics (item id, time) taken out, to count alike ones."""
    line = line.replace(item, "ITEM")
    for who in RACERS:
        line = line.replace(f"by {who} ", "by OPERATOR ")
    head, sep, _ = line.partition(" (queued ")
    return head + (" (queued HH:MM:SSZ); nothing was queued" if sep else "")


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


def unanswered(config: Path) -> list[str]:
    """The unanswered items' ids, oldest first, as `socialtui status --json` lists them."""
    status = run(config, "status", "--json", "--all")
    if status.returncode not in (0, 1, 2):
        raise RuntimeError(f"socialtui status failed ({status.returncode}): {status.stderr}")
    return [entry["item"] for entry in json.loads(status.stdout)["unanswered"]]


def race(config: Path, world: World, rounds: int) -> RaceResult:
    """Sync once, then `rounds` times start two `socialtui reply` shells on one unanswered item at
    the same moment and wait for both; count the brand replies the server received meanwhile."""
    sync = run(config, "sync", "--once")
    if sync.returncode not in (0, 1):
        raise RuntimeError(f"socialtui sync --once failed ({sync.returncode}): {sync.stderr}")
    items = unanswered(config)[:rounds]
    if len(items) < rounds:
        print(f"only {len(items)} unanswered items in the sandbox; racing on those", file=sys.stderr)
    before = brand_replies(world)
    env = {**os.environ, "SOCIALTUI_CONFIG": str(config)}
    result = RaceResult()
    for n, item in enumerate(items):
        racers = [
            (
                who,
                subprocess.Popen(
                    [
                        sys.executable,
                        "-c",
                        GATED,
                        "--operator",
                        who,
                        "reply",
                        item,
                        f"Thanks, from {who} ({n})",
                    ],
                    env=env,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
            )
            for who in RACERS
        ]
        for _, racer in racers:
            assert racer.stdout is not None
            ready = racer.stdout.readline()
            if ready.strip() != "ready":
                raise RuntimeError(f"a racing shell did not start: {ready!r} {racer.communicate()[1]}")
        for _, racer in racers:  # the gate: both go
            assert racer.stdin is not None
            racer.stdin.write("g")
            racer.stdin.flush()
        shells = []
        for who, racer in racers:
            out, err = racer.communicate(timeout=120)
            shells.append(Shell(who, racer.returncode, out, err))
        result.rounds.append(Round(item, tuple(shells)))
    after = brand_replies(world)
    result.replies = Counter({parent: after[parent] - before.get(parent, 0) for parent in after})
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engine", choices=("files", "postgresql"), default="files")
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    cluster = None
    with tempfile.TemporaryDirectory(prefix="socialtui-race-") as tmp:
        world = demo_world()
        config = Path(tmp) / "config.toml"
        sandbox = start(world, port=0, write_config=config, traffic=False)
        try:
            if args.engine == "postgresql":
                sys.path.insert(0, str(ROOT / "tests"))
                from pgcluster import PgCluster

                cluster = PgCluster().start()
                url = cluster.create_database("race")
                text = config.read_text().replace("[team]\n", f'[team]\nstore = "{url}"\n', 1)
                config.write_text(text)
            result = race(config, world, args.rounds)
            print("\n".join(result.report(args.engine)))
            return 1 if result.doubles or result.none_sent or result.both_sent else 0
        finally:
            sandbox.stop()
            if cluster is not None:
                cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
