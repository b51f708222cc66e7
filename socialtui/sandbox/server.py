"""Serving the sandbox network on loopback (uvicorn), and the socialtui config that points at it.

- `serve(...)` runs it in the foreground until interrupted (`socialtui sandbox`).
- `start(...)` runs it in a background thread and returns a handle with `.url`, `.world` and `.stop()`
  (`socialtui demo`, tests).
- `write_config(world, path, base_url)` writes a ready config for the brand accounts, with their
  secrets in files (mode 0600) next to it.

The sandbox only ever listens on a loopback address: it has no real authentication.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import uvicorn

from socialtui.sandbox.app import create_app
from socialtui.sandbox.people import SANDBOX_PASSWORD
from socialtui.sandbox.traffic import backfill, run
from socialtui.sandbox.world import World
from socialtui.store.safefile import check_own_dir, write_atomic

TEAM_TIMEZONE = "Europe/Berlin"


DEMO_TONE_NEGATIVE = (
    "refund", "broken", "useless", "never again", "kaputt*", "nie wieder", "enttäuscht", "reembolso",
    "estafa", "pésimo", "déçu*", "remboursement", "avari*", "raiva",
)  # fmt: skip
DEMO_TONE_POSITIVE = ("danke", "gracias", "merci", "obrigado")


def _toml(value: str | list[str]) -> str:
    """A TOML basic string (JSON string escapes are valid TOML) or array of them."""
    if isinstance(value, list):
        return "[" + ", ".join(json.dumps(v) for v in value) + "]"
    return json.dumps(value)


def _write_secret(path: Path, secret: str) -> None:
    write_atomic(path, (secret + "\n").encode(), 0o600)


def write_config(world: World, path: Path | str, base_url: str) -> Path:
    """Write a socialtui config for the world's brand accounts on the sandbox at `base_url`: data
    dir `<config dir>/data`, every account's `server` = `base_url`, and each secret in a file next
    to the config (`<id>.token` holding `sandbox:<user>` for Mastodon, `<id>.app-password` holding
    `sandbox` for Bluesky), mode 0600. Returns the config path.

    Refuses (StoreError, before writing anything) a directory that is a symbolic link, belongs to
    another user or is writable by every user: someone else could swap the secrets or the config."""
    path = Path(path).absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    check_own_dir(path.parent)
    base_url = base_url.rstrip("/")
    lines = [
        "# socialtui config for the sandbox network (written by socialtui.sandbox.server.write_config).",
        f"# The sandbox serves Mastodon and Bluesky at {base_url}; secrets are in the files next to this one.",
        "",
        "[team]",
        f"data_dir = {_toml(str(path.parent / 'data'))}",
        f"timezone = {_toml(TEAM_TIMEZONE)}",
        'poll_interval = "10s"',
        'home_poll_interval = "1m"',
        'claim_ttl = "10m"',
        'retention = "14d"',
        'handoff_ack_within = "30m"',
        "",
        "# Saved replies: F2 in the reply composer; {name} is the person's name.",
        "[saved_replies]",
        'thanks = "Thank you {name}, that means a lot to the whole team!"',
        'hours = "Hi {name}, the shop is open Mon-Sat 10:00-18:00 and the show starts at 22:00."',
        'looking = "Sorry about that, {name}: we are looking into it and will get back to you here."',
        'dm = "Hi {name}, could you send us a direct message with your order number? We will sort it out."',
        "",
        "# The team's tone words: they mark complaints in every language (English is read by VADER too).",
        "[tone]",
        f"negative = {_toml(list(DEMO_TONE_NEGATIVE))}",
        f"positive = {_toml(list(DEMO_TONE_POSITIVE))}",
    ]
    with world.lock:
        brands = list(world.brands.values())
    for brand in brands:
        lines += [
            "",
            "[[accounts]]",
            f"id = {_toml(brand.key)}",
            f"network = {_toml(brand.network)}",
            f"server = {_toml(base_url)}",
            f"handle = {_toml(brand.handle)}",
        ]
        if brand.network == "mastodon":
            secret_file = path.parent / f"{brand.key}.token"
            _write_secret(secret_file, f"sandbox:{brand.username}")
            lines.append(f"token_file = {_toml(str(secret_file))}")
        else:
            secret_file = path.parent / f"{brand.key}.app-password"
            _write_secret(secret_file, SANDBOX_PASSWORD)
            lines.append(f"app_password_file = {_toml(str(secret_file))}")
        lines += [
            f"timezone = {_toml(brand.timezone)}",
            f"active_hours = {_toml(brand.active_hours)}",
            f"max_quiet = {_toml(brand.max_quiet)}",
            f"reply_within = {_toml(brand.reply_within)}",
            f"color = {_toml(brand.color)}",
            f"langs = {_toml(list(brand.langs))}",
        ]
        if brand.listen:
            lines.append(f"listen = {_toml(list(brand.listen))}")
    write_atomic(path, ("\n".join(lines) + "\n").encode("utf-8"), 0o644)
    return path


def check_loopback(host: str) -> str:
    """`host` if it is a loopback address (127.0.0.0/8, ::1, `localhost` -> 127.0.0.1); else ValueError."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"refused: the sandbox only listens on loopback (127.0.0.1 or ::1), not {host!r}"
        ) from None
    if not address.is_loopback:
        raise ValueError(f"refused: the sandbox only listens on loopback (127.0.0.1 or ::1), not {host!r}")
    return host


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def demo_world(now: Callable[[], datetime] | None = None, *, seed: int = 2026, hostile: bool = True) -> World:
    """A world with a back-filled week, as the demo shows it."""
    world = World(now, seed=seed)
    backfill(world, hostile=hostile)
    return world


@dataclass
class Sandbox:
    """A sandbox network served in a background thread: `url`, `world`, `stop()`."""

    url: str
    world: World
    config_path: Path | None
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _loop: asyncio.AbstractEventLoop = field(repr=False)
    _stop_traffic: asyncio.Event = field(repr=False)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving (and the traffic generator) and wait for the thread to end. Idempotent."""
        self._server.should_exit = True
        if self._thread.is_alive():
            try:
                self._loop.call_soon_threadsafe(self._stop_traffic.set)
            except RuntimeError:  # the loop has just closed
                pass
            self._thread.join(timeout)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def _serve(
    world: World,
    sock: socket.socket,
    traffic: bool,
    rate: float,
    server: uvicorn.Server,
    stop_traffic: asyncio.Event,
) -> None:
    generator = asyncio.create_task(run(world, stop_traffic, rate)) if traffic else None
    try:
        await server.serve(sockets=[sock])
    finally:
        stop_traffic.set()
        if generator is not None:
            await generator


def _uvicorn(world: World) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(world),
        log_level="warning",
        access_log=False,
        server_header=False,
        date_header=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    return uvicorn.Server(config)


def start(
    world: World | None = None,
    *,
    port: int = 0,
    host: str = "127.0.0.1",
    write_config: Path | str | None = None,
    traffic: bool = True,
    rate: float = 7.5,
) -> Sandbox:
    """Serve the sandbox in a background thread (a back-filled demo world unless `world` is given)
    and return once it accepts connections."""
    host = check_loopback(host)
    world = world or demo_world()
    sock = _bind(host, port)
    url = _url(sock)
    try:
        config_path = _write_config(world, write_config, url) if write_config else None
    except BaseException:
        sock.close()
        raise
    server = _uvicorn(world)
    loop = asyncio.new_event_loop()
    stop_traffic = asyncio.Event()
    started = threading.Event()

    def target() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(_serve(world, sock, traffic, rate, server, stop_traffic))
        finally:
            started.set()
            loop.close()
            sock.close()

    thread = threading.Thread(target=target, name="socialtui-sandbox", daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        started.wait(0.01)
    return Sandbox(url, world, config_path, server, thread, loop, stop_traffic)


def _write_config(world: World, path: Path | str, url: str) -> Path:
    return write_config(world, path, url)


def serve(
    port: int = 0,
    host: str = "127.0.0.1",
    write_config: Path | str | None = None,
    traffic: bool = True,
    ready: Callable[[str], None] | None = None,
    *,
    world: World | None = None,
    rate: float = 7.5,
) -> str:
    """Serve the sandbox in the foreground until interrupted (Ctrl-C). Prints the URL (or hands it
    to `ready`) once listening; writes a config for it first when `write_config` is a path.
    Returns the URL it served on."""
    host = check_loopback(host)
    world = world or demo_world()
    sock = _bind(host, port)
    url = _url(sock)
    if write_config:
        try:
            _write_config(world, write_config, url)
        except BaseException:
            sock.close()
            raise
    server = _uvicorn(world)
    stop_traffic = asyncio.Event()

    async def main() -> None:
        async def announce() -> None:
            while not server.started and not server.should_exit:
                await asyncio.sleep(0.01)
            if server.started:
                (ready or (lambda u: print(f"sandbox network listening on {u}", flush=True)))(url)

        announcer = asyncio.create_task(announce())
        try:
            await _serve(world, sock, traffic, rate, server, stop_traffic)
        finally:
            announcer.cancel()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return url
