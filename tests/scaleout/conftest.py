"""The scale-out tier: PostgreSQL, Redis, two daphne processes, a Celery worker and beat.

Runs only when PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer; otherwise every
test here is skipped with the reason. Each run uses a fresh database and a Redis database of its
own (flushed at start), so it never touches anything else on those servers.
"""

import pytest

from tests.browser_support import browser, page  # noqa: F401  (fixtures)
from tests.cluster_support import Cluster, serve_cluster


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    yield from serve_cluster("scale-out", lambda: Cluster(tmp_path_factory.mktemp("cluster")))
