"""Listening: posts that name a brand without addressing it (watch terms) become `talk` items.

The poller calls `listen_if_due` once per cycle (`sync.py`); it searches each of the account's watch
terms (`listen` in the config) when the account's listening is due, and stores what it finds as items
of kind `talk`:

- never a post by one of our accounts (any of them: our accounts talk about each other);
- never a post that is already an item (a mention stays a mention; `Store.put_new_items`);
- each term keeps its own cursor (`listen:<term>` in the store), so a quiet term costs one request.

Pace. Listening is due every `listen_every` (default 5m), and never more often than the account's
idle budget allows: a mention-poll cycle costs 2 requests when nothing changed (items, own posts),
the home timeline its pages times `poll_interval / home_poll_interval` more on average, and listening
must keep the total within `IDLE_BUDGET` (3) requests per cycle on average, so with T terms it runs at most every
`T * poll_interval / (IDLE_BUDGET - 2 - home share)`. When it last ran is kept in the store, so the
pace holds across processes and restarts (`sync --once` from cron included).

A server that cannot search words (a Mastodon server without full-text search) answers with
`Unsupported`: the account's health note says so once ("this server searches hashtags only") and the
other terms are still searched; the note goes when the server searches again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from socialtui.care import owners
from socialtui.clock import Clock
from socialtui.config import AccountConfig, Config
from socialtui.model import Item, item_id, parse_time
from socialtui.networks.base import Adapter
from socialtui.networks.errors import AuthExpired, AuthRefused, NetworkFailure, RateLimited, Unsupported
from socialtui.store import Store

IDLE_BUDGET = 3.0
"""Requests per account per mention-poll cycle, on average, when nothing happens."""
BASE_CYCLE = 2.0
"""What a quiet mention-poll cycle costs without listening (items after the cursor, own posts)."""
HOME_REQUESTS = {"mastodon": 3, "bluesky": 1}
"""Requests one home-timeline fetch costs (100 posts: Mastodon pages of 40, Bluesky of 100)."""
LISTEN_BACKFILL = timedelta(days=2)
"""The first search of a term looks this far back: older talk is history, not work."""
LISTEN_LIMIT = 300
"""At most this many posts per term per listen."""
LAST_RUN = "listen:at"


@dataclass
class Heard:
    """What one call of `listen_if_due` did."""

    due: bool = False
    new_items: int = 0
    requests: int = 0
    note: str = ""
    """What the server cannot do (kept as the account's health note)."""
    error: str = ""
    """A failure that stopped listening this time (the next listen tries again)."""


def listen_interval(account: AccountConfig, config: Config) -> timedelta:
    """How often the account's watch terms are searched: `listen_every`, or slower when the terms
    would otherwise push the idle cost over `IDLE_BUDGET` requests per mention-poll cycle."""
    team = config.team
    poll = team.poll_interval.total_seconds()
    home_share = HOME_REQUESTS.get(account.network, 1) * poll / team.home_poll_interval.total_seconds()
    spare = max(IDLE_BUDGET - BASE_CYCLE - home_share, 0.1)
    floor = timedelta(seconds=len(account.listen) * poll / spare)
    return max(account.listen_every, floor)


def cursor_key(term: str) -> str:
    return f"listen:{term}"


async def listen_if_due(
    store: Store, adapter: Adapter, account: AccountConfig, config: Config, clock: Clock
) -> Heard:
    """Search the account's watch terms if listening is due; store what is new as `talk` items.

    Raises the failures that concern the whole account (rate limits, refused credentials), as the
    poller's other requests do; any other failure ends this listen and is returned as `error`."""
    heard = Heard()
    if not account.listen:
        return heard
    now = clock.now()
    last = store.cursor(account.id, LAST_RUN)
    if last:
        try:
            if now - parse_time(last) < listen_interval(account, config):
                return heard
        except ValueError:
            pass  # a damaged mark: listen now, and write a good one
    heard.due = True
    # Marked before searching: a failing server is tried again at the listening pace, not every cycle.
    store.set_cursor(account.id, LAST_RUN, now.isoformat())
    ours = owners(config.accounts)
    before = adapter.requests
    notes: list[str] = []
    try:
        for term in account.listen:
            key = cursor_key(term)
            cursor = store.cursor(account.id, key)
            try:
                page = await adapter.search_talk(term, cursor, now - LISTEN_BACKFILL, LISTEN_LIMIT)
            except Unsupported as exc:
                note = str(exc).split(" (", 1)[0]
                if note not in notes:
                    notes.append(note)
                continue
            talk = [
                Item(id=item_id(account.id, post.remote_id), account=account.id, kind="talk", post=post)
                for post in page.items
                if ours.account_of(post) is None
            ]
            heard.new_items += len(store.put_new_items(talk))
            if page.cursor and page.cursor != cursor:
                store.set_cursor(account.id, key, page.cursor)
    except (RateLimited, AuthRefused, AuthExpired):
        raise
    except NetworkFailure as exc:
        heard.error = f"listening: {exc}"
    finally:
        heard.requests = adapter.requests - before
    heard.note = "; ".join(notes)
    if not heard.error:
        store.set_health_note(account.id, heard.note)
    return heard


__all__ = ["Heard", "listen_if_due", "listen_interval", "IDLE_BUDGET", "LISTEN_BACKFILL"]
