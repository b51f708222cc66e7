"""The throw-away PostgreSQL cluster the engine's tests run on: reachable by us over its socket only."""

import os
import socket
import stat

import psycopg
import pytest
from pgcluster import PgCluster


def test_cluster_listens_on_its_socket_only() -> None:
    with PgCluster() as cluster:
        with psycopg.connect(cluster.url()) as conn:
            assert conn.execute("SHOW listen_addresses").fetchone() == ("",)
            assert conn.execute("SHOW fsync").fetchone() == ("off",)
            (port,) = conn.execute("SHOW port").fetchone()
            (login,) = conn.execute("SELECT current_user").fetchone()
        assert login == cluster.login
        # No TCP: nothing of this cluster answers on localhost at its port.
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", int(port)), timeout=1):
            pass
        mode = stat.S_IMODE(os.stat(cluster.socket_dir).st_mode)
        assert mode == 0o700, oct(mode)
        assert (cluster.socket_dir / f".s.PGSQL.{port}").is_socket()
        assert cluster.url().startswith(f"postgresql:///postgres?host={cluster.socket_dir}")


def test_databases_are_independent_and_stop_removes_everything() -> None:
    cluster = PgCluster().start()
    directory = cluster.dir
    assert directory is not None and directory.is_dir()
    first, second = cluster.create_database("first"), cluster.create_database("second")
    with psycopg.connect(first) as conn:
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (1)")
    with psycopg.connect(second) as conn:
        assert conn.execute("SELECT to_regclass('public.t')").fetchone() == (None,)
    cluster.stop()
    assert not directory.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(first, connect_timeout=2)
    cluster.stop()  # again: nothing left to do


def test_pg_url_is_a_fresh_database(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchone()
    assert tables == (0,)


def test_a_process_ended_by_sigterm_stops_its_cluster() -> None:
    """`kill` or `timeout` on a bench that started a cluster: the server goes with it (it used to
    stay, holding its memory and its socket, until someone found it)."""
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    script = (
        "import sys, time; sys.path.insert(0, sys.argv[1]); from pgcluster import PgCluster\n"
        "c = PgCluster().start(); print(c.dir, flush=True)\n"
        "while True: time.sleep(1)\n"
    )
    tests = str(Path(__file__).resolve().parent)
    with subprocess.Popen([sys.executable, "-c", script, tests], stdout=subprocess.PIPE, text=True) as child:
        try:
            assert child.stdout is not None
            directory = Path(child.stdout.readline().strip())
            pid_file = directory / "data" / "postmaster.pid"
            assert pid_file.is_file(), "the server runs"
            server = int(pid_file.read_text().split()[0])
            child.send_signal(signal.SIGTERM)
            assert child.wait(timeout=60) == 128 + signal.SIGTERM
        finally:
            child.kill()
    assert not directory.exists(), "its directory removed"
    deadline = time.monotonic() + 30  # `pg_ctl stop -w` returned: the postmaster is on its way out
    while time.monotonic() < deadline:
        try:
            os.kill(server, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"the server (pid {server}) still runs")
