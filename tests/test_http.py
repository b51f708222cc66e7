"""The HTTP wrapper: rate-limit headers (with clock skew), Link paging, error mapping, backoff."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from socialtui import __version__
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
from socialtui.networks.http import (
    HttpClient,
    link_param,
    parse_link_header,
    parse_rate_limit,
    parse_retry_after,
)

DATA = Path(__file__).parent / "data"


def recorded_headers(path: Path) -> list[tuple[str, str]]:
    """`Name: value` lines of a recorded answer (the status line and comments skipped)."""
    headers = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith(("HTTP/", "#")) or ":" not in line:
            continue
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return headers


class Sleeps:
    """An injected `sleep` that records and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def client_for(handler, *, now=None, sleep=None, **options) -> HttpClient:
    return HttpClient(
        "https://example.social",
        transport=httpx.MockTransport(handler),
        now=now or Clock(datetime(2026, 11, 21, 12, 0, tzinfo=UTC)),
        sleep=sleep or Sleeps(),
        **options,
    )


# --- rate-limit headers ------------------------------------------------------------------------------


def test_mastodon_rate_limit_from_gotosocial_headers_is_corrected_for_clock_skew():
    headers = httpx.Headers(recorded_headers(DATA / "mastodon" / "alice_notifications.headers"))
    # The server said Date 11:44:25 and Reset 11:49:20: 4 min 55 s away. Our clock runs 15 minutes ahead.
    ours = datetime(2026, 11, 21, 11, 59, 25, tzinfo=UTC)
    limit = parse_rate_limit(headers, ours)
    assert limit is not None
    assert (limit.limit, limit.remaining) == (300, 286)
    assert limit.reset_at == ours + timedelta(minutes=4, seconds=55)
    assert not limit.exhausted


def test_mastodon_rate_limit_without_date_header_takes_reset_as_is():
    limit = parse_rate_limit(
        {
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": "2026-11-21T11:49:20.123456Z",
        },
        datetime(2026, 11, 21, 11, 0, tzinfo=UTC),
    )
    assert limit is not None and limit.exhausted
    assert limit.reset_at == datetime(2026, 11, 21, 11, 49, 20, 123456, tzinfo=UTC)


def test_bluesky_rate_limit_429_epoch_reset_and_retry_after_with_skew():
    text = (DATA / "bluesky" / "ratelimit_429.txt").read_text()
    headers = httpx.Headers(recorded_headers(DATA / "bluesky" / "ratelimit_429.txt"))
    assert '"RateLimitExceeded"' in text
    # Server Date 11:41:44, RateLimit-Reset 1795261586 = 11:46:26 (282 s later), Retry-After 283.
    ours = datetime(2026, 11, 21, 11, 30, 0, tzinfo=UTC)  # our clock is almost 12 minutes behind
    limit = parse_rate_limit(headers, ours)
    assert limit is not None
    assert (limit.limit, limit.remaining, limit.policy) == (30, 0, "30;w=300")
    assert limit.reset_at == ours + timedelta(seconds=282)
    assert parse_retry_after(headers, ours) == ours + timedelta(seconds=283)


def test_bluesky_rate_limit_headers_without_date():
    headers = httpx.Headers(recorded_headers(DATA / "bluesky" / "ratelimit_headers.txt")[-4:])
    limit = parse_rate_limit(headers, datetime(2026, 11, 21, 11, 41, tzinfo=UTC))
    assert limit is not None
    assert (limit.limit, limit.remaining, limit.policy) == (3000, 2977, "3000;w=300")
    assert limit.reset_at == datetime.fromtimestamp(1795261581, UTC)


def test_retry_after_as_http_date_is_corrected_for_skew():
    headers = {"Retry-After": "Sat, 21 Nov 2026 11:45:00 GMT", "Date": "Sat, 21 Nov 2026 11:44:00 GMT"}
    ours = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    assert parse_retry_after(headers, ours) == ours + timedelta(minutes=1)


def test_no_rate_limit_headers():
    assert parse_rate_limit({"Content-Type": "application/json"}, datetime.now(UTC)) is None


# --- Link headers ------------------------------------------------------------------------------------


def test_link_headers_from_the_docs_including_the_malformed_one():
    first, second, third = (DATA / "mastodon" / "link_headers.txt").read_text().splitlines()
    assert parse_link_header(first) == {
        "next": "https://mastodon.example/api/v1/notifications?max_id=34975535"
    }
    assert parse_link_header(second) == {
        "next": "https://mastodon.social/api/v2/notifications?limit=2&max_id=196012",
        "prev": "https://mastodon.social/api/v2/notifications?limit=2&min_id=196014",
    }
    links = parse_link_header(third)
    assert link_param(links, "next", "max_id") == "7163058"
    assert link_param(links, "prev", "min_id") == "7275607"


def test_link_header_from_gotosocial_keeps_ulids_as_strings():
    headers = httpx.Headers(recorded_headers(DATA / "mastodon" / "alice_notifications.headers"))
    links = parse_link_header(headers["link"])
    assert link_param(links, "prev", "min_id") == "01M7YYQZW137YS3FCT7ZZ0JWV1"
    assert link_param(links, "next", "max_id") == "01M7YYQZW137YS3FCT7ZZ0JWV1"
    assert httpx.URL(links["next"]).params.get_list("types[]") == ["mention"]
    assert parse_link_header("") == {} and parse_link_header(None) == {}


# --- error mapping -----------------------------------------------------------------------------------


def _json(name: str) -> bytes:
    return (DATA / "mastodon" / name).read_bytes()


HTML_PAGE = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"

ERROR_CASES = [
    # (status, body, headers, expected class, uncertain, transient)
    (401, _json("error_401_invalid_token.json"), {}, AuthRefused, False, False),
    (403, _json("error_403_login_disabled.json"), {}, AuthRefused, False, False),
    (404, _json("error_404_record_not_found.json"), {}, NotFound, False, False),
    (422, _json("error_422_status_post.json"), {}, Rejected, False, False),
    (429, _json("error_429_too_many_requests.json"), {"Retry-After": "120"}, RateLimited, False, True),
    (500, b"", {}, ServerError, True, True),
    (500, b'{"error":"InternalServerError","message":"Internal Server Error"}', {}, ServerError, True, True),
    (502, HTML_PAGE, {"Content-Type": "text/html"}, ServerError, True, True),
    (400, b'{"error":"ExpiredToken","message":"Token has expired"}', {}, AuthExpired, False, False),
    (400, b'{"error":"InvalidToken","message":"Malformed token"}', {}, AuthRefused, False, False),
    (401, b'{"error":"AuthMissing","message":"Authentication Required"}', {}, AuthRefused, False, False),
    (400, b'{"error":"RecordNotFound","message":"Could not locate record"}', {}, NotFound, False, False),
]


@pytest.mark.parametrize(("status", "body", "headers", "expected", "uncertain", "transient"), ERROR_CASES)
async def test_error_mapping(status, body, headers, expected, uncertain, transient):
    client = client_for(lambda request: httpx.Response(status, content=body, headers=headers), max_attempts=1)
    with pytest.raises(expected) as caught:
        await client.get("/api/v1/notifications")
    failure = caught.value
    assert isinstance(failure, NetworkFailure)
    assert failure.status == status
    assert (failure.uncertain, failure.transient) == (uncertain, transient)
    await client.aclose()


async def test_error_message_carries_the_servers_words():
    client = client_for(lambda r: httpx.Response(422, content=_json("error_422_status_post.json")))
    with pytest.raises(Rejected, match="Validation failed: Text can't be blank"):
        await client.post("/api/v1/statuses", json={"status": ""})


async def test_429_gives_reset_at_and_blocks_the_bucket_without_sending():
    clock = Clock(datetime(2026, 11, 21, 12, 0, tzinfo=UTC))
    sent = []

    def handler(request):
        sent.append(request)
        return httpx.Response(
            429,
            json={"error": "Too many requests"},
            headers={"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "Retry-After": "240"},
        )

    client = client_for(handler, now=clock)
    with pytest.raises(RateLimited) as caught:
        await client.get("/api/v1/notifications")
    assert caught.value.reset_at == clock.at + timedelta(seconds=240)
    with pytest.raises(RateLimited):
        await client.get("/api/v1/timelines/home")
    assert len(sent) == 1 and client.requests == 1


async def test_html_page_with_200_is_malformed():
    page = b"<html><body><h1>We'll be back soon</h1></body></html>"
    client = client_for(lambda r: httpx.Response(200, content=page, headers={"Content-Type": "text/html"}))
    with pytest.raises(MalformedAnswer) as caught:
        await client.get("/api/v1/notifications")
    assert not caught.value.transient


async def test_read_timeout_is_an_uncertain_network_error():
    def handler(request):
        raise httpx.ReadTimeout("timed out", request=request)

    client = client_for(handler)
    with pytest.raises(NetworkError) as caught:
        await client.post("/api/v1/statuses", json={"status": "hi"})
    assert caught.value.uncertain and caught.value.transient
    assert client.requests == 1  # a POST is never retried here


async def test_connect_error_is_a_certain_network_error():
    def handler(request):
        raise httpx.ConnectError("connection refused", request=request)

    client = client_for(handler, max_attempts=1)
    with pytest.raises(NetworkError) as caught:
        await client.get("/api/v1/notifications")
    assert not caught.value.uncertain and caught.value.transient


async def test_dropped_connection_mid_answer_is_uncertain():
    def handler(request):
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")

    client = client_for(handler)
    with pytest.raises(NetworkError) as caught:
        await client.post("/xrpc/com.atproto.repo.createRecord", json={})
    assert caught.value.uncertain


# --- retries and backoff -----------------------------------------------------------------------------


async def test_get_is_retried_on_5xx_with_bounded_jittered_backoff():
    answers = [httpx.Response(503), httpx.Response(500, json={"error": "x"}), httpx.Response(200, json=[])]
    sleeps = Sleeps()
    client = client_for(lambda r: answers.pop(0), sleep=sleeps, backoff_base=1.0, backoff_cap=8.0)
    answer = await client.get("/api/v1/notifications")
    assert answer.data == [] and client.requests == 3
    assert len(sleeps.calls) == 2
    assert 0 <= sleeps.calls[0] <= 1.0 and 0 <= sleeps.calls[1] <= 2.0


async def test_get_gives_up_after_max_attempts():
    sleeps = Sleeps()
    client = client_for(lambda r: httpx.Response(500), sleep=sleeps, max_attempts=3)
    with pytest.raises(ServerError) as caught:
        await client.get("/api/v1/notifications")
    assert caught.value.uncertain
    assert client.requests == 3 and len(sleeps.calls) == 2


async def test_get_is_retried_on_timeouts():
    calls = []

    def handler(request):
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(200, json={"ok": True})

    client = client_for(handler)
    assert (await client.get("/x")).data == {"ok": True}
    assert len(calls) == 2


async def test_post_is_never_retried():
    sleeps = Sleeps()
    client = client_for(lambda r: httpx.Response(500), sleep=sleeps)
    with pytest.raises(ServerError):
        await client.post("/api/v1/statuses", json={"status": "hi"})
    assert client.requests == 1 and sleeps.calls == []


async def test_4xx_is_not_retried():
    client = client_for(lambda r: httpx.Response(404, json={"error": "Record not found"}))
    with pytest.raises(NotFound):
        await client.get("/api/v1/statuses/1")
    assert client.requests == 1


def test_backoff_is_full_jitter_capped():
    client = HttpClient("https://example.social", rng=random.Random(7), backoff_base=0.5, backoff_cap=4.0)
    for retry in range(1, 10):
        delays = [client.backoff_delay(retry) for _ in range(200)]
        ceiling = min(4.0, 0.5 * 2 ** (retry - 1))
        assert all(0 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 150  # jittered, not a fixed schedule
        assert max(delays) > ceiling * 0.8  # and spread over the whole range


# --- waiting for the bucket --------------------------------------------------------------------------


def _exhausted(reset_in: float, clock: Clock) -> dict[str, str]:
    reset = clock.at + timedelta(seconds=reset_in)
    return {
        "X-RateLimit-Limit": "300",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": reset.isoformat().replace("+00:00", "Z"),
        "Date": clock.at.strftime("%a, %d %b %Y %H:%M:%S GMT"),
    }


async def test_empty_bucket_waits_when_the_reset_is_near():
    clock = Clock(datetime(2026, 11, 21, 12, 0, tzinfo=UTC))
    sleeps = Sleeps()
    client = client_for(
        lambda r: httpx.Response(200, json=[], headers=_exhausted(12, clock)), now=clock, sleep=sleeps
    )
    await client.get("/api/v1/notifications")
    assert client.rate_limit is not None and client.rate_limit.remaining == 0
    await client.get("/api/v1/notifications")
    assert sleeps.calls == [12.0]
    assert client.requests == 2


async def test_empty_bucket_raises_when_the_reset_is_far():
    clock = Clock(datetime(2026, 11, 21, 12, 0, tzinfo=UTC))
    sleeps = Sleeps()
    client = client_for(
        lambda r: httpx.Response(200, json=[], headers=_exhausted(300, clock)),
        now=clock,
        sleep=sleeps,
        max_wait=30,
    )
    await client.get("/api/v1/notifications")
    with pytest.raises(RateLimited) as caught:
        await client.get("/api/v1/notifications")
    assert caught.value.reset_at == clock.at + timedelta(seconds=300)
    assert client.requests == 1 and sleeps.calls == []
    # A write has its own bucket: it is not held back by the read budget.
    await client.post("/api/v1/statuses/1/favourite")
    assert client.requests == 2


async def test_bucket_refilled_after_reset_passes():
    clock = Clock(datetime(2026, 11, 21, 12, 0, tzinfo=UTC))
    sleeps = Sleeps()
    client = client_for(
        lambda r: httpx.Response(200, json=[], headers=_exhausted(300, clock)), now=clock, sleep=sleeps
    )
    await client.get("/a")
    clock.at += timedelta(seconds=301)
    await client.get("/a")
    assert sleeps.calls == [] and client.requests == 2


# --- the client itself -------------------------------------------------------------------------------


async def test_user_agent_and_json_body():
    seen = {}

    def handler(request):
        seen["ua"] = request.headers["user-agent"]
        seen["body"] = json.loads(request.content)
        return httpx.Response(200, json={"id": "1"})

    client = client_for(handler)
    answer = await client.post("/api/v1/statuses", json={"status": "hi"})
    assert seen == {"ua": f"socialtui/{__version__}", "body": {"status": "hi"}}
    assert answer.data == {"id": "1"}
    await client.aclose()
