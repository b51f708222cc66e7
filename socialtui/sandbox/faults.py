"""Fault injection, request statistics and rate-limit counters, per account.

A fault belongs to an account (a brand's config id such as `acme-mastodon`, or any name
`World.resolve_key` understands) and hits the requests made with that account's credentials:

| kind        | what the client gets                                                                    |
|-------------|-----------------------------------------------------------------------------------------|
| `429`       | 429 with the network's rate-limit headers (reset `seconds` ahead, default 60)           |
| `500`       | a bare 500 (Mastodon: an HTML error page; Bluesky: `InternalServerError`)               |
| `slow`      | the normal answer, `seconds` late (default 2)                                           |
| `timeout`   | the request is carried out, then the answer hangs `seconds` (default 60, at most 120):  |
|             | longer than any client timeout, so a POST is done but its answer never arrives          |
| `malformed` | a 200 whose body is truncated JSON, or (every other time) an HTML page                  |
| `expired`   | Mastodon: 401 `The access token is invalid`; Bluesky: 400 `ExpiredToken` for every      |
|             | access token issued before the fault was set (a refreshed session works again)          |
| `hostile`   | a 400 whose error message holds an OSC window title, a clear-screen and colour          |
|             | sequences (`HOSTILE_ERROR`): what the client prints must never carry them               |
| `drop`      | the streaming API only: the account's open streams are closed at once, and new ones    |
|             | refused (HTTP 503) while the fault lasts                                                |
| `stall`     | the streaming API only: a new stream's handshake hangs `seconds` (default 60), and open |
|             | streams stop delivering events (they stay open, silent)                                 |
| `none`      | clears the account's fault                                                              |

`count=N` limits a fault to the next N requests it hits; `count=None` keeps it until cleared. The
streaming API (`GET /api/v1/streaming`, a WebSocket) is hit at its handshake by every kind: the REST
kinds refuse it (with their status), `slow` and `timeout` delay it; `drop` and `stall` hit only it.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from socialtui.sandbox.world import World

FAULT_KINDS = ("429", "500", "slow", "timeout", "malformed", "expired", "hostile", "drop", "stall", "none")
STREAM_ONLY = ("drop", "stall")
"""Faults of the streaming API alone: REST calls pass them by."""
HOSTILE_ERROR = "\x1b]0;pwned\x07\x1b[2J\x1b[HBad request\x1b[31m: try again\x9b0m\r\nlater"
"""The `hostile` fault's error message: a window title, a clear screen, colours, a C1 CSI, a CR."""
DEFAULT_SECONDS = {"429": 60.0, "slow": 2.0, "timeout": 60.0, "stall": 60.0}
MAX_HANG = 120.0


@dataclass
class Fault:
    kind: str
    count: int | None = None
    seconds: float | None = None
    token_serial: int = 0
    """`expired` on Bluesky: access tokens up to this serial are refused."""
    hits: int = 0

    @property
    def delay(self) -> float:
        seconds = DEFAULT_SECONDS.get(self.kind, 0.0) if self.seconds is None else self.seconds
        return max(0.0, min(float(seconds), MAX_HANG))

    def as_dict(self) -> dict[str, Any]:
        return {"fault": self.kind, "count": self.count, "seconds": self.delay, "hits": self.hits}


class Faults:
    """The faults in force, per account key. Thread-safe (it uses the world's lock)."""

    def __init__(self, world: World) -> None:
        self._world = world
        self._faults: dict[str, Fault] = {}

    def set(self, account: str, kind: str, count: int | None = None, seconds: float | None = None) -> str:
        """Inject `kind` for `account` (any name `World.resolve_key` knows); `none` clears it.
        Returns the account key. KeyError for an unknown account, ValueError for a bad kind/count."""
        kind = str(kind)
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}: expected one of {', '.join(FAULT_KINDS)}")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
            raise ValueError("count must be a positive integer or None")
        if seconds is not None and (not isinstance(seconds, (int, float)) or seconds < 0):
            raise ValueError("seconds must be a number >= 0")
        with self._world.lock:
            key = self._world.resolve_key(account)
            if kind == "none":
                self._faults.pop(key, None)
            else:
                self._faults[key] = Fault(kind, count, seconds, token_serial=self._world.token_serial())
            if kind == "drop":
                self._world.drop_streams(key)
            return key

    def clear(self, account: str | None = None) -> None:
        with self._world.lock:
            if account is None:
                self._faults.clear()
            else:
                self._faults.pop(self._world.resolve_key(account), None)

    def get(self, key: str) -> Fault | None:
        with self._world.lock:
            return self._faults.get(key)

    def take(
        self,
        key: str,
        *,
        token_serial: int | None = None,
        session_call: bool = False,
        streaming: bool = False,
    ) -> Fault | None:
        """The fault that hits this request, counted (and dropped once its count is used up).
        `expired` spares session calls (createSession / refreshSession: how a client recovers) and,
        on Bluesky, access tokens issued after the fault was set. `drop` and `stall` hit only a
        `streaming` handshake."""
        with self._world.lock:
            fault = self._faults.get(key)
            if fault is None:
                return None
            if fault.kind in STREAM_ONLY and not streaming:
                return None
            if fault.kind == "expired":
                if session_call:
                    return None
                if token_serial is not None and token_serial > fault.token_serial:
                    return None
            fault.hits += 1
            if fault.count is not None:
                fault.count -= 1
                if fault.count <= 0:
                    del self._faults[key]
            return fault

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self._world.lock:
            return {key: fault.as_dict() for key, fault in self._faults.items()}


class Stats:
    """Requests per account per endpoint (`GET /api/v1/notifications`, `POST /xrpc/...`)."""

    ANONYMOUS = "-"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def count(self, account: str, endpoint: str) -> None:
        with self._lock:
            self._counts[account][endpoint] += 1

    def snapshot(self) -> dict[str, Any]:
        """`{"accounts": {key: {endpoint: n}}, "total": n}`."""
        with self._lock:
            accounts = {key: dict(sorted(v.items())) for key, v in sorted(self._counts.items())}
        return {"accounts": accounts, "total": sum(sum(v.values()) for v in accounts.values())}

    def requests(self, account: str, endpoint: str | None = None) -> int:
        with self._lock:
            counts = self._counts.get(account, {})
            return counts.get(endpoint, 0) if endpoint else sum(counts.values())

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


@dataclass
class Window:
    limit: int
    remaining: int
    reset_at: datetime
    exceeded: bool


class RateLimits:
    """Fixed-window request counters, like the servers keep (Mastodon: 300 per 5 min per token;
    Bluesky: 3000 per 5 min per account, createSession 30 per 5 min)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], int] = {}

    def hit(self, bucket: str, limit: int, period: timedelta, now: datetime) -> Window:
        seconds = int(period.total_seconds())
        epoch = int(now.timestamp())
        start = epoch - epoch % seconds
        with self._lock:
            used = self._counts.get((bucket, start), 0) + 1
            self._counts[(bucket, start)] = used
            if len(self._counts) > 10_000:
                for key in [k for k in self._counts if k[1] < start]:
                    del self._counts[key]
        reset_at = datetime.fromtimestamp(start + seconds, tz=now.tzinfo)
        return Window(limit, max(0, limit - used), reset_at, used > limit)
