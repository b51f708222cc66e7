"""The Bluesky adapter (AT Protocol XRPC through the account's PDS).

Quirks owned here: the session (accessJwt, refreshJwt, did, handle) is shared through a session store
and refreshed one process at a time (createSession is limited to 30 per 5 minutes per account); an
expired access token is HTTP 400 `ExpiredToken`, not 401; notifications come newest first with an
opaque cursor, so our own cursor is the newest `indexedAt` seen; a post's time is the earlier of its
`createdAt` (chosen by the client, may lie) and `indexedAt`; replies carry root and parent strong
refs; mentions are facets with DIDs and UTF-8 byte offsets; text is at most 300 graphemes and 3000
bytes; a reply is created with a client-chosen record key (a TID), and after any failed send we look
for the record before calling it failed (the reference PDS answers a duplicate rkey with a bare 500).
"""

from __future__ import annotations

import base64
import json
import random
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from socialtui.model import Author, Item, Post, item_id, parse_time
from socialtui.networks.base import (
    AccountInfo,
    MemorySessionStore,
    Page,
    ReplyDraft,
    SessionStore,
    hold_session_lock,
)
from socialtui.networks.errors import (
    AuthExpired,
    AuthRefused,
    MalformedAnswer,
    NetworkFailure,
    NotFound,
    Rejected,
    ServerError,
    Unsupported,
)
from socialtui.networks.http import Answer, HttpClient, Now, Sleep, server_url
from socialtui.networks.text import clean_line, graphemes
from socialtui.text import strip_controls

if TYPE_CHECKING:
    from socialtui.config import AccountConfig

NETWORK = "bluesky"
APP_URL = "https://bsky.app"
POST_COLLECTION = "app.bsky.feed.post"
MAX_GRAPHEMES = 300
MAX_BYTES = 3000
ITEM_REASONS = ("mention", "reply", "quote")
PAGE_MAX = 100
QUIET_PAGE = 10
CURSOR_OVERLAP = timedelta(minutes=5)
REFRESH_MARGIN = timedelta(seconds=60)
"""Refresh the access token this long before its `exp`."""

# --- record keys (TIDs) ------------------------------------------------------------------------------

TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_tid_lock = threading.Lock()
_last_tid_micros = 0


def encode_tid(micros: int, clock_id: int) -> str:
    """A TID: 13 chars of base32-sortable, (microseconds since the epoch << 10) | clock id."""
    value = ((micros & ((1 << 53) - 1)) << 10) | (clock_id & 0x3FF)
    chars = []
    for _ in range(13):
        chars.append(TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def decode_tid(tid: str) -> tuple[int, int]:
    """(microseconds, clock id) of a TID."""
    value = 0
    for char in tid:
        value = (value << 5) | TID_ALPHABET.index(char)
    return value >> 10, value & 0x3FF


def next_tid(now: datetime, clock_id: int) -> str:
    """A new TID, strictly increasing within this process even if the clock stands still."""
    global _last_tid_micros
    micros = int(now.timestamp() * 1_000_000)
    with _tid_lock:
        micros = max(micros, _last_tid_micros + 1)
        _last_tid_micros = micros
    return encode_tid(micros, clock_id)


# --- sessions ----------------------------------------------------------------------------------------

SESSION_KEYS = ("accessJwt", "refreshJwt", "did", "handle")


def jwt_expiry(token: str) -> datetime | None:
    """The `exp` of a JWT (payload decoded, signature not checked), or None."""
    try:
        payload = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return datetime.fromtimestamp(int(data["exp"]), UTC)
    except (IndexError, ValueError, KeyError, TypeError, OverflowError):
        return None


def _session_from(data: Any) -> dict[str, str]:
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) and data[k] for k in SESSION_KEYS):
        raise MalformedAnswer("session: expected accessJwt, refreshJwt, did and handle")
    return {key: data[key] for key in SESSION_KEYS}


def _stored_session(store: SessionStore) -> dict[str, str] | None:
    """The session in the store, if it holds a usable one."""
    data = store.load()
    if isinstance(data, dict) and all(isinstance(data.get(k), str) and data[k] for k in SESSION_KEYS):
        return {key: data[key] for key in SESSION_KEYS}
    return None


# --- parsing -----------------------------------------------------------------------------------------


def did_of(uri: str) -> str:
    """The repo DID of an at:// URI."""
    return uri.removeprefix("at://").split("/", 1)[0] if uri.startswith("at://") else ""


def rkey_of(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def post_url(handle: str, uri: str) -> str:
    """The bsky.app address of a post: https://bsky.app/profile/<handle>/post/<rkey>."""
    who = handle if handle and handle != "handle.invalid" else did_of(uri)
    return f"{APP_URL}/profile/{who}/post/{rkey_of(uri)}"


def parse_author(profile: dict[str, Any]) -> Author:
    handle = clean_line(profile.get("handle"))
    return Author(
        network=NETWORK,
        handle=handle,
        id=str(profile["did"]),
        display_name=clean_line(profile.get("displayName")),
        url=f"{APP_URL}/profile/{handle or profile['did']}",
    )


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None


def post_time(record: dict[str, Any], indexed_at: Any) -> datetime:
    """When a post was written: the EARLIER of the record's createdAt (the client's word) and
    indexedAt (the server's), so a backdated or future-dated post can't jump the queue."""
    times = [t for t in (_time(record.get("createdAt")), _time(indexed_at)) if t is not None]
    if not times:
        raise MalformedAnswer("a post without createdAt or indexedAt")
    return min(times)


def _quote_uri(record: dict[str, Any]) -> str:
    embed = record.get("embed")
    if not isinstance(embed, dict):
        return ""
    kind = embed.get("$type", "")
    if kind == "app.bsky.embed.record":
        inner = embed.get("record")
    elif kind == "app.bsky.embed.recordWithMedia":
        inner = (embed.get("record") or {}).get("record")
    else:
        return ""
    return str(inner.get("uri") or "") if isinstance(inner, dict) else ""


def parse_record(
    uri: str,
    cid: str,
    record: dict[str, Any],
    author: Author,
    indexed_at: Any,
    *,
    account: str,
    me: str = "",
) -> Post:
    """An app.bsky.feed.post record (with its author and indexedAt) as our Post."""
    try:
        reply = given if isinstance(given := record.get("reply"), dict) else {}
        parent = reply.get("parent") or {}
        root = reply.get("root") or {}
        langs = listed if isinstance(listed := record.get("langs"), list) else []
        return Post(
            account=account,
            remote_id=uri,
            author=author,
            text=strip_controls(record.get("text")),
            created_at=post_time(record, indexed_at),
            url=post_url(author.handle, uri),
            cid=cid,
            reply_to=str(parent.get("uri") or ""),
            reply_to_author=did_of(str(parent.get("uri") or "")),
            reply_root=str(root.get("uri") or ""),
            reply_root_cid=str(root.get("cid") or ""),
            visibility="public",
            langs=tuple(clean_line(lang) for lang in langs if isinstance(lang, str)),
            own=bool(me) and author.id == me,
            quote_of=_quote_uri(record),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise MalformedAnswer(f"a post of an unexpected shape ({exc!r})") from None


def parse_post_view(view: dict[str, Any], *, account: str, me: str = "") -> Post:
    """An app.bsky.feed.defs#postView as our Post."""
    try:
        return parse_record(
            str(view["uri"]),
            str(view["cid"]),
            view["record"],
            parse_author(view["author"]),
            view.get("indexedAt"),
            account=account,
            me=me,
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise MalformedAnswer(f"a post view of an unexpected shape ({exc!r})") from None


def parse_notification(notification: dict[str, Any], *, account: str, me: str = "") -> Item | None:
    """A mention, reply or quote notification as an Item; anything else is None."""
    reason = notification.get("reason")
    record = notification.get("record")
    if reason not in ITEM_REASONS or not isinstance(record, dict):
        return None
    if record.get("$type", POST_COLLECTION) != POST_COLLECTION:
        return None
    try:
        post = parse_record(
            str(notification["uri"]),
            str(notification["cid"]),
            record,
            parse_author(notification["author"]),
            notification.get("indexedAt"),
            account=account,
            me=me,
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise MalformedAnswer(f"a notification of an unexpected shape ({exc!r})") from None
    if post.own:
        return None
    return Item(
        id=item_id(account, post.remote_id),
        account=account,
        kind=str(reason),
        post=post,
        notified_at=_time(notification.get("indexedAt")),
    )


def flatten_thread(node: Any, *, account: str, me: str = "") -> list[Post]:
    """A getPostThread `thread` as a list in reading order: parents (root first), the post, then the
    replies depth first, oldest first among siblings. Missing and blocked posts are left out."""
    if not isinstance(node, dict) or not isinstance(node.get("post"), dict):
        return []
    ancestors: list[Post] = []
    parent = node.get("parent")
    while isinstance(parent, dict) and isinstance(parent.get("post"), dict):
        ancestors.append(parse_post_view(parent["post"], account=account, me=me))
        parent = parent.get("parent")
    ancestors.reverse()
    posts = [*ancestors]

    def walk(current: dict[str, Any]) -> None:
        posts.append(parse_post_view(current["post"], account=account, me=me))
        replies = [
            r for r in current.get("replies") or [] if isinstance(r, dict) and isinstance(r.get("post"), dict)
        ]
        parsed = sorted(
            replies, key=lambda r: post_time(r["post"].get("record") or {}, r["post"].get("indexedAt"))
        )
        for reply in parsed:
            walk(reply)

    walk(node)
    return posts


# --- rich text ---------------------------------------------------------------------------------------

# As the Bluesky app detects them (atproto `detectFacets`): a mention or URL starts the text or
# follows a space or an opening parenthesis.
_MENTION_RE = re.compile(r"(^|\s|\()(@)([a-zA-Z0-9.-]+)(\b)")
_URL_RE = re.compile(r"(^|\s|\()(https?://\S+)", re.IGNORECASE)
_HANDLE_RE = re.compile(
    r"^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$"
)


def byte_length(text: str) -> int:
    return len(text.encode("utf-8"))


def count_length(text: str) -> int:
    """Graphemes, as Bluesky limits them (300)."""
    return graphemes(text)


def detect_mentions(text: str) -> list[tuple[int, int, str]]:
    """(byteStart, byteEnd, handle) of each `@handle` in `text` (UTF-8 byte offsets)."""
    found = []
    for match in _MENTION_RE.finditer(text):
        handle = match.group(3)
        if not _HANDLE_RE.match(handle):
            continue
        start = match.start(2)
        end = match.end(3)
        found.append((byte_length(text[:start]), byte_length(text[:end]), handle.lower()))
    return found


def detect_links(text: str) -> list[tuple[int, int, str]]:
    """(byteStart, byteEnd, uri) of each http(s) URL, without the punctuation that ends a sentence."""
    found = []
    for match in _URL_RE.finditer(text):
        uri = match.group(2)
        while uri and (uri[-1] in ".,;:!?\"'" or (uri[-1] == ")" and uri.count("(") < uri.count(")"))):
            uri = uri[:-1]
        if len(uri) <= len("https://"):
            continue
        start = match.start(2)
        found.append((byte_length(text[:start]), byte_length(text[:start]) + byte_length(uri), uri))
    return found


def build_facets(text: str, dids: dict[str, str]) -> list[dict[str, Any]]:
    """Mention facets (for handles resolved in `dids`) and link facets, with UTF-8 byte offsets."""
    facets: list[dict[str, Any]] = []
    for start, end, handle in detect_mentions(text):
        did = dids.get(handle)
        if did:
            facets.append(
                {
                    "index": {"byteStart": start, "byteEnd": end},
                    "features": [{"$type": "app.bsky.richtext.facet#mention", "did": did}],
                }
            )
    for start, end, uri in detect_links(text):
        facets.append(
            {
                "index": {"byteStart": start, "byteEnd": end},
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": uri}],
            }
        )
    facets.sort(key=lambda f: f["index"]["byteStart"])
    return facets


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _dict(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise MalformedAnswer(f"{what}: expected an object")
    return data


def _entries(data: Any, key: str, what: str) -> list[dict[str, Any]]:
    entries = _dict(data, what).get(key)
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise MalformedAnswer(f"{what}: expected a list of objects in {key!r}")
    return entries


# --- cursors -----------------------------------------------------------------------------------------


def _parse_cursor(cursor: str | None) -> tuple[str | None, str | None, str | None]:
    """(newest seen, API page cursor to resume from, stop-at) from our opaque cursor.

    Normally our cursor is the newest `indexedAt` seen. When `limit` stopped us before we reached it,
    the cursor also says where to resume and where to stop (JSON), so nothing in the gap is lost.
    """
    if not cursor:
        return None, None, None
    if cursor.startswith("{"):
        try:
            data = json.loads(cursor)
            return data.get("newest"), data.get("page"), data.get("stop")
        except (ValueError, AttributeError):
            return None, None, None
    return cursor, None, cursor


def _later(a: str | None, b: str | None) -> str | None:
    if a is None:
        return b
    if b is None:
        return a
    ta, tb = _time(a), _time(b)
    if ta is None:
        return b
    if tb is None:
        return a
    return b if tb > ta else a


# --- the adapter -------------------------------------------------------------------------------------


class BlueskyAdapter:
    """One Bluesky account. `app_password`: its app password (createSession only when needed)."""

    network = NETWORK

    def __init__(
        self,
        account: AccountConfig,
        app_password: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        session_store: SessionStore | None = None,
        now: Now | None = None,
        sleep: Sleep | None = None,
        **http_options: Any,
    ) -> None:
        self.account = account
        self.http = HttpClient(
            server_url(account.server), transport=transport, now=now, sleep=sleep, **http_options
        )
        self.store: SessionStore = session_store if session_store is not None else MemorySessionStore()
        self._password = app_password
        self._session: dict[str, str] | None = None
        self.info: AccountInfo | None = None
        self.clock_id = random.randrange(1024)
        self.refreshes = 0
        """refreshSession calls made by this adapter."""
        self.logins = 0
        """createSession calls made by this adapter."""

    # -- plumbing --

    @property
    def requests(self) -> int:
        return self.http.requests

    @property
    def max_length(self) -> int:
        return MAX_GRAPHEMES

    async def aclose(self) -> None:
        await self.http.aclose()

    def _expiring(self, session: dict[str, str]) -> bool:
        exp = jwt_expiry(session["accessJwt"])
        return exp is not None and exp - self.http.now() <= REFRESH_MARGIN

    async def _ensure_session(self) -> dict[str, str]:
        if self._session is None:
            self._session = _stored_session(self.store)
        if self._session is None:
            await self._login()
        elif self._expiring(self._session):
            await self._refresh(self._session["accessJwt"])
        assert self._session is not None
        return self._session

    async def _create_session(self) -> dict[str, str]:
        self.logins += 1
        answer = await self.http.post(
            "/xrpc/com.atproto.server.createSession",
            json={"identifier": self.account.handle, "password": self._password},
            idempotent=False,
        )
        return _session_from(answer.data)

    async def _login(self) -> None:
        """createSession, unless another adapter or process has stored a session meanwhile."""
        async with hold_session_lock(self.store):
            stored = _stored_session(self.store)
            if stored is not None:
                self._session = stored
                return
            session = await self._create_session()
            self.store.save(session)
            self._session = session

    async def _refresh(self, failed_access: str) -> None:
        """refreshSession, once across processes: under the store's lock, re-read the store first
        (someone may have refreshed already); createSession only when the refresh token is refused."""
        async with hold_session_lock(self.store):
            stored = _stored_session(self.store)
            if stored is not None and stored["accessJwt"] != failed_access and not self._expiring(stored):
                self._session = stored
                return
            current = stored or self._session
            session: dict[str, str]
            try:
                if not current:
                    raise AuthExpired("no session to refresh")
                self.refreshes += 1
                answer = await self.http.post(
                    "/xrpc/com.atproto.server.refreshSession",
                    headers={"Authorization": f"Bearer {current['refreshJwt']}"},
                    idempotent=False,
                )
                session = _session_from(answer.data)
            except (AuthExpired, AuthRefused):
                session = await self._create_session()
            self.store.save(session)
            self._session = session

    async def _xrpc(
        self,
        method: str,
        nsid: str,
        *,
        params: Any = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> Answer:
        """One authenticated XRPC call; on an expired or refused access token, refresh and try once
        more (the server refused the request before doing anything, so this is safe for POSTs)."""
        session = await self._ensure_session()
        path = f"/xrpc/{nsid}"
        try:
            return await self.http.request(
                method,
                path,
                params=params,
                json=json,
                idempotent=idempotent,
                headers={"Authorization": f"Bearer {session['accessJwt']}"},
            )
        except (AuthExpired, AuthRefused) as failure:
            if isinstance(failure, AuthRefused) and failure.status != 401 and failure.error != "InvalidToken":
                raise
            await self._refresh(session["accessJwt"])
        assert self._session is not None
        return await self.http.request(
            method,
            path,
            params=params,
            json=json,
            idempotent=idempotent,
            headers={"Authorization": f"Bearer {self._session['accessJwt']}"},
        )

    async def _me(self) -> str:
        return (await self._ensure_session())["did"]

    def _me_author(self) -> Author:
        if self.info is not None:
            return self.info.author(NETWORK)
        session = self._session or {}
        return Author(network=NETWORK, handle=session.get("handle", ""), id=session.get("did", ""))

    # -- reading --

    async def verify(self) -> AccountInfo:
        """com.atproto.server.getSession, then app.bsky.actor.getProfile for the display name."""
        data = _dict((await self._xrpc("GET", "com.atproto.server.getSession")).data, "getSession")
        did, handle = data.get("did"), data.get("handle")
        if not isinstance(did, str) or not isinstance(handle, str):
            raise MalformedAnswer("getSession: no did or handle")
        display_name = ""
        try:
            profile = _dict(
                (await self._xrpc("GET", "app.bsky.actor.getProfile", params={"actor": did})).data,
                "getProfile",
            )
            display_name = clean_line(profile.get("displayName"))
        except (NotFound, Rejected):
            pass  # a fresh account the AppView has not indexed yet
        self.info = AccountInfo(
            remote_id=did,
            handle=clean_line(handle),
            display_name=display_name,
            max_characters=MAX_GRAPHEMES,
            characters_reserved_per_url=0,
            url=f"{APP_URL}/profile/{clean_line(handle)}",
        )
        return self.info

    async def _walk(
        self,
        nsid: str,
        params: list[tuple[str, str]],
        key: str,
        cursor: str | None,
        since: datetime,
        limit: int,
        time_of: Callable[[dict[str, Any]], str | None],
    ) -> tuple[list[dict[str, Any]], str | None, bool]:
        """Walk a newest-first feed down to our cursor (or, first time, to `since`), at most `limit`
        entries. Returns (entries, new cursor, done)."""
        limit = max(1, limit)
        newest, page_cursor, stop = _parse_cursor(cursor)
        stop_at = _time(stop) if stop else None
        if stop_at is not None:
            # The AppView orders by a post's sort time, the earlier of its createdAt and when it was
            # indexed: a post from a client whose clock is slow lands behind entries we have already
            # seen. Re-read a window behind the cursor; items are keyed by URI, so nothing doubles.
            stop_at -= CURSOR_OVERLAP
        first_run = cursor is None
        entries: list[dict[str, Any]] = []
        examined = 0
        seen_newest: str | None = None
        # Polling from a cursor, usually nothing is new: a small first page keeps an idle poll cheap
        # (feeds have no "newer than" parameter, so a full page would resend what we already have).
        quiet_first_page = not first_run and page_cursor is None
        while True:
            size = min(PAGE_MAX, limit - examined)
            if quiet_first_page:
                size = min(size, QUIET_PAGE)
                quiet_first_page = False
            query = [*params, ("limit", str(size))] + ([("cursor", page_cursor)] if page_cursor else [])
            answer = await self._xrpc("GET", nsid, params=query)
            page = _entries(answer.data, key, nsid)
            reached = False
            for entry in page:
                stamp = time_of(entry)
                at = _time(stamp)
                if at is None:
                    raise MalformedAnswer(f"{nsid}: an entry without a valid time")
                if (stop_at is not None and at <= stop_at) or (first_run and at < since):
                    reached = True
                    break
                seen_newest = _later(seen_newest, stamp)
                entries.append(entry)
                examined += 1
            next_cursor = answer.data.get("cursor")
            if reached or not page or not isinstance(next_cursor, str) or not next_cursor:
                break
            page_cursor = next_cursor
            if examined >= limit:
                if first_run:
                    break  # the backfill is bounded: older entries are not fetched
                gap = {"newest": _later(newest, seen_newest), "page": page_cursor, "stop": stop}
                return entries, json.dumps(gap, separators=(",", ":")), False
        final = _later(newest, seen_newest)
        if final is None and first_run:
            final = _iso(since)
        return entries, final, True

    async def fetch_items(self, cursor: str | None, since: datetime, limit: int) -> Page[Item]:
        """app.bsky.notification.listNotifications?reasons=mention&reasons=reply&reasons=quote."""
        me = await self._me()
        raw, new_cursor, done = await self._walk(
            "app.bsky.notification.listNotifications",
            [("reasons", reason) for reason in ITEM_REASONS],
            "notifications",
            cursor,
            since,
            limit,
            lambda n: n.get("indexedAt"),
        )
        items: dict[str, Item] = {}
        for notification in raw:
            item = parse_notification(notification, account=self.account.id, me=me)
            if item is not None and item.id not in items:
                items[item.id] = item
        return Page(sorted(items.values(), key=lambda i: i.received_at), new_cursor, done)

    async def fetch_own_posts(self, cursor: str | None, since: datetime, limit: int) -> Page[Post]:
        """app.bsky.feed.getAuthorFeed?actor=<our did>&filter=posts_with_replies (reposts skipped)."""
        me = await self._me()

        def sort_time(entry: dict[str, Any]) -> str | None:
            reason = entry.get("reason")
            if isinstance(reason, dict) and reason.get("indexedAt"):
                return reason.get("indexedAt")
            post = entry.get("post") or {}
            record = post.get("record") or {}
            try:
                return _iso(post_time(record, post.get("indexedAt")))
            except MalformedAnswer:
                return None

        raw, new_cursor, done = await self._walk(
            "app.bsky.feed.getAuthorFeed",
            [("actor", me), ("filter", "posts_with_replies")],
            "feed",
            cursor,
            since,
            limit,
            sort_time,
        )
        posts = []
        for entry in raw:
            reason = entry.get("reason")
            if isinstance(reason, dict) and "repost" in str(reason.get("$type", "reasonRepost")).lower():
                continue
            post = parse_post_view(_dict(entry.get("post"), "feed post"), account=self.account.id, me=me)
            if post.own:
                posts.append(post)
        posts.sort(key=lambda p: p.created_at)
        return Page(posts, new_cursor, done)

    async def fetch_home(self, limit: int) -> list[Post]:
        """app.bsky.feed.getTimeline, following `cursor` until `limit` posts."""
        me = await self._me()
        posts: list[Post] = []
        seen: set[str] = set()
        page_cursor: str | None = None
        while len(posts) < limit:
            size = min(PAGE_MAX, limit - len(posts))
            query = [("limit", str(size))] + ([("cursor", page_cursor)] if page_cursor else [])
            answer = await self._xrpc("GET", "app.bsky.feed.getTimeline", params=query)
            page = _entries(answer.data, "feed", "getTimeline")
            for entry in page:
                post = parse_post_view(_dict(entry.get("post"), "feed post"), account=self.account.id, me=me)
                if post.remote_id not in seen:
                    seen.add(post.remote_id)
                    posts.append(post)
            page_cursor = answer.data.get("cursor")
            if not page or not isinstance(page_cursor, str) or not page_cursor:
                break
        return posts[:limit]

    async def fetch_thread(self, post: Post) -> list[Post]:
        """app.bsky.feed.getPostThread?uri=<post>: parents, the post, replies."""
        me = await self._me()
        answer = await self._xrpc("GET", "app.bsky.feed.getPostThread", params={"uri": post.remote_id})
        thread = _dict(answer.data, "getPostThread").get("thread")
        if isinstance(thread, dict) and (thread.get("notFound") or thread.get("blocked")):
            raise NotFound(f"the thread of {post.remote_id} is not available")
        return flatten_thread(thread, account=self.account.id, me=me)

    # -- listening --

    async def search_talk(self, term: str, cursor: str | None, since: datetime, limit: int) -> Page[Post]:
        """app.bsky.feed.searchPosts?q=TERM&sort=latest&since=..., following `cursor` until `limit`.

        Our cursor is the newest `indexedAt` seen; the next search starts a few minutes before it (a
        post from a slow client clock sorts behind what we saw), so an idle listen is one request
        per term and what it repeats is deduplicated by the caller."""
        me = await self._me()
        start = since
        if cursor and (at := _time(cursor)) is not None:
            start = at - CURSOR_OVERLAP
        params = [("q", term), ("sort", "latest"), ("since", _iso(start))]
        posts: dict[str, Post] = {}
        newest: str | None = cursor
        page_cursor: str | None = None
        examined = 0
        while examined < max(1, limit):
            size = min(PAGE_MAX, max(1, limit) - examined)
            query = [*params, ("limit", str(size))] + ([("cursor", page_cursor)] if page_cursor else [])
            try:
                answer = await self._xrpc("GET", "app.bsky.feed.searchPosts", params=query)
            except (Rejected, NotFound, ServerError) as exc:
                # A PDS that neither serves nor proxies search (404, 501 MethodNotImplemented): say so
                # once, like Mastodon's. Any other refusal or failure is what it is.
                missing = (
                    isinstance(exc, NotFound) or exc.status == 501 or exc.error == "MethodNotImplemented"
                )
                if isinstance(exc, Unsupported) or not missing:
                    raise
                raise Unsupported(f"this server cannot search posts ({exc})", status=exc.status) from None
            page = _entries(answer.data, "posts", "searchPosts")
            for view in page:
                examined += 1
                post = parse_post_view(view, account=self.account.id, me=me)
                newest = _later(
                    newest, view.get("indexedAt") if isinstance(view.get("indexedAt"), str) else None
                )
                if post.own or post.remote_id in posts:
                    continue
                posts[post.remote_id] = post
            next_cursor = answer.data.get("cursor")
            if not page or not isinstance(next_cursor, str) or not next_cursor:
                break
            page_cursor = next_cursor
        return Page(sorted(posts.values(), key=lambda p: p.created_at), newest or _iso(since), True)

    # -- replying --

    def count_length(self, text: str) -> int:
        return count_length(text)

    def new_idempotency_key(self) -> str:
        """A TID, used as the record key of the reply."""
        return next_tid(self.http.now(), self.clock_id)

    def prepare_reply(self, item: Item, text: str, *, visibility: str | None = None) -> ReplyDraft:
        """The text as typed (Bluesky replies need no mention), checked against 300 graphemes and
        3000 UTF-8 bytes."""
        body = text.strip()
        length = count_length(body)
        size = byte_length(body)
        if not body:
            ok, problem = False, "the reply is empty"
        elif length > MAX_GRAPHEMES:
            ok, problem = False, f"too long: {length} of {MAX_GRAPHEMES} characters"
        elif size > MAX_BYTES:
            ok, problem = False, f"too long: {size} of {MAX_BYTES} bytes"
        else:
            ok, problem = True, ""
        return ReplyDraft(
            text=body,
            in_reply_to=item.post.remote_id,
            visibility="public",
            spoiler_text="",
            langs=tuple(self.account.langs),
            length=length,
            max_length=MAX_GRAPHEMES,
            ok=ok,
            problem=problem,
        )

    async def _resolve_handles(self, text: str, item: Item | None) -> dict[str, str]:
        dids: dict[str, str] = {}
        known = {item.post.author.handle.lower(): item.post.author.id} if item is not None else {}
        if self._session:
            known[self._session["handle"].lower()] = self._session["did"]
        for _, _, handle in detect_mentions(text):
            if handle in dids:
                continue
            if known.get(handle):
                dids[handle] = known[handle]
                continue
            try:
                answer = await self._xrpc(
                    "GET", "com.atproto.identity.resolveHandle", params={"handle": handle}
                )
            except (NotFound, Rejected):
                continue  # not a handle anyone has: left as plain text
            did = _dict(answer.data, "resolveHandle").get("did")
            if isinstance(did, str) and did.startswith("did:"):
                dids[handle] = did
        return dids

    def reply_record(
        self, item: Item, draft: ReplyDraft, dids: dict[str, str], created_at: datetime
    ) -> dict[str, Any]:
        """The app.bsky.feed.post record of a reply: root and parent strong refs (the root is the
        parent's own root when it is itself a reply), facets, langs, createdAt."""
        parent = {"uri": item.post.remote_id, "cid": item.post.cid}
        if item.post.reply_root and item.post.reply_root_cid:
            root = {"uri": item.post.reply_root, "cid": item.post.reply_root_cid}
        else:
            root = dict(parent)
        record: dict[str, Any] = {
            "$type": POST_COLLECTION,
            "text": draft.text,
            "createdAt": _iso(created_at),
            "reply": {"root": root, "parent": parent},
        }
        facets = build_facets(draft.text, dids)
        if facets:
            record["facets"] = facets
        if draft.langs:
            record["langs"] = list(draft.langs)
        return record

    async def send_reply(self, item: Item, draft: ReplyDraft, key: str) -> Post:
        """com.atproto.repo.createRecord with rkey=`key`. After any failure, getRecord decides."""
        if not draft.ok:
            raise Rejected(f"not sent: {draft.problem}")
        if not item.post.cid:
            raise Rejected("not sent: the post's CID is unknown (needed for the reply reference)")
        did = await self._me()
        dids = await self._resolve_handles(draft.text, item)
        created_at = self.http.now()
        record = self.reply_record(item, draft, dids, created_at)
        try:
            answer = await self._xrpc(
                "POST",
                "com.atproto.repo.createRecord",
                json={"repo": did, "collection": POST_COLLECTION, "rkey": key, "record": record},
                idempotent=False,
            )
        except NetworkFailure as failure:
            try:
                found = await self.find_reply(item, key, draft.text)
            except NetworkFailure:
                raise failure from None
            if found is not None:
                return found
            raise
        data = _dict(answer.data, "createRecord")
        uri, cid = data.get("uri"), data.get("cid")
        if not isinstance(uri, str) or not isinstance(cid, str):
            raise MalformedAnswer("createRecord: no uri or cid", uncertain=True)
        return parse_record(uri, cid, record, self._me_author(), None, account=self.account.id, me=did)

    def prepare_post(self, text: str, *, visibility: str = "public", spoiler_text: str = "") -> ReplyDraft:
        """A new post: Bluesky posts are all public and have no content warning field."""
        body = text.strip()
        length = count_length(body)
        size = byte_length(body)
        if not body:
            ok, problem = False, "the post is empty"
        elif length > MAX_GRAPHEMES:
            ok, problem = False, f"too long: {length} of {MAX_GRAPHEMES} characters"
        elif size > MAX_BYTES:
            ok, problem = False, f"too long: {size} of {MAX_BYTES} bytes"
        elif visibility != "public":
            ok, problem = False, "Bluesky posts are public: no other visibility can be chosen"
        elif spoiler_text.strip():
            ok, problem = False, "Bluesky has no content warnings for posts: leave --cw out"
        else:
            ok, problem = True, ""
        return ReplyDraft(
            text=body,
            in_reply_to="",
            visibility="public",
            spoiler_text="",
            langs=tuple(self.account.langs),
            length=length,
            max_length=MAX_GRAPHEMES,
            ok=ok,
            problem=problem,
        )

    async def send_post(self, draft: ReplyDraft, key: str) -> Post:
        """com.atproto.repo.createRecord with rkey=`key`, no reply reference. After any failure,
        getRecord decides."""
        if not draft.ok:
            raise Rejected(f"not sent: {draft.problem}")
        did = await self._me()
        dids = await self._resolve_handles(draft.text, None)
        created_at = self.http.now()
        record: dict[str, Any] = {"$type": POST_COLLECTION, "text": draft.text, "createdAt": _iso(created_at)}
        facets = build_facets(draft.text, dids)
        if facets:
            record["facets"] = facets
        if draft.langs:
            record["langs"] = list(draft.langs)
        try:
            answer = await self._xrpc(
                "POST",
                "com.atproto.repo.createRecord",
                json={"repo": did, "collection": POST_COLLECTION, "rkey": key, "record": record},
                idempotent=False,
            )
        except NetworkFailure as failure:
            try:
                found = await self.find_post(key, draft.text)
            except NetworkFailure:
                raise failure from None
            if found is not None:
                return found
            raise
        data = _dict(answer.data, "createRecord")
        uri, cid = data.get("uri"), data.get("cid")
        if not isinstance(uri, str) or not isinstance(cid, str):
            raise MalformedAnswer("createRecord: no uri or cid", uncertain=True)
        return parse_record(uri, cid, record, self._me_author(), None, account=self.account.id, me=did)

    async def find_post(self, key: str, text: str) -> Post | None:
        """com.atproto.repo.getRecord of our repo, app.bsky.feed.post, rkey=`key`."""
        return await self.find_reply(None, key, text)  # type: ignore[arg-type]  # find_reply takes no parent for a top-level post; its signature says Post

    async def find_reply(self, item: Item, key: str, text: str) -> Post | None:
        """com.atproto.repo.getRecord of our repo, app.bsky.feed.post, rkey=`key`."""
        did = await self._me()
        try:
            answer = await self._xrpc(
                "GET",
                "com.atproto.repo.getRecord",
                params={"repo": did, "collection": POST_COLLECTION, "rkey": key},
            )
        except NotFound:
            return None
        data = _dict(answer.data, "getRecord")
        value = data.get("value")
        if not isinstance(value, dict):
            raise MalformedAnswer("getRecord: no value")
        uri = given if isinstance(given := data.get("uri"), str) else f"at://{did}/{POST_COLLECTION}/{key}"
        return parse_record(
            uri, str(data.get("cid") or ""), value, self._me_author(), None, account=self.account.id, me=did
        )

    async def _create_subject_record(self, collection: str, post: Post) -> None:
        did = await self._me()
        record = {
            "$type": collection,
            "subject": {"uri": post.remote_id, "cid": post.cid},
            "createdAt": _iso(self.http.now()),
        }
        await self._xrpc(
            "POST",
            "com.atproto.repo.createRecord",
            json={"repo": did, "collection": collection, "record": record},
            idempotent=False,
        )

    async def favourite(self, post: Post) -> None:
        """A like: createRecord app.bsky.feed.like."""
        await self._create_subject_record("app.bsky.feed.like", post)

    async def boost(self, post: Post) -> None:
        """A repost: createRecord app.bsky.feed.repost."""
        await self._create_subject_record("app.bsky.feed.repost", post)

    async def _delete_viewer_record(self, key: str, post: Post) -> None:
        """Delete our like or repost of a post: the post's `viewer.like` / `viewer.repost` (from
        getPosts) names the record, whichever app made it. None there: nothing to undo."""
        answer = await self._xrpc("GET", "app.bsky.feed.getPosts", params={"uris": [post.remote_id]})
        posts = answer.data.get("posts") if isinstance(answer.data, dict) else None
        viewer = (
            posts[0].get("viewer")
            if isinstance(posts, list) and posts and isinstance(posts[0], dict)
            else None
        )
        uri = viewer.get(key) if isinstance(viewer, dict) else None
        if not isinstance(uri, str) or not uri.startswith("at://"):
            return
        repo, collection, rkey = uri.removeprefix("at://").split("/", 2)
        await self._xrpc(
            "POST",
            "com.atproto.repo.deleteRecord",
            json={"repo": repo, "collection": collection, "rkey": rkey},
            idempotent=True,
        )

    async def unfavourite(self, post: Post) -> None:
        """Unlike: deleteRecord of our app.bsky.feed.like of the post."""
        await self._delete_viewer_record("like", post)

    async def unboost(self, post: Post) -> None:
        """Undo a repost: deleteRecord of our app.bsky.feed.repost of the post."""
        await self._delete_viewer_record("repost", post)


__all__ = [
    "BlueskyAdapter",
    "MemorySessionStore",
    "build_facets",
    "byte_length",
    "count_length",
    "decode_tid",
    "detect_links",
    "detect_mentions",
    "encode_tid",
    "flatten_thread",
    "jwt_expiry",
    "next_tid",
    "parse_notification",
    "parse_post_view",
    "parse_record",
    "post_time",
    "post_url",
]
