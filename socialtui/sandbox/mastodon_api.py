"""The Mastodon subset of the sandbox: REST under /api/..., OAuth under /oauth/...

Shapes follow real payloads (GoToSocial 0.19.2 and the Mastodon docs): string ids (26-character
ULIDs, like GoToSocial), HTML `content`, `Link` paging headers, `X-RateLimit-*` headers with an
ISO-8601 reset, and Mastodon's error bodies (`{"error": "..."}`).

Authentication: `Authorization: Bearer TOKEN` (or `?access_token=`). `sandbox:USERNAME` acts as that
local account (created on first use); tokens from the OAuth flow work too.

The streaming API: `GET /api/v1/streaming?stream=user:notification` (or `stream=user`) as a
WebSocket sends each new notification as Mastodon does, `{"stream": [...], "event": "notification",
"payload": "<the notification as a JSON string>"}`. A bad token is refused at the handshake (401).
"""

from __future__ import annotations

import asyncio
import html
import json
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from socialtui.sandbox.common import ApiError, Call, NetworkRules, endpoint, json_response
from socialtui.sandbox.faults import HOSTILE_ERROR, Fault, Window
from socialtui.sandbox.text import HASHTAG_RE, iso_ms, mastodon_html
from socialtui.sandbox.world import (
    VISIBILITIES,
    Forbidden,
    Invalid,
    MastodonAccount,
    MastodonNotification,
    NotFound,
    Status,
    World,
    WorldError,
)

OOB = "urn:ietf:wg:oauth:2.0:oob"
RATE_LIMIT = 300
RATE_PERIOD = timedelta(minutes=5)
PAGING_LIMIT = 300
PAGING_PERIOD = timedelta(minutes=15)
NOTIFICATION_TYPES = (
    "mention",
    "status",
    "reblog",
    "follow",
    "follow_request",
    "favourite",
    "poll",
    "update",
)
INVALID_TOKEN = {"error": "The access token is invalid"}
SERVER_ERROR_HTML = (
    "<!DOCTYPE html>\n<html>\n<head><title>We're sorry, but something went wrong (500)</title></head>\n"
    '<body><div class="dialog"><h1>We\'re sorry, but something went wrong.</h1></div></body>\n</html>\n'
)
MALFORMED_HTML = (
    "<!DOCTYPE html>\n<html><head><title>Maintenance</title></head>\n"
    "<body><h1>We'll be right back</h1><p>The server is being upgraded.</p></body></html>\n"
)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> ApiError:
    return ApiError(status, {"error": message}, headers=headers)


def _world_error(error: WorldError) -> ApiError:
    if isinstance(error, NotFound):
        return _error(404, "Record not found")
    if isinstance(error, Forbidden):
        return _error(403, error.message)
    return _error(422, error.message)


# --- serialisation --------------------------------------------------------------------------------


def account_json(world: World, account: MastodonAccount, base_url: str) -> dict[str, Any]:
    own = world.statuses_by_account.get(account.id, [])
    last = world.statuses[own[-1]].created_at.strftime("%Y-%m-%d") if own else None
    avatar = f"{base_url}/avatars/original/missing.png"
    header = f"{base_url}/headers/original/missing.png"
    return {
        "id": account.id,
        "username": account.username,
        "acct": account.acct,
        "display_name": account.display_name,
        "locked": account.locked,
        "bot": account.bot,
        "discoverable": True,
        "indexable": True,
        "group": False,
        "created_at": iso_ms(account.created_at.replace(hour=0, minute=0, second=0, microsecond=0)),
        "note": f"<p>{html.escape(account.note)}</p>" if account.note else "",
        "url": world.account_url(account, base_url),
        "uri": world.account_uri(account, base_url),
        "avatar": avatar,
        "avatar_static": avatar,
        "avatar_description": "",
        "header": header,
        "header_static": header,
        "header_description": "",
        "followers_count": sum(1 for _, b in world.m_follows if b == account.id),
        "following_count": sum(1 for a, _ in world.m_follows if a == account.id),
        "statuses_count": len(own),
        "last_status_at": last,
        "hide_collections": False,
        "noindex": False,
        "emojis": [],
        "roles": [],
        "fields": [],
    }


def credential_account_json(world: World, account: MastodonAccount, base_url: str) -> dict[str, Any]:
    data = account_json(world, account, base_url)
    data["source"] = {
        "privacy": "public",
        "sensitive": False,
        "language": "",
        "note": account.note,
        "fields": [],
        "follow_requests_count": 0,
        "hide_collections": False,
        "discoverable": True,
        "indexable": True,
        "attribution_domains": [],
    }
    data["role"] = {"id": "-99", "name": "", "permissions": "65536", "color": "", "highlighted": False}
    return data


def status_url(world: World, status: Status, base_url: str) -> tuple[str, str]:
    account = world.m_accounts[status.account_id]
    uri = f"{world.account_uri(account, base_url)}/statuses/{status.id}"
    if account.local:
        return uri, f"{base_url}/@{account.username}/{status.id}"
    return uri, f"https://{account.domain}/@{account.username}/{status.id}"


def status_json(world: World, status: Status, viewer_id: str | None, base_url: str) -> dict[str, Any]:
    account = world.m_accounts[status.account_id]
    uri, url = status_url(world, status, base_url)
    original = world.statuses.get(status.reblog_of) if status.reblog_of else None
    subject = original or status
    reblog_ids = world.reblogs.get(subject.id, [])
    data: dict[str, Any] = {
        "id": status.id,
        "created_at": iso_ms(status.created_at),
        "edited_at": None,
        "in_reply_to_id": status.in_reply_to_id,
        "in_reply_to_account_id": status.in_reply_to_account_id,
        "sensitive": bool(status.spoiler_text),
        "spoiler_text": status.spoiler_text,
        "visibility": status.visibility,
        "language": status.language,
        "uri": uri if not original else f"{uri}/activity",
        "url": url if not original else None,
        "replies_count": len(world.replies.get(status.id, [])),
        "reblogs_count": len(world.reblogs.get(status.id, [])),
        "favourites_count": len(status.favourited_by),
        "quotes_count": 0,
        "favourited": viewer_id in subject.favourited_by,
        "reblogged": any(world.statuses[r].account_id == viewer_id for r in reblog_ids),
        "muted": False,
        "bookmarked": False,
        "pinned": False,
        "content": ""
        if original
        else mastodon_html(status.text, status.mention_spans(world, base_url), base_url),
        "filtered": [],
        "reblog": status_json(world, original, viewer_id, base_url) if original else None,
        "application": {"name": status.application, "website": None} if status.application else None,
        "account": account_json(world, account, base_url),
        "media_attachments": [],
        "mentions": [
            {
                "id": m.account_id,
                "username": m.username,
                "url": m.url,
                "acct": world.m_accounts[m.account_id].acct,
            }
            for m in _unique_mentions(status.mention_spans(world, base_url))
        ],
        "tags": [
            {"name": tag.lower(), "url": f"{base_url}/tags/{tag.lower()}"}
            for tag in dict.fromkeys(m.group(1) for m in HASHTAG_RE.finditer(status.text))
        ],
        "emojis": [],
        "card": None,
        "poll": None,
    }
    if viewer_id is not None and viewer_id == status.account_id and not original:
        data["text"] = status.text
    return data


def _unique_mentions(spans: list) -> list:
    seen, out = set(), []
    for span in spans:
        if span.account_id not in seen:
            seen.add(span.account_id)
            out.append(span)
    return out


def notification_json(world: World, notification: MastodonNotification, base_url: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": notification.id,
        "type": notification.type,
        "created_at": iso_ms(notification.created_at),
        "group_key": f"ungrouped-{notification.id}",
        "account": account_json(world, world.m_accounts[notification.from_account_id], base_url),
    }
    if notification.status_id and notification.status_id in world.statuses:
        data["status"] = status_json(
            world, world.statuses[notification.status_id], notification.account_id, base_url
        )
    return data


def instance_json(world: World, base_url: str) -> dict[str, Any]:
    from socialtui.sandbox.app import reference_payload

    data = json.loads(json.dumps(reference_payload("mastodon/docs/instance_v2.json")))
    data.update(
        {
            "domain": world.mastodon_domain,
            "title": "Sandbox Social",
            "version": "4.4.0+sandbox",
            "source_url": "https://github.com/mastodon/mastodon",
            "description": "The socialtui sandbox network: a local Mastodon-compatible server for demos and tests.",
            "usage": {"users": {"active_month": len([a for a in world.m_accounts.values() if a.local])}},
            "languages": ["en"],
        }
    )
    data["thumbnail"] = {"url": f"{base_url}/thumbnail.png"}
    data["icon"] = []
    data["configuration"]["urls"] = {
        "streaming": base_url.replace("http", "ws", 1),
        "status": None,
        "about": f"{base_url}/about",
        "privacy_policy": None,
        "terms_of_service": None,
    }
    data["configuration"]["statuses"] = {
        "max_characters": 500,
        "max_media_attachments": 4,
        "characters_reserved_per_url": 23,
    }
    data["configuration"]["translation"] = {"enabled": False}
    data["registrations"] = {
        "enabled": False,
        "approval_required": False,
        "reason_required": False,
        "message": None,
        "min_age": None,
        "url": None,
    }
    data["contact"] = {"email": "admin@sandbox.invalid", "account": None}
    data["rules"] = []
    return data


# --- paging ---------------------------------------------------------------------------------------


def _limit(call: Call, default: int) -> int:
    raw = call.query("limit")
    try:
        value = abs(int(raw)) if raw is not None else default
    except ValueError:
        value = default
    return min(value or default, default * 2)


def paginate(call: Call, items: list, default_limit: int) -> tuple[list, dict[str, str]]:
    """Mastodon paging over `items` (oldest first, each with an `id`): `max_id` / `since_id` give
    the newest items below / above an id, `min_id` the items just after it; every page is newest
    first, with a `Link` header (`rel="next"`: older, by `max_id`; `rel="prev"`: newer, by `min_id`)."""
    limit = _limit(call, default_limit)
    max_id, since_id, min_id = call.query("max_id"), call.query("since_id"), call.query("min_id")
    selected = [
        item
        for item in items
        if (not max_id or item.id < max_id)
        and (not since_id or item.id > since_id)
        and (not min_id or item.id > min_id)
    ]
    page = list(reversed(selected[:limit])) if min_id else list(reversed(selected[-limit:]))
    headers = {}
    if page:
        kept = [
            (k, v)
            for k, v in call.request.query_params.multi_items()
            if k not in ("max_id", "since_id", "min_id")
        ]
        base = f"{call.base_url}{call.request.url.path}"
        next_url = f"{base}?{urlencode(kept + [('max_id', page[-1].id)])}"
        prev_url = f"{base}?{urlencode(kept + [('min_id', page[0].id)])}"
        headers["Link"] = f'<{next_url}>; rel="next", <{prev_url}>; rel="prev"'
    return page, headers


# --- authentication -------------------------------------------------------------------------------


def _bearer(call: Call) -> str:
    header = call.request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return call.query("access_token") or ""


def _granted(scopes: list[str], scope: str) -> bool:
    """Mastodon's rule: `read` covers `read:statuses`, and so on."""
    return not scope or scope in scopes or scope.split(":", 1)[0] in scopes


def _authenticate(required: bool, user: bool, strict: bool = True, scope: str = ""):
    async def authenticate(call: Call) -> None:
        token = _bearer(call)
        call.token = token
        if not token:
            if required:
                raise _error(401, INVALID_TOKEN["error"], _www_authenticate())
            return
        grant = call.world.mastodon_token(token)
        if grant is None:
            if strict:
                raise _error(401, INVALID_TOKEN["error"], _www_authenticate())
            return
        if not _granted(grant.scopes, scope):
            raise _error(403, "This action is outside the authorized scopes")
        if grant.account_id is None:
            if user:
                raise _error(422, "This method requires an authenticated user")
            return
        call.account = call.world.m_accounts[grant.account_id]

    return authenticate


def _www_authenticate() -> dict[str, str]:
    return {
        "WWW-Authenticate": 'Bearer realm="Doorkeeper", error="invalid_token", '
        'error_description="The access token is invalid"'
    }


USER = _authenticate(required=True, user=True)
OPTIONAL = _authenticate(required=False, user=False)


def user(scope: str):  # noqa: ANN201 - an authentication mode, like USER
    """A user token with `scope` (as the real server checks OAuth scopes per route)."""
    return _authenticate(required=True, user=True, scope=scope)


def optional(scope: str):  # noqa: ANN201
    """No token, or one with `scope`."""
    return _authenticate(required=False, user=False, scope=scope)


LENIENT = _authenticate(required=False, user=False, strict=False)


async def NOBODY(call: Call) -> None:  # noqa: N802 - reads like the other authentication modes
    return None


def _window(call: Call) -> Window:
    world = call.world
    now = world.now()
    client = call.request.client.host if call.request.client else "local"
    bucket = f"token:{call.token}" if call.account is not None else f"ip:{client}"
    window = world.rate_limits.hit(bucket, RATE_LIMIT, RATE_PERIOD, now)
    query = call.request.query_params
    if isinstance(call.account, MastodonAccount) and any(
        query.get(k) for k in ("max_id", "since_id", "min_id")
    ):
        paging = world.rate_limits.hit(f"paging:{call.account.id}", PAGING_LIMIT, PAGING_PERIOD, now)
        if paging.exceeded:
            return paging
    return window


def _headers(window: Window) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(window.limit),
        "X-RateLimit-Remaining": str(window.remaining),
        "X-RateLimit-Reset": iso_ms(window.reset_at),
    }


def _rate_limited(call: Call, window: Window) -> Response:
    return _error(429, "Too many requests").response()


def _fault_response(call: Call, fault: Fault, window: Window) -> Response:
    if fault.kind == "429":
        reset = call.world.now() + timedelta(seconds=fault.delay)
        response = _error(429, "Too many requests").response()
        response.headers.update(
            {
                "X-RateLimit-Limit": str(window.limit),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": iso_ms(reset),
            }
        )
        return response
    if fault.kind == "500":
        return HTMLResponse(SERVER_ERROR_HTML, status_code=500)
    if fault.kind == "expired":
        return _error(401, INVALID_TOKEN["error"], _www_authenticate()).response()
    if fault.kind == "hostile":
        return _error(400, HOSTILE_ERROR).response()
    return HTMLResponse(MALFORMED_HTML, status_code=200)


RULES = NetworkRules("mastodon", _window, _headers, _fault_response, _rate_limited)


# --- routes ---------------------------------------------------------------------------------------


def _account_or_404(world: World, account_id: str) -> MastodonAccount:
    account = world.m_accounts.get(account_id)
    if account is None:
        raise _error(404, "Record not found")
    return account


def _viewer(call: Call) -> str | None:
    return call.account.id if isinstance(call.account, MastodonAccount) else None


async def verify_credentials(call: Call) -> Response:
    with call.world.lock:
        return json_response(credential_account_json(call.world, call.mastodon_user, call.base_url))


async def instance(call: Call) -> Response:
    with call.world.lock:
        return json_response(instance_json(call.world, call.base_url))


async def lookup(call: Call) -> Response:
    acct = call.query("acct") or ""
    with call.world.lock:
        account = call.world.mastodon_lookup(acct) if acct else None
        if account is None:
            raise _error(404, "Record not found")
        return json_response(account_json(call.world, account, call.base_url))


async def get_account(call: Call) -> Response:
    with call.world.lock:
        account = _account_or_404(call.world, call.request.path_params["id"])
        return json_response(account_json(call.world, account, call.base_url))


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "on")


async def account_statuses(call: Call) -> Response:
    world = call.world
    with world.lock:
        account = _account_or_404(world, call.request.path_params["id"])
        if _truthy(call.query("pinned")) or _truthy(call.query("only_media")):
            return json_response([])
        statuses = world.mastodon_account_statuses(account, _viewer(call))
        if _truthy(call.query("exclude_replies")):
            statuses = [s for s in statuses if s.in_reply_to_account_id in (None, s.account_id)]
        if _truthy(call.query("exclude_reblogs")):
            statuses = [s for s in statuses if not s.reblog_of]
        tagged = (call.query("tagged") or "").lower().lstrip("#")
        if tagged:
            statuses = [
                s for s in statuses if tagged in {m.group(1).lower() for m in HASHTAG_RE.finditer(s.text)}
            ]
        page, headers = paginate(call, statuses, 20)
        return json_response(
            [status_json(world, s, _viewer(call), call.base_url) for s in page], headers=headers
        )


async def notifications(call: Call) -> Response:
    world = call.world
    with world.lock:
        items = world.mastodon_notifications(call.mastodon_user)
        types = set(call.query_list("types"))
        excluded = set(call.query_list("exclude_types"))
        from_account = call.query("account_id")
        items = [
            n
            for n in items
            if (not types or n.type in types)
            and n.type not in excluded
            and (not from_account or n.from_account_id == from_account)
            and (n.status_id is None or n.status_id in world.statuses)
        ]
        page, headers = paginate(call, items, 40)
        return json_response([notification_json(world, n, call.base_url) for n in page], headers=headers)


async def notification(call: Call) -> Response:
    world = call.world
    with world.lock:
        for item in world.mastodon_notifications(call.mastodon_user):
            if item.id == call.request.path_params["id"]:
                return json_response(notification_json(world, item, call.base_url))
        raise _error(404, "Record not found")


async def home(call: Call) -> Response:
    world = call.world
    with world.lock:
        page, headers = paginate(call, world.mastodon_home(call.mastodon_user), 20)
        return json_response(
            [status_json(world, s, call.mastodon_user.id, call.base_url) for s in page], headers=headers
        )


async def tag_timeline(call: Call) -> Response:
    world = call.world
    with world.lock:
        statuses = world.mastodon_tagged(call.request.path_params["tag"])
        page, headers = paginate(call, statuses, 20)
        return json_response(
            [status_json(world, s, _viewer(call), call.base_url) for s in page], headers=headers
        )


async def search(call: Call) -> Response:
    """`/api/v2/search`: statuses only (accounts and hashtags stay empty). A brand whose server has
    no full-text search (`Brand.full_text_search`) is refused words, as such a server would: it
    searches hashtags only."""
    world = call.world
    with world.lock:
        result: dict[str, list[Any]] = {"accounts": [], "statuses": [], "hashtags": []}
        query = (call.query("q") or "").strip()
        if call.query("type") not in (None, "", "statuses") or not query:
            return json_response(result)
        brand = world.brands.get(call.account.brand_key) if call.account is not None else None
        if brand is not None and not brand.full_text_search and not query.startswith("#"):
            raise _error(422, "Full-text search is not enabled on this server: it searches hashtags only")
        statuses = world.mastodon_tagged(query) if query.startswith("#") else world.mastodon_search(query)
        page, _ = paginate(call, statuses, 20)  # search answers carry no Link header
        result["statuses"] = [status_json(world, s, _viewer(call), call.base_url) for s in page]
        return json_response(result)


async def get_status(call: Call) -> Response:
    world = call.world
    with world.lock:
        try:
            status = world.mastodon_status(call.request.path_params["id"], _viewer(call))
        except WorldError as error:
            raise _world_error(error) from error
        return json_response(status_json(world, status, _viewer(call), call.base_url))


async def delete_status(call: Call) -> Response:
    world = call.world
    with world.lock:
        try:
            status = world.mastodon_delete(call.mastodon_user, call.request.path_params["id"])
        except WorldError as error:
            raise _world_error(error) from error
        data = status_json(world, status, call.mastodon_user.id, call.base_url)
        data["text"] = status.text
        return json_response(data)


async def context(call: Call) -> Response:
    world = call.world
    viewer = _viewer(call)
    with world.lock:
        try:
            status = world.mastodon_status(call.request.path_params["id"], viewer)
        except WorldError as error:
            raise _world_error(error) from error
        return json_response(
            {
                "ancestors": [
                    status_json(world, s, viewer, call.base_url)
                    for s in world.mastodon_ancestors(status, viewer)
                ],
                "descendants": [
                    status_json(world, s, viewer, call.base_url)
                    for s in world.mastodon_descendants(status, viewer)
                ],
            }
        )


def _text_param(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _error(422, f"Validation failed: {name} is not a string")
    return value


async def post_status(call: Call) -> Response:
    world = call.world
    try:
        params = await call.params()
    except ValueError as error:
        raise _error(400, str(error)) from error
    visibility = _text_param(params, "visibility") or "public"
    if visibility not in VISIBILITIES:
        raise _error(422, "Validation failed: Visibility is not included in the list")
    key = call.request.headers.get("idempotency-key") or None
    with world.lock:
        try:
            status, _created = world.mastodon_post(
                call.mastodon_user,
                _text_param(params, "status"),
                in_reply_to_id=_text_param(params, "in_reply_to_id") or None,
                visibility=visibility,
                spoiler_text=_text_param(params, "spoiler_text"),
                language=_text_param(params, "language") or None,
                application=_application_name(call),
                idempotency_key=key,
            )
        except WorldError as error:
            raise _world_error(error) from error
        data = status_json(world, status, call.mastodon_user.id, call.base_url)
        data["text"] = status.text
        return json_response(data)


def _application_name(call: Call) -> str:
    grant = call.world.tokens.get(call.token)
    if grant is not None:
        app = call.world.apps.get(grant.client_id)
        if app is not None:
            return app.name
    return "sandbox"


async def favourite(call: Call) -> Response:
    world = call.world
    with world.lock:
        try:
            status = world.mastodon_favourite(call.mastodon_user, call.request.path_params["id"])
        except WorldError as error:
            raise _world_error(error) from error
        return json_response(status_json(world, status, call.mastodon_user.id, call.base_url))


async def reblog(call: Call) -> Response:
    world = call.world
    with world.lock:
        try:
            boosted = world.mastodon_reblog(call.mastodon_user, call.request.path_params["id"])
        except WorldError as error:
            raise _world_error(error) from error
        return json_response(status_json(world, boosted, call.mastodon_user.id, call.base_url))


async def unfavourite(call: Call) -> Response:
    world, account = call.world, call.account
    assert isinstance(account, MastodonAccount)  # the route asks for a Mastodon user's token
    with world.lock:
        try:
            status = world.mastodon_unfavourite(account, call.request.path_params["id"])
        except WorldError as error:
            raise _world_error(error) from error
        return json_response(status_json(world, status, account.id, call.base_url))


async def unreblog(call: Call) -> Response:
    world, account = call.world, call.account
    assert isinstance(account, MastodonAccount)  # the route asks for a Mastodon user's token
    with world.lock:
        try:
            status = world.mastodon_unreblog(account, call.request.path_params["id"])
        except WorldError as error:
            raise _world_error(error) from error
        return json_response(status_json(world, status, account.id, call.base_url))


# --- OAuth ----------------------------------------------------------------------------------------


def _split(value: Any, default: str = "") -> list[str]:
    if isinstance(value, list):
        return [str(v) for item in value for v in str(item).split()]
    return (str(value) if value else default).split()


async def create_app(call: Call) -> Response:
    try:
        params = await call.params()
    except ValueError as error:
        raise _error(400, str(error)) from error
    name = str(params.get("client_name") or "").strip()
    if not name:
        raise _error(422, "Validation failed: Application name can't be blank")
    redirect_uris = _split(params.get("redirect_uris"))
    if not redirect_uris:
        raise _error(422, "Validation failed: Redirect URI can't be blank")
    scopes = _split(params.get("scopes"), "read")
    website = str(params.get("website") or "") or None
    app = call.world.create_app(name, redirect_uris, scopes, website)
    return json_response(
        {
            "id": app.id,
            "name": app.name,
            "website": app.website,
            "scopes": app.scopes,
            "redirect_uri": "\n".join(app.redirect_uris),
            "redirect_uris": app.redirect_uris,
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "client_secret_expires_at": 0,
        }
    )


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>\n",
        status_code=status,
    )


async def authorize(call: Call) -> Response:
    """The authorisation page. `?username=NAME` approves at once as that local user (created if
    unknown): with the out-of-band redirect the page shows the code, otherwise it redirects."""
    world = call.world
    client_id = call.query("client_id") or ""
    redirect_uri = call.query("redirect_uri") or OOB
    app = world.apps.get(client_id)
    if app is None:
        return _page(
            "Authorization error",
            "<p>invalid_client: Client authentication failed due to unknown client.</p>",
            401,
        )
    if redirect_uri not in app.redirect_uris:
        return _page(
            "Authorization error",
            "<p>invalid_redirect_uri: The requested redirect uri is malformed or doesn't match client redirect URI.</p>",
            400,
        )
    scopes = _split(call.query("scope"), " ".join(app.scopes))
    username = (call.query("username") or "").strip().lstrip("@")
    if not username:
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in call.request.query_params.multi_items()
            if k != "username"
        )
        return _page(
            f"Authorize {app.name}",
            f"<p>{html.escape(app.name)} would like to use your sandbox account ({html.escape(' '.join(scopes))}).</p>"
            f'<form method="get" action="/oauth/authorize">{hidden}'
            '<label>Username <input name="username" autofocus></label> <button>Authorize</button></form>',
        )
    token = world.mastodon_token(f"sandbox:{username.split('@')[0]}")
    if token is None or token.account_id is None:
        return _page("Authorization error", "<p>Unknown user.</p>", 400)
    account = world.m_accounts[token.account_id]
    code = world.create_auth_code(app, account, redirect_uri, scopes)
    if redirect_uri == OOB:
        return _page(
            "Authorization code",
            "<p>Copy this authorization code and paste it to the application.</p>"
            f'<input class="oauth-code" readonly type="text" value="{html.escape(code)}">',
        )
    query = {"code": code}
    if call.query("state"):
        query["state"] = call.query("state") or ""
    separator = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{separator}{urlencode(query)}", status_code=302)


INVALID_CLIENT = {
    "error": "invalid_client",
    "error_description": "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.",
}
INVALID_GRANT = {
    "error": "invalid_grant",
    "error_description": "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.",
}


async def token(call: Call) -> Response:
    world = call.world
    try:
        params = await call.params()
    except ValueError as error:
        raise _error(400, str(error)) from error
    app = world.apps.get(str(params.get("client_id") or ""))
    if app is None or str(params.get("client_secret") or "") != app.client_secret:
        raise ApiError(401, INVALID_CLIENT)
    grant_type = params.get("grant_type")
    if grant_type == "authorization_code":
        try:
            granted = world.exchange_code(
                app.client_id, str(params.get("code") or ""), str(params.get("redirect_uri") or "")
            )
        except Invalid as error:
            raise ApiError(400, INVALID_GRANT) from error
    elif grant_type == "client_credentials":
        granted = world.app_token(app, _split(params.get("scope"), "read"))
    else:
        raise ApiError(
            400,
            {
                "error": "unsupported_grant_type",
                "error_description": "The authorization grant type is not supported by the authorization server.",
            },
        )
    return json_response(
        {
            "access_token": granted.token,
            "token_type": "Bearer",
            "scope": " ".join(granted.scopes),
            "created_at": int(granted.created_at.timestamp()),
        }
    )


async def revoke(call: Call) -> Response:
    params = await call.params()
    call.world.revoke_mastodon_token(str(params.get("token") or ""))
    return json_response({})


STREAMS = ("user", "user:notification")
STREAM_ENDPOINT = "GET /api/v1/streaming"


class Stream:
    """One open streaming connection, as the world sees it: told of new notifications (from any
    thread, under the world's lock) and dropped by the `drop` fault."""

    def __init__(self, world: World, account: MastodonAccount, name: str, base_url: str) -> None:
        self.world = world
        self.account = account
        self.name = name
        self.base_url = base_url
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()

    def notified(self, notification: MastodonNotification) -> None:
        fault = self.world.faults.get(self.account.key)
        if fault is not None and fault.kind == "stall":
            return  # stalled: the connection stays open and says nothing
        event = {
            "stream": [self.name],
            "event": "notification",
            "payload": json.dumps(notification_json(self.world, notification, self.base_url)),
        }
        self.loop.call_soon_threadsafe(self.queue.put_nowait, json.dumps(event))

    def drop(self) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, None)


def _stream_token(websocket: WebSocket) -> str:
    scheme, _, token = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return websocket.query_params.get("access_token") or websocket.headers.get("sec-websocket-protocol", "")


async def streaming(websocket: WebSocket) -> None:
    """The user's notification stream (see the module)."""
    world: World = websocket.app.state.world
    grant = world.mastodon_token(_stream_token(websocket))
    account = world.m_accounts.get(grant.account_id) if grant is not None and grant.account_id else None
    world.stats.count(account.key if account is not None else "-", STREAM_ENDPOINT)
    name = websocket.query_params.get("stream", "")
    if account is None or grant is None or not _granted(grant.scopes, "read:notifications"):
        await websocket.send_denial_response(json_response(INVALID_TOKEN, 401))
        return
    if name not in STREAMS:
        await websocket.send_denial_response(json_response({"error": "Unknown stream type"}, 400))
        return
    fault = world.faults.take(account.key, streaming=True)
    if fault is not None:
        if fault.kind in ("slow", "timeout", "stall"):
            await asyncio.sleep(fault.delay)  # the handshake hangs
        else:
            status = {"429": 429, "expired": 401, "drop": 503}.get(fault.kind, 500)
            await websocket.send_denial_response(
                json_response({"error": f"stream refused ({fault.kind})"}, status)
            )
            return
    base_url = str(websocket.base_url).replace("ws", "http", 1).rstrip("/")
    stream = Stream(world, account, name, base_url)
    with world.lock:  # before the handshake ends: what happens once the client is told "open" is sent
        world.m_streams[account.id].add(stream)
    closed: asyncio.Future[None] | None = None
    try:
        await websocket.accept()
        closed = asyncio.ensure_future(_until_closed(websocket))
        while True:
            getting = asyncio.ensure_future(stream.queue.get())
            await asyncio.wait([getting, closed], return_when=asyncio.FIRST_COMPLETED)
            if not getting.done():
                getting.cancel()
                return  # the client went away
            message = getting.result()
            if message is None:
                await websocket.close(1011)  # dropped
                return
            await websocket.send_text(message)
    finally:
        if closed is not None:
            closed.cancel()
        with world.lock:
            world.m_streams[account.id].discard(stream)


async def _until_closed(websocket: WebSocket) -> None:
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
    except (WebSocketDisconnect, RuntimeError):
        return


def routes(world: World) -> list[BaseRoute]:
    def r(method: str, path: str, handler, auth) -> Route:
        return Route(path, endpoint(world, RULES, f"{method} {path}", handler, auth), methods=[method])

    return [
        r("GET", "/api/v1/accounts/verify_credentials", verify_credentials, user("read:accounts")),
        r("GET", "/api/v1/accounts/lookup", lookup, OPTIONAL),
        r("GET", "/api/v1/accounts/{id}", get_account, OPTIONAL),
        r("GET", "/api/v1/accounts/{id}/statuses", account_statuses, optional("read:statuses")),
        r("GET", "/api/v2/instance", instance, LENIENT),
        r("GET", "/api/v1/notifications", notifications, user("read:notifications")),
        r("GET", "/api/v1/notifications/{id}", notification, user("read:notifications")),
        r("GET", "/api/v1/timelines/home", home, user("read:statuses")),
        r("GET", "/api/v1/timelines/tag/{tag}", tag_timeline, optional("read:statuses")),
        r("GET", "/api/v2/search", search, user("read:search")),
        r("POST", "/api/v1/statuses", post_status, user("write:statuses")),
        r("GET", "/api/v1/statuses/{id}", get_status, optional("read:statuses")),
        r("DELETE", "/api/v1/statuses/{id}", delete_status, user("write:statuses")),
        r("GET", "/api/v1/statuses/{id}/context", context, optional("read:statuses")),
        r("POST", "/api/v1/statuses/{id}/favourite", favourite, user("write:favourites")),
        r("POST", "/api/v1/statuses/{id}/reblog", reblog, user("write:statuses")),
        r("POST", "/api/v1/statuses/{id}/unfavourite", unfavourite, user("write:favourites")),
        r("POST", "/api/v1/statuses/{id}/unreblog", unreblog, user("write:statuses")),
        r("POST", "/api/v1/apps", create_app, NOBODY),
        r("GET", "/oauth/authorize", authorize, NOBODY),
        r("POST", "/oauth/token", token, NOBODY),
        r("POST", "/oauth/revoke", revoke, NOBODY),
        WebSocketRoute("/api/v1/streaming", streaming),
    ]
