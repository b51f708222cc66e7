"""The sandbox network: a local server that speaks the Mastodon and Bluesky APIs, for the demo and
the tests. Textual-free; it never reads anything outside this package at run time.

    from socialtui.sandbox import World, create_app, backfill
    world = World(now=clock.now)            # brands + crowd, no history
    backfill(world)                         # a week of life (hostile texts included by default)
    app = create_app(world)                 # httpx.ASGITransport(app=app) in tests
    sandbox = start(world, write_config=tmp / "config.toml")   # uvicorn on 127.0.0.1, a thread
    ...
    sandbox.stop()

Brand accounts (config ids): `acme-mastodon` (@acme@sandbox.social), `acme-bluesky`
(acme.sandbox.bsky), `nightowl-mastodon` (@nightowl@sandbox.social), `nightowl-bluesky`
(nightowl.sandbox.bsky). Mastodon token `sandbox:USERNAME` acts as that local user; every Bluesky
handle logs in with the app password `sandbox`.
"""

from socialtui.sandbox.app import create_app
from socialtui.sandbox.faults import FAULT_KINDS
from socialtui.sandbox.people import BRANDS, SANDBOX_PASSWORD
from socialtui.sandbox.server import Sandbox, demo_world, serve, start, write_config
from socialtui.sandbox.traffic import backfill, run, step, unanswered
from socialtui.sandbox.world import World

__all__ = [
    "BRANDS",
    "FAULT_KINDS",
    "SANDBOX_PASSWORD",
    "Sandbox",
    "World",
    "backfill",
    "create_app",
    "demo_world",
    "run",
    "serve",
    "start",
    "step",
    "unanswered",
    "write_config",
]
