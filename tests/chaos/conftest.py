"""The chaos tier: a production-shaped cluster run through faults and kills (see test_convergence).

Runs only when PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer; otherwise it is
skipped with the reason. It uses a fresh database and a Redis database of its own (flushed).
"""

import pytest

from tests.cluster_support import serve_cluster

from .cluster import start_chaos_cluster


@pytest.fixture(scope="session")
def chaos_cluster(tmp_path_factory):
    yield from serve_cluster("chaos", lambda: start_chaos_cluster(tmp_path_factory.mktemp("chaos")))
