"""The sandbox network as one ASGI app: Mastodon (/api, /oauth), Bluesky (/xrpc) and the admin
routes under /_sandbox that tests, scripts and the demo use to steer it:

- `GET  /_sandbox/stats`: requests per account per endpoint (`DELETE` resets the counters)
- `GET  /_sandbox/faults`, `POST /_sandbox/faults` `{"account", "fault", "count", "seconds"}`
- `POST /_sandbox/post` `{"network", "as", "text", "reply_to", "quote", "visibility", ...}`: post as anyone
- `POST /_sandbox/traffic` `{"events": N}`: N events of live traffic now
- `GET  /_sandbox/accounts`: the brand accounts, their handles and how to authenticate as them
"""

from __future__ import annotations

import json
import random
from functools import cache
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from socialtui.sandbox import bluesky_api, mastodon_api
from socialtui.sandbox.common import dumps, json_response, parse_body
from socialtui.sandbox.people import SANDBOX_PASSWORD
from socialtui.sandbox.text import http_date
from socialtui.sandbox.world import World, WorldError


@cache
def _reference() -> dict[str, Any]:
    text = resources.files("socialtui.sandbox").joinpath("reference_payloads.json").read_text("utf-8")
    return json.loads(text)


def reference_payload(name: str) -> Any:
    """A real payload shipped with the sandbox (see reference_payloads.json), by its fixture path."""
    return _reference()["payloads"][name]


def _answer(world: World, data: Any, status: int = 200) -> Response:
    response = json_response(data, status)
    response.headers["Date"] = http_date(world.now())
    return response


async def _body(request: Request) -> dict[str, Any]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return parse_body(
        await request.body(), kind or "application/json", request.headers.get("content-type", "")
    )


def admin_routes(world: World) -> list[Route]:
    async def stats(request: Request) -> Response:
        if request.method == "DELETE":
            world.stats.reset()
        return _answer(world, world.stats.snapshot())

    async def faults(request: Request) -> Response:
        if request.method == "GET":
            return _answer(world, {"faults": world.faults.snapshot()})
        try:
            body = await _body(request)
            key = world.faults.set(
                str(body.get("account", "")),
                str(body.get("fault", "")),
                count=body.get("count"),
                seconds=body.get("seconds"),
            )
        except KeyError:
            return _answer(world, {"error": f"unknown account {body.get('account')!r}"}, 404)
        except ValueError as error:
            return _answer(world, {"error": str(error)}, 400)
        return _answer(world, {"account": key, "faults": world.faults.snapshot()})

    async def post(request: Request) -> Response:
        try:
            body = await _body(request)
            summary = world.post_as(
                str(body.get("network", "")),
                str(body.get("as", "")),
                str(body.get("text", "")),
                reply_to=body.get("reply_to") or None,
                quote=body.get("quote") or None,
                visibility=str(body.get("visibility") or "public"),
                spoiler_text=str(body.get("spoiler_text") or ""),
                language=body.get("language") or None,
            )
        except (ValueError, WorldError) as error:
            return _answer(world, {"error": str(error)}, 400)
        return _answer(world, summary)

    async def traffic(request: Request) -> Response:
        from socialtui.sandbox import traffic as generator

        try:
            body = await _body(request)
            events = int(body.get("events", 1))
        except ValueError as error:
            return _answer(world, {"error": str(error)}, 400)
        rng = random.Random(body.get("seed"))
        made = [generator.step(world, rng) for _ in range(max(0, min(events, 1000)))]
        return _answer(world, {"events": made})

    async def accounts(request: Request) -> Response:
        out = []
        for brand in world.brands.values():
            entry = {"key": brand.key, "network": brand.network, "handle": brand.handle}
            if brand.network == "mastodon":
                entry["token"] = f"sandbox:{brand.username}"
            else:
                entry["app_password"] = SANDBOX_PASSWORD
            out.append(entry)
        return _answer(world, {"accounts": out})

    return [
        Route("/_sandbox/stats", stats, methods=["GET", "DELETE"]),
        Route("/_sandbox/faults", faults, methods=["GET", "POST"]),
        Route("/_sandbox/post", post, methods=["POST"]),
        Route("/_sandbox/traffic", traffic, methods=["POST"]),
        Route("/_sandbox/accounts", accounts, methods=["GET"]),
    ]


def create_app(world: World) -> Starlette:
    """The sandbox network for `world`, as an ASGI app (serve it with uvicorn, or test it in-process
    with `httpx.ASGITransport(app=create_app(world))`)."""

    async def not_found(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/xrpc/"):
            body = {"error": "MethodNotImplemented", "message": "Method Not Implemented"}
            return Response(dumps(body), status_code=501, media_type="application/json; charset=utf-8")
        if request.url.path.startswith("/api/"):
            return Response(
                dumps({"error": "Record not found"}),
                status_code=404,
                media_type="application/json; charset=utf-8",
            )
        return Response("Not Found", status_code=404, media_type="text/plain")

    app = Starlette(
        routes=[*mastodon_api.routes(world), *bluesky_api.routes(world), *admin_routes(world)],
        exception_handlers={404: not_found},
    )
    app.state.world = world
    return app
