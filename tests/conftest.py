"""The test suite's engines: every test that uses the store runs on both.

A test module that uses the store (it imports `socialtui.store`, the command line `socialtui.cli`,
or the store-backed helpers `sandbox_env` and `tuikit`) has each of its tests run twice, as
`test[files]` and `test[postgresql]`. For PostgreSQL, `SOCIALTUI_STORE` is set to a fresh
database of the worker's throw-away cluster: every Store the test opens, and every `socialtui`
process it starts (a CLI run, a sync service), uses it. A test that is about the files engine itself
says so with `@pytest.mark.files_only("why")`; the files engine's own modules are listed below.
"""

import itertools
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import settings

# Property tests draw the same examples on every run (a run that passes passes again: a draw that
# finds a flaw finds it every time, not one CI run in twenty) and have no time limit per example (a
# busy machine is not a failure). `HYPOTHESIS_PROFILE=explore` draws new examples, for hunting.
settings.register_profile("suite", derandomize=True, deadline=None, database=None)
settings.register_profile("explore", deadline=None, max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))

# Test helpers (sandbox_env, pgcluster) import as plain modules.
sys.path.insert(0, str(Path(__file__).parent))

from pgcluster import ExternalServer, PgCluster, PgClusterError  # noqa: E402

_database_numbers = itertools.count(1)

ENGINES = ("files", "postgresql")
STORE_USERS = ("socialtui.store", "socialtui.cli", "sandbox_env", "tuikit")
"""A test module that imports from one of these uses the store: its tests run on both engines."""

FILES_ONLY_MODULES = {
    "test_store.py": "the files engine's own promises: its files, locks, a writer killed mid-write, "
    "corrupt and too-new files, file modes (the engine-neutral ones run on both in test_store_engines)",
    "test_safefile.py": "planted symlinks, hard links, FIFOs and file modes in the files engine's data dir",
    "test_tui_snapshots.py": "pictures of the screens, named after the test: the data behind them is the "
    "same on either engine, and test_tui_journeys/test_tui_data read it through both",
}
OWN_ENGINES = {"test_store_engines.py", "test_pg_engine.py", "test_pgcluster.py"}
"""Modules that pick their engine themselves (the contract suite's own parametrization, the
PostgreSQL engine's failure modes)."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "files_only(why): a test about the files engine itself; it does not run on PostgreSQL"
    )


def _uses_the_store(module: object) -> bool:
    for value in vars(module).values():
        name = value.__name__ if isinstance(value, type(sys)) else getattr(value, "__module__", None)
        if isinstance(name, str) and any(name == u or name.startswith(u + ".") for u in STORE_USERS):
            return True
    return False


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    module_file = Path(str(metafunc.module.__file__)).name
    if module_file in OWN_ENGINES or module_file in FILES_ONLY_MODULES:
        return
    if metafunc.definition.get_closest_marker("files_only") is not None:
        return
    if "store_engine" in metafunc.fixturenames and _uses_the_store(metafunc.module):
        metafunc.parametrize("store_engine", ENGINES, indirect=True)


@pytest.fixture(autouse=True)
def store_engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The engine this test's store runs on: "files" (the default), or "postgresql" with
    `SOCIALTUI_STORE` naming a fresh database (for this process and every process it starts)."""
    engine = getattr(request, "param", "files")
    if engine != "postgresql":
        monkeypatch.delenv("SOCIALTUI_STORE", raising=False)
        yield engine
        return
    url = request.getfixturevalue("pg_store_url")
    monkeypatch.setenv("SOCIALTUI_STORE", url)
    try:
        yield engine
    finally:
        _close_shared_engines(url)


def _close_shared_engines(url: str) -> None:
    """Close the process's shared engine for `url` (its pool and listener) before its database is
    dropped, so no pooled connection is cut from under a thread that still holds it."""
    from socialtui import store

    with store._shared_lock:
        stale = [key for key in store._shared if key[0] == url]
        engines = [store._shared.pop(key) for key in stale]
    for engine in engines:
        engine.close()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster | ExternalServer]:
    """A PostgreSQL server for this test process (one per xdist worker): a throw-away cluster, or the
    server `SOCIALTUI_TEST_PG_URL` names. Missing server binaries fail the tests: CI installs them."""
    external = os.environ.get("SOCIALTUI_TEST_PG_URL")
    if external:
        yield ExternalServer(external)
        return
    try:
        cluster = PgCluster().start()
    except PgClusterError as exc:
        pytest.fail(f"cannot start a PostgreSQL test cluster: {exc}", pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()


def _database_name(kind: str) -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"socialtui_{kind}_{worker}_{os.getpid()}_{next(_database_numbers)}"


@pytest.fixture
def pg_url(pg_cluster: PgCluster | ExternalServer) -> Iterator[str]:
    """A fresh, empty database for one test; dropped afterwards."""
    name = _database_name("test")
    url = pg_cluster.create_database(name)
    yield url
    try:
        pg_cluster.drop_database(name)
    except psycopg.Error:  # a server the test stopped itself; the cluster goes anyway
        pass


@pytest.fixture(scope="session")
def pg_store_template(pg_cluster: PgCluster | ExternalServer) -> Iterator[str]:
    """A database with the store's schema, migrated once per test process, to copy from."""
    from socialtui.store.postgres import PgEngine

    name = _database_name("template")
    PgEngine(pg_cluster.create_database(name)).close()
    yield name
    try:
        pg_cluster.drop_database(name)
    except psycopg.Error:
        pass


@pytest.fixture
def pg_store_url(pg_cluster: PgCluster | ExternalServer, pg_store_template: str) -> Iterator[str]:
    """A fresh database with the store's schema and no data, for one test; dropped afterwards."""
    name = _database_name("test")
    url = pg_cluster.create_database(name, template=pg_store_template)
    yield url
    try:
        pg_cluster.drop_database(name)
    except psycopg.Error:
        pass
