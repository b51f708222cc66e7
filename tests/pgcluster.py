"""A throw-away PostgreSQL cluster for tests and benchmarks: Unix socket only, no TCP, no durability.

    with PgCluster() as cluster:
        url = cluster.create_database("bench")   # postgresql:///bench?host=/tmp/socialtui-pg-...

Only the standard library at import time (`bench/` uses it too); `create_database` imports psycopg.

The server cannot run as root, so when the tests run as root the cluster belongs to the `postgres`
OS user (`initdb` and `pg_ctl` through `runuser`) while the superuser inside it is named after the
login that runs the tests (`root`), which connects by peer authentication over the socket. The
socket directory is the cluster's temp dir, mode 0700: only its owner (and root) reach the socket.
"""

from __future__ import annotations

import atexit
import getpass
import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

SERVER_USER_WHEN_ROOT = "postgres"


def _exit_on_sigterm() -> None:
    """A SIGTERM (`kill`, `timeout`) ends the process by `SystemExit`, so that `atexit` stops the
    cluster: by default it ends the process at once and leaves the server running. Only where nobody
    set a handler, and from the main thread (the only one that may)."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))


class PgClusterError(RuntimeError):
    """The cluster could not be found, created or started; the message says what to install or read."""


def find_bindir() -> Path:
    """The directory of `initdb`, `pg_ctl` and `postgres`: `pg_config --bindir`, else the newest
    /usr/lib/postgresql/*/bin (Debian keeps them off PATH)."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True)
            candidates.append(Path(out.stdout.strip()))
        except (OSError, subprocess.CalledProcessError):
            pass
    versioned = glob.glob("/usr/lib/postgresql/*/bin")
    versioned.sort(key=lambda p: _version_key(Path(p).parent.name), reverse=True)
    candidates.extend(Path(p) for p in versioned)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    raise PgClusterError(
        "PostgreSQL server binaries not found (no initdb from `pg_config --bindir` or in "
        "/usr/lib/postgresql/*/bin): install them, e.g. `apt-get install postgresql` (Debian), "
        "or set SOCIALTUI_TEST_PG_URL to a server the tests may create databases on"
    )


def _version_key(name: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in name.split("."))
    except ValueError:
        return (-1,)


class PgCluster:
    """initdb + pg_ctl in a temp dir; `start()`, `url()`, `create_database()`, `stop()`.

    Not durable unless `durable=True` (fsync, synchronous_commit and full_page_writes off): the data
    is thrown away anyway, and a test suite should not wait on the disk.
    """

    def __init__(self, *, durable: bool = False, bindir: Path | None = None) -> None:
        self.bindir = bindir or find_bindir()
        self.durable = durable
        self.login = getpass.getuser()
        self.as_root = os.geteuid() == 0
        self.dir: Path | None = None
        self.running = False

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> PgCluster:
        if self.running:
            return self
        # A short path: a Unix socket path is limited to ~107 bytes.
        base = os.environ.get("TMPDIR", "/tmp")
        self.dir = Path(tempfile.mkdtemp(prefix="socialtui-pg-", dir=base if len(base) < 60 else "/tmp"))
        atexit.register(self.stop)
        _exit_on_sigterm()
        os.chmod(self.dir, 0o700)
        if self.as_root:
            server = pwd.getpwnam(SERVER_USER_WHEN_ROOT)
            os.chown(self.dir, server.pw_uid, server.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.datadir),
            "-U",
            self.login,
            "--auth-local=peer",
            "--auth-host=reject",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        settings = {
            "listen_addresses": "''",
            "unix_socket_directories": f"'{self.dir}'",
            "unix_socket_permissions": "0700",
            "max_connections": "200",
            "fsync": "on" if self.durable else "off",
            "synchronous_commit": "on" if self.durable else "off",
            "full_page_writes": "on" if self.durable else "off",
        }
        with open(self.datadir / "postgresql.conf", "a") as conf:
            conf.write("\n# socialtui test cluster\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        self._run("pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile), "-w", "-t", "60", "start")
        self.running = True
        return self

    def stop(self) -> None:
        """Stop the server at once (`-m immediate`: nothing to keep) and remove the temp dir."""
        if self.dir is None:
            return
        if self.running:
            try:
                self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")
            except PgClusterError:
                pass
            self.running = False
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def __enter__(self) -> PgCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- using it -------------------------------------------------------------------------------------

    @property
    def datadir(self) -> Path:
        assert self.dir is not None, "the cluster is not started"
        return self.dir / "data"

    @property
    def logfile(self) -> Path:
        assert self.dir is not None, "the cluster is not started"
        return self.dir / "server.log"

    @property
    def socket_dir(self) -> Path:
        assert self.dir is not None, "the cluster is not started"
        return self.dir

    def url(self, dbname: str = "postgres") -> str:
        """A libpq URL to `dbname` over the cluster's socket, as the test's own login (peer)."""
        return f"postgresql:///{quote(dbname)}?host={quote(str(self.socket_dir), safe='/')}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create `name` (an identifier: letters, digits, `_`), a copy of `template` if given, and
        return its URL."""
        create_database(self.url(), name, template)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        drop_database(self.url(), name)

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bindir / tool), *args]
        if self.as_root:
            command = ["runuser", "-u", SERVER_USER_WHEN_ROOT, "--", *command]
        try:
            done = subprocess.run(command, capture_output=True, text=True, cwd=self.dir, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PgClusterError(f"{tool} failed: {exc}") from exc
        if done.returncode != 0:
            log = ""
            if tool == "pg_ctl" and self.dir is not None and self.logfile.exists():
                log = "\nserver log:\n" + self.logfile.read_text(errors="replace")[-2000:]
            raise PgClusterError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}{log}")


class ExternalServer:
    """A server someone else runs (`SOCIALTUI_TEST_PG_URL`), used like a `PgCluster`: the tests only
    create (and drop) their own databases on it."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url

    def url(self, dbname: str = "postgres") -> str:
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(path="/" + quote(dbname)))

    def create_database(self, name: str, template: str | None = None) -> str:
        create_database(self.admin_url, name, template)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        drop_database(self.admin_url, name)

    def stop(self) -> None:
        pass


def _check_identifier(name: str) -> None:
    if not name or not all(c.isalnum() or c == "_" for c in name) or name[0].isdigit():
        raise ValueError(f"not a plain database name: {name!r}")


def create_database(admin_url: str, name: str, template: str | None = None) -> None:
    """CREATE DATABASE through psycopg (autocommit: it cannot run in a transaction); a copy of
    `template` if given (it waits a moment for the template's last sessions to end)."""
    import time

    import psycopg
    from psycopg import errors

    _check_identifier(name)
    statement = f'CREATE DATABASE "{name}"'
    if template is not None:
        _check_identifier(template)
        statement += f' TEMPLATE "{template}"'
    deadline = time.monotonic() + 10
    with psycopg.connect(admin_url, autocommit=True) as conn:
        while True:
            try:
                conn.execute(statement)
                return
            except errors.ObjectInUse:  # "source database ... is being accessed by other users"
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


def drop_database(admin_url: str, name: str) -> None:
    """DROP DATABASE, disconnecting whoever is still connected (an engine a test did not close)."""
    import psycopg

    _check_identifier(name)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


__all__ = ["PgCluster", "ExternalServer", "PgClusterError", "find_bindir", "create_database", "drop_database"]
