"""The reply race through the command line, on each engine: two shells run `socialtui reply ITEM
TEXT` on the same item at the same moment against the sandbox over a real socket, round after round;
the server counts the replies. `bench/reply_race.py` runs the same race with 50 rounds."""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

from socialtui.config import load_config
from socialtui.sandbox import start
from socialtui.sandbox.server import demo_world
from socialtui.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from reply_race import race  # noqa: E402

ROUNDS = 10
REFUSED = re.compile(
    r"socialtui: not sent: (?P<item>\S+) (?:"
    r"already has a reply (?:queued|sending) by (?P<by>\w+) \(queued \d\d:\d\d:\d\d \S+\); nothing was queued"
    r"|has been (?:answered|replied to|replied to by the account) meanwhile \(use --force to reply again\)"
    r"|has been answered meanwhile on the server \(\S+; use --force to reply again\))"
)


def test_two_shells_replying_at_once_send_one_reply_and_the_other_is_told_why(
    tmp_path: Path, store_engine: str
) -> None:
    world = demo_world()
    with start(world, write_config=tmp_path / "config.toml", traffic=False) as sandbox:
        result = race(sandbox.config_path, world, ROUNDS)
        store = Store(load_config(sandbox.config_path).team.data_dir)
        assert store.engine.name == store_engine
        outbox = store.outbox()

    assert len(result.rounds) == ROUNDS
    assert result.doubles == 0, f"doubles on the server: {result.replies}"
    assert Counter(n for n in result.replies.values() if n) == {1: ROUNDS}, "one reply on the server per item"
    for race_round in result.rounds:
        (winner,) = race_round.senders
        assert winner.stdout.strip().splitlines()[-1].startswith("Sent: "), winner.stdout
        (loser,) = [shell for shell in race_round.shells if shell is not winner]
        assert loser.code == 1, loser
        told = REFUSED.fullmatch(loser.stderr.strip())
        assert told is not None, f"the other shell was not told clearly: {loser.stderr!r}"
        assert told["item"] == race_round.item
        assert told["by"] in (None, winner.operator), "the reply on its way is named with its sender"
        assert "Sent" not in loser.stdout
    entries = Counter((e.item, e.operator, e.state) for e in outbox)
    for race_round in result.rounds:
        (winner,) = race_round.senders
        assert entries[(race_round.item, winner.operator, "sent")] == 1
    assert sum(n for (item, _, _), n in entries.items() if item in {r.item for r in result.rounds}) == ROUNDS
