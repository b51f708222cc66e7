"""The one HTTP wrapper: one `httpx.AsyncClient` per account, typed errors, rate limits, retries.

Everything that talks to a server goes through `HttpClient.request`. It

- turns every failure into a `NetworkFailure` subclass (`errors.py`), in one place (`failure_for`);
- parses the rate-limit headers of every answer (Mastodon `X-RateLimit-*`, Bluesky `RateLimit-*`,
  `Retry-After`) into a `RateLimit`, with the reset time moved onto our clock using the server's
  `Date` header (servers and this machine rarely agree on the time);
- waits (`asyncio.sleep`, injectable) before a request when the bucket is empty and the wait is short,
  and raises `RateLimited` without sending when it is long;
- retries idempotent requests (GET) on 5xx and timeouts with capped exponential backoff and full
  jitter; never retries a POST unless the caller says it is idempotent (the outbox decides);
- counts the requests it sends (`requests`), for the "requests per account per cycle" benchmark.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from socialtui import __version__
from socialtui.model import parse_time
from socialtui.networks.errors import (
    AuthExpired,
    AuthRefused,
    MalformedAnswer,
    NetworkError,
    NetworkFailure,
    NotFound,
    RateLimited,
    Rejected,
    ServerError,
)
from socialtui.retry import Backoff
from socialtui.text import one_line

USER_AGENT = f"socialtui/{__version__}"
DEFAULT_TIMEOUT = httpx.Timeout(20.0, connect=10.0)
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

Now = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]

# XRPC error names (Bluesky) that mean the same as an HTTP status elsewhere.
_EXPIRED_ERRORS = frozenset({"ExpiredToken"})
_AUTH_ERRORS = frozenset({"InvalidToken", "AuthMissing", "AuthenticationRequired", "AccountTakedown"})
_NOT_FOUND_ERRORS = frozenset({"RecordNotFound", "NotFound"})
_RATE_ERRORS = frozenset({"RateLimitExceeded"})


def _utc_now() -> datetime:
    return datetime.now(UTC)


def server_url(server: str) -> str:
    """The base URL of a configured server: `mastodon.social` means `https://mastodon.social`."""
    server = server.strip().rstrip("/")
    return server if "://" in server else f"https://{server}"


# --- rate limits -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RateLimit:
    """One rate-limit bucket as the server last described it. `reset_at` is on OUR clock."""

    limit: int | None
    remaining: int | None
    reset_at: datetime | None
    policy: str = ""
    """Bluesky `RateLimit-Policy`, e.g. `3000;w=300` (3000 requests per 300 s window)."""

    @property
    def exhausted(self) -> bool:
        return self.remaining is not None and self.remaining <= 0


def server_date(headers: Mapping[str, str]) -> datetime | None:
    """The server's `Date` header as an aware UTC datetime, or None."""
    value = httpx.Headers(headers).get("date")
    if not value:
        return None
    try:
        at = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC)


def _to_local(remote: datetime, server_now: datetime | None, now: datetime) -> datetime:
    """A server timestamp on our clock: now + (remote - server's now). Never in the past."""
    if server_now is None:
        return remote
    return now + max(remote - server_now, timedelta(0))


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip().split(",")[0].split(";")[0])
    except ValueError:
        return None


def _parse_reset(value: str, server_now: datetime | None, now: datetime) -> datetime | None:
    """A reset header: ISO-8601 (Mastodon), epoch seconds (Bluesky), or delta seconds (IETF draft)."""
    value = value.strip()
    if not value:
        return None
    number = _int(value)
    if number is not None and re.fullmatch(r"\d+", value):
        if number > 1_000_000_000:  # epoch seconds
            remote = datetime.fromtimestamp(number, UTC)
            return _to_local(remote, server_now, now)
        return now + timedelta(seconds=number)
    try:
        remote = parse_time(value)
    except ValueError:
        return None
    return _to_local(remote, server_now, now)


def parse_retry_after(headers: Mapping[str, str], now: datetime) -> datetime | None:
    """`Retry-After` (seconds, or an HTTP date corrected for skew) as a time on our clock."""
    headers = httpx.Headers(headers)
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return now + timedelta(seconds=float(value))
    try:
        remote = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if remote.tzinfo is None:
        remote = remote.replace(tzinfo=UTC)
    return _to_local(remote.astimezone(UTC), server_date(headers), now)


def parse_rate_limit(headers: Mapping[str, str], now: datetime) -> RateLimit | None:
    """The rate-limit headers of one answer, or None when it has none.

    Mastodon: `X-RateLimit-Limit/Remaining/Reset` (Reset ISO-8601). Bluesky: `RateLimit-Limit/
    Remaining/Reset` (Reset epoch seconds) and `RateLimit-Policy`. The reset is moved onto our clock:
    reset_local = now_local + (reset - server Date).
    """
    headers = httpx.Headers(headers)
    for prefix in ("x-ratelimit-", "ratelimit-"):
        limit = headers.get(prefix + "limit")
        remaining = headers.get(prefix + "remaining")
        reset = headers.get(prefix + "reset")
        if limit is None and remaining is None and reset is None:
            continue
        reset_at = _parse_reset(reset, server_date(headers), now) if reset else None
        return RateLimit(
            limit=_int(limit),
            remaining=_int(remaining),
            reset_at=reset_at,
            policy=headers.get("ratelimit-policy", ""),
        )
    return None


# --- Link headers ------------------------------------------------------------------------------------

_LINK_RE = re.compile(r"<([^>]*)>([^<]*)")
_REL_RE = re.compile(r"""rel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""", re.IGNORECASE)


def parse_link_header(value: str | None) -> dict[str, str]:
    """`Link: <url>; rel="next", <url>; rel="prev"` as {rel: url}. Tolerates the malformed ones the
    Mastodon docs show (a trailing `;`, a link without `rel`)."""
    links: dict[str, str] = {}
    if not value:
        return links
    for match in _LINK_RE.finditer(value):
        url, params = match.group(1).strip(), match.group(2)
        rel = _REL_RE.search(params)
        if not rel or not url:
            continue
        for name in (rel.group(1) or rel.group(2) or "").split():
            links.setdefault(name.lower(), url)
    return links


def link_param(links: Mapping[str, str], rel: str, name: str) -> str | None:
    """A query parameter of the `rel` link (e.g. `min_id` of `prev`), or None."""
    url = links.get(rel)
    if not url:
        return None
    try:
        return httpx.URL(url).params.get(name)
    except httpx.InvalidURL:
        return None


# --- answers and failures ----------------------------------------------------------------------------


@dataclass(slots=True)
class Answer:
    """A successful answer, already read: what the adapters work with (never leaves networks/)."""

    status: int
    data: Any
    headers: httpx.Headers
    links: dict[str, str] = field(default_factory=dict)


def _error_body(response: httpx.Response) -> tuple[str, str]:
    """(error name, message) from a JSON error body, ('', '') if there is none."""
    try:
        body = response.json()
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    error = body.get("error")
    message = body.get("message") or body.get("error_description") or ""
    return (error if isinstance(error, str) else ""), (message if isinstance(message, str) else "")


def _looks_like_json(response: httpx.Response) -> bool:
    ctype = response.headers.get("content-type", "").lower()
    return "json" in ctype or response.content[:1] in (b"{", b"[")


ERROR_TEXT_MAX = 300
"""Characters of a server's error message kept (it goes into the health summary and the CLI)."""


def failure_for(response: httpx.Response, now: datetime, *, auth_hint: str = "") -> NetworkFailure:
    """The typed failure for a non-2xx answer. The one place statuses become errors.

    The server's words are a stranger's text: cleaned here, where they enter (`text.one_line`), so no
    escape sequence reaches the store's health, a log or a terminal. `auth_hint` is added to an
    authentication failure: what the operator should do (`run socialtui login ACCOUNT`)."""
    status = response.status_code
    error, message = _error_body(response) if _looks_like_json(response) else ("", "")
    error = one_line(error, 100)
    # Mastodon puts its human message in `error`; XRPC puts a name there and the text in `message`.
    text = one_line(message or error or response.reason_phrase, ERROR_TEXT_MAX) or f"HTTP {status}"
    detail = f"HTTP {status}: {text}"
    if status == 429 or error in _RATE_ERRORS:
        reset_at = parse_retry_after(response.headers, now)
        limit = parse_rate_limit(response.headers, now)
        if reset_at is None and limit is not None:
            reset_at = limit.reset_at
        return RateLimited(reset_at, status=status, error=error)
    hint = f"; {auth_hint}" if auth_hint else ""
    if error in _EXPIRED_ERRORS or (status == 401 and "expired" in text.lower()):
        return AuthExpired(detail + hint, status=status, error=error)
    if status in (401, 403) or error in _AUTH_ERRORS:
        return AuthRefused(detail + hint, status=status, error=error)
    if status in (404, 410) or error in _NOT_FOUND_ERRORS:
        return NotFound(detail, status=status, error=error)
    if status >= 500:
        return ServerError(status, detail, error=error, transient=status != 501)
    if 300 <= status < 400:
        return MalformedAnswer(f"unexpected redirect: {detail}", status=status)
    return Rejected(detail, status=status, error=error)


def failure_for_exception(exc: httpx.HTTPError) -> NetworkFailure:
    """The typed failure for a transport error. `uncertain` when the request may have been sent."""
    name = type(exc).__name__
    text = str(exc) or name
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        return NetworkError(f"cannot connect: {text}", uncertain=False)
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL)):
        return NetworkError(f"bad request: {text}", uncertain=False, transient=False)
    if isinstance(exc, httpx.TimeoutException):  # read or write timeout: the request went (partly) out
        return NetworkError(f"timed out ({name}): {text}", uncertain=True)
    if isinstance(exc, httpx.DecodingError):
        return MalformedAnswer(f"cannot decode the answer: {text}", uncertain=True)
    # ReadError, WriteError, RemoteProtocolError (connection dropped mid-answer), anything else.
    return NetworkError(f"connection failed ({name}): {text}", uncertain=True)


def _decode_json(response: httpx.Response) -> Any:
    if not response.content.strip():
        return None
    try:
        return response.json()
    except ValueError:
        ctype = response.headers.get("content-type", "?")
        raise MalformedAnswer(
            f"HTTP {response.status_code}: the answer is not JSON ({ctype})",
            status=response.status_code,
            uncertain=True,
        ) from None


# --- the client --------------------------------------------------------------------------------------


class HttpClient:
    """One account's connection to one server. Close it with `aclose()`."""

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        now: Now | None = None,
        sleep: Sleep | None = None,
        rng: random.Random | None = None,
        max_wait: float = 30.0,
        max_attempts: int = 3,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        auth_hint: str = "",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            timeout=timeout,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
            follow_redirects=False,
        )
        self.now: Now = now or _utc_now
        self.sleep: Sleep = sleep or asyncio.sleep
        self.rng = rng or random.Random()
        self.max_wait = max_wait
        """Longest wait (seconds) for an empty rate-limit bucket to refill before a request."""
        self.max_attempts = max(1, max_attempts)
        self.backoff = Backoff(backoff_base, backoff_cap)
        """Between retries of an idempotent request: full jitter (`socialtui.retry`)."""
        self.auth_hint = auth_hint
        """Added to authentication failures: what to do about them (see `failure_for`)."""
        self.requests = 0
        """HTTP requests sent (retries included)."""
        self.rate_limit: RateLimit | None = None
        """The last rate limit any answer described."""
        self.rate_limits: dict[str, RateLimit] = {}
        """Per bucket: `GET` (reads share the account's budget), or `POST /path` per write route."""

    @property
    def headers(self) -> httpx.Headers:
        """Headers sent with every request (e.g. Authorization); mutable."""
        return self._client.headers

    async def aclose(self) -> None:
        await self._client.aclose()

    @staticmethod
    def bucket(method: str, url: str) -> str:
        """The rate-limit bucket a request counts against."""
        method = method.upper()
        if method in ("GET", "HEAD"):
            return "GET"
        path = httpx.URL(url).path if "://" in url else url.split("?", 1)[0]
        return f"{method} {path}"

    def backoff_delay(self, retry: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**(retry-1))] for the `retry`-th retry (1-based)."""
        return self.backoff.delay(retry, self.rng)

    async def get(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("POST", path, **kwargs)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> Answer:
        """Send one request (with retries when idempotent) and return the decoded answer.

        Raises a `NetworkFailure` subclass for every failure, and nothing else.
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        attempts = self.max_attempts if idempotent else 1
        bucket = self.bucket(method, path)
        attempt = 0
        while True:
            attempt += 1
            await self._respect_rate_limit(bucket)
            try:
                return await self._send_once(method, path, bucket, params, json, data, headers)
            except (ServerError, NetworkError) as failure:
                if attempt >= attempts or not failure.transient:
                    raise
            await self.sleep(self.backoff_delay(attempt))

    async def _respect_rate_limit(self, bucket: str) -> None:
        state = self.rate_limits.get(bucket)
        if state is None or not state.exhausted or state.reset_at is None:
            return
        wait = (state.reset_at - self.now()).total_seconds()
        if wait <= 0:
            return
        if wait > self.max_wait:
            raise RateLimited(state.reset_at)
        await self.sleep(wait)
        # The bucket refilled (or the server will say otherwise on the next answer).
        self.rate_limits[bucket] = RateLimit(state.limit, None, None, state.policy)

    async def _send_once(
        self,
        method: str,
        path: str,
        bucket: str,
        params: Any,
        json: Any,
        data: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
    ) -> Answer:
        self.requests += 1
        try:
            response = await self._client.request(
                method, path, params=params, json=json, data=data, headers=headers
            )
        except httpx.HTTPError as exc:
            raise failure_for_exception(exc) from exc
        now = self.now()
        limit = parse_rate_limit(response.headers, now)
        if response.status_code == 429:
            reset_at = parse_retry_after(response.headers, now) or (limit.reset_at if limit else None)
            limit = RateLimit(limit.limit if limit else None, 0, reset_at, limit.policy if limit else "")
        if limit is not None:
            self.rate_limits[bucket] = limit
            self.rate_limit = limit
        if not 200 <= response.status_code < 300:
            raise failure_for(response, now, auth_hint=self.auth_hint)
        return Answer(
            status=response.status_code,
            data=_decode_json(response),
            headers=response.headers,
            links=parse_link_header(response.headers.get("link")),
        )


__all__ = [
    "USER_AGENT",
    "Answer",
    "HttpClient",
    "RateLimit",
    "failure_for",
    "failure_for_exception",
    "link_param",
    "parse_link_header",
    "parse_rate_limit",
    "parse_retry_after",
    "server_date",
    "server_url",
]
