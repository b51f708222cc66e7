"""The Bluesky subset of the sandbox: XRPC under /xrpc/NSID, as a PDS with its AppView behind it.

Shapes follow the lexicons and real responses of Bluesky's dev network: post views, notifications
with facets in UTF-8 byte offsets, `$type`d thread nodes, cursors, `RateLimit-*` headers (reset in
epoch seconds) and XRPC errors (`{"error": NAME, "message": TEXT}`: a missing token is 401
`AuthMissing`, an expired one 400 `ExpiredToken`, a garbage one 400 `InvalidToken`).

Log in with `com.atproto.server.createSession` (any handle, password `sandbox`), then
`Authorization: Bearer ACCESS_JWT`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from socialtui.sandbox.common import ApiError, Call, NetworkRules, endpoint, json_response
from socialtui.sandbox.faults import HOSTILE_ERROR, Fault, Window
from socialtui.sandbox.ids import cid_for
from socialtui.sandbox.text import iso_ms
from socialtui.sandbox.world import (
    POST,
    BlueskyActor,
    BlueskyNotification,
    BlueskyRecord,
    DuplicateRecord,
    Forbidden,
    NotFound,
    TokenError,
    World,
    WorldError,
    parse_at_uri,
    quoted_uri,
)

RATE_LIMIT = 3000
SESSION_LIMIT = 30
RATE_PERIOD = timedelta(minutes=5)
THREAD_VIEW = "app.bsky.feed.defs#threadViewPost"
NOT_FOUND_POST = "app.bsky.feed.defs#notFoundPost"
POST_VIEW = "app.bsky.feed.defs#postView"
MALFORMED_HTML = (
    "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n<center><h1>502 Bad Gateway</h1></center>\n"
    "<hr><center>nginx</center>\n</body>\n</html>\n"
)


def xrpc_error(status: int, error: str, message: str | None = None) -> ApiError:
    body: dict[str, Any] = {"error": error}
    if message is not None:
        body["message"] = message
    return ApiError(status, body)


def invalid(message: str) -> ApiError:
    return xrpc_error(400, "InvalidRequest", message)


# --- views ----------------------------------------------------------------------------------------


def profile_basic(world: World, actor: BlueskyActor) -> dict[str, Any]:
    data: dict[str, Any] = {"did": actor.did, "handle": actor.handle}
    if actor.display_name:
        data["displayName"] = actor.display_name
    data.update(
        {
            "associated": {"activitySubscription": {"allowSubscriptions": "followers"}},
            "viewer": {
                "muted": False,
                "mutedOnlyReposts": False,
                "mutedOnlyQuoteposts": False,
                "blockedBy": False,
            },
            "labels": [],
            "createdAt": iso_ms(actor.created_at),
        }
    )
    return data


def profile_view(world: World, actor: BlueskyActor) -> dict[str, Any]:
    data = profile_basic(world, actor)
    if actor.description:
        data["description"] = actor.description
    data["indexedAt"] = iso_ms(actor.created_at)
    return data


def profile_detailed(world: World, actor: BlueskyActor) -> dict[str, Any]:
    data = profile_view(world, actor)
    data.update(
        {
            "followersCount": sum(1 for _, b in world.b_follows if b == actor.did),
            "followsCount": sum(1 for a, _ in world.b_follows if a == actor.did),
            "postsCount": len(world.posts_by_author.get(actor.did, [])),
        }
    )
    data["associated"] = {
        "lists": 0,
        "feedgens": 0,
        "starterPacks": 0,
        "labeler": False,
        "activitySubscription": {"allowSubscriptions": "followers"},
    }
    return data


def _counts(world: World, uri: str) -> dict[str, int]:
    return {
        "replyCount": len(world.b_replies.get(uri, [])),
        "repostCount": len(world.b_reposts.get(uri, [])),
        "likeCount": len(world.b_likes.get(uri, [])),
        "quoteCount": len(world.b_quotes.get(uri, [])),
    }


def _viewer_state(world: World, record: BlueskyRecord, viewer: str | None) -> dict[str, Any]:
    state: dict[str, Any] = {"bookmarked": False, "threadMuted": False, "embeddingDisabled": False}
    if viewer:
        for key, index in (("like", world.b_likes), ("repost", world.b_reposts)):
            for uri in index.get(record.uri, []):
                if uri.startswith(f"at://{viewer}/"):
                    state[key] = uri
    return state


def post_view(world: World, record: BlueskyRecord, viewer: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "uri": record.uri,
        "cid": record.cid,
        "author": profile_basic(world, world.actors[record.did]),
        "record": record.value,
    }
    quoted = quoted_uri(record.value)
    if quoted:
        target = world.records.get(quoted)
        if target is None:
            inner: dict[str, Any] = {
                "$type": "app.bsky.embed.record#viewNotFound",
                "uri": quoted,
                "notFound": True,
            }
        else:
            inner = {
                "$type": "app.bsky.embed.record#viewRecord",
                "uri": target.uri,
                "cid": target.cid,
                "author": profile_basic(world, world.actors[target.did]),
                "value": target.value,
                "labels": [],
                **_counts(world, target.uri),
                "indexedAt": iso_ms(target.indexed_at),
                "embeds": [],
            }
        data["embed"] = {"$type": "app.bsky.embed.record#view", "record": inner}
    data["bookmarkCount"] = 0
    data.update(_counts(world, record.uri))
    data["indexedAt"] = iso_ms(record.indexed_at)
    data["viewer"] = _viewer_state(world, record, viewer)
    data["labels"] = []
    return data


def _typed_post_or_missing(world: World, uri: str, viewer: str | None) -> dict[str, Any]:
    record = world.records.get(uri)
    if record is None:
        return {"$type": NOT_FOUND_POST, "uri": uri, "notFound": True}
    return {"$type": POST_VIEW, **post_view(world, record, viewer)}


def feed_view(world: World, record: BlueskyRecord, viewer: str | None) -> dict[str, Any] | None:
    """A feedViewPost for a post record, or for a repost record (the reposted post, with a reason)."""
    if record.collection == POST:
        item: dict[str, Any] = {"post": post_view(world, record, viewer)}
        reply = record.value.get("reply") or {}
        if reply:
            parent_uri = (reply.get("parent") or {}).get("uri", "")
            root_uri = (reply.get("root") or {}).get("uri", "")
            ref = {
                "root": _typed_post_or_missing(world, root_uri, viewer),
                "parent": _typed_post_or_missing(world, parent_uri, viewer),
            }
            parent = world.records.get(parent_uri)
            grandparent_uri = (
                ((parent.value.get("reply") or {}).get("parent") or {}).get("uri") if parent else None
            )
            grandparent = world.records.get(grandparent_uri or "")
            if grandparent:
                ref["grandparentAuthor"] = profile_basic(world, world.actors[grandparent.did])
            item["reply"] = ref
        return item
    subject = world.records.get((record.value.get("subject") or {}).get("uri", ""))
    if subject is None:
        return None
    return {
        "post": post_view(world, subject, viewer),
        "reason": {
            "$type": "app.bsky.feed.defs#reasonRepost",
            "by": profile_basic(world, world.actors[record.did]),
            "uri": record.uri,
            "cid": record.cid,
            "indexedAt": iso_ms(record.indexed_at),
        },
    }


def notification_view(
    world: World, notification: BlueskyNotification, seen_at: datetime | None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "uri": notification.uri,
        "cid": notification.cid,
        "author": profile_view(world, world.actors[notification.author]),
        "reason": notification.reason,
    }
    if notification.reason_subject:
        data["reasonSubject"] = notification.reason_subject
    data.update(
        {
            "record": notification.record,
            "isRead": bool(seen_at and notification.indexed_at <= seen_at),
            "indexedAt": iso_ms(notification.indexed_at),
            "labels": [],
        }
    )
    return data


# --- paging ---------------------------------------------------------------------------------------


def _cursor_of(key: tuple[datetime, int]) -> str:
    return f"{int(key[0].timestamp() * 1000)}::{key[1]}"


def _parse_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        ms, seq = cursor.split("::")
        return datetime.fromtimestamp(int(ms) / 1000, tz=UTC), int(seq)
    except ValueError as error:
        raise invalid("Malformed cursor") from error


def _limit(call: Call, default: int = 50, maximum: int = 100) -> int:
    raw = call.query("limit")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise invalid("Error: limit must be an integer") from error
    if value < 1:
        raise invalid("Error: limit can not be less than 1")
    if value > maximum:
        raise invalid(f"Error: limit can not be greater than {maximum}")
    return value


def page(call: Call, items: list, key) -> tuple[list, str | None]:
    """Newest first from `items` (oldest first), after the cursor; a cursor when more remain."""
    limit = _limit(call)
    cursor = call.query("cursor")
    # Sorted by what the cursor can express (milliseconds, sequence), so no page skips an item.
    ordered = sorted(items, key=lambda item: _ms_key(key(item)), reverse=True)
    if cursor:
        bound = _parse_cursor(cursor)
        ordered = [item for item in ordered if _ms_key(key(item)) < bound]
    chunk = ordered[:limit]
    more = len(ordered) > limit
    return chunk, (_cursor_of(_ms_key(key(chunk[-1]))) if chunk and more else None)


def _ms_key(key: tuple[datetime, int]) -> tuple[datetime, int]:
    at = key[0]
    return at.replace(microsecond=at.microsecond // 1000 * 1000), key[1]


# --- authentication -------------------------------------------------------------------------------


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else ""


def _access(required: bool):
    async def authenticate(call: Call) -> None:
        token = _bearer(call.request)
        if token is None:
            if required:
                raise xrpc_error(401, "AuthMissing", "Authentication Required")
            return
        if not token:
            raise xrpc_error(401, "AuthMissing", "Authentication Required")
        call.token = token
        try:
            call.account, call.token_serial = call.world.verify_access(token)
        except TokenError as error:
            raise xrpc_error(400, error.error, error.message) from error

    return authenticate


ACCESS = _access(required=True)
OPTIONAL = _access(required=False)


async def REFRESH(call: Call) -> None:  # noqa: N802 - reads like the other authentication modes
    token = _bearer(call.request)
    if not token:
        raise xrpc_error(401, "AuthMissing", "Authentication Required")
    call.token = token
    call.session_call = True
    try:
        call.account, _grant = call.world.verify_refresh(token)
    except TokenError as error:
        raise xrpc_error(400, error.error, error.message) from error


async def LOGIN(call: Call) -> None:  # noqa: N802
    """createSession: the account is the one named by `identifier` (faults and stats count for it)."""
    call.session_call = True
    try:
        body = await call.body()
    except ValueError as error:
        raise invalid(str(error)) from error
    identifier = str(body.get("identifier") or "")
    call.rate_bucket = f"createSession:{identifier.lower()}"
    call.account = call.world.bluesky_resolve(identifier)


async def NOBODY(call: Call) -> None:  # noqa: N802
    return None


def _window(call: Call) -> Window:
    now = call.world.now()
    if call.rate_bucket:
        return call.world.rate_limits.hit(call.rate_bucket, SESSION_LIMIT, RATE_PERIOD, now)
    if isinstance(call.account, BlueskyActor):
        bucket = f"did:{call.account.did}"
    else:
        bucket = f"ip:{call.request.client.host if call.request.client else 'local'}"
    return call.world.rate_limits.hit(bucket, RATE_LIMIT, RATE_PERIOD, now)


def _headers(window: Window) -> dict[str, str]:
    return {
        "RateLimit-Limit": str(window.limit),
        "RateLimit-Remaining": str(window.remaining),
        "RateLimit-Reset": str(int(window.reset_at.timestamp())),
        "RateLimit-Policy": f"{window.limit};w={int(RATE_PERIOD.total_seconds())}",
    }


def _rate_limited(call: Call, window: Window) -> Response:
    response = xrpc_error(429, "RateLimitExceeded", "Rate Limit Exceeded").response()
    seconds = max(1, int((window.reset_at - call.world.now()).total_seconds()))
    response.headers["Retry-After"] = str(seconds)
    return response


def _fault_response(call: Call, fault: Fault, window: Window) -> Response:
    if fault.kind == "429":
        now = call.world.now()
        response = xrpc_error(429, "RateLimitExceeded", "Rate Limit Exceeded").response()
        response.headers.update(
            {
                "RateLimit-Limit": str(window.limit),
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(int(now.timestamp() + fault.delay)),
                "RateLimit-Policy": f"{window.limit};w={int(RATE_PERIOD.total_seconds())}",
                "Retry-After": str(int(fault.delay)),
            }
        )
        return response
    if fault.kind == "500":
        return xrpc_error(500, "InternalServerError", "Internal Server Error").response()
    if fault.kind == "expired":
        return xrpc_error(400, "ExpiredToken", "Token has expired").response()
    if fault.kind == "hostile":
        return xrpc_error(400, "InvalidRequest", HOSTILE_ERROR).response()
    return HTMLResponse(MALFORMED_HTML, status_code=200)


RULES = NetworkRules("bluesky", _window, _headers, _fault_response, _rate_limited)


# --- routes: sessions and identity -------------------------------------------------------------------


def _session_json(call: Call, actor: BlueskyActor, tokens: dict[str, str] | None) -> dict[str, Any]:
    data: dict[str, Any] = dict(tokens or {})
    data.update(
        {
            "handle": actor.handle,
            "did": actor.did,
            "didDoc": {
                "@context": ["https://www.w3.org/ns/did/v1"],
                "id": actor.did,
                "alsoKnownAs": [f"at://{actor.handle}"],
                "service": [
                    {
                        "id": "#atproto_pds",
                        "type": "AtprotoPersonalDataServer",
                        "serviceEndpoint": call.base_url,
                    }
                ],
            },
            "email": f"{actor.handle}@sandbox.invalid",
            "emailConfirmed": True,
            "emailAuthFactor": False,
            "active": True,
        }
    )
    return data


async def create_session(call: Call) -> Response:
    body = await call.body()
    identifier, password = body.get("identifier"), body.get("password")
    if not isinstance(identifier, str) or not identifier:
        raise invalid('Input must have the property "identifier"')
    if not isinstance(password, str):
        raise invalid('Input must have the property "password"')
    try:
        actor, tokens = call.world.create_session(identifier, password)
    except Forbidden as error:
        raise xrpc_error(401, "AuthenticationRequired", error.message) from error
    return json_response(_session_json(call, actor, tokens))


async def refresh_session(call: Call) -> Response:
    try:
        actor, tokens = call.world.refresh_session(call.token)
    except TokenError as error:
        raise xrpc_error(400, error.error, error.message) from error
    return json_response(_session_json(call, actor, tokens))


async def delete_session(call: Call) -> Response:
    try:
        call.world.delete_session(call.token)
    except TokenError as error:
        raise xrpc_error(400, error.error, error.message) from error
    return Response(status_code=200)


async def get_session(call: Call) -> Response:
    return json_response(_session_json(call, call.bluesky_user, None))


async def resolve_handle(call: Call) -> Response:
    handle = call.query("handle")
    if not handle:
        raise invalid('Error: Params must have the property "handle"')
    actor = call.world.bluesky_resolve(handle)
    if actor is None or handle.startswith("did:"):
        raise invalid("Unable to resolve handle")
    return json_response({"did": actor.did})


def _actor_param(call: Call, name: str = "actor") -> BlueskyActor:
    value = call.query(name)
    if not value:
        raise invalid(f'Error: Params must have the property "{name}"')
    actor = call.world.bluesky_resolve(value)
    if actor is None:
        raise invalid("Profile not found")
    return actor


async def get_profile(call: Call) -> Response:
    with call.world.lock:
        return json_response(profile_detailed(call.world, _actor_param(call)))


def _viewer(call: Call) -> str | None:
    return call.account.did if isinstance(call.account, BlueskyActor) else None


# --- routes: notifications and feeds ------------------------------------------------------------------


async def list_notifications(call: Call) -> Response:
    world = call.world
    with world.lock:
        reasons = set(call.query_list("reasons"))
        items = [
            n for n in world.bluesky_notifications(call.bluesky_user) if not reasons or n.reason in reasons
        ]
        chunk, cursor = page(call, items, lambda n: n.sort_key)
        seen_at = world.seen_at.get(call.bluesky_user.did)
        data: dict[str, Any] = {"notifications": [notification_view(world, n, seen_at) for n in chunk]}
        if cursor:
            data["cursor"] = cursor
        data["priority"] = False
        if seen_at:
            data["seenAt"] = iso_ms(seen_at)
        return json_response(data)


async def update_seen(call: Call) -> Response:
    body = await call.body()
    seen = body.get("seenAt")
    if not isinstance(seen, str):
        raise invalid('Input must have the property "seenAt"')
    try:
        at = datetime.fromisoformat(seen.replace("Z", "+00:00"))
    except ValueError as error:
        raise invalid(
            "Input/seenAt must be an valid atproto datetime (both RFC-3339 and ISO-8601)"
        ) from error
    call.world.mark_seen(call.bluesky_user, at if at.tzinfo else at.replace(tzinfo=UTC))
    return Response(status_code=200)


def _feed_response(call: Call, uris: list[str]) -> Response:
    world = call.world
    records = [world.records[u] for u in uris if u in world.records]
    chunk, cursor = page(call, records, lambda r: r.sort_key)
    feed = [item for item in (feed_view(world, r, _viewer(call)) for r in chunk) if item is not None]
    data: dict[str, Any] = {"feed": feed}
    if cursor:
        data["cursor"] = cursor
    return json_response(data)


async def author_feed(call: Call) -> Response:
    world = call.world
    with world.lock:
        actor = _actor_param(call)
        kind = call.query("filter") or "posts_with_replies"
        posts = world.posts_by_author.get(actor.did, [])
        reposts = world.reposts_by_author.get(actor.did, [])
        if kind == "posts_no_replies":
            posts = [u for u in posts if not world.records[u].value.get("reply")]
        elif kind == "posts_and_author_threads":
            posts = [
                u
                for u in posts
                if not world.records[u].value.get("reply")
                or (world.records[u].value["reply"].get("root") or {})
                .get("uri", "")
                .startswith(f"at://{actor.did}/")
            ]
        elif kind in ("posts_with_media", "posts_with_video"):
            posts, reposts = [], []
        return _feed_response(call, list(posts) + list(reposts))


async def timeline(call: Call) -> Response:
    world = call.world
    with world.lock:
        authors = {call.bluesky_user.did} | {b for a, b in world.b_follows if a == call.bluesky_user.did}
        uris: list[str] = []
        for did in authors:
            uris.extend(world.posts_by_author.get(did, []))
            uris.extend(world.reposts_by_author.get(did, []))
        return _feed_response(call, uris)


async def search_posts(call: Call) -> Response:
    """`app.bsky.feed.searchPosts`: `q` (required), `sort` (`latest`; `top` is served the same),
    `since` (a datetime, inclusive), `limit`, `cursor`."""
    world = call.world
    query = (call.query("q") or "").strip()
    if not query:
        raise invalid('Params must have the property "q"')
    since = None
    if call.query("since"):
        try:
            since = datetime.fromisoformat(str(call.query("since")).replace("Z", "+00:00"))
        except ValueError as error:
            raise invalid("since must be a valid datetime") from error
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
    with world.lock:
        records = [r for r in world.bluesky_search(query) if since is None or r.indexed_at >= since]
        chunk, cursor = page(call, records, lambda r: r.sort_key)
        data: dict[str, Any] = {
            "posts": [post_view(world, r, _viewer(call)) for r in chunk],
            "hitsTotal": len(records),
        }
        if cursor:
            data["cursor"] = cursor
        return json_response(data)


def _int_param(call: Call, name: str, default: int, maximum: int = 1000) -> int:
    raw = call.query(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise invalid(f"Error: {name} must be an integer") from error
    if not 0 <= value <= maximum:
        raise invalid(f"Error: {name} must be between 0 and {maximum}")
    return value


def _thread(
    world: World, record: BlueskyRecord, depth: int, height: int, viewer: str | None
) -> dict[str, Any]:
    node: dict[str, Any] = {"$type": THREAD_VIEW, "post": post_view(world, record, viewer)}
    parent_uri = ((record.value.get("reply") or {}).get("parent") or {}).get("uri")
    if parent_uri and height > 0:
        parent = world.records.get(parent_uri)
        if parent is None:
            node["parent"] = {"$type": NOT_FOUND_POST, "uri": parent_uri, "notFound": True}
        else:
            node["parent"] = _thread(world, parent, 0, height - 1, viewer)
            node["parent"].pop("replies", None)
    if depth > 0:
        children = sorted(
            (world.records[u] for u in world.b_replies.get(record.uri, []) if u in world.records),
            key=lambda r: r.sort_key,
        )
        node["replies"] = [_thread(world, child, depth - 1, 0, viewer) for child in children]
    node["threadContext"] = {}
    return node


async def post_thread(call: Call) -> Response:
    world = call.world
    uri = call.query("uri")
    if not uri:
        raise invalid('Error: Params must have the property "uri"')
    depth = _int_param(call, "depth", 6)
    height = _int_param(call, "parentHeight", 80)
    with world.lock:
        record = world.bluesky_record(uri)
        if record is None or record.collection != POST:
            raise xrpc_error(400, "NotFound", f"Post not found: {uri}")
        return json_response({"thread": _thread(world, record, depth, height, _viewer(call))})


async def get_posts(call: Call) -> Response:
    world = call.world
    uris = call.query_list("uris")
    if len(uris) > 25:
        raise invalid("Error: uris must not have more than 25 elements")
    with world.lock:
        records = [world.bluesky_record(u) for u in uris]
        return json_response(
            {
                "posts": [
                    post_view(world, r, _viewer(call))
                    for r in records
                    if r is not None and r.collection == POST
                ]
            }
        )


# --- routes: repo -----------------------------------------------------------------------------------


def _commit(world: World) -> dict[str, str]:
    now = world.now()
    return {
        "cid": cid_for(f"commit:{now.isoformat()}:{world.ids.tid(now)}".encode()),
        "rev": world.ids.tid(now),
    }


def _own_repo(call: Call, repo: Any) -> BlueskyActor:
    if not isinstance(repo, str) or not repo:
        raise invalid('Input must have the property "repo"')
    actor = call.world.bluesky_resolve(repo)
    if actor is None:
        raise invalid(f"Could not find repo: {repo}")
    if actor.did != call.bluesky_user.did:
        raise xrpc_error(401, "AuthenticationRequired", "Authentication Required")
    return actor


async def create_record(call: Call) -> Response:
    world = call.world
    body = await call.body()
    collection, record, rkey = body.get("collection"), body.get("record"), body.get("rkey")
    if not isinstance(collection, str) or not collection:
        raise invalid('Input must have the property "collection"')
    if not isinstance(record, dict):
        raise invalid('Input must have the property "record"')
    if rkey is not None and not isinstance(rkey, str):
        raise invalid("Input/rkey must be a string")
    record_type = record.get("$type", collection)
    if record_type != collection:
        raise invalid(f"Invalid $type: expected {collection}, got {record_type}")
    with world.lock:
        actor = _own_repo(call, body.get("repo"))
        try:
            created = world.create_record(
                actor, collection, record, rkey=rkey, validate=body.get("validate") is not False
            )
        except DuplicateRecord as error:
            raise xrpc_error(500, "InternalServerError", "Internal Server Error") from error
        except NotFound as error:
            raise xrpc_error(400, "InvalidRequest", error.message) from error
        except WorldError as error:
            raise invalid(error.message) from error
        return json_response(
            {"uri": created.uri, "cid": created.cid, "commit": _commit(world), "validationStatus": "valid"}
        )


async def delete_record(call: Call) -> Response:
    world = call.world
    body = await call.body()
    collection, rkey = body.get("collection"), body.get("rkey")
    if not isinstance(collection, str) or not isinstance(rkey, str):
        raise invalid('Input must have the properties "collection" and "rkey"')
    with world.lock:
        actor = _own_repo(call, body.get("repo"))
        world.delete_record(actor, collection, rkey)
        return json_response({"commit": _commit(world)})


async def get_record(call: Call) -> Response:
    world = call.world
    repo, collection, rkey = call.query("repo"), call.query("collection"), call.query("rkey")
    for name, value in (("repo", repo), ("collection", collection), ("rkey", rkey)):
        if not value:
            raise invalid(f'Error: Params must have the property "{name}"')
    with world.lock:
        actor = world.bluesky_resolve(repo or "")
        if actor is None:
            raise invalid(f"Could not find repo: {repo}")
        uri = f"at://{actor.did}/{collection}/{rkey}"
        record = world.bluesky_record(uri)
        wanted_cid = call.query("cid")
        if record is None or (wanted_cid and wanted_cid != record.cid):
            raise xrpc_error(400, "RecordNotFound", f"Could not locate record: {uri}")
        return json_response({"uri": record.uri, "cid": record.cid, "value": record.value})


async def not_implemented(request: Request) -> Response:
    return xrpc_error(501, "MethodNotImplemented", "Method Not Implemented").response()


def routes(world: World) -> list[Route]:
    def r(method: str, nsid: str, handler, auth) -> Route:
        path = f"/xrpc/{nsid}"
        return Route(path, endpoint(world, RULES, f"{method} {path}", handler, auth), methods=[method])

    return [
        r("POST", "com.atproto.server.createSession", create_session, LOGIN),
        r("POST", "com.atproto.server.refreshSession", refresh_session, REFRESH),
        r("POST", "com.atproto.server.deleteSession", delete_session, REFRESH),
        r("GET", "com.atproto.server.getSession", get_session, ACCESS),
        r("GET", "com.atproto.identity.resolveHandle", resolve_handle, OPTIONAL),
        r("GET", "app.bsky.actor.getProfile", get_profile, OPTIONAL),
        r("GET", "app.bsky.notification.listNotifications", list_notifications, ACCESS),
        r("POST", "app.bsky.notification.updateSeen", update_seen, ACCESS),
        r("GET", "app.bsky.feed.getAuthorFeed", author_feed, OPTIONAL),
        r("GET", "app.bsky.feed.getTimeline", timeline, ACCESS),
        r("GET", "app.bsky.feed.searchPosts", search_posts, ACCESS),
        r("GET", "app.bsky.feed.getPostThread", post_thread, OPTIONAL),
        r("GET", "app.bsky.feed.getPosts", get_posts, OPTIONAL),
        r("POST", "com.atproto.repo.createRecord", create_record, ACCESS),
        r("POST", "com.atproto.repo.deleteRecord", delete_record, ACCESS),
        r("GET", "com.atproto.repo.getRecord", get_record, OPTIONAL),
        Route("/xrpc/{nsid}", not_implemented, methods=["GET", "POST"]),
    ]


__all__ = ["routes", "post_view", "profile_basic", "parse_at_uri"]
