"""The Mastodon adapter against recorded real payloads (GoToSocial captures and the Mastodon docs)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialtui.config import AccountConfig
from socialtui.model import Author, Item, Post, item_id
from socialtui.networks import mastodon
from socialtui.networks.base import Adapter, make_adapter
from socialtui.networks.errors import NetworkError, Rejected, ServerError
from socialtui.networks.mastodon import (
    SCOPES,
    MastodonAdapter,
    authorize_url,
    count_length,
    exchange_code,
    narrow_visibility,
    parse_notification,
    parse_status,
    register_app,
)
from socialtui.networks.text import html_to_text
from socialtui.timespec import ActiveHours

DATA = Path(__file__).parent / "data" / "mastodon"
ALICE = "01G4RGABB8RQ4YCG4Y9AQRHNPA"
BOB = "01B4CFXX18X3HB59AZ9Z533YTP"
GTS = "localhost:8080"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def recorded_headers(name: str) -> list[tuple[str, str]]:
    headers = []
    for line in (DATA / name).read_text().splitlines():
        if line.startswith("HTTP/") or ":" not in line:
            continue
        key, _, value = line.partition(":")
        if key.lower() not in ("content-length", "transfer-encoding"):
            headers.append((key.strip(), value.strip()))
    return headers


def account_config(**changes: Any) -> AccountConfig:
    fields: dict[str, Any] = dict(
        id="acme-masto",
        network="mastodon",
        server=f"http://{GTS}",
        handle=f"alice@{GTS}",
        timezone="UTC",
        tz=UTC,
        active_hours=ActiveHours.parse("always", UTC),
        max_quiet=timedelta(hours=4),
        reply_within=timedelta(hours=1),
        langs=("en",),
    )
    fields.update(changes)
    return AccountConfig(**fields)


class FakeServer:
    """Routes (method, path) to answers and records every request."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Any] = {}
        self.requests: list[httpx.Request] = []

    def on(self, method: str, path: str, answer: Any) -> None:
        self.routes[(method, path)] = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.routes.get((request.method, request.url.path))
        if answer is None:
            return httpx.Response(404, json={"error": "Record not found"})
        if callable(answer):
            answer = answer(request)
        if isinstance(answer, list) and answer and isinstance(answer[0], httpx.Response):
            return answer.pop(0)
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json=answer)

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]


def gts_server() -> FakeServer:
    """A server where we are alice on GoToSocial (the captures' server)."""
    server = FakeServer()
    server.on("GET", "/api/v1/accounts/verify_credentials", load("alice_post1.json")["account"])
    # The docs' instance (mastodon.social), moved to the capture's domain.
    server.on("GET", "/api/v2/instance", dict(load("instance_v2.json"), domain=GTS))
    return server


def adapter_for(fake: FakeServer, **changes: Any) -> MastodonAdapter:
    adapter = make_adapter(
        account_config(**changes), "token-123", transport=httpx.MockTransport(fake), now=lambda: NOW
    )
    assert isinstance(adapter, MastodonAdapter)
    return adapter


def bob_item() -> Item:
    """Bob's mention of alice (a reply to her first post), as alice's item."""
    item = parse_notification(load("alice_notifications.json")[0], account="acme-masto", domain=GTS, me=ALICE)
    assert item is not None
    return item


# --- parsing -----------------------------------------------------------------------------------------


def test_mention_that_answers_us_is_a_reply():
    item = bob_item()
    assert item.kind == "reply"
    assert item.id == item_id("acme-masto", "01M7YYQZVV3HM0BE0W01GV5K6Z")
    post = item.post
    assert post.remote_id == "01M7YYQZVV3HM0BE0W01GV5K6Z"  # a ULID, kept as the string it is
    assert post.author == Author(
        network="mastodon", handle=f"bob@{GTS}", id=BOB, display_name="bob", url="http://localhost:8080/@bob"
    )
    assert post.text == "@alice hi Alice, welcome! (a mention from Bob)"
    assert post.reply_to == "01M7YYQZG9H42R364RMP6RHJD9" and post.reply_to_author == ALICE
    assert post.created_at == datetime(2026, 11, 21, 11, 44, 24, 444000, tzinfo=UTC)
    assert item.notified_at == datetime(2026, 11, 21, 11, 44, 24, tzinfo=UTC)
    assert post.visibility == "public" and post.langs == ("en",) and not post.own
    assert post.url == "http://localhost:8080/@bob/statuses/01M7YYQZVV3HM0BE0W01GV5K6Z"


def test_docs_notifications_mention_and_favourite():
    mention, favourite = load("notifications_list_v1.stripped.json")
    reply = parse_notification(mention, account="a", domain="mastodon.social", me="14715")
    assert reply is not None and reply.kind == "reply"
    assert reply.post.author.handle == "zsc@mastodon.social"
    assert reply.post.text == "@trwnh sup!"
    other = parse_notification(mention, account="a", domain="mastodon.social", me="999")
    assert other is not None and other.kind == "mention"
    assert parse_notification(favourite, account="a", domain="mastodon.social", me="14715") is None


def test_quotes():
    quoted = load("status.entity.json")  # Gargron's status, quoted by a stranger
    status = dict(load("bob_mention.json"), quote={"state": "accepted", "quoted_status": quoted})
    status["in_reply_to_account_id"] = None
    as_mention = {"id": "n1", "type": "mention", "created_at": "2026-11-21T11:44:24.000Z", "status": status}
    item = parse_notification(as_mention, account="a", domain=GTS, me="1")
    assert item is not None and item.kind == "quote" and item.post.quote_of == "103270115826048975"
    as_quote = dict(as_mention, type="quote")
    item = parse_notification(as_quote, account="a", domain=GTS, me="someone-else")
    assert item is not None and item.kind == "quote"


def test_remote_acct_keeps_its_domain_and_own_posts_are_marked():
    post = parse_status(load("alice_reply.json"), account="a", domain=GTS, me=ALICE)
    assert post.own and post.author.handle == f"alice@{GTS}"
    remote = dict(load("alice_reply.json"))
    remote["account"] = dict(remote["account"], acct="carol@elsewhere.example")
    assert parse_status(remote, account="a", domain=GTS).author.handle == "carol@elsewhere.example"


# --- HTML to text ------------------------------------------------------------------------------------


def test_html_paragraphs_links_and_entities_from_the_docs():
    text = html_to_text(load("status.entity.json")["content"])
    assert text == (
        '"I lost my inheritance with one wrong digit on my sort code"\n\ntheguardian.com/money/2019/dec…'
    )


def test_html_br_mentions_hashtags_and_entities():
    html = (
        '<p><span class="h-card"><a href="https://x.example/@sam" class="u-url mention">@<span>sam</span></a>'
        "</span> fish &amp; chips &lt;3<br />line two<br>line three</p>"
        '<p><a href="https://x.example/tags/tea" class="mention hashtag" rel="tag">#<span>tea</span></a>'
        "   &quot;quoted&quot; &#x1F600;</p>"
    )
    assert html_to_text(html) == '@sam fish & chips <3\nline two\nline three\n\n#tea "quoted" 😀'


def test_html_script_is_text_and_control_sequences_are_removed():
    html = '<p>hi</p><script>alert("x")</script><p>\x1b[2Jred\x07 <b>bold</b></p>'
    text = html_to_text(html)
    assert 'alert("x")' in text  # shown as the text it is, never run
    assert "\x1b" not in text and "\x07" not in text
    assert text.endswith("[2Jred bold")


def test_html_quote_fallback_is_hidden():
    html = '<p class="quote-inline">RE: <a href="https://x.example/@a/1">x.example/@a/1</a></p><p>so true</p>'
    assert html_to_text(html) == "so true"


# --- length ------------------------------------------------------------------------------------------


def test_length_counts_urls_as_23():
    url = "https://example.com/a/very/long/path/that/keeps/going/and/going/and/going"
    assert count_length(f"see {url}") == 4 + 23
    assert count_length(f"see {url}.") == 4 + 23 + 1
    assert count_length("see example.com") == len("see example.com")  # no protocol: counted as typed


def test_length_counts_mention_username_only_and_graphemes():
    assert count_length("@bob@very.long.domain.example hi") == len("@bob hi")
    assert count_length("👨‍👩‍👧‍👦") == 1  # a ZWJ family is one grapheme
    assert count_length("🏳️‍🌈 e\u0301") == 3
    assert count_length("hi", "CW: food") == 2 + 8


# --- verify and fetching -----------------------------------------------------------------------------


async def test_verify_reads_credentials_and_instance_limits():
    server = FakeServer()
    server.on(
        "GET", "/api/v1/accounts/verify_credentials", load("credential_account_verify_credentials.json")
    )
    server.on("GET", "/api/v2/instance", load("instance_v2.json"))
    adapter = adapter_for(server, server="https://mastodon.social")
    info = await adapter.verify()
    assert (info.remote_id, info.handle, info.display_name) == (
        "14715",
        "trwnh@mastodon.social",
        "infinite love ⴳ",
    )
    assert (info.max_characters, info.characters_reserved_per_url) == (500, 23)
    assert adapter.max_length == 500
    assert server.requests[0].headers["authorization"] == "Bearer token-123"
    assert server.requests[0].headers["user-agent"].startswith("socialtui/")
    await adapter.aclose()


async def test_verify_falls_back_to_instance_v1():
    server = FakeServer()
    server.on(
        "GET", "/api/v1/accounts/verify_credentials", load("credential_account_verify_credentials.json")
    )
    server.on(
        "GET",
        "/api/v1/instance",
        {"uri": "small.example", "configuration": {"statuses": {"max_characters": 1000}}},
    )
    adapter = adapter_for(server, server="https://small.example")
    info = await adapter.verify()
    assert info.handle == "trwnh@small.example" and info.max_characters == 1000
    assert info.characters_reserved_per_url == 23


async def test_first_fetch_backfills_and_takes_the_cursor_from_the_link_header():
    server = gts_server()
    server.on(
        "GET",
        "/api/v1/notifications",
        httpx.Response(
            200,
            json=load("alice_notifications.json"),
            headers=recorded_headers("alice_notifications.headers"),
        ),
    )
    adapter = adapter_for(server)
    page = await adapter.fetch_items(None, NOW - timedelta(days=1), 50)
    assert [i.kind for i in page.items] == ["reply"]
    assert page.items[0].post.author.handle == f"bob@{GTS}"
    assert page.cursor == "01M7YYQZW137YS3FCT7ZZ0JWV1" and page.done
    query = server.requests[-1].url.params
    assert query.get_list("types[]") == ["mention", "quote"]
    assert "min_id" not in query and "max_id" not in query


async def test_next_fetch_walks_forward_with_min_id():
    server = gts_server()
    pages = [
        httpx.Response(
            200,
            json=load("alice_notifications.json"),
            headers=recorded_headers("alice_notifications.headers"),
        ),
        httpx.Response(200, json=[]),
    ]
    server.on("GET", "/api/v1/notifications", pages)
    adapter = adapter_for(server)
    page = await adapter.fetch_items("01M7YYQZ00000000000000OLD1", NOW - timedelta(days=1), 1)
    assert server.requests[-1].url.params["min_id"] == "01M7YYQZ00000000000000OLD1"
    assert server.requests[-1].url.params["limit"] == "1"
    assert len(page.items) == 1 and page.cursor == "01M7YYQZW137YS3FCT7ZZ0JWV1"
    assert not page.done  # the limit stopped us: more may be waiting
    page = await adapter.fetch_items(page.cursor, NOW - timedelta(days=1), 1)
    assert server.requests[-1].url.params["min_id"] == "01M7YYQZW137YS3FCT7ZZ0JWV1"
    assert page.items == [] and page.cursor == "01M7YYQZW137YS3FCT7ZZ0JWV1" and page.done


async def test_backfill_stops_at_since():
    server = gts_server()
    server.on("GET", "/api/v1/notifications", load("alice_notifications.json"))
    adapter = adapter_for(server)
    page = await adapter.fetch_items(None, datetime(2026, 11, 21, 11, 45, tzinfo=UTC), 50)
    assert page.items == [] and page.done
    assert server.paths().count("GET /api/v1/notifications") == 1


async def test_own_posts_and_requests_per_cycle():
    server = gts_server()
    server.on(
        "GET", f"/api/v1/accounts/{ALICE}/statuses", [load("alice_reply.json"), load("alice_post1.json")]
    )
    server.on("GET", "/api/v1/notifications", [])
    adapter = adapter_for(server)
    await adapter.verify()
    before = adapter.requests
    items = await adapter.fetch_items(None, NOW - timedelta(days=1), 50)
    own = await adapter.fetch_own_posts(None, NOW - timedelta(days=1), 50)
    assert adapter.requests - before == 2  # one request each for a quiet cycle
    assert items.items == [] and items.cursor is None
    assert [p.remote_id for p in own.items] == ["01M7YYQZG9H42R364RMP6RHJD9", "01M7YYR1BXNSYWZ6MNEGG30VVT"]
    assert all(p.own for p in own.items)
    assert own.cursor == "01M7YYR1BXNSYWZ6MNEGG30VVT"
    query = server.requests[-1].url.params
    assert query["exclude_replies"] == "false" and query["exclude_reblogs"] == "true"


async def test_home_timeline():
    server = gts_server()
    home = httpx.Response(200, json=load("home_page1.json"), headers=recorded_headers("home_page1.headers"))
    server.on("GET", "/api/v1/timelines/home", home)
    adapter = adapter_for(server)
    posts = await adapter.fetch_home(2)
    assert [p.remote_id for p in posts] == ["01M7YYR1BXNSYWZ6MNEGG30VVT", "01M7YYQZG9H42R364RMP6RHJD9"]
    assert server.requests[-1].url.params["limit"] == "2"
    assert server.paths().count("GET /api/v1/timelines/home") == 1


async def test_backfill_follows_link_next(monkeypatch):
    monkeypatch.setattr(mastodon, "NOTIFICATION_PAGE_MAX", 1)
    server = gts_server()
    pages = [
        httpx.Response(
            200,
            json=load("alice_notifications.json"),
            headers=recorded_headers("alice_notifications.headers"),
        ),
        httpx.Response(200, json=[]),
    ]
    server.on("GET", "/api/v1/notifications", pages)
    adapter = adapter_for(server)
    page = await adapter.fetch_items(None, NOW - timedelta(days=1), 5)
    assert len(page.items) == 1 and page.done and page.cursor == "01M7YYQZW137YS3FCT7ZZ0JWV1"
    assert server.requests[-1].url.params["max_id"] == "01M7YYQZW137YS3FCT7ZZ0JWV1"


async def test_thread_in_reading_order():
    server = gts_server()
    server.on("GET", "/api/v1/statuses/01M7YYQZVV3HM0BE0W01GV5K6Z/context", load("context.json"))
    adapter = adapter_for(server)
    thread = await adapter.fetch_thread(bob_item().post)
    assert [p.text for p in thread] == [
        "Hello from Alice! First post on this test server.",
        "@alice hi Alice, welcome! (a mention from Bob)",
        "@bob thanks Bob! (a reply from Alice)",
    ]
    assert [p.own for p in thread] == [True, False, True]


# --- replying ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "wanted", "expected"),
    [
        ("public", None, "public"),
        ("public", "unlisted", "unlisted"),
        ("public", "direct", "direct"),
        ("unlisted", None, "unlisted"),
        ("unlisted", "public", "unlisted"),
        ("unlisted", "private", "private"),
        ("private", "public", "private"),
        ("private", "unlisted", "private"),
        ("private", "direct", "direct"),
        ("direct", None, "direct"),
        ("direct", "public", "direct"),
        ("direct", "unlisted", "direct"),
        ("direct", "private", "direct"),
    ],
)
def test_visibility_is_never_wider_than_the_item(item, wanted, expected):
    assert narrow_visibility(item, wanted) == expected


def _item_with(**post_changes: Any) -> Item:
    item = bob_item()
    fields = {f: getattr(item.post, f) for f in item.post.__slots__}
    fields.update(post_changes)
    return Item(id=item.id, account=item.account, kind=item.kind, post=Post(**fields))


async def test_prepare_reply_mentions_the_author_once_and_inherits_cw_and_visibility():
    server = gts_server()
    adapter = adapter_for(server)
    await adapter.verify()
    item = _item_with(visibility="private", spoiler_text="food")
    draft = adapter.prepare_reply(item, "thanks Bob!")
    assert draft.text == f"@bob@{GTS} thanks Bob!"
    assert (draft.visibility, draft.spoiler_text, draft.langs) == ("private", "food", ("en",))
    # (`@bob@localhost:8080`: the port is no part of a mention's domain for Mastodon, so it counts.)
    assert draft.length == len("food") + len("@bob:8080 thanks Bob!") and draft.max_length == 500 and draft.ok
    assert adapter.prepare_reply(item, draft.text).text == draft.text  # prepared twice: mentioned once
    assert adapter.prepare_reply(item, "@bob thanks").text == "@bob thanks"  # a local user by bare name
    assert adapter.prepare_reply(item, "hi", visibility="public").visibility == "private"
    assert adapter.prepare_reply(item, "hi", visibility="direct").visibility == "direct"


async def test_prepare_reply_to_a_remote_author_and_limits():
    server = gts_server()
    adapter = adapter_for(server)
    await adapter.verify()
    remote = _item_with(author=Author(network="mastodon", handle="sam@example.org", id="77"))
    assert adapter.prepare_reply(remote, "@sam hello").text == "@sam@example.org @sam hello"
    assert adapter.prepare_reply(remote, "hello @SAM@example.org").text == "hello @SAM@example.org"
    empty = adapter.prepare_reply(remote, "  ")
    assert not empty.ok and empty.problem == "the reply is empty"
    fits = adapter.prepare_reply(remote, "x" * 495)
    assert fits.length == len("@sam ") + 495 == 500 and fits.ok
    long = adapter.prepare_reply(remote, "x" * 496)
    assert long.length == 501 and not long.ok and long.problem == "too long: 501 of 500 characters"
    with_url = adapter.prepare_reply(remote, "x" * 470 + " https://example.com/" + "p" * 200)
    assert with_url.length == 5 + 470 + 1 + 23 and with_url.ok


async def test_send_reply_posts_once_with_idempotency_key():
    server = gts_server()
    server.on("POST", "/api/v1/statuses", load("alice_reply.json"))
    adapter = adapter_for(server)
    await adapter.verify()
    item = _item_with(spoiler_text="cw")
    draft = adapter.prepare_reply(item, "thanks Bob! (a reply from Alice)")
    key = adapter.new_idempotency_key()
    assert len(key) == 32 and key != adapter.new_idempotency_key()
    post = await adapter.send_reply(item, draft, key)
    request = server.requests[-1]
    assert request.headers["idempotency-key"] == key
    body = json.loads(request.content)
    assert body == {
        "status": f"@bob@{GTS} thanks Bob! (a reply from Alice)",
        "in_reply_to_id": "01M7YYQZVV3HM0BE0W01GV5K6Z",
        "visibility": "public",
        "spoiler_text": "cw",
        "language": "en",
    }
    assert (
        post.own and post.remote_id == "01M7YYR1BXNSYWZ6MNEGG30VVT" and post.reply_to == item.post.remote_id
    )


async def test_send_reply_is_not_retried_and_refuses_a_bad_draft():
    server = gts_server()
    server.on("POST", "/api/v1/statuses", httpx.Response(500))
    adapter = adapter_for(server)
    await adapter.verify()
    item = bob_item()
    with pytest.raises(ServerError) as caught:
        await adapter.send_reply(item, adapter.prepare_reply(item, "hi"), "k1")
    assert caught.value.uncertain
    assert server.paths().count("POST /api/v1/statuses") == 1
    with pytest.raises(Rejected):
        await adapter.send_reply(item, adapter.prepare_reply(item, ""), "k2")
    assert server.paths().count("POST /api/v1/statuses") == 1


async def test_send_reply_timeout_is_uncertain():
    server = gts_server()

    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    server.on("POST", "/api/v1/statuses", timeout)
    adapter = adapter_for(server)
    await adapter.verify()
    item = bob_item()
    with pytest.raises(NetworkError) as caught:
        await adapter.send_reply(item, adapter.prepare_reply(item, "hi"), "k1")
    assert caught.value.uncertain


async def test_find_reply_looks_among_our_recent_statuses():
    server = gts_server()
    server.on(
        "GET", f"/api/v1/accounts/{ALICE}/statuses", [load("alice_post1.json"), load("alice_reply.json")]
    )
    adapter = adapter_for(server)
    item = bob_item()
    found = await adapter.find_reply(item, "k", f"@bob@{GTS} thanks Bob! (a reply from Alice)")
    assert found is not None and found.remote_id == "01M7YYR1BXNSYWZ6MNEGG30VVT" and found.own
    assert await adapter.find_reply(item, "k", "something else entirely") is None
    other = _item_with(remote_id="01M7YYQZG9H42R364RMP6RHJD9")
    assert await adapter.find_reply(other, "k", f"@bob@{GTS} thanks Bob! (a reply from Alice)") is None


async def test_favourite_and_boost():
    server = gts_server()
    server.on("POST", "/api/v1/statuses/01M7YYQZVV3HM0BE0W01GV5K6Z/favourite", load("bob_mention.json"))
    server.on("POST", "/api/v1/statuses/01M7YYQZVV3HM0BE0W01GV5K6Z/reblog", load("bob_mention.json"))
    adapter = adapter_for(server)
    await adapter.favourite(bob_item().post)
    await adapter.boost(bob_item().post)
    assert server.paths()[-2:] == [
        "POST /api/v1/statuses/01M7YYQZVV3HM0BE0W01GV5K6Z/favourite",
        "POST /api/v1/statuses/01M7YYQZVV3HM0BE0W01GV5K6Z/reblog",
    ]


def test_adapter_satisfies_the_contract():
    assert isinstance(adapter_for(FakeServer()), Adapter)


# --- OAuth -------------------------------------------------------------------------------------------


async def test_oauth_register_authorize_exchange():
    server = FakeServer()
    server.on("POST", "/api/v1/apps", load("app_create_response.json"))
    server.on("POST", "/oauth/token", load("oauth_token_response.json"))
    transport = httpx.MockTransport(server)
    app = await register_app("mastodon.example", "socialtui", transport=transport)
    assert app.client_id == "TWhM-tNSuncnqN7DBJmoyeLnk6K3iJJ71KKXxgL1hPM"
    form = httpx.QueryParams(server.requests[0].content.decode())
    assert form["redirect_uris"] == "urn:ietf:wg:oauth:2.0:oob" and form["scopes"] == SCOPES
    url = httpx.URL(authorize_url("mastodon.example", app.client_id))
    assert url.host == "mastodon.example" and url.path == "/oauth/authorize"
    assert url.params["redirect_uri"] == "urn:ietf:wg:oauth:2.0:oob" and url.params["scope"] == SCOPES
    assert url.params["response_type"] == "code"
    token = await exchange_code(
        "mastodon.example", app.client_id, app.client_secret, " the-code ", transport=transport
    )
    assert token == "ZA-Yj3aBD8U8Cm7lKUp-lm9O9BmDgdhHzDeqsY8tlL0"
    form = httpx.QueryParams(server.requests[1].content.decode())
    assert form["grant_type"] == "authorization_code" and form["code"] == "the-code"


# --- properties --------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_html_to_text_never_passes_control_characters(html):
    text = html_to_text(html)
    assert all(ch in "\n\t" or not (ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F) for ch in text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=100))
def test_length_never_exceeds_graphemes_of_plain_text(text):
    # Without URLs or mentions, Mastodon's length is the grapheme count.
    plain = text.replace("@", "").replace("http", "")
    assert count_length(plain) <= len(plain)


# --- listening ---------------------------------------------------------------------------------------


async def test_search_talk_words_keeps_public_posts_by_others_once():
    server = gts_server()
    server.on("GET", "/api/v2/search", load("search_statuses.json"))
    adapter = adapter_for(server)
    page = await adapter.search_talk("acme bikes", None, NOW - timedelta(days=1), 100)
    # The boost, our own post and the private post are not talk; carol's post is, once.
    assert [(p.author.handle, p.text) for p in page.items] == [
        ("carol@bikes.example", "acme bikes broke down again, never buying there")
    ]
    assert page.cursor == "01M7YYR1000000000000000004"  # the newest status seen (the boost)
    query = server.requests[-1].url.params
    assert (query["q"], query["type"], query["resolve"]) == ("acme bikes", "statuses", "false")
    assert "min_id" not in query
    assert server.paths().count("GET /api/v2/search") == 1


async def test_search_talk_words_from_a_cursor_walks_forward_with_min_id():
    server = gts_server()
    carol = load("search_statuses.json")["statuses"][1]
    full = [
        dict(carol, id=f"01M7YYR3{n:018d}", created_at=f"2026-11-21T11:{59 - n:02d}:00.000Z")
        for n in range(40)
    ]  # a full page, newest first: more may be newer still
    pages = [
        httpx.Response(200, json={"accounts": [], "statuses": full, "hashtags": []}),
        httpx.Response(200, json={"accounts": [], "statuses": [], "hashtags": []}),
    ]
    server.on("GET", "/api/v2/search", pages)
    adapter = adapter_for(server)
    page = await adapter.search_talk("acme bikes", "01M7YYR0000000000000000000", NOW - timedelta(days=1), 100)
    first, second = [r.url.params for r in server.requests if r.url.path == "/api/v2/search"]
    assert first["min_id"] == "01M7YYR0000000000000000000" and "max_id" not in first
    assert second["min_id"] == "01M7YYR3000000000000000000"  # after the newest of the full page
    assert len(page.items) == 40 and page.done
    assert page.cursor == "01M7YYR3000000000000000000"


async def test_search_talk_hashtag_uses_the_tag_timeline_and_its_link_header():
    server = gts_server()
    server.on(
        "GET",
        "/api/v1/timelines/tag/acmebikes",
        httpx.Response(
            200, json=load("tag_acmebikes.json"), headers=recorded_headers("tag_acmebikes.headers")
        ),
    )
    adapter = adapter_for(server)
    page = await adapter.search_talk("#acmebikes", None, NOW - timedelta(hours=1), 100)
    assert [p.text for p in page.items] == [
        "Sunday ride with the club #acmebikes",
        "Mein Rad ist kaputt #acmebikes",
    ]
    assert page.items[1].langs == ("de",)
    assert page.cursor == "01M7YYR2000000000000000002"  # from rel="prev"
    assert "/api/v2/search" not in {r.url.path for r in server.requests}


async def test_search_talk_words_on_a_server_without_full_text_search_is_unsupported():
    from socialtui.networks.errors import Unsupported

    server = gts_server()
    server.on("GET", "/api/v2/search", httpx.Response(422, json={"error": "full-text search is not enabled"}))
    adapter = adapter_for(server)
    with pytest.raises(Unsupported) as info:
        await adapter.search_talk("acme bikes", None, NOW - timedelta(days=1), 40)
    assert str(info.value).startswith("this server searches hashtags only")
    # A 5xx is a failure of the moment, not a missing feature.
    server.on("GET", "/api/v2/search", httpx.Response(503, json={"error": "down"}))
    with pytest.raises(ServerError):
        await adapter_for(server).search_talk("acme bikes", None, NOW - timedelta(days=1), 40)
