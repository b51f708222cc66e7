"""The sandbox network's routes, in-process (httpx.ASGITransport): shapes against real payloads,
paging, idempotency, record keys, length limits, notifications, auth errors, faults, admin routes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from socialtui.clock import FixedClock
from socialtui.sandbox import World, create_app
from socialtui.sandbox.app import reference_payload
from socialtui.sandbox.ids import b64url_decode
from socialtui.sandbox.world import facet_mention

NOW = datetime(2026, 11, 21, 11, 44, 24, tzinfo=UTC)
ACME = {"Authorization": "Bearer sandbox:acme"}


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def world(clock: FixedClock) -> World:
    return World(clock.now)


@pytest.fixture
async def client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(world))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as http:
        yield http


def keys(payload: dict[str, Any]) -> set[str]:
    return set(payload)


async def login(client: httpx.AsyncClient, handle: str = "acme.sandbox.bsky") -> tuple[dict[str, str], dict]:
    answer = await client.post(
        "/xrpc/com.atproto.server.createSession", json={"identifier": handle, "password": "sandbox"}
    )
    assert answer.status_code == 200, answer.text
    session = answer.json()
    return {"Authorization": f"Bearer {session['accessJwt']}"}, session


def links(answer: httpx.Response) -> dict[str, httpx.URL]:
    return {link["rel"]: httpx.URL(link["url"]) for link in answer.links.values()}


# --- headers common to both networks ------------------------------------------------------------------


async def test_every_api_answer_has_date_and_its_networks_rate_limit_headers(
    client: httpx.AsyncClient,
) -> None:
    masto = await client.get("/api/v1/accounts/verify_credentials", headers=ACME)
    assert parsedate_to_datetime(masto.headers["Date"]) == NOW.replace(microsecond=0)
    assert masto.headers["X-RateLimit-Limit"] == "300"
    assert masto.headers["X-RateLimit-Remaining"] == "299"
    reset = datetime.fromisoformat(masto.headers["X-RateLimit-Reset"].replace("Z", "+00:00"))
    assert NOW < reset <= NOW + timedelta(minutes=5)
    again = await client.get("/api/v1/accounts/verify_credentials", headers=ACME)
    assert again.headers["X-RateLimit-Remaining"] == "298"

    refused = await client.get("/api/v1/notifications")  # errors carry them too
    assert refused.status_code == 401 and "X-RateLimit-Reset" in refused.headers

    bsky = await client.get(
        "/xrpc/com.atproto.identity.resolveHandle", params={"handle": "acme.sandbox.bsky"}
    )
    assert bsky.headers["RateLimit-Limit"] == "3000"
    assert bsky.headers["RateLimit-Policy"] == "3000;w=300"
    assert NOW.timestamp() < int(bsky.headers["RateLimit-Reset"]) <= NOW.timestamp() + 300
    assert "Date" in bsky.headers
    session = await client.post(
        "/xrpc/com.atproto.server.createSession",
        json={"identifier": "acme.sandbox.bsky", "password": "sandbox"},
    )
    assert session.headers["RateLimit-Policy"] == "30;w=300"  # createSession's own, stricter limit


async def test_rate_limits_are_enforced_when_asked(world: World, client: httpx.AsyncClient) -> None:
    world.enforce_rate_limits = True
    for _ in range(30):
        await client.post(
            "/xrpc/com.atproto.server.createSession",
            json={"identifier": "acme.sandbox.bsky", "password": "sandbox"},
        )
    refused = await client.post(
        "/xrpc/com.atproto.server.createSession",
        json={"identifier": "acme.sandbox.bsky", "password": "sandbox"},
    )
    assert refused.status_code == 429
    assert refused.json() == {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}
    assert refused.headers["RateLimit-Remaining"] == "0" and int(refused.headers["Retry-After"]) > 0


# --- Mastodon: shapes ---------------------------------------------------------------------------------


async def test_mastodon_entities_have_the_keys_of_real_payloads(
    world: World, client: httpx.AsyncClient
) -> None:
    creds = (await client.get("/api/v1/accounts/verify_credentials", headers=ACME)).json()
    real_creds = reference_payload("mastodon/docs/credential_account_verify_credentials.json")
    assert keys(real_creds) <= keys(creds)
    assert creds["acct"] == "acme" and creds["display_name"] == "Acme Bikes 🚲"

    world.post_as("mastodon", "sam@example.org", "@acme@sandbox.social is the shop open? <b>now</b>")
    notes = (await client.get("/api/v1/notifications", headers=ACME)).json()
    real_note = reference_payload("mastodon/gotosocial/notification_mention.json")
    assert keys(real_note) <= keys(notes[0])
    gts_status = reference_payload("mastodon/gotosocial/status_reply.json")
    docs_status = reference_payload("mastodon/docs/status_get.json")
    status = notes[0]["status"]
    assert keys(docs_status) <= keys(status)
    assert keys(gts_status) - {"text", "content_type", "interaction_policy"} <= keys(status)
    assert keys(gts_status["account"]) <= keys(status["account"])
    assert keys(gts_status["mentions"][0]) == keys(status["mentions"][0])
    assert status["account"]["acct"] == "sam@example.org"
    assert isinstance(status["id"], str) and len(status["id"]) == 26  # a ULID, like GoToSocial's
    assert "text" not in status  # the source text is only shown to its author

    instance = (await client.get("/api/v2/instance")).json()
    assert keys(reference_payload("mastodon/docs/instance_v2.json")) <= keys(instance)
    assert instance["domain"] == "sandbox.social"
    assert instance["configuration"]["statuses"]["max_characters"] == 500
    assert instance["configuration"]["statuses"]["characters_reserved_per_url"] == 23


async def test_mastodon_content_is_html_with_strangers_text_escaped(
    world: World, client: httpx.AsyncClient
) -> None:
    world.post_as(
        "mastodon",
        "sam@example.org",
        "@acme@sandbox.social <script>alert(1)</script> & [bold red]x[/]\nline two\n\nsecond https://example.org/a #Bikes",
    )
    status = (await client.get("/api/v1/notifications", headers=ACME)).json()[0]["status"]
    content = status["content"]
    assert content.startswith(
        '<p><span class="h-card"><a href="http://sandbox.test/@acme" class="u-url mention" '
        'rel="nofollow noreferrer noopener" target="_blank">@<span>acme</span></a></span> '
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; [bold red]x[/]<br>line two</p><p>second " in content
    assert '<a href="https://example.org/a" rel="nofollow noreferrer noopener" target="_blank">' in content
    assert 'class="mention hashtag" rel="tag">#<span>Bikes</span></a></p>' in content
    assert "<script>" not in content
    assert status["mentions"] == [
        {
            "id": world.mastodon_lookup("acme").id,
            "username": "acme",
            "url": "http://sandbox.test/@acme",
            "acct": "acme",
        }
    ]
    assert status["tags"] == [{"name": "bikes", "url": "http://sandbox.test/tags/bikes"}]


async def test_mastodon_accounts_lookup_and_404(world: World, client: httpx.AsyncClient) -> None:
    acme = (await client.get("/api/v1/accounts/lookup", params={"acct": "acme@sandbox.social"})).json()
    assert acme["username"] == "acme" and acme["url"] == "http://sandbox.test/@acme"
    sam = (await client.get("/api/v1/accounts/lookup", params={"acct": "sam@example.org"})).json()
    assert sam["acct"] == "sam@example.org" and sam["url"] == "https://example.org/@sam"
    by_id = await client.get(f"/api/v1/accounts/{sam['id']}")
    assert by_id.json()["id"] == sam["id"]
    for path in (
        "/api/v1/accounts/lookup?acct=nobody@nowhere.example",
        "/api/v1/accounts/NOPE",
        "/api/v1/statuses/NOPE",
    ):
        missing = await client.get(path, headers=ACME)
        assert (missing.status_code, missing.json()) == (404, {"error": "Record not found"})


async def test_mastodon_auth_errors(world: World, client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Bearer sandbox:no spaces"}):
        answer = await client.get("/api/v1/notifications", headers=headers)
        assert answer.status_code == 401
        assert answer.json() == {"error": "The access token is invalid"}
    # A public status can be read without a token; a wrong token is still refused.
    status, _ = world.mastodon_post(world.mastodon_lookup("acme"), "hello")
    assert (await client.get(f"/api/v1/statuses/{status.id}")).status_code == 200
    assert (
        await client.get(f"/api/v1/statuses/{status.id}", headers={"Authorization": "Bearer x"})
    ).status_code == 401
    # sandbox:<username> creates that local user on first use
    newbie = await client.get(
        "/api/v1/accounts/verify_credentials", headers={"Authorization": "Bearer sandbox:newbie"}
    )
    assert newbie.json()["acct"] == "newbie"


# --- Mastodon: paging ---------------------------------------------------------------------------------


async def test_mastodon_notifications_page_with_link_headers(
    world: World, client: httpx.AsyncClient, clock: FixedClock
) -> None:
    ids = []
    for n in range(7):
        clock.advance(60)
        world.post_as("mastodon", "sam@example.org", f"@acme@sandbox.social question {n}")
        ids.append(world.mastodon_notifications(world.mastodon_lookup("acme"))[-1].id)
    world.mastodon_favourite(
        world.mastodon_lookup("sam@example.org"),
        world.mastodon_post(world.mastodon_lookup("acme"), "hi")[0].id,
    )

    first = await client.get("/api/v1/notifications", params={"types[]": "mention", "limit": 3}, headers=ACME)
    assert [n["id"] for n in first.json()] == ids[::-1][:3]
    rel = links(first)
    assert rel["next"].params["max_id"] == ids[4] and rel["next"].params["types[]"] == "mention"
    assert rel["prev"].params["min_id"] == ids[6]

    seen, url = [], first.request.url
    while True:
        page = await client.get(url, headers=ACME)
        if not page.json():
            assert "link" not in page.headers
            break
        seen += [n["id"] for n in page.json()]
        url = links(page)["next"]
    assert seen == ids[::-1]  # every mention once, newest first; the favourite filtered out

    assert (await client.get(str(rel["prev"]), headers=ACME)).json() == []  # nothing newer yet
    # min_id: the page just after it, oldest-after first, but newest first within the page
    after = await client.get(
        "/api/v1/notifications", params={"min_id": ids[1], "limit": 2, "types[]": "mention"}, headers=ACME
    )
    assert [n["id"] for n in after.json()] == [ids[3], ids[2]]
    since = await client.get(
        "/api/v1/notifications", params={"since_id": ids[1], "limit": 2, "types[]": "mention"}, headers=ACME
    )
    assert [n["id"] for n in since.json()] == [ids[6], ids[5]]
    favs = await client.get("/api/v1/notifications", params={"exclude_types[]": "mention"}, headers=ACME)
    assert [n["type"] for n in favs.json()] == ["favourite"]
    many = await client.get("/api/v1/notifications", params={"limit": 500}, headers=ACME)
    assert len(many.json()) == 8  # limit is capped at 80, not refused


async def test_mastodon_account_statuses_home_and_context(
    world: World, client: httpx.AsyncClient, clock: FixedClock
) -> None:
    acme = world.mastodon_lookup("acme")
    sam = world.mastodon_lookup("sam@example.org")
    root, _ = world.mastodon_post(acme, "Spring sale!")
    clock.advance(60)
    question, _ = world.mastodon_post(
        sam, "@acme@sandbox.social does it include helmets?", in_reply_to_id=root.id
    )
    clock.advance(60)
    answer, _ = world.mastodon_post(acme, "@sam@example.org yes!", in_reply_to_id=question.id)
    clock.advance(60)
    thread, _ = world.mastodon_post(acme, "and locks too", in_reply_to_id=root.id)  # a self-reply
    clock.advance(60)
    secret, _ = world.mastodon_post(sam, "@acme@sandbox.social psst", visibility="direct")

    statuses = await client.get(f"/api/v1/accounts/{acme.id}/statuses", params={"limit": 2})
    assert [s["id"] for s in statuses.json()] == [thread.id, answer.id]
    older = await client.get(links(statuses)["next"])
    assert [s["id"] for s in older.json()] == [root.id]
    no_replies = await client.get(f"/api/v1/accounts/{acme.id}/statuses", params={"exclude_replies": "true"})
    assert [s["id"] for s in no_replies.json()] == [thread.id, root.id]  # self-replies stay, as on Mastodon

    context = (await client.get(f"/api/v1/statuses/{answer.id}/context")).json()
    assert [s["id"] for s in context["ancestors"]] == [root.id, question.id]
    assert context["descendants"] == []
    root_context = (await client.get(f"/api/v1/statuses/{root.id}/context")).json()
    assert [s["id"] for s in root_context["descendants"]] == [question.id, answer.id, thread.id]
    assert keys(reference_payload("mastodon/gotosocial/context.json")) == keys(root_context)

    assert (await client.get(f"/api/v1/statuses/{secret.id}")).status_code == 404  # a DM, for the eyes of two
    assert (await client.get(f"/api/v1/statuses/{secret.id}", headers=ACME)).json()["visibility"] == "direct"

    home = await client.get("/api/v1/timelines/home", params={"limit": 3}, headers=ACME)
    assert [s["id"] for s in home.json()] == [secret.id, thread.id, answer.id]
    rest = await client.get(links(home)["next"], headers=ACME)
    assert [s["id"] for s in rest.json()] == [question.id, root.id]


# --- Mastodon: posting -----------------------------------------------------------------------------------


async def test_mastodon_post_status_form_and_json_and_mentions(
    world: World, client: httpx.AsyncClient
) -> None:
    sam = world.mastodon_lookup("sam@example.org")
    question, _ = world.mastodon_post(sam, "@acme@sandbox.social help?", visibility="direct")
    form = await client.post(
        "/api/v1/statuses",
        data={
            "status": "@sam@example.org sure! cc @zoe and @nobody",
            "in_reply_to_id": question.id,
            "visibility": "public",
        },
        headers=ACME,
    )
    assert form.status_code == 200, form.text
    posted = form.json()
    assert posted["in_reply_to_id"] == question.id and posted["in_reply_to_account_id"] == sam.id
    assert posted["visibility"] == "public"  # as sent: narrowing a reply is the client's job
    assert posted["text"] == "@sam@example.org sure! cc @zoe and @nobody"
    assert [m["acct"] for m in posted["mentions"]] == ["sam@example.org", "zoe"]
    assert "@nobody" in posted["content"] and "@<span>nobody</span>" not in posted["content"]
    zoe = await client.get("/api/v1/notifications", headers={"Authorization": "Bearer sandbox:zoe"})
    assert [(n["type"], n["status"]["id"]) for n in zoe.json()] == [("mention", posted["id"])]

    as_json = await client.post(
        "/api/v1/statuses",
        json={"status": "Hello from JSON", "spoiler_text": "cw", "language": "en"},
        headers=ACME,
    )
    assert as_json.json()["spoiler_text"] == "cw" and as_json.json()["sensitive"] is True
    assert as_json.json()["application"] == {"name": "sandbox", "website": None}


async def test_mastodon_post_validation(client: httpx.AsyncClient) -> None:
    blank = await client.post("/api/v1/statuses", data={"status": "   "}, headers=ACME)
    assert (blank.status_code, blank.json()) == (422, {"error": "Validation failed: Text can't be blank"})
    long = await client.post("/api/v1/statuses", data={"status": "x" * 501}, headers=ACME)
    assert (long.status_code, long.json()) == (
        422,
        {"error": "Validation failed: Text character limit of 500 exceeded"},
    )
    # URLs count as 23 characters, whatever their length
    url = "https://example.org/" + "a" * 600
    assert (
        await client.post("/api/v1/statuses", data={"status": "x" * 470 + " " + url}, headers=ACME)
    ).status_code == 200
    bad = await client.post("/api/v1/statuses", data={"status": "hi", "visibility": "secret"}, headers=ACME)
    assert bad.status_code == 422
    missing = await client.post(
        "/api/v1/statuses", data={"status": "hi", "in_reply_to_id": "NOPE"}, headers=ACME
    )
    assert (missing.status_code, missing.json()) == (404, {"error": "Record not found"})


@pytest.mark.parametrize("honour", [True, False])
async def test_mastodon_idempotency_key(
    world: World, client: httpx.AsyncClient, clock: FixedClock, honour: bool
) -> None:
    world.honour_idempotency = honour
    headers = {**ACME, "Idempotency-Key": "draft-1"}
    first = await client.post("/api/v1/statuses", data={"status": "once"}, headers=headers)
    second = await client.post("/api/v1/statuses", data={"status": "once"}, headers=headers)
    acme = world.mastodon_lookup("acme")
    if honour:
        assert first.json()["id"] == second.json()["id"]
        assert len(world.statuses_by_account[acme.id]) == 1
        other = await client.post(
            "/api/v1/statuses",
            data={"status": "once"},
            headers={"Authorization": "Bearer sandbox:zoe", "Idempotency-Key": "draft-1"},
        )
        assert other.json()["id"] != first.json()["id"]  # keys belong to a user
        clock.advance(timedelta(hours=1, seconds=1))
        later = await client.post("/api/v1/statuses", data={"status": "once"}, headers=headers)
        assert later.json()["id"] != first.json()["id"]  # kept for an hour only
    else:
        assert first.json()["id"] != second.json()["id"]  # GoToSocial: posted twice
        assert len(world.statuses_by_account[acme.id]) == 2


async def test_mastodon_favourite_and_reblog_notify_the_author(
    world: World, client: httpx.AsyncClient
) -> None:
    zoe = world.mastodon_lookup("zoe")
    status, _ = world.mastodon_post(zoe, "nice weather")
    fav = await client.post(f"/api/v1/statuses/{status.id}/favourite", headers=ACME)
    assert fav.json()["favourited"] is True and fav.json()["favourites_count"] == 1
    boost = await client.post(f"/api/v1/statuses/{status.id}/reblog", headers=ACME)
    assert boost.json()["reblog"]["id"] == status.id and boost.json()["reblogged"] is True
    again = await client.post(f"/api/v1/statuses/{status.id}/reblog", headers=ACME)
    assert again.json()["id"] == boost.json()["id"]
    zoe_notes = (
        await client.get("/api/v1/notifications", headers={"Authorization": "Bearer sandbox:zoe"})
    ).json()
    assert [(n["type"], n["account"]["acct"]) for n in zoe_notes] == [
        ("reblog", "acme"),
        ("favourite", "acme"),
    ]
    gone = await client.delete(
        f"/api/v1/statuses/{status.id}", headers={"Authorization": "Bearer sandbox:zoe"}
    )
    assert gone.status_code == 200
    assert (await client.get(f"/api/v1/statuses/{status.id}")).status_code == 404


async def test_mastodon_oauth_flow(world: World, client: httpx.AsyncClient) -> None:
    app = await client.post(
        "/api/v1/apps",
        data={
            "client_name": "socialtui",
            "redirect_uris": "urn:ietf:wg:oauth:2.0:oob",
            "scopes": "read write",
        },
    )
    registered = app.json()
    assert keys(reference_payload("mastodon/docs/app_create_response.json")) <= keys(registered)
    assert registered["scopes"] == ["read", "write"]
    query = {
        "client_id": registered["client_id"],
        "redirect_uri": "urn:ietf:wg:oauth:2.0:oob",
        "response_type": "code",
        "scope": "read write",
    }

    form = await client.get("/oauth/authorize", params=query)
    assert form.status_code == 200 and '<input name="username"' in form.text
    page = await client.get("/oauth/authorize", params={**query, "username": "nightowl"})
    code = page.text.split('class="oauth-code" readonly type="text" value="')[1].split('"')[0]
    token_form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": registered["client_id"],
        "client_secret": registered["client_secret"],
        "redirect_uri": "urn:ietf:wg:oauth:2.0:oob",
    }
    bad_secret = await client.post("/oauth/token", data={**token_form, "client_secret": "wrong"})
    assert bad_secret.status_code == 401 and bad_secret.json()["error"] == "invalid_client"
    token = await client.post("/oauth/token", data=token_form)
    assert keys(token.json()) == keys(reference_payload("mastodon/docs/oauth_token_response.json"))
    assert token.json()["token_type"] == "Bearer" and token.json()["scope"] == "read write"
    me = await client.get(
        "/api/v1/accounts/verify_credentials",
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
    )
    assert me.json()["acct"] == "nightowl"
    reused = await client.post("/oauth/token", data=token_form)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"

    web = world.create_app("web", ["https://app.example/cb"], ["read"], None)
    redirect = await client.get(
        "/oauth/authorize",
        params={
            "client_id": web.client_id,
            "redirect_uri": "https://app.example/cb",
            "username": "acme",
            "state": "s1",
        },
    )
    assert redirect.status_code == 302
    location = httpx.URL(redirect.headers["location"])
    assert location.host == "app.example" and location.params["state"] == "s1" and location.params["code"]

    app_only = await client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": web.client_id,
            "client_secret": web.client_secret,
        },
    )
    creds = await client.get(
        "/api/v1/accounts/verify_credentials",
        headers={"Authorization": f"Bearer {app_only.json()['access_token']}"},
    )
    assert (creds.status_code, creds.json()) == (422, {"error": "This method requires an authenticated user"})


# --- Bluesky: sessions ----------------------------------------------------------------------------------


async def test_bluesky_sessions_and_token_errors(
    world: World, client: httpx.AsyncClient, clock: FixedClock
) -> None:
    headers, session = await login(client)
    assert {"accessJwt", "refreshJwt", "handle", "did", "didDoc", "active"} <= keys(session)
    header, payload, _signature = session["accessJwt"].split(".")
    claims = json.loads(b64url_decode(payload))
    assert claims["sub"] == session["did"] and claims["scope"] == "com.atproto.access"
    assert claims["exp"] - claims["iat"] == 2 * 3600
    assert json.loads(b64url_decode(header))["typ"] == "at+jwt"

    me = await client.get("/xrpc/com.atproto.server.getSession", headers=headers)
    assert me.json()["handle"] == "acme.sandbox.bsky" and me.json()["did"] == session["did"]
    by_did = await client.post(
        "/xrpc/com.atproto.server.createSession", json={"identifier": session["did"], "password": "sandbox"}
    )
    assert by_did.status_code == 200
    wrong = await client.post(
        "/xrpc/com.atproto.server.createSession", json={"identifier": "acme.sandbox.bsky", "password": "x"}
    )
    assert (wrong.status_code, wrong.json()["error"]) == (401, "AuthenticationRequired")

    missing = await client.get("/xrpc/app.bsky.notification.listNotifications")
    assert (missing.status_code, missing.json()) == (
        401,
        {"error": "AuthMissing", "message": "Authentication Required"},
    )
    garbage = await client.get(
        "/xrpc/app.bsky.notification.listNotifications", headers={"Authorization": "Bearer garbage"}
    )
    assert (garbage.status_code, garbage.json()["error"]) == (400, "InvalidToken")
    refresh_as_access = await client.get(
        "/xrpc/app.bsky.notification.listNotifications",
        headers={"Authorization": f"Bearer {session['refreshJwt']}"},
    )
    assert (refresh_as_access.status_code, refresh_as_access.json()["error"]) == (400, "InvalidToken")

    clock.advance(timedelta(hours=2, seconds=1))
    expired = await client.get("/xrpc/app.bsky.notification.listNotifications", headers=headers)
    assert (expired.status_code, expired.json()) == (
        400,
        {"error": "ExpiredToken", "message": "Token has expired"},
    )
    refreshed = await client.post(
        "/xrpc/com.atproto.server.refreshSession",
        headers={"Authorization": f"Bearer {session['refreshJwt']}"},
    )
    assert refreshed.status_code == 200 and refreshed.json()["refreshJwt"] != session["refreshJwt"]
    works = await client.get(
        "/xrpc/app.bsky.notification.listNotifications",
        headers={"Authorization": f"Bearer {refreshed.json()['accessJwt']}"},
    )
    assert works.status_code == 200
    with_access = await client.post("/xrpc/com.atproto.server.refreshSession", headers=headers)
    assert with_access.status_code == 400 and with_access.json()["error"] in ("ExpiredToken", "InvalidToken")


async def test_bluesky_access_token_lifetime_is_configurable(clock: FixedClock) -> None:
    world = World(clock.now, access_token_lifetime=timedelta(minutes=5))
    _actor, tokens = world.create_session("acme.sandbox.bsky", "sandbox")
    claims = json.loads(b64url_decode(tokens["accessJwt"].split(".")[1]))
    assert claims["exp"] - claims["iat"] == 300


async def test_bluesky_identity_and_profile(world: World, client: httpx.AsyncClient) -> None:
    resolved = await client.get(
        "/xrpc/com.atproto.identity.resolveHandle", params={"handle": "kim.example.com"}
    )
    assert keys(resolved.json()) == keys(reference_payload("bluesky/docs/marshalx_resolve_handle.json"))
    assert resolved.json()["did"].startswith("did:plc:")
    unknown = await client.get(
        "/xrpc/com.atproto.identity.resolveHandle", params={"handle": "nobody.example"}
    )
    assert (unknown.status_code, unknown.json()["error"]) == (400, "InvalidRequest")
    headers, _ = await login(client)
    profile = (
        await client.get(
            "/xrpc/app.bsky.actor.getProfile", params={"actor": "acme.sandbox.bsky"}, headers=headers
        )
    ).json()
    assert {
        "did",
        "handle",
        "displayName",
        "description",
        "followersCount",
        "followsCount",
        "postsCount",
    } <= keys(profile)
    assert profile["displayName"] == "Acme Bikes 🚲"


# --- Bluesky: records, notifications, feeds ------------------------------------------------------------------


async def test_bluesky_mention_reply_and_quote_notify(
    world: World, client: httpx.AsyncClient, clock: FixedClock
) -> None:
    headers, session = await login(client)
    acme = session["did"]
    root = await client.post(
        "/xrpc/com.atproto.repo.createRecord",
        headers=headers,
        json={
            "repo": acme,
            "collection": "app.bsky.feed.post",
            "record": {
                "$type": "app.bsky.feed.post",
                "text": "New bikes!",
                "createdAt": "2026-11-21T11:44:24.000Z",
            },
        },
    )
    assert keys(reference_payload("bluesky/docs/createRecord_response.json")) <= keys(root.json())
    assert root.json()["cid"].startswith("bafyrei")
    root_ref = {"uri": root.json()["uri"], "cid": root.json()["cid"]}

    sam = world.bluesky_resolve("sam.sandbox.bsky")
    clock.advance(1)
    text = "✨ hey @acme.sandbox.bsky look"
    facet = facet_mention(text, "acme.sandbox.bsky", acme)
    assert facet["index"] == {"byteStart": 8, "byteEnd": 26}  # UTF-8 bytes: the sparkle is three
    mention = world.create_record(
        sam, "app.bsky.feed.post", {"text": text, "createdAt": "2026-11-21T11:44:25Z", "facets": [facet]}
    )
    clock.advance(1)
    reply = world.create_record(
        sam,
        "app.bsky.feed.post",
        {
            "text": "when?",
            "createdAt": "2026-11-21T11:44:26Z",
            "reply": {"root": root_ref, "parent": root_ref},
        },
    )
    clock.advance(1)
    quote = world.bluesky_post(
        world.bluesky_resolve("kim.example.com"), "look at this", quote=root_ref["uri"]
    )
    clock.advance(1)
    world.bluesky_like(sam, root_ref["uri"])

    listed = await client.get("/xrpc/app.bsky.notification.listNotifications", headers=headers)
    notes = listed.json()["notifications"]
    assert [(n["reason"], n["uri"]) for n in notes] == [
        ("like", notes[0]["uri"]),
        ("quote", quote.uri),
        ("reply", reply.uri),
        ("mention", mention.uri),
    ]
    real = reference_payload("bluesky/devnet/listNotifications.json")
    assert keys(real) <= keys(listed.json()) | {"seenAt"}
    assert keys(real["notifications"][0]) <= keys(notes[2])  # the reply, with reasonSubject
    assert keys(real["notifications"][1]["author"]) <= keys(notes[3]["author"])
    assert notes[2]["reasonSubject"] == root_ref["uri"] and notes[1]["reasonSubject"] == root_ref["uri"]
    assert notes[3]["record"]["facets"][0]["features"][0] == {
        "$type": "app.bsky.richtext.facet#mention",
        "did": acme,
    }

    only = await client.get(
        "/xrpc/app.bsky.notification.listNotifications",
        params=[("reasons", "mention"), ("reasons", "reply")],
        headers=headers,
    )
    assert [n["reason"] for n in only.json()["notifications"]] == ["reply", "mention"]
    assert all(n["isRead"] is False for n in notes)
    await client.post(
        "/xrpc/app.bsky.notification.updateSeen", json={"seenAt": "2026-11-21T11:44:26.500Z"}, headers=headers
    )
    read = (await client.get("/xrpc/app.bsky.notification.listNotifications", headers=headers)).json()[
        "notifications"
    ]
    assert [n["isRead"] for n in read] == [False, False, True, True]

    # deleting a post takes its notification away
    await client.post(
        "/xrpc/com.atproto.repo.deleteRecord",
        headers={"Authorization": f"Bearer {world._issue_session(sam)['accessJwt']}"},
        json={"repo": sam.did, "collection": "app.bsky.feed.post", "rkey": mention.rkey},
    )
    after = (await client.get("/xrpc/app.bsky.notification.listNotifications", headers=headers)).json()[
        "notifications"
    ]
    assert "mention" not in [n["reason"] for n in after]


async def test_bluesky_facets_are_detected_with_byte_offsets(world: World) -> None:
    record = world.bluesky_post(
        world.bluesky_resolve("sam.sandbox.bsky"), "café @acme.sandbox.bsky see https://example.org #bikes"
    )
    facets = record.value["facets"]
    assert facets[0]["index"] == {"byteStart": 6, "byteEnd": 24}
    assert facets[0]["features"][0]["did"] == world.bluesky_resolve("acme.sandbox.bsky").did
    assert facets[1]["features"][0] == {"$type": "app.bsky.richtext.facet#link", "uri": "https://example.org"}
    assert facets[2]["features"][0] == {"$type": "app.bsky.richtext.facet#tag", "tag": "bikes"}


async def test_bluesky_notifications_page_with_cursors(
    world: World, client: httpx.AsyncClient, clock: FixedClock
) -> None:
    headers, _ = await login(client)
    sam = world.bluesky_resolve("sam.sandbox.bsky")
    uris = []
    for n in range(5):
        uris.append(world.bluesky_post(sam, f"@acme.sandbox.bsky q{n}").uri)
        if n % 2:
            clock.advance(1)  # some share an instant: the cursor must still not skip or repeat
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (
            await client.get("/xrpc/app.bsky.notification.listNotifications", params=params, headers=headers)
        ).json()
        seen += [n["uri"] for n in page["notifications"]]
        cursor = page.get("cursor")
        if not cursor:
            break
    assert seen == uris[::-1]
    too_many = await client.get(
        "/xrpc/app.bsky.notification.listNotifications", params={"limit": 101}, headers=headers
    )
    assert (too_many.status_code, too_many.json()["error"]) == (400, "InvalidRequest")


async def test_bluesky_duplicate_rkey_is_a_bare_500_and_getrecord_finds_the_first(
    client: httpx.AsyncClient,
) -> None:
    headers, session = await login(client)
    body = {
        "repo": session["did"],
        "collection": "app.bsky.feed.post",
        "rkey": "3n2szj3d2b22v",
        "record": {"$type": "app.bsky.feed.post", "text": "once", "createdAt": "2026-11-21T11:44:24.000Z"},
    }
    first = await client.post("/xrpc/com.atproto.repo.createRecord", json=body, headers=headers)
    assert first.json()["uri"] == f"at://{session['did']}/app.bsky.feed.post/3n2szj3d2b22v"
    second = await client.post(
        "/xrpc/com.atproto.repo.createRecord",
        json=body | {"record": body["record"] | {"text": "twice"}},
        headers=headers,
    )
    assert second.status_code == 500
    assert second.json() == {"error": "InternalServerError", "message": "Internal Server Error"}
    found = await client.get(
        "/xrpc/com.atproto.repo.getRecord",
        params={"repo": "acme.sandbox.bsky", "collection": "app.bsky.feed.post", "rkey": "3n2szj3d2b22v"},
    )
    assert keys(found.json()) == keys(reference_payload("bluesky/docs/marshalx_post_record.json"))
    assert found.json()["value"]["text"] == "once" and found.json()["cid"] == first.json()["cid"]
    missing = await client.get(
        "/xrpc/com.atproto.repo.getRecord",
        params={"repo": session["did"], "collection": "app.bsky.feed.post", "rkey": "nope"},
    )
    assert missing.status_code == 400
    assert missing.json() == {
        "error": "RecordNotFound",
        "message": f"Could not locate record: at://{session['did']}/app.bsky.feed.post/nope",
    }
    other_repo = await client.post(
        "/xrpc/com.atproto.repo.createRecord",
        json=body | {"repo": "sam.sandbox.bsky", "rkey": None},
        headers=headers,
    )
    assert other_repo.status_code == 401


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a" * 301, "grapheme too big (maximum 300, got 301)"),
        ("👨‍👩‍👧‍👦" * 301, "string too big (maximum 3000, got 7525)"),
        ("€" * 1001, "string too big (maximum 3000, got 3003)"),
    ],
)
async def test_bluesky_post_length_limits(client: httpx.AsyncClient, text: str, message: str) -> None:
    headers, session = await login(client)
    record = {"$type": "app.bsky.feed.post", "text": text, "createdAt": "2026-11-21T11:44:24.000Z"}
    answer = await client.post(
        "/xrpc/com.atproto.repo.createRecord",
        json={"repo": session["did"], "collection": "app.bsky.feed.post", "record": record},
        headers=headers,
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "InvalidRequest"
    assert message in answer.json()["message"]
    ok = record | {"text": "é" * 300}  # 300 graphemes, 600 bytes: fine
    accepted = await client.post(
        "/xrpc/com.atproto.repo.createRecord",
        json={"repo": session["did"], "collection": "app.bsky.feed.post", "record": ok},
        headers=headers,
    )
    assert accepted.status_code == 200


async def test_bluesky_feeds_threads_and_posts(
    world: World, client: httpx.AsyncClient, clock: FixedClock
) -> None:
    headers, session = await login(client)
    acme = world.bluesky_resolve("acme.sandbox.bsky")
    sam = world.bluesky_resolve("sam.sandbox.bsky")
    root = world.bluesky_post(acme, "Root post")
    clock.advance(1)
    reply = world.bluesky_post(sam, "a reply", reply_to=root.uri)
    clock.advance(1)
    deep = world.bluesky_post(acme, "deeper", reply_to=reply.uri)
    clock.advance(1)
    world.bluesky_repost(acme, reply.uri)

    feed = (
        await client.get(
            "/xrpc/app.bsky.feed.getAuthorFeed", params={"actor": "acme.sandbox.bsky"}, headers=headers
        )
    ).json()
    assert [item["post"]["uri"] for item in feed["feed"]] == [reply.uri, deep.uri, root.uri]
    assert feed["feed"][0]["reason"]["$type"] == "app.bsky.feed.defs#reasonRepost"
    assert feed["feed"][1]["reply"]["parent"]["uri"] == reply.uri
    assert feed["feed"][1]["reply"]["root"]["$type"] == "app.bsky.feed.defs#postView"
    assert feed["feed"][1]["reply"]["grandparentAuthor"]["did"] == acme.did
    real_feed = reference_payload("bluesky/devnet/getAuthorFeed.json")
    assert keys(real_feed["feed"][0]["post"]) <= keys(feed["feed"][2]["post"])
    assert keys(real_feed["feed"][0]["post"]["author"]) <= keys(feed["feed"][2]["post"]["author"])
    no_replies = (
        await client.get(
            "/xrpc/app.bsky.feed.getAuthorFeed",
            params={"actor": acme.did, "filter": "posts_no_replies"},
            headers=headers,
        )
    ).json()
    assert [item["post"]["uri"] for item in no_replies["feed"]] == [reply.uri, root.uri]
    paged = (
        await client.get(
            "/xrpc/app.bsky.feed.getAuthorFeed", params={"actor": acme.did, "limit": 2}, headers=headers
        )
    ).json()
    rest = (
        await client.get(
            "/xrpc/app.bsky.feed.getAuthorFeed",
            params={"actor": acme.did, "limit": 2, "cursor": paged["cursor"]},
            headers=headers,
        )
    ).json()
    assert (
        len(paged["feed"]) == 2
        and [i["post"]["uri"] for i in rest["feed"]] == [root.uri]
        and "cursor" not in rest
    )

    timeline = (
        await client.get("/xrpc/app.bsky.feed.getTimeline", params={"limit": 10}, headers=headers)
    ).json()
    assert {item["post"]["uri"] for item in timeline["feed"]} == {root.uri, reply.uri, deep.uri}

    thread = (
        await client.get("/xrpc/app.bsky.feed.getPostThread", params={"uri": reply.uri}, headers=headers)
    ).json()["thread"]
    real_thread = reference_payload("bluesky/devnet/getPostThread.json")["thread"]
    assert keys(real_thread) <= keys(thread)
    assert thread["$type"] == "app.bsky.feed.defs#threadViewPost"
    assert (
        thread["parent"]["post"]["uri"] == root.uri
        and thread["parent"]["$type"] == "app.bsky.feed.defs#threadViewPost"
    )
    assert [r["post"]["uri"] for r in thread["replies"]] == [deep.uri]
    assert keys(reference_payload("bluesky/devnet/postview_reply.json")) <= keys(thread["post"])
    shallow = (
        await client.get(
            "/xrpc/app.bsky.feed.getPostThread", params={"uri": root.uri, "depth": 1}, headers=headers
        )
    ).json()["thread"]
    assert "parent" not in shallow and "replies" not in shallow["replies"][0]
    missing = await client.get(
        "/xrpc/app.bsky.feed.getPostThread", params={"uri": f"at://{acme.did}/app.bsky.feed.post/nope"}
    )
    assert (missing.status_code, missing.json()["error"]) == (400, "NotFound")

    posts = (
        await client.get(
            "/xrpc/app.bsky.feed.getPosts", params=[("uris", root.uri), ("uris", deep.uri)], headers=headers
        )
    ).json()
    assert [p["uri"] for p in posts["posts"]] == [root.uri, deep.uri]
    assert (
        posts["posts"][0]["replyCount"] == 1 and posts["posts"][0]["author"]["handle"] == "acme.sandbox.bsky"
    )


async def test_unknown_xrpc_method_is_not_implemented(client: httpx.AsyncClient) -> None:
    answer = await client.get("/xrpc/app.bsky.unspecced.nothing")
    assert (answer.status_code, answer.json()["error"]) == (501, "MethodNotImplemented")


# --- faults ------------------------------------------------------------------------------------------------


async def test_fault_429_on_each_network_with_the_right_reset_format(
    world: World, client: httpx.AsyncClient
) -> None:
    world.faults.set("acme-mastodon", "429", count=1, seconds=90)
    limited = await client.get("/api/v1/notifications", headers=ACME)
    assert (limited.status_code, limited.json()) == (429, {"error": "Too many requests"})
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["X-RateLimit-Reset"] == "2026-11-21T11:45:54.000Z"
    assert (await client.get("/api/v1/notifications", headers=ACME)).status_code == 200  # count used up

    headers, _ = await login(client)
    world.faults.set("acme.sandbox.bsky", "429", count=1, seconds=60)
    limited = await client.get("/xrpc/app.bsky.notification.listNotifications", headers=headers)
    assert (limited.status_code, limited.json()) == (
        429,
        {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
    )
    assert limited.headers["RateLimit-Reset"] == str(int(NOW.timestamp()) + 60)
    assert limited.headers["Retry-After"] == "60" and limited.headers["RateLimit-Remaining"] == "0"


async def test_fault_500_and_malformed(world: World, client: httpx.AsyncClient) -> None:
    world.faults.set("acme-mastodon", "500", count=1)
    broken = await client.get("/api/v1/notifications", headers=ACME)
    assert broken.status_code == 500 and broken.headers["content-type"].startswith("text/html")
    headers, _ = await login(client)
    world.faults.set("acme-bluesky", "500", count=1)
    broken = await client.get("/xrpc/app.bsky.notification.listNotifications", headers=headers)
    assert (broken.status_code, broken.json()) == (
        500,
        {"error": "InternalServerError", "message": "Internal Server Error"},
    )

    world.faults.set("acme-mastodon", "malformed", count=2)
    truncated = await client.get("/api/v1/accounts/verify_credentials", headers=ACME)
    assert truncated.status_code == 200 and truncated.headers["content-type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(truncated.text)
    page = await client.get("/api/v1/accounts/verify_credentials", headers=ACME)
    assert page.status_code == 200 and page.text.lstrip().startswith("<!DOCTYPE html>")
    assert (await client.get("/api/v1/accounts/verify_credentials", headers=ACME)).json()["acct"] == "acme"


async def test_fault_slow_and_timeout(world: World, client: httpx.AsyncClient) -> None:
    world.faults.set("acme-mastodon", "slow", count=1, seconds=0.2)
    started = time.monotonic()
    assert (await client.get("/api/v1/notifications", headers=ACME)).status_code == 200
    assert time.monotonic() - started >= 0.2

    world.faults.set("acme-mastodon", "timeout", count=1, seconds=5)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(
            client.post("/api/v1/statuses", data={"status": "did it go?"}, headers=ACME), 0.3
        )
    acme = world.mastodon_lookup("acme")
    assert [world.statuses[i].text for i in world.statuses_by_account[acme.id]] == ["did it go?"]  # it did


async def test_fault_expired_tokens(world: World, client: httpx.AsyncClient) -> None:
    world.faults.set("acme-mastodon", "expired")
    for _ in range(2):
        refused = await client.get("/api/v1/notifications", headers=ACME)
        assert (refused.status_code, refused.json()) == (401, {"error": "The access token is invalid"})
    world.faults.set("acme-mastodon", "none")
    assert (await client.get("/api/v1/notifications", headers=ACME)).status_code == 200

    headers, session = await login(client)
    world.faults.set("acme-bluesky", "expired")  # until cleared: every token issued so far
    expired = await client.get("/xrpc/app.bsky.notification.listNotifications", headers=headers)
    assert (expired.status_code, expired.json()) == (
        400,
        {"error": "ExpiredToken", "message": "Token has expired"},
    )
    refreshed = await client.post(
        "/xrpc/com.atproto.server.refreshSession",
        headers={"Authorization": f"Bearer {session['refreshJwt']}"},
    )
    assert refreshed.status_code == 200  # the way out is not blocked
    fresh = {"Authorization": f"Bearer {refreshed.json()['accessJwt']}"}
    assert (
        await client.get("/xrpc/app.bsky.notification.listNotifications", headers=fresh)
    ).status_code == 200
    assert (
        await client.get("/xrpc/app.bsky.notification.listNotifications", headers=headers)
    ).status_code == 400


async def test_faults_count_expiry_scope_and_admin_route(world: World, client: httpx.AsyncClient) -> None:
    set_fault = await client.post(
        "/_sandbox/faults", json={"account": "@acme@sandbox.social", "fault": "500", "count": 2}
    )
    assert set_fault.json()["account"] == "acme-mastodon"
    assert set_fault.json()["faults"]["acme-mastodon"]["count"] == 2
    statuses = [(await client.get("/api/v1/notifications", headers=ACME)).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert (await client.get("/_sandbox/faults")).json() == {"faults": {}}
    # one account's fault leaves the others alone
    await client.post("/_sandbox/faults", json={"account": "acme-mastodon", "fault": "500"})
    assert (
        await client.get("/api/v1/notifications", headers={"Authorization": "Bearer sandbox:nightowl"})
    ).status_code == 200
    assert (await client.get("/api/v1/notifications", headers=ACME)).status_code == 500
    await client.post("/_sandbox/faults", json={"account": "acme-mastodon", "fault": "none"})
    assert (await client.get("/api/v1/notifications", headers=ACME)).status_code == 200

    unknown = await client.post(
        "/_sandbox/faults", json={"account": "nobody@nowhere.example", "fault": "500"}
    )
    assert unknown.status_code == 404
    bad = await client.post("/_sandbox/faults", json={"account": "acme-mastodon", "fault": "explode"})
    assert bad.status_code == 400
    with pytest.raises(ValueError):
        world.faults.set("acme-mastodon", "429", count=0)


# --- admin routes -------------------------------------------------------------------------------------------


async def test_stats_count_requests_per_account_and_endpoint(client: httpx.AsyncClient) -> None:
    headers, _ = await login(client)
    await client.get("/api/v1/notifications", headers=ACME)
    await client.get("/api/v1/notifications", headers=ACME)
    await client.get("/xrpc/app.bsky.notification.listNotifications", headers=headers)
    await client.get("/api/v1/notifications")  # refused: counted as anonymous
    stats = (await client.get("/_sandbox/stats")).json()
    assert stats["accounts"]["acme-mastodon"] == {"GET /api/v1/notifications": 2}
    assert stats["accounts"]["acme-bluesky"] == {
        "POST /xrpc/com.atproto.server.createSession": 1,
        "GET /xrpc/app.bsky.notification.listNotifications": 1,
    }
    assert stats["accounts"]["-"] == {"GET /api/v1/notifications": 1}
    assert stats["total"] == 5
    assert (await client.delete("/_sandbox/stats")).json() == {"accounts": {}, "total": 0}


async def test_admin_post_acts_as_anyone_and_lists_accounts(world: World, client: httpx.AsyncClient) -> None:
    posted = await client.post(
        "/_sandbox/post",
        json={"network": "mastodon", "as": "lee@example.net", "text": "@acme@sandbox.social hi"},
    )
    assert posted.status_code == 200
    notes = (await client.get("/api/v1/notifications", headers=ACME)).json()
    assert (
        notes[0]["status"]["id"] == posted.json()["id"] and notes[0]["account"]["acct"] == "lee@example.net"
    )
    reply = await client.post(
        "/_sandbox/post",
        json={
            "network": "mastodon",
            "as": "lee@example.net",
            "text": "thanks",
            "reply_to": posted.json()["id"],
        },
    )
    assert reply.status_code == 200
    newcomer = await client.post(
        "/_sandbox/post",
        json={"network": "bluesky", "as": "newcomer.example.com", "text": "hi @acme.sandbox.bsky"},
    )
    assert newcomer.json()["uri"].startswith("at://did:plc:")
    bad = await client.post("/_sandbox/post", json={"network": "myspace", "as": "x", "text": "y"})
    assert bad.status_code == 400
    accounts = (await client.get("/_sandbox/accounts")).json()["accounts"]
    assert {
        "key": "acme-mastodon",
        "network": "mastodon",
        "handle": "@acme@sandbox.social",
        "token": "sandbox:acme",
    } in accounts
    traffic = await client.post("/_sandbox/traffic", json={"events": 3, "seed": 1})
    assert len(traffic.json()["events"]) == 3
