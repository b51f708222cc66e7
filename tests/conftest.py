import itertools
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

# Test helpers (sandbox_env, pgcluster) import as plain modules.
sys.path.insert(0, str(Path(__file__).parent))

from pgcluster import ExternalServer, PgCluster, PgClusterError  # noqa: E402

_database_numbers = itertools.count(1)


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


@pytest.fixture
def pg_url(pg_cluster: PgCluster | ExternalServer) -> Iterator[str]:
    """A fresh, empty database for one test; dropped afterwards."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"socialtui_test_{worker}_{os.getpid()}_{next(_database_numbers)}"
    url = pg_cluster.create_database(name)
    yield url
    try:
        pg_cluster.drop_database(name)
    except psycopg.Error:  # a server the test stopped itself; the cluster goes anyway
        pass
