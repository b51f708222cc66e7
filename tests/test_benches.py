"""The benchmarks run: each at a toy size, so that a change to the code they drive cannot leave them
broken until the next session measures (a follower's method renamed once left every sighting of the
contention scenario missed, with the bench still printing its figures)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_bench(*argv: str) -> str:
    done = subprocess.run(
        [sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def test_the_store_bench_s_contention_scenario_sees_every_action() -> None:
    out = run_bench(
        "bench/store.py",
        *("--accounts", "2", "--posts", "50", "--open-items", "40", "--contention", "--seconds", "2"),
        *("--followers", "2", "--operators", "2"),
    )
    found = re.search(r"(\d+) of (\d+) \(action, follower\) sightings, .*?, (\d+) errors", out)
    assert found, out
    seen, expected, errors = map(int, found.groups())
    assert errors == 0 and seen == expected > 0, out
    assert "contention_seen_by_follower_p95" in out, out
