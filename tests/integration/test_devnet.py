"""Opt-in: the Bluesky adapter against Bluesky's own reference network, run locally.

`@atproto/dev-env` (npm) runs the real PLC directory, PDS and AppView (with bsync and Ozone) on
127.0.0.1: the same server code as bsky.social, not a mock. This module starts it (through
`devnet/devnet.mjs`, on Node 22) with a throw-away PostgreSQL and Redis of its own, and walks the path
an operator's reply takes: a stranger's mention comes in, its thread is read, the brand account replies
with a mention and a link (strong refs and UTF-8 facets checked in the stored record), a retried send
with the same record key does not post twice, a reply to a reply keeps the thread's root; then the
length rules against the PDS's and a real `400 ExpiredToken`. A second test proves a mention
from a client whose clock is slow is still fetched (the AppView orders by the earlier of createdAt and
indexing time, behind entries already seen).

Enable with SOCIALTUI_DEVNET=1 after `bash scripts/devnet-setup.sh` (Debian packages, Node 22 and the
npm dependencies). Optional environment:

- DB_POSTGRES_URL / REDIS_HOST: use these servers instead of starting throw-away ones (each run
  migrates into fresh schemas named `*_socialtui_<random>`, which are left there);
- SOCIALTUI_DEVNET_NODE: the Node 22 binary (default: the one scripts/devnet-setup.sh installs);
- SOCIALTUI_DEVNET_KEEP=1: keep the work directory (logs of postgres, redis and the network).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ctypes
import hashlib
import hmac
import json
import os
import pwd
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from socialtui.config import AccountConfig, load_config, read_secret
from socialtui.model import Item, Post
from socialtui.networks.base import Adapter, MemorySessionStore, Page, make_adapter

ENABLE_ENV = "SOCIALTUI_DEVNET"
HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DEVNET_DIR = HERE / "devnet"
SCRIPT = DEVNET_DIR / "devnet.mjs"
SETUP = "bash scripts/devnet-setup.sh"
READY_MARKER = "DEVNET_READY "
STARTUP_TIMEOUT = 240.0
"""Seconds for the network to come up (about 5 s here; migrations on a slow disk take longer)."""
INDEX_TIMEOUT = 30.0
"""Seconds for the AppView to show what was just written to the PDS."""
POST = "app.bsky.feed.post"
MENTION = "app.bsky.richtext.facet#mention"
LINK = "app.bsky.richtext.facet#link"
TID = re.compile(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}")

pytestmark = [
    pytest.mark.devnet,
    pytest.mark.skipif(
        os.environ.get(ENABLE_ENV) != "1",
        reason=(
            f"opt-in: set {ENABLE_ENV}=1 to run the Bluesky adapter against Bluesky's reference network "
            f"(@atproto/dev-env: PDS + AppView on 127.0.0.1; install it first with `{SETUP}`)"
        ),
    ),
    # PR_SET_PDEATHSIG, process groups, Debian's PostgreSQL layout: written for Linux.
    pytest.mark.skipif(sys.platform != "linux", reason="the devnet test runs on Linux only"),
]

T = TypeVar("T")


# --- processes ---------------------------------------------------------------------------------------


def _die_with_parent(sig: signal.Signals) -> Callable[[], None]:
    """A preexec_fn: the child gets `sig` when this process dies, even by SIGKILL (Linux)."""

    def preexec() -> None:
        with contextlib.suppress(Exception):
            ctypes.CDLL(None, use_errno=True).prctl(1, int(sig))  # PR_SET_PDEATHSIG

    return preexec


@dataclass
class Proc:
    """A child process in its own session (process group), stopped with the whole group."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    stop_signal: signal.Signals = signal.SIGTERM
    reader: threading.Thread | None = None
    """The thread reading its stdout, if piped: joined on stop, then the pipe is closed."""

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return f"({self.log} unreadable)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float = 15.0) -> None:
        """Close its stdin (the network's cue to shut down) and wait `grace`; else `stop_signal` to the
        whole group, then SIGKILL. Signals only while the leader is not yet reaped (its pid is ours).
        Then its stdout is read to the end and closed (an open pipe is a ResourceWarning, an error)."""
        try:
            self._stop(grace)
        finally:
            if self.reader is not None:
                self.reader.join(10)
            if self.popen.stdout and (self.reader is None or not self.reader.is_alive()):
                self.popen.stdout.close()

    def _stop(self, grace: float) -> None:
        if self.popen.stdin:
            with contextlib.suppress(OSError):
                self.popen.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(grace)
        for sig, wait in ((self.stop_signal, 10.0), (signal.SIGKILL, 5.0)):
            if self.popen.poll() is not None:
                return
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(wait)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until(check: Callable[[], bool], proc: Proc, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if not proc.alive():
            pytest.fail(f"{what}: {proc.name} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not ready within {timeout:.0f}s:\n{proc.log_tail()}")
        time.sleep(0.1)


def _postgres_bindir() -> Path:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    pytest.fail(f"PostgreSQL is not installed (no initdb): run `{SETUP}`, or set DB_POSTGRES_URL")


def _start_postgres(work: Path, procs: list[Proc]) -> str:
    """A throw-away PostgreSQL on 127.0.0.1 (trust auth, no fsync). Postgres refuses to run as root:
    as root, it runs as the `postgres` user that the Debian package creates."""
    bindir = _postgres_bindir()
    run_as: dict[str, Any] = {}
    pg = work / "postgres"
    pg.mkdir()
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root, and there is no `postgres` user to run PostgreSQL as")
        os.chown(pg, user.pw_uid, user.pw_gid)
        run_as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    data = pg / "data"
    initdb = subprocess.run(
        [
            bindir / "initdb",
            "-D",
            data,
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ],
        capture_output=True,
        text=True,
        **run_as,
    )
    if initdb.returncode != 0:
        pytest.fail(f"initdb failed ({initdb.returncode}):\n{initdb.stdout}\n{initdb.stderr}")
    port = _free_port()
    log = work / "postgres.log"
    with open(log, "wb") as out:
        popen = subprocess.Popen(
            [
                bindir / "postgres",
                "-D",
                data,
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-k",
                pg,
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent(signal.SIGINT),
            **run_as,
        )
    # SIGINT is PostgreSQL's fast shutdown (SIGTERM waits for every client to leave).
    proc = Proc("postgres", popen, log, stop_signal=signal.SIGINT)
    procs.append(proc)

    def ready() -> bool:
        check = [bindir / "pg_isready", "-q", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
        return subprocess.run(check, capture_output=True).returncode == 0

    _wait_until(ready, proc, "PostgreSQL", 60)
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def _start_redis(work: Path, procs: list[Proc]) -> str:
    """A throw-away Redis on 127.0.0.1, in memory only."""
    server = shutil.which("redis-server")
    if not server:
        pytest.fail(f"Redis is not installed (no redis-server): run `{SETUP}`, or set REDIS_HOST")
    port = _free_port()
    (work / "redis").mkdir()
    log = work / "redis.log"
    with open(log, "wb") as out:
        popen = subprocess.Popen(
            [
                server,
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(work / "redis"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent(signal.SIGTERM),
        )
    proc = Proc("redis", popen, log)
    procs.append(proc)

    def ready() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    _wait_until(ready, proc, "Redis", 30)
    return f"127.0.0.1:{port}"


WORK_PREFIX = "socialtui-devnet-"
OWNER_FILE = "owner.pid"


def _remove_stale_work_dirs() -> None:
    """Work dirs left by a run that was killed (its processes died with it): their owner is gone."""
    for work in Path(tempfile.gettempdir()).glob(f"{WORK_PREFIX}*"):
        try:
            owner = int((work / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue  # not one of ours, or still being set up
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            shutil.rmtree(work, ignore_errors=True)
        except PermissionError:
            pass  # alive, someone else's


def _node22() -> str:
    candidates = [
        os.environ.get("SOCIALTUI_DEVNET_NODE", ""),
        str(DEVNET_DIR / ".node22/node_modules/.bin/node"),
    ]
    candidates.append(shutil.which("node") or "")
    for candidate in filter(None, candidates):
        try:
            major = subprocess.run(
                [candidate, "-p", "process.versions.node.split('.')[0]"],
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            continue
        if major.isdigit() and int(major) >= 22:
            return candidate
    pytest.fail(f"no Node 22 (@atproto/dev-env needs it): run `{SETUP}`, or set SOCIALTUI_DEVNET_NODE")


# --- the network -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Who:
    handle: str
    did: str
    password: str
    display_name: str
    app_password: str = ""


@dataclass
class Devnet:
    pds: str
    appview: str
    control: str
    brand: Who
    stranger: Who
    helpdesk: Who
    jwt_secret: str
    proc: Proc
    info: dict[str, Any] = field(repr=False)

    async def process_all(self) -> None:
        """dev-env's `network.processAll()`: the PDS's queue, the AppView's firehose, bsync."""
        async with httpx.AsyncClient(timeout=60) as client:
            answer = await client.post(f"{self.control}/process-all")
        assert answer.status_code == 200, f"process-all: {answer.status_code} {answer.text}"


def _who(data: dict[str, Any]) -> Who:
    return Who(
        handle=data["handle"],
        did=data["did"],
        password=data["password"],
        display_name=data["displayName"],
        app_password=data.get("appPassword", ""),
    )


@pytest.fixture(scope="module")
def devnet() -> Iterator[Devnet]:
    if not SCRIPT.is_file() or not (DEVNET_DIR / "node_modules/@atproto/dev-env/package.json").is_file():
        pytest.fail(f"@atproto/dev-env is not installed in {DEVNET_DIR.relative_to(REPO)}: run `{SETUP}`")
    node = _node22()
    keep = os.environ.get("SOCIALTUI_DEVNET_KEEP") == "1"
    _remove_stale_work_dirs()
    # Not pytest's tmp_path: as root, the postgres user must be able to reach the data directory.
    work = Path(tempfile.mkdtemp(prefix=WORK_PREFIX))
    work.chmod(0o711)
    (work / OWNER_FILE).write_text(str(os.getpid()))
    procs: list[Proc] = []
    try:
        env = dict(os.environ)
        env["DB_POSTGRES_URL"] = os.environ.get("DB_POSTGRES_URL") or _start_postgres(work, procs)
        env["REDIS_HOST"] = os.environ.get("REDIS_HOST") or _start_redis(work, procs)
        # The PDS keeps its SQLite files and blobs in os.tmpdir(): inside the work dir, removed with it.
        (work / "tmp").mkdir()
        env["TMPDIR"] = str(work / "tmp")
        env.pop("NODE_OPTIONS", None)
        log = work / "devnet.log"
        with open(log, "wb") as err:
            popen = subprocess.Popen(
                [node, str(SCRIPT)],
                cwd=DEVNET_DIR,
                env=env,
                stdin=subprocess.PIPE,  # closing it shuts the network down (so does our death)
                stdout=subprocess.PIPE,
                stderr=err,
                start_new_session=True,
            )
        proc = Proc("devnet.mjs", popen, log)
        procs.append(proc)

        lines: queue.Queue[str | None] = queue.Queue()

        def read() -> None:
            assert popen.stdout is not None
            for raw in popen.stdout:
                lines.put(raw.decode("utf-8", "replace"))
            lines.put(None)

        proc.reader = threading.Thread(target=read, name="devnet-stdout", daemon=True)
        proc.reader.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        info: dict[str, Any] | None = None
        while info is None:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"the network did not start within {STARTUP_TIMEOUT:.0f}s:\n{proc.log_tail()}")
            if line is None:
                popen.wait(10)
                pytest.fail(
                    f"devnet.mjs exited with {popen.returncode} before it was ready:\n{proc.log_tail()}"
                )
            if line.startswith(READY_MARKER):
                info = json.loads(line[len(READY_MARKER) :])
        net = Devnet(
            pds=info["pds"],
            appview=info["appview"],
            control=info["control"],
            brand=_who(info["brand"]),
            stranger=_who(info["stranger"]),
            helpdesk=_who(info["helpdesk"]),
            jwt_secret=info["jwtSecret"],
            proc=proc,
            info=info,
        )
        print(
            f"\ndevnet: up in {info['startupMs']} ms on Node {info['node']}: PDS {net.pds}, AppView {net.appview}"
        )
        yield net
    finally:
        # The network first (it closes its database connections), then postgres and redis.
        for proc in reversed(procs):
            proc.stop()
        if keep:
            print(f"\ndevnet: logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


# --- helpers -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str
    query: str
    status: int
    body: str

    def __str__(self) -> str:
        query = f"?{self.query}" if self.query else ""
        return f"{self.method} {self.path}{query} -> {self.status} {self.body[:300]}"


class Recorder(httpx.AsyncBaseTransport):
    """The adapter's real HTTP traffic, kept for assertions and for saying what went wrong."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.exchanges: list[Exchange] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        body = content.decode("utf-8", "replace")
        if "Jwt" in body:  # a session: no tokens in test output
            body = re.sub(r'("(?:access|refresh)Jwt"\s*:\s*")[^"]+', r"\1...", body)
        query = request.url.query.decode()
        self.exchanges.append(Exchange(request.method, request.url.path, query, response.status_code, body))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()

    def since(self, mark: int) -> list[Exchange]:
        return self.exchanges[mark:]

    def tail(self, count: int = 8) -> str:
        return "\n".join(f"  {e}" for e in self.exchanges[-count:])


@dataclass(frozen=True)
class Ref:
    uri: str
    cid: str

    def strong(self) -> dict[str, str]:
        return {"uri": self.uri, "cid": self.cid}


async def login(client: httpx.AsyncClient, who: Who) -> dict[str, Any]:
    answer = await client.post(
        "/xrpc/com.atproto.server.createSession", json={"identifier": who.handle, "password": who.password}
    )
    assert answer.status_code == 200, f"createSession {who.handle}: {answer.status_code} {answer.text}"
    return answer.json()


async def create_post(
    client: httpx.AsyncClient,
    session: dict[str, Any],
    text: str,
    *,
    facets: list[dict[str, Any]] | None = None,
    reply_to: tuple[Ref, Ref] | None = None,
    created_at: datetime | None = None,
) -> Ref:
    """A post written by another client, straight through XRPC (reply_to: (root, parent))."""
    created_at = created_at or datetime.now(UTC)
    record: dict[str, Any] = {
        "$type": POST,
        "text": text,
        "createdAt": created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "langs": ["en"],
    }
    if facets:
        record["facets"] = facets
    if reply_to:
        record["reply"] = {"root": reply_to[0].strong(), "parent": reply_to[1].strong()}
    answer = await client.post(
        "/xrpc/com.atproto.repo.createRecord",
        json={"repo": session["did"], "collection": POST, "record": record},
        headers={"Authorization": f"Bearer {session['accessJwt']}"},
    )
    assert answer.status_code == 200, f"createRecord: {answer.status_code} {answer.text}"
    data = answer.json()
    return Ref(data["uri"], data["cid"])


async def get_record(client: httpx.AsyncClient, did: str, rkey: str) -> dict[str, Any]:
    """com.atproto.repo.getRecord, as stored in the PDS (public: no auth)."""
    answer = await client.get(
        "/xrpc/com.atproto.repo.getRecord", params={"repo": did, "collection": POST, "rkey": rkey}
    )
    assert answer.status_code == 200, f"getRecord {did}/{rkey}: {answer.status_code} {answer.text}"
    return answer.json()


async def list_posts(client: httpx.AsyncClient, did: str) -> list[dict[str, Any]]:
    answer = await client.get(
        "/xrpc/com.atproto.repo.listRecords", params={"repo": did, "collection": POST, "limit": 100}
    )
    assert answer.status_code == 200, f"listRecords {did}: {answer.status_code} {answer.text}"
    return answer.json()["records"]


def facets_of(record: dict[str, Any], kind: str) -> list[tuple[bytes, dict[str, Any]]]:
    """(the UTF-8 bytes the facet covers, its feature) for each facet feature of `kind`."""
    data = record["text"].encode("utf-8")
    found = []
    for facet in record.get("facets") or []:
        index = facet["index"]
        for feature in facet["features"]:
            if feature.get("$type") == kind:
                found.append((data[index["byteStart"] : index["byteEnd"]], feature))
    return found


async def eventually(devnet: Devnet, probe: Callable[[], Awaitable[T | None]], what: str) -> T:
    """Run dev-env's processAll, then `probe`, until it answers (the AppView indexes asynchronously)."""
    deadline = time.monotonic() + INDEX_TIMEOUT
    while True:
        await devnet.process_all()
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not seen within {INDEX_TIMEOUT:.0f}s")
        await asyncio.sleep(0.2)


def brand_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, devnet: Devnet) -> AccountConfig:
    """The brand account as an operator configures it: a TOML file, the app password in an env var."""
    monkeypatch.setenv("SOCIALTUI_DEVNET_BRAND_APP_PASSWORD", devnet.brand.app_password)
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[team]
data_dir = "{tmp_path / "data"}"
timezone = "UTC"

[[accounts]]
id = "brand-bluesky"
network = "bluesky"
server = "{devnet.pds}"
handle = "{devnet.brand.handle}"
app_password_env = "SOCIALTUI_DEVNET_BRAND_APP_PASSWORD"
langs = ["en"]
""",
        encoding="utf-8",
    )
    path.chmod(0o600)
    return load_config(path).account("brand-bluesky")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def expired_copy(token: str, secret: str) -> str:
    """The same HS256 session token, expired an hour ago, signed with the PDS's secret."""
    header_b64, payload_b64, _ = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(header_b64 + "=" * (-len(header_b64) % 4)))
    assert header.get("alg") == "HS256", f"the PDS no longer signs sessions with HS256: {header}"
    claims = json.loads(base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4)))
    now = int(time.time())
    claims.update(iat=now - 3 * 3600, exp=now - 3600)
    signing_input = f"{header_b64}.{_b64url(json.dumps(claims, separators=(',', ':')).encode())}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


def rkey_of(uri: str) -> str:
    return uri.rsplit("/", 1)[-1]


def only(items: list[Item], uri: str, recorder: Recorder) -> Item:
    matching = [item for item in items if item.post.remote_id == uri]
    assert len(matching) == 1, f"expected one item for {uri}, got {items}\n{recorder.tail()}"
    return matching[0]


# --- the test ----------------------------------------------------------------------------------------


async def test_mention_thread_reply_against_reference_network(
    devnet: Devnet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = time.monotonic()
    brand, stranger = devnet.brand, devnet.stranger
    account = brand_account(tmp_path, monkeypatch, devnet)
    assert account.server == devnet.pds  # plain http, accepted because it is loopback
    recorder = Recorder()
    store = MemorySessionStore()
    adapter: Adapter = make_adapter(account, read_secret(account), session_store=store, transport=recorder)
    async with httpx.AsyncClient(base_url=devnet.pds, timeout=30) as pds:
        try:
            stranger_session = await login(pds, stranger)

            # -- the account, as verify sees it (an app password, as operators use) --
            info = await adapter.verify()
            assert (info.remote_id, info.handle) == (brand.did, brand.handle), recorder.tail()
            assert info.display_name == brand.display_name
            assert store.data and store.data["did"] == brand.did and store.saves == 1

            since = datetime.now(UTC) - timedelta(minutes=10)
            page = await adapter.fetch_items(None, since, 50)
            assert page.items == [] and page.done, f"a fresh account has nothing to answer: {page}"
            cursor = page.cursor

            # -- (1) a stranger mentions the brand, with a 3-byte ✨ before the mention --
            prefix = "Hi ✨ "
            mention_text = f"{prefix}@{brand.handle} where is my order? 📦"
            start = len(prefix.encode("utf-8"))
            end = start + len(f"@{brand.handle}".encode())
            assert start == len(prefix) + 2  # UTF-8 bytes, not characters
            mention = await create_post(
                pds,
                stranger_session,
                mention_text,
                facets=[
                    {
                        "index": {"byteStart": start, "byteEnd": end},
                        "features": [{"$type": MENTION, "did": brand.did}],
                    }
                ],
            )

            # -- (2) it comes in as an Item of kind mention --
            async def new_items() -> Page | None:
                nonlocal cursor
                fetched = await adapter.fetch_items(cursor, since, 50)
                cursor = fetched.cursor
                return fetched if fetched.items else None

            page = await eventually(devnet, new_items, "the mention in listNotifications")
            item = only(page.items, mention.uri, recorder)
            assert item.kind == "mention"
            assert item.account == account.id
            assert item.post.cid == mention.cid
            assert item.post.text == mention_text
            assert item.post.author.id == stranger.did
            assert item.post.author.handle == stranger.handle
            assert item.post.author.display_name == stranger.display_name
            assert item.post.reply_to == "" and item.post.reply_root == ""
            assert not item.post.own
            assert item.post.langs == ("en",)
            assert abs(item.received_at - datetime.now(UTC)) < timedelta(minutes=2)
            again = await adapter.fetch_items(cursor, since, 50)
            # Nothing new: at most the overlap behind the cursor again (the store keeps items by id).
            assert {i.id for i in again.items} <= {i.id for i in page.items}, f"nothing new expected: {again}"
            cursor = again.cursor

            # -- (3) its thread --
            thread = await adapter.fetch_thread(item.post)
            assert [(p.remote_id, p.cid) for p in thread] == [(mention.uri, mention.cid)], thread

            # -- (4) the brand replies: a mention of the stranger and a link, after non-ASCII text --
            link = "https://example.com/track?order=42&lang=en"
            reply_text = f"Sorry ✨ @{stranger.handle}! Track it at {link}."
            draft = adapter.prepare_reply(item, reply_text)
            assert draft.ok, draft.problem
            assert draft.in_reply_to == mention.uri and draft.length == len(reply_text)
            key = adapter.new_idempotency_key()
            assert TID.fullmatch(key), key
            mark = len(recorder.exchanges)
            sent = await adapter.send_reply(item, draft, key)
            creates = [e for e in recorder.since(mark) if e.path.endswith("/com.atproto.repo.createRecord")]
            assert [e.status for e in creates] == [200], recorder.tail()
            assert sent.remote_id == f"at://{brand.did}/{POST}/{key}", sent
            assert sent.own and sent.author.id == brand.did
            assert (sent.reply_to, sent.reply_root, sent.reply_root_cid) == (
                mention.uri,
                mention.uri,
                mention.cid,
            )

            stored = await get_record(pds, brand.did, key)
            assert (stored["uri"], stored["cid"]) == (sent.remote_id, sent.cid)
            value = stored["value"]
            assert value["text"] == reply_text
            assert value["reply"] == {"root": mention.strong(), "parent": mention.strong()}, value
            assert value.get("langs") == ["en"]
            mentions = facets_of(value, MENTION)
            assert [(covered, f["did"]) for covered, f in mentions] == [
                (f"@{stranger.handle}".encode(), stranger.did)
            ], value.get("facets")
            links = facets_of(value, LINK)
            assert [(covered, f["uri"]) for covered, f in links] == [(link.encode(), link)], value.get(
                "facets"
            )

            # The AppView accepts it into the thread.
            async def reply_in_thread() -> list[Post] | None:
                posts = await adapter.fetch_thread(item.post)
                return posts if len(posts) == 2 else None

            thread = await eventually(devnet, reply_in_thread, "the reply in getPostThread")
            assert [p.remote_id for p in thread] == [mention.uri, sent.remote_id]
            assert [p.own for p in thread] == [False, True]

            # -- (5) a retried send with the same record key does not post twice --
            session = store.data
            assert session is not None
            duplicate = await pds.post(
                "/xrpc/com.atproto.repo.createRecord",
                json={
                    "repo": brand.did,
                    "collection": POST,
                    "rkey": key,
                    "record": {**value, "text": "a second copy", "facets": []},
                },
                headers={"Authorization": f"Bearer {session['accessJwt']}"},
            )
            assert duplicate.status_code >= 400, f"the PDS accepted a duplicate rkey: {duplicate.text}"
            print(f"\ndevnet: createRecord with a used rkey -> {duplicate.status_code} {duplicate.text}")

            mark = len(recorder.exchanges)
            retried = await adapter.send_reply(item, draft, key)
            assert (retried.remote_id, retried.cid) == (sent.remote_id, sent.cid), recorder.tail()
            calls = [(e.method, e.path.rsplit("/", 1)[-1], e.status) for e in recorder.since(mark)]
            assert calls[-2][:2] == ("POST", "com.atproto.repo.createRecord") and calls[-2][2] >= 400, calls
            assert calls[-1] == ("GET", "com.atproto.repo.getRecord", 200), calls
            found = await adapter.find_reply(item, key, reply_text)
            assert found is not None and (found.remote_id, found.cid) == (sent.remote_id, sent.cid)
            assert found.text == reply_text and found.reply_root == mention.uri
            missing = await adapter.find_reply(item, adapter.new_idempotency_key(), reply_text)
            assert missing is None
            records = await list_posts(pds, brand.did)
            assert [(r["uri"], r["cid"]) for r in records] == [(sent.remote_id, sent.cid)], records

            # -- (6) a reply to a reply keeps the thread's root --
            follow_up_text = "Thanks! It still says 'processing' 🤔"
            follow_up = await create_post(
                pds, stranger_session, follow_up_text, reply_to=(mention, Ref(sent.remote_id, sent.cid))
            )
            page = await eventually(devnet, new_items, "the stranger's reply in listNotifications")
            reply_item = only(page.items, follow_up.uri, recorder)
            assert reply_item.kind == "reply"
            assert reply_item.post.cid == follow_up.cid and reply_item.post.text == follow_up_text
            assert (reply_item.post.reply_to, reply_item.post.reply_root, reply_item.post.reply_root_cid) == (
                sent.remote_id,
                mention.uri,
                mention.cid,
            )
            thread = await adapter.fetch_thread(reply_item.post)
            assert [p.remote_id for p in thread] == [mention.uri, sent.remote_id, follow_up.uri], thread

            # -- (6b) someone names the brand without mentioning it: listening finds it as talk --
            term = "acmebikesdevnet"  # one word: what any search backend of the AppView can match
            talk_text = f"My {term} broke down again, never buying there"
            talk = await create_post(pds, stranger_session, talk_text)

            async def heard() -> Page | None:
                found = await adapter.search_talk(term, None, since, 50)
                return found if any(p.remote_id == talk.uri for p in found.items) else None

            found = await eventually(devnet, heard, "the talk in app.bsky.feed.searchPosts")
            (talk_post,) = [p for p in found.items if p.remote_id == talk.uri]
            assert (talk_post.text, talk_post.author.id, talk_post.own) == (talk_text, stranger.did, False)
            assert mention.uri not in {p.remote_id for p in found.items}, "a mention does not name the term"
            assert all(not p.own for p in found.items), "our own posts are never talk"

            # A handle that is not the author's (resolved through the PDS) and one nobody has.
            helpdesk = devnet.helpdesk
            second_text = (
                f"@{stranger.handle} our @{helpdesk.handle} team has it (not @nobody.test): "
                "https://example.com/status/42"
            )
            draft2 = adapter.prepare_reply(reply_item, second_text)
            assert draft2.ok, draft2.problem
            key2 = adapter.new_idempotency_key()
            assert key2 > key  # TIDs sort by time
            sent2 = await adapter.send_reply(reply_item, draft2, key2)
            value2 = (await get_record(pds, brand.did, key2))["value"]
            assert value2["reply"] == {"root": mention.strong(), "parent": follow_up.strong()}, value2
            assert (sent2.reply_to, sent2.reply_root, sent2.reply_root_cid) == (
                follow_up.uri,
                mention.uri,
                mention.cid,
            )
            assert [(c, f["did"]) for c, f in facets_of(value2, MENTION)] == [
                (f"@{stranger.handle}".encode(), stranger.did),
                (f"@{helpdesk.handle}".encode(), helpdesk.did),
            ], value2.get("facets")
            assert [c for c, _ in facets_of(value2, LINK)] == [b"https://example.com/status/42"]

            async def whole_thread() -> list[Post] | None:
                posts = await adapter.fetch_thread(item.post)
                return posts if len(posts) == 4 else None

            thread = await eventually(devnet, whole_thread, "the whole thread in getPostThread")
            assert [p.remote_id for p in thread] == [
                mention.uri,
                sent.remote_id,
                follow_up.uri,
                sent2.remote_id,
            ]
            assert all(p.reply_root == mention.uri for p in thread[1:]), thread

            # Our own replies are never items to answer.
            await devnet.process_all()
            last = await adapter.fetch_items(cursor, since, 50)
            # At most the stranger's items again (the overlap behind the cursor), never our replies.
            assert {i.post.remote_id for i in last.items} <= {mention.uri, follow_up.uri}, last

            # -- (7) the adapter's length rules are the PDS's: 300 graphemes, 3000 UTF-8 bytes --
            head = f"@{stranger.handle} "
            emoji = "👨‍👩‍👧🇫🇷👍🏽"  # 3 graphemes in 34 bytes
            body = head + emoji * 10
            longest = body + "." * (300 - adapter.count_length(body))
            assert adapter.count_length(longest) == 300 and len(longest) > 300
            assert adapter.prepare_reply(item, longest).ok
            assert not adapter.prepare_reply(item, longest + "!").ok
            too_big = head + "👨‍👩‍👧" * 170  # 170 graphemes, over 3000 bytes
            assert not adapter.prepare_reply(item, too_big).ok
            for text, expected in ((longest + "!", "grapheme too big"), (too_big, "string too big")):
                refused = await pds.post(
                    "/xrpc/com.atproto.repo.createRecord",
                    json={
                        "repo": stranger.did,
                        "collection": POST,
                        "record": {"$type": POST, "text": text, "createdAt": value["createdAt"]},
                    },
                    headers={"Authorization": f"Bearer {stranger_session['accessJwt']}"},
                )
                assert refused.status_code == 400 and expected in refused.text, refused.text
            at_limit = await adapter.send_reply(
                item, adapter.prepare_reply(item, longest), adapter.new_idempotency_key()
            )
            assert (await get_record(pds, brand.did, rkey_of(at_limit.remote_id)))["value"]["text"] == longest

            # -- (8) an expired access token: the PDS answers 400 ExpiredToken (not 401); the adapter
            # refreshes once and sends the request again --
            assert adapter.logins == 1 and adapter.refreshes == 0  # one session, shared by every call
            shared = dict(store.data or {})
            expired = expired_copy(shared["accessJwt"], devnet.jwt_secret)
            store.save({**shared, "accessJwt": expired})
            # Another process whose clock is 3 hours slow: the token looks fresh to it, not to the PDS.
            late = make_adapter(
                account,
                read_secret(account),
                session_store=store,
                transport=recorder,
                now=lambda: datetime.now(UTC) - timedelta(hours=3),
            )
            mark = len(recorder.exchanges)
            try:
                assert (await late.verify()).remote_id == brand.did
            finally:
                await late.aclose()
            calls = [(e.path.rsplit("/", 1)[-1], e.status, e.body) for e in recorder.since(mark)]
            assert calls[0][:2] == ("com.atproto.server.getSession", 400) and "ExpiredToken" in calls[0][2], (
                calls
            )
            assert calls[1][:2] == ("com.atproto.server.refreshSession", 200), calls
            assert calls[2][:2] == ("com.atproto.server.getSession", 200), calls
            assert (late.refreshes, late.logins) == (1, 0)
            assert store.data and store.data["accessJwt"] not in (expired, shared["accessJwt"])
        finally:
            await adapter.aclose()
            # Shown with -s, or under "Captured stdout" when the test fails: what the adapter sent.
            print(f"devnet: the adapter's requests ({adapter.requests}):")
            print("\n".join(f"  {e}" for e in recorder.exchanges))
    print(f"devnet: the flow took {time.monotonic() - started:.1f}s")


async def test_mention_from_a_slow_clock_is_not_lost(
    devnet: Devnet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    brand, stranger = devnet.brand, devnet.stranger
    account = brand_account(tmp_path, monkeypatch, devnet)
    store = MemorySessionStore()
    adapter = make_adapter(account, read_secret(account), session_store=store)
    async with httpx.AsyncClient(base_url=devnet.pds, timeout=30) as pds:
        try:
            session = await login(pds, stranger)
            start, end = 0, len(f"@{brand.handle}".encode())
            facets = [
                {
                    "index": {"byteStart": start, "byteEnd": end},
                    "features": [{"$type": MENTION, "did": brand.did}],
                }
            ]
            on_time = await create_post(pds, session, f"@{brand.handle} first question", facets=facets)
            await devnet.process_all()
            page = await adapter.fetch_items(None, datetime.now(UTC) - timedelta(minutes=5), 50)
            # Preconditions fail the test outright (pytest.fail), never as the expected failure.
            if on_time.uri not in [i.post.remote_id for i in page.items]:
                pytest.fail(f"the first mention was not fetched: {page}")

            # The same person, from a phone whose clock is 30 seconds slow.
            slow = await create_post(
                pds,
                session,
                f"@{brand.handle} second question",
                facets=facets,
                created_at=datetime.now(UTC) - timedelta(seconds=30),
            )
            await devnet.process_all()
            assert store.data is not None
            raw = await pds.get(
                "/xrpc/app.bsky.notification.listNotifications",
                headers={"Authorization": f"Bearer {store.data['accessJwt']}"},
            )
            listed = {n["uri"]: n["indexedAt"] for n in raw.json()["notifications"]}
            if slow.uri not in listed:
                pytest.fail(f"the AppView does not list the second mention: {raw.text}")
            later = await adapter.fetch_items(page.cursor, datetime.now(UTC) - timedelta(minutes=5), 50)
            assert slow.uri in [i.post.remote_id for i in later.items], (
                f"listNotifications has it with indexedAt {listed[slow.uri]} (its createdAt), older than "
                f"the cursor {page.cursor!r}; fetch_items did not return it: {later}"
            )
        finally:
            await adapter.aclose()


async def test_a_post_and_a_scheduled_post_against_reference_network(
    devnet: Devnet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new post (no reply reference) through the outbox, its record key the idempotency key, sent
    once even when sent again; a scheduled one sent by the poller's pass when due, and only once."""
    from socialtui.clock import FixedClock
    from socialtui.model import Actor
    from socialtui.outbox import deliver, queue_post, send_due_posts
    from socialtui.store import Store

    brand = devnet.brand
    account = brand_account(tmp_path, monkeypatch, devnet)
    adapter = make_adapter(account, read_secret(account), session_store=MemorySessionStore())
    other = make_adapter(account, read_secret(account), session_store=MemorySessionStore())
    team = Store(tmp_path / "data")
    clock = FixedClock(datetime.now(UTC))
    actor = Actor("alice", "Alice")
    async with httpx.AsyncClient(base_url=devnet.pds, timeout=30) as pds:
        try:
            before = len(await list_posts(pds, brand.did))
            text = "Good morning ✨ the shop opens at nine: https://example.com/hours"
            entry = queue_post(team, adapter, text, actor, clock.now())
            delivery = await deliver(team, adapter, None, entry.id, clock)
            assert delivery.sent, delivery.message
            assert rkey_of(delivery.entry.remote_id) == entry.id, "the record key chosen when it was queued"
            record = (await get_record(pds, brand.did, entry.id))["value"]
            assert record["text"] == text and "reply" not in record
            assert [uri for uri, _ in facets_of(record, LINK)] == [b"https://example.com/hours"]
            # The same post sent again with its key (a retry after a lost answer): still one record.
            again = await adapter.send_post(adapter.prepare_post(text), entry.id)
            assert again.remote_id == delivery.entry.remote_id
            assert len(await list_posts(pds, brand.did)) == before + 1

            later = "The evening shift is on: ask us anything."
            scheduled = queue_post(
                team, adapter, later, actor, clock.now(), due_at=clock.now() + timedelta(seconds=20)
            )
            assert await send_due_posts(team, adapter, account.id, clock) == [], "not before its time"
            clock.advance(21)
            results = await asyncio.gather(
                send_due_posts(team, adapter, account.id, clock),
                send_due_posts(team, other, account.id, clock),
            )
            assert [d.sent for r in results for d in r] == [True], results
            assert (await get_record(pds, brand.did, scheduled.id))["value"]["text"] == later
            assert len(await list_posts(pds, brand.did)) == before + 2
        finally:
            await adapter.aclose()
            await other.aclose()
