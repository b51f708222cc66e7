"""The Mastodon adapter (also GoToSocial and other servers of the Mastodon client API).

Quirks owned here: ids are opaque strings (GoToSocial uses 26-char ULIDs; never `int()` them);
paging by `min_id`/`max_id` with `Link` headers; content is HTML (turned into text by a real parser);
a local account's `acct` has no domain; length is counted by Mastodon's rules; a reply is never more
public than the post it answers; `Idempotency-Key` is not honoured by every server, so after an
uncertain failure the reply is looked for among our own recent statuses.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
import regex

from socialtui.model import Author, Item, Post, item_id, parse_time
from socialtui.networks.base import AccountInfo, Page, ReplyDraft
from socialtui.networks.errors import (
    AuthRefused,
    MalformedAnswer,
    NetworkError,
    NotFound,
    RateLimited,
    Rejected,
    ServerError,
    Unsupported,
)
from socialtui.networks.http import USER_AGENT, HttpClient, Now, Sleep, link_param, server_url
from socialtui.networks.text import clean_line, graphemes, html_to_text
from socialtui.text import strip_controls

if TYPE_CHECKING:
    from socialtui.config import AccountConfig

NETWORK = "mastodon"
OOB_REDIRECT = "urn:ietf:wg:oauth:2.0:oob"
SCOPES = "read:accounts read:notifications read:search read:statuses write:statuses write:favourites"
"""What socialtui uses, no more: its own account (verify_credentials), notifications, statuses and
timelines and threads (read), replies and boosts (write:statuses), favourites. Not `read write`:
no follows, lists, blocks, mutes, filters or media."""
DEFAULT_MAX_CHARACTERS = 500
DEFAULT_URL_CHARACTERS = 23

VISIBILITY_ORDER = ("public", "unlisted", "private", "direct")
"""Widest first. A reply is never wider than the post it answers."""

NOTIFICATION_PAGE_MAX = 80
STATUS_PAGE_MAX = 40
HASHTAGS_ONLY = "this server searches hashtags only"
STREAM_PATH = "/api/v1/streaming"
STREAM_NAME = "user:notification"
STREAM_PING_EVERY = 20.0
"""Seconds between our pings on an open stream: the heartbeat. A server that answers none within
`STREAM_PING_TIMEOUT` (a stream gone silent: a proxy that dropped it, a hung server) is given up."""
STREAM_PING_TIMEOUT = 20.0
STREAM_OPEN_TIMEOUT = 15.0
"""The health note of a Mastodon account whose server has no full-text search."""

# Mastodon's StatusLengthValidator: URLs (with a protocol) count as `characters_reserved_per_url`,
# mentions as `@username` (the domain is free), everything in grapheme clusters, the CW included.
_URL_RE = regex.compile(r"(?<![\w@$#/])https?://[^\s<>\"]+", regex.IGNORECASE)
_USERNAME = r"[a-z0-9_]+(?:[.-]+[a-z0-9_]+)*"
_MENTION_RE = regex.compile(
    rf"(?<![=/\w])@({_USERNAME})(?:@[\w]+(?:[.-]+[\w]+)*)?", regex.IGNORECASE | regex.UNICODE
)
_TRAILING = ".,:;!?'\""


def _trim_url(url: str) -> str:
    """A URL without the punctuation that ends the sentence around it."""
    while url:
        if url[-1] in _TRAILING:
            url = url[:-1]
        elif url[-1] == ")" and url.count("(") < url.count(")"):
            url = url[:-1]
        else:
            break
    return url


def countable_text(text: str, url_characters: int = DEFAULT_URL_CHARACTERS) -> str:
    """`text` as Mastodon counts it: each URL replaced by `url_characters` x's, mentions by `@user`."""

    def url(match: regex.Match[str]) -> str:
        found = match.group(0)
        kept = _trim_url(found)
        return "x" * url_characters + found[len(kept) :]

    return _MENTION_RE.sub(lambda m: "@" + m.group(1), _URL_RE.sub(url, text))


def count_length(text: str, spoiler_text: str = "", *, url_characters: int = DEFAULT_URL_CHARACTERS) -> int:
    """The length Mastodon checks against `max_characters`: CW + countable text, in graphemes."""
    if not text.strip():
        return graphemes(spoiler_text)
    return graphemes(spoiler_text + countable_text(text, url_characters))


def narrow_visibility(of_item: str, wanted: str | None = None) -> str:
    """The visibility of a reply: `wanted` if given, but never wider than the item's."""
    item_rank = VISIBILITY_ORDER.index(of_item) if of_item in VISIBILITY_ORDER else len(VISIBILITY_ORDER) - 1
    if wanted is None or wanted not in VISIBILITY_ORDER:
        return VISIBILITY_ORDER[item_rank]
    return VISIBILITY_ORDER[max(item_rank, VISIBILITY_ORDER.index(wanted))]


def mentions(text: str, handle: str, *, local_domain: str = "") -> bool:
    """Whether `text` already mentions `handle` (`user@domain`): as `@user@domain`, or as `@user`
    when the user is local to our server (where the bare name means them)."""
    user, _, domain = handle.lstrip("@").partition("@")
    end = r"(?![\w@-]|[.][\w])"
    full = regex.compile(rf"(?<![=/\w])@{regex.escape(user)}@{regex.escape(domain)}{end}", regex.IGNORECASE)
    if domain and full.search(text):
        return True
    if not domain or (local_domain and domain.lower() == local_domain.lower()):
        bare = regex.compile(rf"(?<![=/\w])@{regex.escape(user)}{end}", regex.IGNORECASE)
        return bool(bare.search(text))
    return False


# --- parsing -----------------------------------------------------------------------------------------


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def full_handle(acct: str, domain: str) -> str:
    """`acct` as `user@domain`: local accounts have no domain in `acct`; ours is added."""
    acct = clean_line(acct).lstrip("@")
    if "@" in acct or not domain:
        return acct
    return f"{acct}@{domain}"


def parse_account(data: dict[str, Any], *, domain: str) -> Author:
    return Author(
        network=NETWORK,
        handle=full_handle(_str(data.get("acct")) or _str(data["username"]), domain),
        id=str(data["id"]),
        display_name=clean_line(data.get("display_name")),
        url=_str(data.get("url")),
    )


def _quote_of(status: dict[str, Any]) -> tuple[str, str]:
    """(quoted status id, quoted account id) of a Mastodon 4.5+ quote, else ('', '')."""
    quote = status.get("quote")
    if not isinstance(quote, dict):
        return "", ""
    quoted = quote.get("quoted_status")
    if isinstance(quoted, dict):
        account = given if isinstance(given := quoted.get("account"), dict) else {}
        return str(quoted.get("id") or ""), str(account.get("id") or "")
    return str(quote.get("quoted_status_id") or ""), ""


def parse_status(status: dict[str, Any], *, account: str, domain: str, me: str = "") -> Post:
    """A Mastodon Status as our Post. `account`: the managed account (config id); `domain`: our
    server's domain (for local accts); `me`: our account id (marks own posts)."""
    try:
        author = parse_account(status["account"], domain=domain)
        language = _str(status.get("language"))
        return Post(
            account=account,
            remote_id=str(status["id"]),
            author=author,
            text=html_to_text(_str(status.get("content"))),
            created_at=parse_time(status["created_at"]),
            url=_str(status.get("url")) or _str(status.get("uri")),
            reply_to=str(status.get("in_reply_to_id") or ""),
            reply_to_author=str(status.get("in_reply_to_account_id") or ""),
            visibility=_str(status.get("visibility")) or "public",
            spoiler_text=strip_controls(status.get("spoiler_text")),
            langs=(language,) if language else (),
            own=bool(me) and author.id == me,
            quote_of=_quote_of(status)[0],
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MalformedAnswer(f"a status of an unexpected shape ({exc!r})") from None


def parse_notification(notification: dict[str, Any], *, account: str, domain: str, me: str) -> Item | None:
    """A mention or quote notification as an Item (kind `reply` when it answers us), else None."""
    kind = notification.get("type")
    status = notification.get("status")
    if kind not in ("mention", "quote") or not isinstance(status, dict):
        return None
    post = parse_status(status, account=account, domain=domain, me=me)
    if post.own:
        return None
    if kind == "quote":
        item_kind = "quote"
    elif me and post.reply_to_author == me:
        item_kind = "reply"
    elif me and _quote_of(status)[1] == me:
        item_kind = "quote"
    else:
        item_kind = "mention"
    notified = notification.get("created_at")
    return Item(
        id=item_id(account, post.remote_id),
        account=account,
        kind=item_kind,
        post=post,
        notified_at=parse_time(notified) if isinstance(notified, str) else None,
    )


def _list(data: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(data, list) or not all(isinstance(entry, dict) for entry in data):
        raise MalformedAnswer(f"{what}: expected a list of objects")
    return data


def _dict(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise MalformedAnswer(f"{what}: expected an object")
    return data


def _created_at(entry: dict[str, Any]) -> datetime:
    try:
        return parse_time(entry["created_at"])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise MalformedAnswer("an entry without a valid created_at") from None


_ANY_MENTION_RE = regex.compile(r"(?<![=/\w])@([\w.-]+)@[\w.-]+(?::\d+)?")


def _stream_failure(exc: BaseException) -> str:
    """Why a stream failed, in words safe to show (no URL: it names the server only)."""
    from websockets.exceptions import ConnectionClosed

    if isinstance(exc, ConnectionClosed):
        if exc.rcvd is None and exc.sent is None:
            return "silent past its heartbeat, or cut"
        return "closed by the server" if exc.rcvd is not None else "closed"
    if isinstance(exc, TimeoutError):
        return "no answer to the handshake"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return type(exc).__name__


def _normal(text: str) -> str:
    """Text compared loosely: mentions without domain (Mastodon shows `@user`), whitespace collapsed,
    case folded."""
    return " ".join(_ANY_MENTION_RE.sub(lambda m: "@" + m.group(1), text).split()).casefold()


# --- the adapter -------------------------------------------------------------------------------------


class MastodonAdapter:
    """One Mastodon account. `token`: its OAuth access token (scopes `SCOPES`)."""

    network = NETWORK

    def __init__(
        self,
        account: AccountConfig,
        token: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        now: Now | None = None,
        sleep: Sleep | None = None,
        **http_options: Any,
    ) -> None:
        self.account = account
        self.http = HttpClient(
            server_url(account.server),
            transport=transport,
            headers={"Authorization": f"Bearer {token}"},
            auth_hint=f"run `socialtui login {account.id}`",
            now=now,
            sleep=sleep,
            **http_options,
        )
        self.info: AccountInfo | None = None
        self.domain = urlsplit(self.http.base_url).netloc
        """Our server's domain, for local accts (the instance's `domain` once verified)."""
        self._token = token
        self.can_stream = transport is None or isinstance(transport, httpx.AsyncHTTPTransport)
        """The server's streaming API can be reached: not through an in-process test transport."""
        self.streaming_url = ""
        """The server's streaming base (`configuration.urls.streaming`), once verified; else the API's."""

    # -- plumbing --

    @property
    def requests(self) -> int:
        return self.http.requests

    @property
    def max_length(self) -> int:
        return self.info.max_characters if self.info else DEFAULT_MAX_CHARACTERS

    @property
    def url_characters(self) -> int:
        return self.info.characters_reserved_per_url if self.info else DEFAULT_URL_CHARACTERS

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _me(self) -> str:
        if self.info is None:
            await self.verify()
        assert self.info is not None
        return self.info.remote_id

    def _post(self, status: dict[str, Any]) -> Post:
        me = self.info.remote_id if self.info else ""
        return parse_status(status, account=self.account.id, domain=self.domain, me=me)

    # -- reading --

    async def verify(self) -> AccountInfo:
        """GET /api/v1/accounts/verify_credentials, then GET /api/v2/instance (v1 as a fallback)."""
        creds = _dict((await self.http.get("/api/v1/accounts/verify_credentials")).data, "verify_credentials")
        try:
            instance = _dict((await self.http.get("/api/v2/instance")).data, "instance")
            domain = _str(instance.get("domain"))
        except NotFound:
            instance = _dict((await self.http.get("/api/v1/instance")).data, "instance")
            domain = _str(instance.get("uri"))
        if "://" in domain:
            domain = urlsplit(domain).netloc
        if domain:
            self.domain = domain
        urls = (instance.get("configuration") or {}).get("urls") or instance.get("urls") or {}
        streaming = urls.get("streaming") or urls.get("streaming_api") if isinstance(urls, dict) else None
        self.streaming_url = streaming if isinstance(streaming, str) and "://" in streaming else ""
        statuses = (instance.get("configuration") or {}).get("statuses") or {}
        max_characters = statuses.get("max_characters") or instance.get("max_toot_chars")
        url_characters = statuses.get("characters_reserved_per_url")
        try:
            self.info = AccountInfo(
                remote_id=str(creds["id"]),
                handle=full_handle(_str(creds.get("username")) or _str(creds["acct"]), self.domain),
                display_name=clean_line(creds.get("display_name")),
                max_characters=int(max_characters) if max_characters else DEFAULT_MAX_CHARACTERS,
                characters_reserved_per_url=(
                    int(url_characters) if url_characters is not None else DEFAULT_URL_CHARACTERS
                ),
                url=_str(creds.get("url")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedAnswer(f"verify_credentials of an unexpected shape ({exc!r})") from None
        return self.info

    async def _collect(
        self,
        path: str,
        params: list[tuple[str, str]],
        cursor: str | None,
        since: datetime,
        limit: int,
        page_max: int,
        time_of: Callable[[dict[str, Any]], datetime],
    ) -> tuple[list[dict[str, Any]], str | None, bool]:
        """Entries newer than `cursor` (walking forward with `min_id`), or with no cursor the newest
        back to `since` (walking back with `max_id`); at most `limit`. Returns (entries, cursor, done).
        """
        limit = max(1, limit)
        entries: list[dict[str, Any]] = []
        if cursor:
            newest = cursor
            while len(entries) < limit:
                size = min(page_max, limit - len(entries))
                answer = await self.http.get(path, params=[*params, ("min_id", newest), ("limit", str(size))])
                page = _list(answer.data, path)
                if not page:
                    return entries, newest, True
                newest = link_param(answer.links, "prev", "min_id") or str(page[0]["id"])
                entries.extend(page)
                if len(page) < size:
                    return entries, newest, True
            return entries, newest, False
        newest_seen: str | None = None
        max_id: str | None = None
        while len(entries) < limit:
            size = min(page_max, limit - len(entries))
            query = [*params, ("limit", str(size))] + ([("max_id", max_id)] if max_id else [])
            answer = await self.http.get(path, params=query)
            page = _list(answer.data, path)
            if not page:
                break
            if newest_seen is None:
                newest_seen = link_param(answer.links, "prev", "min_id") or str(page[0]["id"])
            for entry in page:
                if time_of(entry) < since:
                    return entries, newest_seen, True
                entries.append(entry)
            max_id = link_param(answer.links, "next", "max_id") or str(page[-1]["id"])
            if len(page) < size or "next" not in answer.links:
                break
        return entries, newest_seen, True

    async def fetch_items(self, cursor: str | None, since: datetime, limit: int) -> Page[Item]:
        """GET /api/v1/notifications?types[]=mention&types[]=quote (min_id forward / max_id back)."""
        me = await self._me()
        raw, new_cursor, done = await self._collect(
            "/api/v1/notifications",
            [("types[]", "mention"), ("types[]", "quote")],
            cursor,
            since,
            limit,
            NOTIFICATION_PAGE_MAX,
            _created_at,
        )
        items: dict[str, Item] = {}
        for notification in raw:
            item = parse_notification(notification, account=self.account.id, domain=self.domain, me=me)
            if item is not None and item.id not in items:
                items[item.id] = item
        ordered = sorted(items.values(), key=lambda i: i.received_at)
        return Page(ordered, new_cursor, done)

    async def fetch_own_posts(self, cursor: str | None, since: datetime, limit: int) -> Page[Post]:
        """GET /api/v1/accounts/:id/statuses?exclude_replies=false&exclude_reblogs=true."""
        me = await self._me()
        raw, new_cursor, done = await self._collect(
            f"/api/v1/accounts/{me}/statuses",
            [("exclude_replies", "false"), ("exclude_reblogs", "true")],
            cursor,
            since,
            limit,
            STATUS_PAGE_MAX,
            _created_at,
        )
        posts = [self._post(s) for s in raw if not s.get("reblog")]
        posts = [p for p in posts if p.own]
        posts.sort(key=lambda p: p.created_at)
        return Page(posts, new_cursor, done)

    async def fetch_home(self, limit: int) -> list[Post]:
        """GET /api/v1/timelines/home, following `rel=next` until `limit` posts."""
        await self._me()
        posts: list[Post] = []
        seen: set[str] = set()
        max_id: str | None = None
        while len(posts) < limit:
            size = min(STATUS_PAGE_MAX, limit - len(posts))
            query = [("limit", str(size))] + ([("max_id", max_id)] if max_id else [])
            answer = await self.http.get("/api/v1/timelines/home", params=query)
            page = _list(answer.data, "home")
            for status in page:
                shown = status["reblog"] if isinstance(status.get("reblog"), dict) else status
                post = self._post(shown)
                if post.remote_id not in seen:
                    seen.add(post.remote_id)
                    posts.append(post)
            max_id = link_param(answer.links, "next", "max_id")
            if len(page) < size or not max_id:
                break
        return posts[:limit]

    async def fetch_thread(self, post: Post) -> list[Post]:
        """GET /api/v1/statuses/:id/context: ancestors, the post, descendants."""
        await self._me()
        context = _dict((await self.http.get(f"/api/v1/statuses/{post.remote_id}/context")).data, "context")
        ancestors = [self._post(s) for s in _list(context.get("ancestors", []), "ancestors")]
        descendants = [self._post(s) for s in _list(context.get("descendants", []), "descendants")]
        return [*ancestors, post, *descendants]

    # -- the stream --

    def stream_url(self) -> str:
        """`wss://…/api/v1/streaming?stream=user:notification`: on the server's streaming host where the
        instance names one, else on the API's (the token goes in a header, never in the URL)."""
        base = self.streaming_url or self.http.base_url
        parts = urlsplit(base)
        scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
        path = parts.path.rstrip("/")
        if not path.endswith(STREAM_PATH):
            path += STREAM_PATH
        return f"{scheme}://{parts.netloc}{path}?{urlencode({'stream': STREAM_NAME})}"

    async def stream_items(
        self,
        opened: Callable[[], None] | None = None,
        *,
        ping_every: float = STREAM_PING_EVERY,
        ping_timeout: float = STREAM_PING_TIMEOUT,
        open_timeout: float = STREAM_OPEN_TIMEOUT,
    ) -> AsyncIterator[Item]:
        """The mentions and quotes the server pushes, parsed as `fetch_items` parses them (the same
        item ids), as they come. `opened` is called once the stream is up. Ends only by raising:
        `AuthRefused`, `RateLimited`, `ServerError` for a refused handshake, `NetworkError` for a
        stream that could not be opened, went silent past its heartbeat, or was closed."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidStatus, WebSocketException

        await self._me()
        url = self.stream_url()
        self.http.requests += 1  # the handshake is a request the server counts
        try:
            async with connect(
                url,
                additional_headers={"Authorization": f"Bearer {self._token}"},
                user_agent_header=USER_AGENT,
                open_timeout=open_timeout,
                ping_interval=ping_every,
                ping_timeout=ping_timeout,
                close_timeout=2.0,
                max_size=4 * 1024 * 1024,  # one notification is a few kB: 4 MiB is far beyond any real one
            ) as ws:
                if opened is not None:
                    opened()
                async for message in ws:
                    item = self._streamed(message)
                    if item is not None:
                        yield item
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise AuthRefused("the stream refused our token", status=status) from None
            if status == 429:
                raise RateLimited(None, "the stream is rate limited", status=status) from None
            if status >= 500:
                raise ServerError(status, f"the stream was refused ({status})") from None
            raise NetworkError(f"the stream was refused ({status})", status=status) from None
        except (WebSocketException, OSError, TimeoutError) as exc:
            raise NetworkError(f"the stream failed: {_stream_failure(exc)}") from None
        raise NetworkError("the stream was closed by the server")

    def _streamed(self, message: str | bytes) -> Item | None:
        """A streamed event as an Item, or None (another event, or one we cannot read: the poll
        brings it)."""
        try:
            event = json.loads(message)
            if not isinstance(event, dict) or event.get("event") != "notification":
                return None
            payload = event.get("payload")
            notification = json.loads(payload) if isinstance(payload, str) else payload
            if not isinstance(notification, dict):
                return None
            me = self.info.remote_id if self.info else ""
            return parse_notification(notification, account=self.account.id, domain=self.domain, me=me)
        except (ValueError, MalformedAnswer):
            return None

    # -- listening --

    async def search_talk(self, term: str, cursor: str | None, since: datetime, limit: int) -> Page[Post]:
        """A `#hashtag`: GET /api/v1/timelines/tag/:tag (paged like the notifications). Words, a phrase
        or a domain: GET /api/v2/search?type=statuses (full-text search, which a server offers only
        when its admin set it up; a server that refuses it raises `Unsupported`)."""
        me = await self._me()
        if term.startswith("#"):
            raw, new_cursor, done = await self._collect(
                f"/api/v1/timelines/tag/{quote(term[1:], safe='')}",
                [],
                cursor,
                since,
                limit,
                STATUS_PAGE_MAX,
                _created_at,
            )
        else:
            raw, new_cursor, done = await self._search_statuses(term, cursor, since, limit)
        posts: dict[str, Post] = {}
        for status in raw:
            if isinstance(status.get("reblog"), dict):
                continue  # a boost says nothing new; the original is found on its own
            post = self._post(status)
            if post.own or post.author.id == me or post.remote_id in posts:
                continue
            if post.visibility not in ("public", "unlisted"):
                continue  # never turn a private post into work by search
            posts[post.remote_id] = post
        return Page(sorted(posts.values(), key=lambda p: p.created_at), new_cursor, done)

    async def _search_statuses(
        self, term: str, cursor: str | None, since: datetime, limit: int
    ) -> tuple[list[dict[str, Any]], str | None, bool]:
        """Search results newer than `cursor` (a status id), walking forward with `min_id` ("results
        immediately newer than this id", as the docs define it; search answers have no Link header);
        first run: the newest page, back to `since`. Returns (statuses, cursor, done)."""
        base = [("q", term), ("type", "statuses"), ("resolve", "false")]
        found: list[dict[str, Any]] = []
        newest = cursor
        newest_at: datetime | None = None
        while len(found) < max(1, limit):
            size = min(STATUS_PAGE_MAX, max(1, limit) - len(found))
            query = [*base, ("limit", str(size))] + ([("min_id", newest)] if newest else [])
            try:
                answer = await self.http.get("/api/v2/search", params=query)
            except (Rejected, NotFound) as exc:
                if isinstance(exc, Unsupported):
                    raise
                raise Unsupported(f"{HASHTAGS_ONLY} (searching {term!r}: {exc})", status=exc.status) from None
            page = _list(_dict(answer.data, "search").get("statuses", []), "search statuses")
            for status in page:
                at = _created_at(status)
                if newest_at is None or at > newest_at:
                    newest_at, top = at, str(status["id"])
                if cursor or at >= since:
                    found.append(status)
            if newest_at is not None:
                newest = top
            if not cursor or len(page) < size:
                # The first run takes one page: talk from before we listened is history.
                return found, newest, True
        return found, newest, False

    # -- replying --

    def count_length(self, text: str) -> int:
        return count_length(text, url_characters=self.url_characters)

    def new_idempotency_key(self) -> str:
        return uuid.uuid4().hex

    def prepare_reply(self, item: Item, text: str, *, visibility: str | None = None) -> ReplyDraft:
        """Mention the author first (unless already there), never wider than the item, CW inherited."""
        author = item.post.author
        body = text.strip()
        me = self.info.remote_id if self.info else ""
        needs_mention = author.handle and not (me and author.id == me)
        if needs_mention and not mentions(body, author.handle, local_domain=self.domain):
            handle = full_handle(author.handle, self.domain)
            body = f"@{handle} {body}" if body else f"@{handle} "
        spoiler = item.post.spoiler_text
        length = count_length(body, spoiler, url_characters=self.url_characters)
        maximum = self.max_length
        said = _MENTION_RE.sub("", text).strip()
        if not said:
            ok, problem = False, "the reply is empty"
        elif length > maximum:
            ok, problem = False, f"too long: {length} of {maximum} characters"
        else:
            ok, problem = True, ""
        return ReplyDraft(
            text=body,
            in_reply_to=item.post.remote_id,
            visibility=narrow_visibility(item.post.visibility, visibility),
            spoiler_text=spoiler,
            langs=tuple(self.account.langs),
            length=length,
            max_length=maximum,
            ok=ok,
            problem=problem,
        )

    async def send_reply(self, item: Item, draft: ReplyDraft, key: str) -> Post:
        """POST /api/v1/statuses with `Idempotency-Key: key`. Sent once: never retried here."""
        if not draft.ok:
            raise Rejected(f"not sent: {draft.problem}")
        await self._me()
        body: dict[str, Any] = {
            "status": draft.text,
            "in_reply_to_id": item.post.remote_id,
            # Defence in depth: whatever the draft says, never wider than the item.
            "visibility": narrow_visibility(item.post.visibility, draft.visibility),
        }
        if draft.spoiler_text:
            body["spoiler_text"] = draft.spoiler_text
        if draft.langs:
            body["language"] = draft.langs[0]
        answer = await self.http.post(
            "/api/v1/statuses", json=body, headers={"Idempotency-Key": key}, idempotent=False
        )
        return self._post(_dict(answer.data, "status"))

    async def find_reply(self, item: Item, key: str, text: str) -> Post | None:
        """Our recent statuses (GET /api/v1/accounts/:id/statuses): one answering the item with this
        text. (`Idempotency-Key` alone is not enough: some servers ignore it.)"""
        me = await self._me()
        answer = await self.http.get(
            f"/api/v1/accounts/{me}/statuses",
            params=[
                ("limit", str(STATUS_PAGE_MAX)),
                ("exclude_replies", "false"),
                ("exclude_reblogs", "true"),
            ],
        )
        wanted = _normal(text)
        for status in _list(answer.data, "statuses"):
            if str(status.get("in_reply_to_id") or "") != item.post.remote_id:
                continue
            candidates = [html_to_text(_str(status.get("content")), shorten_links=False)]
            if isinstance(status.get("text"), str):
                candidates.append(status["text"])
            if any(_normal(candidate) == wanted for candidate in candidates):
                return self._post(status)
        return None

    def prepare_post(self, text: str, *, visibility: str = "public", spoiler_text: str = "") -> ReplyDraft:
        """A new status: the text as typed, the CW counted, checked against the server's limit."""
        body = text.strip()
        spoiler = spoiler_text.strip()
        length = count_length(body, spoiler, url_characters=self.url_characters)
        maximum = self.max_length
        if not body:
            ok, problem = False, "the post is empty"
        elif length > maximum:
            ok, problem = False, f"too long: {length} of {maximum} characters"
        elif visibility not in VISIBILITY_ORDER:
            ok, problem = False, f"visibility {visibility!r}: expected one of {', '.join(VISIBILITY_ORDER)}"
        else:
            ok, problem = True, ""
        return ReplyDraft(
            text=body,
            in_reply_to="",
            visibility=visibility,
            spoiler_text=spoiler,
            langs=tuple(self.account.langs),
            length=length,
            max_length=maximum,
            ok=ok,
            problem=problem,
        )

    async def send_post(self, draft: ReplyDraft, key: str) -> Post:
        """POST /api/v1/statuses (no `in_reply_to_id`) with `Idempotency-Key: key`. Sent once."""
        if not draft.ok:
            raise Rejected(f"not sent: {draft.problem}")
        await self._me()
        body: dict[str, Any] = {"status": draft.text, "visibility": draft.visibility}
        if draft.spoiler_text:
            body["spoiler_text"] = draft.spoiler_text
        if draft.langs:
            body["language"] = draft.langs[0]
        answer = await self.http.post(
            "/api/v1/statuses", json=body, headers={"Idempotency-Key": key}, idempotent=False
        )
        return self._post(_dict(answer.data, "status"))

    async def find_post(self, key: str, text: str) -> Post | None:
        """Our recent statuses: a top-level one with this text (some servers ignore the key)."""
        me = await self._me()
        answer = await self.http.get(
            f"/api/v1/accounts/{me}/statuses",
            params=[
                ("limit", str(STATUS_PAGE_MAX)),
                ("exclude_replies", "true"),
                ("exclude_reblogs", "true"),
            ],
        )
        wanted = _normal(text)
        for status in _list(answer.data, "statuses"):
            if status.get("in_reply_to_id"):
                continue
            candidates = [html_to_text(_str(status.get("content")), shorten_links=False)]
            if isinstance(status.get("text"), str):
                candidates.append(status["text"])
            if any(_normal(candidate) == wanted for candidate in candidates):
                return self._post(status)
        return None

    async def favourite(self, post: Post) -> None:
        """POST /api/v1/statuses/:id/favourite (idempotent on the server: safe to retry)."""
        await self.http.post(f"/api/v1/statuses/{post.remote_id}/favourite", idempotent=True)

    async def boost(self, post: Post) -> None:
        """POST /api/v1/statuses/:id/reblog (idempotent on the server: safe to retry)."""
        await self.http.post(f"/api/v1/statuses/{post.remote_id}/reblog", idempotent=True)

    async def unfavourite(self, post: Post) -> None:
        """POST /api/v1/statuses/:id/unfavourite (idempotent on the server: safe to retry)."""
        await self.http.post(f"/api/v1/statuses/{post.remote_id}/unfavourite", idempotent=True)

    async def unboost(self, post: Post) -> None:
        """POST /api/v1/statuses/:id/unreblog (idempotent on the server: safe to retry)."""
        await self.http.post(f"/api/v1/statuses/{post.remote_id}/unreblog", idempotent=True)


# --- OAuth for `socialtui login` ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AppRegistration:
    """An OAuth application registered on a server (POST /api/v1/apps)."""

    client_id: str
    client_secret: str


async def register_app(
    server: str,
    client_name: str = "socialtui",
    *,
    website: str = "",
    transport: httpx.AsyncBaseTransport | None = None,
) -> AppRegistration:
    """Register socialtui on `server` for the out-of-band flow, with `SCOPES`."""
    http = HttpClient(server_url(server), transport=transport)
    try:
        form = {"client_name": client_name, "redirect_uris": OOB_REDIRECT, "scopes": SCOPES}
        if website:
            form["website"] = website
        data = _dict((await http.post("/api/v1/apps", data=form)).data, "apps")
        try:
            return AppRegistration(client_id=str(data["client_id"]), client_secret=str(data["client_secret"]))
        except KeyError as exc:
            raise MalformedAnswer(f"apps: no {exc}") from None
    finally:
        await http.aclose()


def authorize_url(server: str, client_id: str, *, scopes: str = SCOPES) -> str:
    """Where the operator signs in and gets the code to paste back."""
    query = urlencode(
        {"response_type": "code", "client_id": client_id, "redirect_uri": OOB_REDIRECT, "scope": scopes}
    )
    return f"{server_url(server)}/oauth/authorize?{query}"


async def exchange_code(
    server: str,
    client_id: str,
    client_secret: str,
    code: str,
    *,
    scopes: str = SCOPES,
    transport: httpx.AsyncBaseTransport | None = None,
) -> str:
    """The access token for the authorization `code` (POST /oauth/token)."""
    http = HttpClient(server_url(server), transport=transport)
    try:
        form = {
            "grant_type": "authorization_code",
            "code": code.strip(),
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uri": OOB_REDIRECT,
            "scope": scopes,
        }
        data = _dict((await http.post("/oauth/token", data=form)).data, "token")
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise MalformedAnswer("token: no access_token")
        return token
    finally:
        await http.aclose()


__all__ = [
    "AppRegistration",
    "MastodonAdapter",
    "authorize_url",
    "count_length",
    "countable_text",
    "exchange_code",
    "full_handle",
    "mentions",
    "narrow_visibility",
    "parse_account",
    "parse_notification",
    "parse_status",
    "register_app",
]
