"""The Bluesky adapter against recorded real payloads (the reference network run locally, the docs)."""

from __future__ import annotations

import asyncio
import base64
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
from socialtui.networks.base import Adapter, MemorySessionStore, make_adapter
from socialtui.networks.bluesky import (
    BlueskyAdapter,
    build_facets,
    decode_tid,
    encode_tid,
    flatten_thread,
    jwt_expiry,
    next_tid,
    parse_notification,
    parse_post_view,
    post_time,
)
from socialtui.networks.errors import AuthRefused, RateLimited, ServerError
from socialtui.timespec import ActiveHours

DATA = Path(__file__).parent / "data" / "bluesky"
ALICE = "did:plc:e6rpqdletryemb5dnqifyxlw"
BOB = "did:plc:b6mtazxe6xxhclnnsottjvlb"
ROOT_URI = "at://did:plc:e6rpqdletryemb5dnqifyxlw/app.bsky.feed.post/3n2szj3d2b22v"
ROOT_CID = "bafyreiejxjoodqfl2nemv4p27m2rnnzhxpr4knrev3mbg4irhw4lcefzpa"
REPLY_URI = "at://did:plc:b6mtazxe6xxhclnnsottjvlb/app.bsky.feed.post/3n2szj3dqps2v"
REPLY_CID = "bafyreiaky7wz4qp5ci5nph52vor3qvixlywpzpla3clkbek54237aos3g4"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def jwt(exp: datetime, tag: str = "") -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'ES256K', 'typ': 'at+jwt'})}.{part({'sub': ALICE, 'exp': int(exp.timestamp()), 'tag': tag})}.sig"


def session(tag: str, exp: datetime = NOW + timedelta(hours=2)) -> dict[str, str]:
    return {
        "accessJwt": jwt(exp, f"access-{tag}"),
        "refreshJwt": jwt(NOW + timedelta(days=60), f"refresh-{tag}"),
        "did": ALICE,
        "handle": "alice.test",
    }


def account_config(**changes: Any) -> AccountConfig:
    fields: dict[str, Any] = dict(
        id="acme-bsky",
        network="bluesky",
        server="http://localhost:2583",
        handle="alice.test",
        timezone="UTC",
        tz=UTC,
        active_hours=ActiveHours.parse("always", UTC),
        max_quiet=timedelta(hours=4),
        reply_within=timedelta(hours=1),
        langs=("en",),
    )
    fields.update(changes)
    return AccountConfig(**fields)


class FakePDS:
    """XRPC by NSID, with sessions: an access token is good until it is replaced by a refresh."""

    def __init__(self, current: dict[str, str] | None = None) -> None:
        self.routes: dict[str, Any] = {}
        self.requests: list[httpx.Request] = []
        self.current = current or session("1")
        self.generation = 1
        self.refresh_refused = False

    def on(self, nsid: str, answer: Any) -> None:
        self.routes[nsid] = answer

    def calls(self, nsid: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == f"/xrpc/{nsid}"]

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        await asyncio.sleep(0)  # let concurrent callers interleave, as a real server would
        nsid = request.url.path.removeprefix("/xrpc/")
        auth = request.headers.get("authorization", "").removeprefix("Bearer ")
        if nsid == "com.atproto.server.createSession":
            body = json.loads(request.content)
            if body != {"identifier": "alice.test", "password": "app-pass"}:
                return httpx.Response(
                    401, json={"error": "AuthenticationRequired", "message": "Invalid identifier or password"}
                )
            return self._new_session()
        if nsid == "com.atproto.server.refreshSession":
            for _ in range(5):  # a slow refresh: concurrent callers pile up behind it
                await asyncio.sleep(0)
            if self.refresh_refused or auth != self.current["refreshJwt"]:
                return httpx.Response(400, json={"error": "ExpiredToken", "message": "Token has expired"})
            return self._new_session()
        if auth != self.current["accessJwt"]:
            return httpx.Response(400, json={"error": "ExpiredToken", "message": "Token has expired"})
        answer = self.routes.get(nsid)
        if answer is None:
            return httpx.Response(
                501, json={"error": "MethodNotImplemented", "message": "Method Not Implemented"}
            )
        if callable(answer):
            answer = answer(request)
        if isinstance(answer, list):
            answer = answer.pop(0)
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json=answer)

    def _new_session(self) -> httpx.Response:
        self.generation += 1
        self.current = session(str(self.generation))
        return httpx.Response(200, json={**self.current, "active": True})


def adapter_for(pds: FakePDS, store: MemorySessionStore | None = None, **options: Any) -> BlueskyAdapter:
    store = store if store is not None else MemorySessionStore(pds.current)
    adapter = make_adapter(
        account_config(),
        "app-pass",
        transport=httpx.MockTransport(pds),
        session_store=store,
        now=options.pop("now", lambda: NOW),
        **options,
    )
    assert isinstance(adapter, BlueskyAdapter)
    return adapter


def reply_item() -> Item:
    """Bob's reply to alice's root post, as alice's item."""
    item = parse_notification(load("notification_reply.json"), account="acme-bsky", me=ALICE)
    assert item is not None
    return item


# --- parsing -----------------------------------------------------------------------------------------


def test_mention_notification_from_the_reference_network():
    item = parse_notification(load("notification_mention.json"), account="acme-bsky", me=ALICE)
    assert item is not None and item.kind == "mention"
    post = item.post
    assert post.text == "Hey @alice.test ✨ look at this"
    assert post.author == Author(
        network="bluesky", handle="bob.test", id=BOB, url="https://bsky.app/profile/bob.test"
    )
    assert post.cid == "bafyreifak2h6p5vemo3pqdv2lnytdnjdmaadzzf4yin5ujs5h3f77zvb24"
    assert post.url == "https://bsky.app/profile/bob.test/post/3n2szj3ddzk2v"
    # createdAt 11:43:20.916400 (the client) vs indexedAt 11:43:20.916 (the server): the earlier.
    assert post.created_at == datetime(2026, 11, 21, 11, 43, 20, 916000, tzinfo=UTC)
    assert item.id == item_id("acme-bsky", post.remote_id)


def test_reply_notification_keeps_root_and_parent():
    item = reply_item()
    assert item.kind == "reply"
    post = item.post
    assert (post.reply_to, post.reply_to_author) == (ROOT_URI, ALICE)
    assert (post.reply_root, post.reply_root_cid) == (ROOT_URI, ROOT_CID)


def test_post_time_is_the_earlier_of_created_and_indexed():
    indexed = "2026-11-21T11:43:20.929Z"
    assert post_time({"createdAt": "2030-01-01T00:00:00Z"}, indexed) == datetime(
        2026, 11, 21, 11, 43, 20, 929000, tzinfo=UTC
    )
    assert post_time({"createdAt": "2020-01-01T00:00:00+00:00"}, indexed) == datetime(2020, 1, 1, tzinfo=UTC)


def test_other_reasons_are_not_items():
    like = dict(load("notification_mention.json"), reason="like")
    assert parse_notification(like, account="a", me=ALICE) is None


def test_quote_of_from_a_record_with_media():
    post = parse_post_view(
        load("marshalx_thread_view_post_with_embed_media.json")["thread"]["post"], account="a"
    )
    assert post.quote_of == "at://did:plc:kvwvcn5iqfooopmyzvb4qzba/app.bsky.feed.post/3kahesw26il2z"
    assert post.langs == ("en",) and post.author.display_name == "Python SDK"


def test_thread_flattened_in_reading_order():
    posts = flatten_thread(load("getPostThread.json")["thread"], account="a", me=ALICE)
    assert [p.remote_id for p in posts] == [ROOT_URI, REPLY_URI]
    assert [p.own for p in posts] == [True, False]
    nested = {
        "post": load("postview_reply.json"),
        "parent": {"post": load("postview_root.json")},
        "replies": [],
    }
    assert [p.remote_id for p in flatten_thread(nested, account="a")] == [ROOT_URI, REPLY_URI]


# --- rich text and length ----------------------------------------------------------------------------


def test_facets_match_the_docs_byte_offsets():
    record = load("post_record_facets_mention_link.json")
    facets = build_facets(record["text"], {"atproto.com": "did:plc:ewvi7nxzyoun6zhxrhs64oiz"})
    assert facets == record["facets"]  # the sparkle and the ZWJ couple count in bytes


def test_facets_match_the_reference_network_mention():
    record = load("notification_mention.json")["record"]
    assert build_facets(record["text"], {"alice.test": ALICE}) == [
        {
            "index": {"byteStart": 4, "byteEnd": 15},
            "features": [{"$type": "app.bsky.richtext.facet#mention", "did": ALICE}],
        }
    ]


async def test_length_limits_300_graphemes_and_3000_bytes():
    adapter = adapter_for(FakePDS())
    item = reply_item()
    assert adapter.prepare_reply(item, "é" * 300).ok
    too_many = adapter.prepare_reply(item, "a" * 301)
    assert not too_many.ok and too_many.problem == "too long: 301 of 300 characters"
    family = "👨‍👩‍👧‍👦"  # one grapheme, 25 bytes
    assert adapter.count_length(family) == 1
    heavy = adapter.prepare_reply(item, family * 121)
    assert heavy.length == 121 and not heavy.ok and heavy.problem == "too long: 3025 of 3000 bytes"
    assert adapter.prepare_reply(item, family * 120).ok
    assert not adapter.prepare_reply(item, "   ").ok


# --- record keys -------------------------------------------------------------------------------------


def test_tids_are_13_sortable_chars():
    tid = encode_tid(1_795_261_582_000_000, 7)
    assert len(tid) == 13 and decode_tid(tid) == (1_795_261_582_000_000, 7)
    assert encode_tid(1_795_261_582_000_001, 0) > encode_tid(1_795_261_582_000_000, 1023)
    frozen = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    keys = [next_tid(frozen, 3) for _ in range(50)]
    assert keys == sorted(keys) and len(set(keys)) == 50  # strictly increasing even with a still clock
    assert all(set(k) <= set("234567abcdefghijklmnopqrstuvwxyz") for k in keys)
    assert decode_tid("3n2szj3d2b22v")[0] // 1_000_000 == int(
        datetime(2026, 11, 21, 11, 43, 20, tzinfo=UTC).timestamp()
    )


# --- sessions ----------------------------------------------------------------------------------------


async def test_first_use_creates_a_session_and_saves_it():
    pds = FakePDS()
    pds.on("com.atproto.server.getSession", {"did": ALICE, "handle": "alice.test"})
    pds.on(
        "app.bsky.actor.getProfile", {"did": ALICE, "handle": "alice.test", "displayName": "Alice \x1b[31m"}
    )
    store = MemorySessionStore()
    adapter = adapter_for(pds, store)
    info = await adapter.verify()
    assert (info.remote_id, info.handle, info.display_name, info.max_characters) == (
        ALICE,
        "alice.test",
        "Alice [31m",
        300,
    )
    assert len(pds.calls("com.atproto.server.createSession")) == 1
    assert store.data == {k: pds.current[k] for k in ("accessJwt", "refreshJwt", "did", "handle")}
    # Another adapter (another process) uses the stored session: no new createSession.
    again = adapter_for(pds, store)
    await again.verify()
    assert len(pds.calls("com.atproto.server.createSession")) == 1


async def test_expired_token_is_refreshed_once_and_the_request_retried():
    pds = FakePDS()
    stale = session("old")
    store = MemorySessionStore(stale)  # the store still has a token the server has replaced
    pds.current = dict(stale, accessJwt=jwt(NOW + timedelta(hours=1), "elsewhere"))
    pds.on("app.bsky.notification.listNotifications", load("listNotifications.json"))
    adapter = adapter_for(pds, store)
    page = await adapter.fetch_items(None, NOW - timedelta(days=1), 50)
    assert len(page.items) == 2
    assert len(pds.calls("com.atproto.server.refreshSession")) == 1
    assert len(pds.calls("com.atproto.server.createSession")) == 0
    assert store.data is not None and store.data["accessJwt"] == pds.current["accessJwt"]
    assert len(pds.calls("app.bsky.notification.listNotifications")) == 2  # the refused one and the retry


async def test_access_token_refreshed_before_it_expires():
    pds = FakePDS(session("1", exp=NOW + timedelta(seconds=30)))
    pds.on("com.atproto.server.getSession", {"did": ALICE, "handle": "alice.test"})
    pds.on("app.bsky.actor.getProfile", {"did": ALICE, "handle": "alice.test"})
    adapter = adapter_for(pds)
    await adapter.verify()
    assert len(pds.calls("com.atproto.server.refreshSession")) == 1
    assert [r.url.path for r in pds.requests][0] == "/xrpc/com.atproto.server.refreshSession"
    assert jwt_expiry(adapter.store.load()["accessJwt"]) == datetime.fromtimestamp(
        int((NOW + timedelta(hours=2)).timestamp()), UTC
    )


async def test_refused_refresh_falls_back_to_create_session():
    pds = FakePDS()
    pds.refresh_refused = True
    pds.on("com.atproto.server.getSession", {"did": ALICE, "handle": "alice.test"})
    pds.on("app.bsky.actor.getProfile", {"did": ALICE, "handle": "alice.test"})
    store = MemorySessionStore(session("gone"))
    adapter = adapter_for(pds, store)
    await adapter.verify()
    assert len(pds.calls("com.atproto.server.refreshSession")) == 1
    assert len(pds.calls("com.atproto.server.createSession")) == 1
    assert store.data is not None and store.data["accessJwt"] == pds.current["accessJwt"]


async def test_wrong_app_password_is_refused():
    pds = FakePDS()
    store = MemorySessionStore()
    adapter = make_adapter(
        account_config(), "wrong", transport=httpx.MockTransport(pds), session_store=store, now=lambda: NOW
    )
    with pytest.raises(AuthRefused):
        await adapter.fetch_items(None, NOW, 10)
    assert store.data is None


async def test_create_session_rate_limited():
    lines = (DATA / "ratelimit_429.txt").read_text().splitlines()
    headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:] if ":" in line]
    headers = [(k, v) for k, v in headers if k.lower() not in ("content-length",)]
    body = lines[-1].encode()

    async def limited(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, content=body, headers=headers)

    adapter = make_adapter(
        account_config(),
        "app-pass",
        transport=httpx.MockTransport(limited),
        session_store=MemorySessionStore(),
        now=lambda: datetime(2026, 11, 21, 11, 41, 44, tzinfo=UTC),
    )
    with pytest.raises(RateLimited) as caught:
        await adapter.verify()
    assert caught.value.reset_at == datetime(2026, 11, 21, 11, 46, 27, tzinfo=UTC)  # Retry-After: 283


async def test_two_adapters_sharing_a_store_refresh_only_once():
    pds = FakePDS()
    stale = session("old")
    store = MemorySessionStore(stale)
    pds.current = dict(stale, accessJwt=jwt(NOW + timedelta(hours=1), "elsewhere"))
    pds.on("app.bsky.notification.listNotifications", lambda r: load("listNotifications.json"))
    first, second = adapter_for(pds, store), adapter_for(pds, store)
    pages = await asyncio.gather(
        first.fetch_items(None, NOW - timedelta(days=1), 50),
        second.fetch_items(None, NOW - timedelta(days=1), 50),
        first.fetch_items(None, NOW - timedelta(days=1), 50),
    )
    assert all(len(p.items) == 2 for p in pages)
    assert len(pds.calls("com.atproto.server.refreshSession")) == 1
    assert len(pds.calls("com.atproto.server.createSession")) == 0
    assert store.saves == 1


# --- fetching ----------------------------------------------------------------------------------------


async def test_first_fetch_backfills_and_the_cursor_is_the_newest_indexed_at():
    pds = FakePDS()
    pds.on("app.bsky.notification.listNotifications", lambda r: load("listNotifications.json"))
    adapter = adapter_for(pds)
    page = await adapter.fetch_items(None, NOW - timedelta(days=1), 50)
    assert [i.kind for i in page.items] == ["mention", "reply"]  # oldest first
    assert page.cursor == "2026-11-21T11:43:20.929Z" and page.done
    query = pds.calls("app.bsky.notification.listNotifications")[0].url.params
    assert query.get_list("reasons") == ["mention", "reply", "quote"] and query["limit"] == "50"
    again = await adapter.fetch_items(page.cursor, NOW - timedelta(days=1), 50)
    # Nothing new: at most the overlap behind the cursor again, which the store keeps by id.
    assert {i.id for i in again.items} <= {i.id for i in page.items}
    assert again.cursor == page.cursor and again.done


async def test_backfill_stops_at_since():
    pds = FakePDS()
    pds.on("app.bsky.notification.listNotifications", lambda r: load("listNotifications.json"))
    adapter = adapter_for(pds)
    page = await adapter.fetch_items(None, datetime(2026, 11, 21, 11, 43, 20, 920000, tzinfo=UTC), 50)
    assert [i.kind for i in page.items] == ["reply"]


async def test_a_gap_left_by_the_limit_is_filled_next_time():
    reply, mention = load("listNotifications.json")["notifications"]
    pages = [
        {"notifications": [reply], "cursor": "page-2"},
        {"notifications": [mention], "cursor": "page-3"},
        {"notifications": [], "cursor": "page-4"},
    ]
    pds = FakePDS()
    pds.on("app.bsky.notification.listNotifications", pages)
    adapter = adapter_for(pds)
    old_cursor = "2026-11-21T11:00:00.000Z"
    first = await adapter.fetch_items(old_cursor, NOW - timedelta(days=1), 1)
    assert [i.kind for i in first.items] == ["reply"] and not first.done
    second = await adapter.fetch_items(first.cursor, NOW - timedelta(days=1), 1)
    assert pds.calls("app.bsky.notification.listNotifications")[1].url.params["cursor"] == "page-2"
    assert [i.kind for i in second.items] == ["mention"]
    third = await adapter.fetch_items(second.cursor, NOW - timedelta(days=1), 1)
    assert third.items == [] and third.done and third.cursor == "2026-11-21T11:43:20.929Z"


async def test_own_posts_skip_reposts_of_others():
    feed = load("getAuthorFeed.json")
    repost = {
        "post": load("postview_reply.json"),
        "reason": {
            "$type": "app.bsky.feed.defs#reasonRepost",
            "by": {"did": ALICE, "handle": "alice.test"},
            "indexedAt": "2026-11-21T11:50:00.000Z",
        },
    }
    pds = FakePDS()
    pds.on("app.bsky.feed.getAuthorFeed", {"feed": [repost, *feed["feed"]]})
    adapter = adapter_for(pds)
    page = await adapter.fetch_own_posts(None, NOW - timedelta(days=1), 50)
    assert [p.remote_id for p in page.items] == [ROOT_URI] and page.items[0].own
    query = pds.calls("app.bsky.feed.getAuthorFeed")[0].url.params
    assert (query["actor"], query["filter"]) == (ALICE, "posts_with_replies")


async def test_home_and_thread():
    pds = FakePDS()
    pds.on("app.bsky.feed.getTimeline", {"feed": load("getAuthorFeed.json")["feed"]})
    pds.on("app.bsky.feed.getPostThread", load("getPostThread.json"))
    adapter = adapter_for(pds)
    home = await adapter.fetch_home(10)
    assert [p.remote_id for p in home] == [ROOT_URI]
    thread = await adapter.fetch_thread(home[0])
    assert [p.text for p in thread] == ["Hello from A, the root post.", "B replying to A's post"]
    assert pds.calls("app.bsky.feed.getPostThread")[0].url.params["uri"] == ROOT_URI


# --- replying ----------------------------------------------------------------------------------------


def _created(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    return httpx.Response(
        200,
        json={
            "uri": f"at://{ALICE}/app.bsky.feed.post/{body['rkey']}",
            "cid": "bafyreinewcid",
            "validationStatus": "valid",
        },
    )


async def test_reply_to_a_nested_reply_with_facets_and_the_chosen_rkey():
    pds = FakePDS()
    pds.on("com.atproto.repo.createRecord", _created)
    pds.on("com.atproto.identity.resolveHandle", load("marshalx_resolve_handle.json"))
    adapter = adapter_for(pds, now=lambda: datetime(2026, 11, 21, 12, 0, 0, 123456, tzinfo=UTC))
    item = reply_item()
    text = "@bob.test ✨ thanks 👨‍❤️‍👨 ask @carol.example.com or see https://example.com/help."
    draft = adapter.prepare_reply(item, text)
    assert draft.text == text  # no mention added on Bluesky
    key = adapter.new_idempotency_key()
    post = await adapter.send_reply(item, draft, key)
    body = json.loads(pds.calls("com.atproto.repo.createRecord")[0].content)
    assert (body["repo"], body["collection"], body["rkey"]) == (ALICE, "app.bsky.feed.post", key)
    record = body["record"]
    assert record["reply"] == {
        "root": {"uri": ROOT_URI, "cid": ROOT_CID},  # the parent's own root
        "parent": {"uri": REPLY_URI, "cid": REPLY_CID},
    }
    assert record["langs"] == ["en"] and record["createdAt"] == "2026-11-21T12:00:00.123Z"
    encoded = text.encode()
    spans = [(f["index"]["byteStart"], f["index"]["byteEnd"], f["features"][0]) for f in record["facets"]]
    assert [encoded[s:e].decode() for s, e, _ in spans] == [
        "@bob.test",
        "@carol.example.com",
        "https://example.com/help",
    ]
    assert spans[0][2] == {"$type": "app.bsky.richtext.facet#mention", "did": BOB}  # known: no lookup
    assert spans[1][2] == {
        "$type": "app.bsky.richtext.facet#mention",
        "did": "did:plc:z72i7hdynmk6r22z27h6tvur",
    }
    assert spans[2][2] == {"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com/help"}
    assert spans[1][0] == len("@bob.test ✨ thanks 👨‍❤️‍👨 ask ".encode())  # bytes, not characters
    resolved = pds.calls("com.atproto.identity.resolveHandle")
    assert [r.url.params["handle"] for r in resolved] == ["carol.example.com"]
    assert (
        post.remote_id == f"at://{ALICE}/app.bsky.feed.post/{key}"
        and post.own
        and post.cid == "bafyreinewcid"
    )
    assert post.url == f"https://bsky.app/profile/alice.test/post/{key}"
    assert (post.reply_root, post.reply_to) == (ROOT_URI, REPLY_URI)


async def test_reply_to_a_top_level_post_uses_it_as_root():
    pds = FakePDS()
    pds.on("com.atproto.repo.createRecord", _created)
    adapter = adapter_for(pds)
    item = parse_notification(load("notification_mention.json"), account="acme-bsky", me=ALICE)
    assert item is not None
    await adapter.send_reply(item, adapter.prepare_reply(item, "hi Bob"), adapter.new_idempotency_key())
    record = json.loads(pds.calls("com.atproto.repo.createRecord")[0].content)["record"]
    assert (
        record["reply"]["root"]
        == record["reply"]["parent"]
        == {"uri": item.post.remote_id, "cid": item.post.cid}
    )
    assert "facets" not in record


async def test_failed_send_is_looked_up_before_it_is_called_failed():
    pds = FakePDS()
    pds.on(
        "com.atproto.repo.createRecord",
        httpx.Response(500, json={"error": "InternalServerError", "message": "Internal Server Error"}),
    )
    key = "3n2t2su5eay27"
    stored = {
        "uri": f"at://{ALICE}/app.bsky.feed.post/{key}",
        "cid": "bafyreistored",
        "value": {
            "$type": "app.bsky.feed.post",
            "text": "thanks",
            "createdAt": "2026-11-21T11:59:00.000Z",
            "reply": {
                "root": {"uri": ROOT_URI, "cid": ROOT_CID},
                "parent": {"uri": REPLY_URI, "cid": REPLY_CID},
            },
        },
    }
    pds.on("com.atproto.repo.getRecord", stored)
    adapter = adapter_for(pds)
    item = reply_item()
    post = await adapter.send_reply(item, adapter.prepare_reply(item, "thanks"), key)
    assert post.remote_id == stored["uri"] and post.reply_to == REPLY_URI and post.own
    lookup = pds.calls("com.atproto.repo.getRecord")[0].url.params
    assert (lookup["repo"], lookup["collection"], lookup["rkey"]) == (ALICE, "app.bsky.feed.post", key)
    assert len(pds.calls("com.atproto.repo.createRecord")) == 1


async def test_failed_send_not_found_raises_the_original_failure():
    pds = FakePDS()
    pds.on("com.atproto.repo.createRecord", httpx.Response(500))
    pds.on(
        "com.atproto.repo.getRecord",
        httpx.Response(400, json={"error": "RecordNotFound", "message": "Could not locate record"}),
    )
    adapter = adapter_for(pds)
    item = reply_item()
    with pytest.raises(ServerError) as caught:
        await adapter.send_reply(item, adapter.prepare_reply(item, "thanks"), "3n2t2su5eay27")
    assert caught.value.uncertain


async def test_find_reply_reads_the_record():
    pds = FakePDS()
    pds.on("com.atproto.repo.getRecord", load("marshalx_post_record.json"))
    adapter = adapter_for(pds)
    found = await adapter.find_reply(reply_item(), "3k2yihcrp6f2c", "new text114")
    assert found is not None and found.text == "new text114" and found.own
    assert found.created_at == datetime(2024, 2, 22, 19, 58, 13, 903293, tzinfo=UTC)


async def test_like_and_repost_are_records():
    pds = FakePDS()
    pds.on("com.atproto.repo.createRecord", load("createRecord_response.json"))
    adapter = adapter_for(pds)
    root = parse_post_view(load("postview_root.json"), account="acme-bsky")
    await adapter.favourite(root)
    await adapter.boost(root)
    bodies = [json.loads(r.content) for r in pds.calls("com.atproto.repo.createRecord")]
    assert [b["collection"] for b in bodies] == ["app.bsky.feed.like", "app.bsky.feed.repost"]
    assert all(b["record"]["subject"] == {"uri": ROOT_URI, "cid": ROOT_CID} for b in bodies)


def test_adapter_satisfies_the_contract():
    assert isinstance(adapter_for(FakePDS()), Adapter)
    assert isinstance(reply_item().post, Post)


# --- properties --------------------------------------------------------------------------------------


_words = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="@\x00"), max_size=20
).map(lambda s: s.replace("http", "h"))


@settings(max_examples=150, deadline=None)
@given(before=_words, after=_words)
def test_mention_facet_bytes_always_slice_the_mention(before, after):
    text = f"{before} @bob.test {after}"
    facets = build_facets(text, {"bob.test": BOB})
    assert len(facets) == 1
    index = facets[0]["index"]
    assert text.encode()[index["byteStart"] : index["byteEnd"]].decode() == "@bob.test"


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=2**53 - 1), st.integers(min_value=0, max_value=1023))
def test_tid_round_trip(micros, clock_id):
    tid = encode_tid(micros, clock_id)
    assert len(tid) == 13 and decode_tid(tid) == (micros, clock_id)


# --- listening ---------------------------------------------------------------------------------------


async def test_search_talk_pages_dedupes_and_never_returns_our_own():
    pds = FakePDS()
    pds.on("app.bsky.feed.searchPosts", [load("searchPosts_page1.json"), load("searchPosts_page2.json")])
    adapter = adapter_for(pds)
    page = await adapter.search_talk("acme bikes", None, NOW - timedelta(days=1), 100)
    assert [(p.author.handle, p.langs) for p in page.items] == [
        ("dave.test", ("es",)),
        ("carol.test", ("en",)),
    ]
    assert page.cursor == "2026-11-21T11:58:00.000Z" and page.done
    first, second = [r.url.params for r in pds.calls("app.bsky.feed.searchPosts")]
    assert (first["q"], first["sort"], first["since"]) == ("acme bikes", "latest", "2026-11-20T12:00:00.000Z")
    assert "cursor" not in first and second["cursor"] == "2"


async def test_search_talk_from_a_cursor_is_one_request_starting_a_little_before_it():
    pds = FakePDS()
    pds.on("app.bsky.feed.searchPosts", {"posts": []})
    adapter = adapter_for(pds)
    page = await adapter.search_talk("#acmebikes", "2026-11-21T11:58:00.000Z", NOW - timedelta(days=1), 100)
    assert page.items == [] and page.cursor == "2026-11-21T11:58:00.000Z"
    (call,) = pds.calls("app.bsky.feed.searchPosts")
    assert call.url.params["since"] == "2026-11-21T11:53:00.000Z"  # 5 minutes of overlap
    assert call.url.params["q"] == "#acmebikes"


async def test_search_talk_where_the_server_has_no_search_is_unsupported():
    from socialtui.networks.errors import Unsupported

    pds = FakePDS()  # answers 501 MethodNotImplemented to anything it does not know
    with pytest.raises(Unsupported):
        await adapter_for(pds).search_talk("acme bikes", None, NOW - timedelta(days=1), 100)
