"""The adapter contract that sync and the outbox use, and the few types it speaks in.

An adapter talks to one managed account's server and answers in the project's own model
(`model.Post`, `model.Item`, `model.Author`): never raw JSON, never httpx objects. Every failure is a
`NetworkFailure` subclass (`errors.py`).
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, runtime_checkable

from socialtui.model import Author, Item, Post

if TYPE_CHECKING:
    import httpx

    from socialtui.config import AccountConfig

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """Who we are on the server, and its posting limits (from `Adapter.verify`)."""

    remote_id: str
    """Mastodon: our account id on the server; Bluesky: our DID."""
    handle: str
    """Mastodon: `user@domain`; Bluesky: the handle."""
    display_name: str
    max_characters: int
    characters_reserved_per_url: int
    """What one URL counts for (Mastodon: 23 by default); 0 where URLs count as written (Bluesky)."""
    url: str = ""

    def author(self, network: str) -> Author:
        return Author(network=network, handle=self.handle, id=self.remote_id, display_name=self.display_name)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One answer of a paged fetch.

    `cursor` is opaque: store it and pass it back next time. `done` is False when more is waiting
    right now (the `limit` stopped us): call again with the new cursor before the next cycle.
    """

    items: list[T]
    cursor: str | None
    done: bool = True


@dataclass(frozen=True, slots=True)
class ReplyDraft:
    """A reply as the network will see it, checked by its rules. Made by `Adapter.prepare_reply`."""

    text: str
    """The text to send (Mastodon: the author mention added at the start when it was missing)."""
    in_reply_to: str
    """The remote id of the post answered."""
    visibility: str
    spoiler_text: str
    langs: tuple[str, ...]
    length: int
    """By the network's rules (Mastodon: graphemes, URLs as 23, mentions as `@user`, CW included)."""
    max_length: int
    ok: bool
    problem: str = ""
    """Why it can't be sent as it is (empty, too long), for the composer to show."""


@runtime_checkable
class Adapter(Protocol):
    """One managed account on one network. Methods raise `NetworkFailure` subclasses only."""

    network: str
    account: AccountConfig

    @property
    def requests(self) -> int:
        """HTTP requests sent so far (for "requests per account per cycle")."""
        ...

    @property
    def max_length(self) -> int: ...

    async def verify(self) -> AccountInfo:
        """Check the credentials; learn our remote id, handle and the server's limits."""
        ...

    async def fetch_items(self, cursor: str | None, since: datetime, limit: int) -> Page[Item]:
        """Mentions, replies and quotes newer than `cursor` (oldest first). With no cursor (first run),
        back to `since`, at most `limit`. An adapter may return again items from a short window
        behind its cursor (Bluesky re-reads a few minutes, for posts from slow client clocks): the
        caller keeps items by id, so they never double."""
        ...

    async def fetch_own_posts(self, cursor: str | None, since: datetime, limit: int) -> Page[Post]:
        """The account's own posts and replies (`own=True`), newer than `cursor` (oldest first); like
        `fetch_items`, possibly with some already returned."""
        ...

    async def fetch_home(self, limit: int) -> list[Post]:
        """The newest `limit` posts of the home timeline, newest first."""
        ...

    async def fetch_thread(self, post: Post) -> list[Post]:
        """Ancestors, the post, descendants, in reading order."""
        ...

    async def search_talk(self, term: str, cursor: str | None, since: datetime, limit: int) -> Page[Post]:
        """Public posts naming the watch `term` (words or a phrase, a `#hashtag`, a domain) newer
        than `cursor` (first run: back to `since`, at most `limit`), oldest first, none of our own,
        each once; like `fetch_items`, possibly with some already returned. Raises `Unsupported`
        when the server cannot search such terms (a Mastodon server without full-text search)."""
        ...

    def prepare_reply(self, item: Item, text: str, *, visibility: str | None = None) -> ReplyDraft:
        """The reply as it would be sent, checked by the network's rules (no network access)."""
        ...

    def count_length(self, text: str) -> int: ...

    def new_idempotency_key(self) -> str:
        """Mastodon: a uuid4 hex `Idempotency-Key`; Bluesky: a TID record key."""
        ...

    async def send_reply(self, item: Item, draft: ReplyDraft, key: str) -> Post:
        """Send once (never retried here: the outbox decides). Returns our new post."""
        ...

    async def find_reply(self, item: Item, key: str, text: str) -> Post | None:
        """After an uncertain failure: the reply if the server has it, else None."""
        ...

    def prepare_post(self, text: str, *, visibility: str = "public", spoiler_text: str = "") -> ReplyDraft:
        """A new post (not a reply) as it would be sent, checked by the network's rules."""
        ...

    async def send_post(self, draft: ReplyDraft, key: str) -> Post:
        """Send a new post once, with its idempotency key / record key. Returns our new post."""
        ...

    async def find_post(self, key: str, text: str) -> Post | None:
        """After an uncertain failure: the new post if the server has it, else None."""
        ...

    async def favourite(self, post: Post) -> None: ...

    async def boost(self, post: Post) -> None: ...

    async def unfavourite(self, post: Post) -> None:
        """Take our favourite (like) back; nothing to do if the post has none from us."""
        ...

    async def unboost(self, post: Post) -> None:
        """Take our boost (repost) back; nothing to do if the post has none from us."""
        ...

    async def aclose(self) -> None: ...


# --- Bluesky sessions --------------------------------------------------------------------------------


class SessionStore(Protocol):
    """Where a Bluesky session (accessJwt, refreshJwt, did, handle) lives between processes.

    `locked()` is an exclusive cross-process lock, as a context manager (sync or async). It is
    entered and left on the event loop's thread, and only by one coroutine of a process at a time
    (the adapters serialise themselves in-process first), so a thread-bound file lock is fine.
    """

    def load(self) -> dict[str, Any] | None: ...

    def save(self, data: dict[str, Any]) -> None: ...

    def locked(self) -> Any: ...


class MemorySessionStore:
    """A `SessionStore` in memory, for tests and the demo. Counts saves.

    Like a file lock held by the event loop's thread, its lock can't be taken twice by one thread:
    that would deadlock, so it raises instead.
    """

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        self.data = dict(data) if data else None
        self.saves = 0
        self._lock = threading.Lock()
        self._owner: int | None = None

    def load(self) -> dict[str, Any] | None:
        return dict(self.data) if self.data else None

    def save(self, data: dict[str, Any]) -> None:
        self.data = dict(data)
        self.saves += 1

    @contextmanager
    def locked(self) -> Iterator[None]:
        if self._owner == threading.get_ident():
            raise RuntimeError("session store lock taken twice by one thread")
        with self._lock:
            self._owner = threading.get_ident()
            try:
                yield
            finally:
                self._owner = None


# One asyncio.Lock per (session store, event loop): asyncio locks belong to one loop.
_store_locks: weakref.WeakKeyDictionary[Any, weakref.WeakKeyDictionary[Any, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)
_store_locks_by_id: dict[int, weakref.WeakKeyDictionary[Any, asyncio.Lock]] = {}


def _in_process_lock(store: Any) -> asyncio.Lock:
    try:
        per_loop = _store_locks.get(store)
        if per_loop is None:
            per_loop = _store_locks[store] = weakref.WeakKeyDictionary()
    except TypeError:  # a store that cannot be weakly referenced
        per_loop = _store_locks_by_id.setdefault(id(store), weakref.WeakKeyDictionary())
    loop = asyncio.get_running_loop()
    lock = per_loop.get(loop)
    if lock is None:
        lock = per_loop[loop] = asyncio.Lock()
    return lock


@asynccontextmanager
async def hold_session_lock(store: Any) -> AsyncIterator[None]:
    """The store's exclusive lock: first among this process's coroutines, then across processes."""
    async with _in_process_lock(store):
        guard = store.locked()
        if hasattr(guard, "__aenter__"):
            async with guard:
                yield
        else:
            with guard:
                yield


# --- construction ------------------------------------------------------------------------------------


def make_adapter(
    account: AccountConfig,
    secret: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    session_store: SessionStore | None = None,
    now: Callable[[], datetime] | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    **http_options: Any,
) -> Adapter:
    """The adapter for `account`. `secret`: the Mastodon access token or the Bluesky app password.

    `http_options` go to `HttpClient` (max_wait, max_attempts, backoff_base, backoff_cap, rng,
    timeout).
    """
    if account.network == "mastodon":
        from socialtui.networks.mastodon import MastodonAdapter

        return MastodonAdapter(account, secret, transport=transport, now=now, sleep=sleep, **http_options)
    if account.network == "bluesky":
        from socialtui.networks.bluesky import BlueskyAdapter

        return BlueskyAdapter(
            account,
            secret,
            transport=transport,
            session_store=session_store,
            now=now,
            sleep=sleep,
            **http_options,
        )
    raise ValueError(f"unknown network {account.network!r}")


__all__ = [
    "AccountInfo",
    "Adapter",
    "MemorySessionStore",
    "Page",
    "ReplyDraft",
    "SessionStore",
    "hold_session_lock",
    "make_adapter",
]
