"""What every sandbox route shares: authentication hook, request statistics, faults, rate-limit and
`Date` headers, and the JSON/form body handling of both APIs."""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from socialtui.sandbox.faults import Fault, Stats, Window
from socialtui.sandbox.text import http_date
from socialtui.sandbox.world import BlueskyActor, MastodonAccount, World


class ApiError(Exception):
    """An error answer in the network's own shape."""

    def __init__(
        self,
        status: int,
        body: dict[str, Any] | str,
        *,
        media_type: str = "application/json; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.media_type = media_type
        self.headers = headers or {}

    def response(self) -> Response:
        content = self.body if isinstance(self.body, str) else dumps(self.body)
        return Response(content, status_code=self.status, media_type=self.media_type, headers=self.headers)


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        dumps(data), status_code=status, media_type="application/json; charset=utf-8", headers=headers
    )


@dataclass
class Call:
    """One request as a route sees it."""

    request: Request
    world: World
    network: str
    endpoint: str
    account: MastodonAccount | BlueskyActor | None = None
    token: str = ""
    token_serial: int | None = None
    session_call: bool = False
    rate_bucket: str = ""
    _body: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def mastodon_user(self) -> MastodonAccount:
        """The signed-in Mastodon account, on a route whose authentication requires a user."""
        if not isinstance(self.account, MastodonAccount):
            raise ApiError(401, {"error": "This method requires an authenticated user"})
        return self.account

    @property
    def bluesky_user(self) -> BlueskyActor:
        """The signed-in Bluesky actor, on a route whose authentication requires a session."""
        if not isinstance(self.account, BlueskyActor):
            raise ApiError(401, {"error": "AuthenticationRequired", "message": "Authentication Required"})
        return self.account

    @property
    def base_url(self) -> str:
        return str(self.request.base_url).rstrip("/")

    @property
    def key(self) -> str:
        return self.account.key if self.account is not None else Stats.ANONYMOUS

    def query(self, name: str, default: str | None = None) -> str | None:
        return self.request.query_params.get(name, default)

    def query_list(self, name: str) -> list[str]:
        """`name[]=a&name[]=b`, `name=a&name=b` or `name=a,b`: the list of values."""
        params = self.request.query_params
        values = params.getlist(name + "[]") + params.getlist(name)
        return [v for value in values for v in value.split(",") if v]

    async def body(self) -> dict[str, Any]:
        """The request body as a dict: JSON, form-urlencoded or multipart (cached)."""
        if self._body is None:
            raw = await self.request.body()
            kind = self.request.headers.get("content-type", "").split(";")[0].strip().lower()
            self._body = parse_body(raw, kind, self.request.headers.get("content-type", ""))
        return self._body

    async def params(self) -> dict[str, Any]:
        """Rails-style params (Mastodon): query string and body merged, body winning."""
        merged: dict[str, Any] = {}
        for key, value in self.request.query_params.multi_items():
            _add_param(merged, key, value)
        merged.update(await self.body())
        return merged


def _add_param(target: dict[str, Any], key: str, value: Any) -> None:
    if key.endswith("[]"):
        target.setdefault(key[:-2], []).append(value)
    else:
        target[key] = value


def parse_body(raw: bytes, kind: str, content_type: str) -> dict[str, Any]:
    if not raw.strip():
        return {}
    if kind == "application/json" or (not kind and raw.lstrip()[:1] in (b"{", b"[")):
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError("invalid JSON body") from exc
        if not isinstance(data, dict):
            raise ValueError("a JSON object was expected")
        return data
    out: dict[str, Any] = {}
    if kind == "multipart/form-data":
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + raw
        )
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name:
                payload = part.get_payload(decode=True)
                # decode=True gives the part's bytes (a non-multipart part; None when empty)
                text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
                _add_param(out, str(name), text)
        return out
    for key, value in parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True):
        _add_param(out, key, value)
    return out


Handler = Callable[[Call], Awaitable[Response]]
Authenticate = Callable[[Call], Awaitable[None]]


@dataclass(frozen=True)
class NetworkRules:
    """How one network answers: its rate-limit window and headers, and its fault responses."""

    name: str
    window: Callable[[Call], Window]
    headers: Callable[[Window], dict[str, str]]
    fault_response: Callable[[Call, Fault, Window], Response]
    rate_limited: Callable[[Call, Window], Response]


def endpoint(
    world: World, rules: NetworkRules, label: str, handler: Handler, authenticate: Authenticate
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a route: authenticate, count, inject faults, answer, add `Date` and rate-limit headers."""

    async def run(request: Request) -> Response:
        call = Call(request, world, rules.name, label)
        try:
            await authenticate(call)
        except ApiError as error:
            world.stats.count(call.key, label)
            return _finish(world, rules, error.response(), rules.window(call))
        world.stats.count(call.key, label)
        window = rules.window(call)
        fault = (
            world.faults.take(call.key, token_serial=call.token_serial, session_call=call.session_call)
            if call.account
            else None
        )
        if fault is not None and fault.kind == "slow":
            await asyncio.sleep(fault.delay)
        elif fault is not None and fault.kind == "malformed" and fault.hits % 2 == 1:
            pass  # the work is done, then the answer is cut short (below)
        elif fault is not None and fault.kind != "timeout":
            response = rules.fault_response(call, fault, window)
            if fault.kind == "429":
                return _finish(world, rules, response, None)
            return _finish(world, rules, response, window)
        if world.enforce_rate_limits and window.exceeded:
            return _finish(world, rules, rules.rate_limited(call, window), window)
        try:
            response = await handler(call)
        except ApiError as error:
            response = error.response()
        except ValueError as error:
            body = (
                {"error": "InvalidRequest", "message": str(error)}
                if rules.name == "bluesky"
                else {"error": str(error)}
            )
            response = ApiError(400, body).response()
        if fault is not None and fault.kind == "timeout":
            await asyncio.sleep(fault.delay)
        if fault is not None and fault.kind == "malformed":
            sent = bytes(response.body)
            response = Response(
                sent[: max(2, len(sent) // 2)], 200, media_type="application/json; charset=utf-8"
            )
        return _finish(world, rules, response, window)

    return run


def _finish(world: World, rules: NetworkRules, response: Response, window: Window | None) -> Response:
    response.headers["Date"] = http_date(world.now())
    if window is not None:
        for name, value in rules.headers(window).items():
            response.headers[name] = value
    return response
