"""The scale-out tier: PostgreSQL, Redis, two daphne processes, a Celery worker and beat.

Runs only when PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer; otherwise every
test here is skipped with the reason. Each run uses a fresh database and a Redis database of its
own (flushed at start), so it never touches anything else on those servers.
"""

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.browser_support import browser, page  # noqa: F401  (fixtures)
from tests.conftest import ROOT, free_port, wait_for_port

PG = os.environ.get("SCALEOUT_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
REDIS = os.environ.get("SCALEOUT_REDIS", "redis://127.0.0.1:6379/9")


def reachable(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def servers_missing() -> str:
    missing = [name for name, port in (("PostgreSQL", 5432), ("Redis", 6379)) if not reachable("127.0.0.1", port)]
    return " and ".join(missing)


class Cluster:
    """Every process of a production install, on loopback."""

    def __init__(self, tmp: Path, *, daphnes: int = 2, sim_toml: str = ""):
        import psycopg
        import redis

        self.db_name = f"tcadh_scaleout_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db_name}"')
        redis.Redis.from_url(REDIS).flushdb()
        self.sim_port = free_port()
        self.sim_url = f"http://127.0.0.1:{self.sim_port}"
        self.ports = [free_port() for _ in range(daphnes)]
        self.urls = [f"http://127.0.0.1:{port}" for port in self.ports]
        self.password = uuid.uuid4().hex
        config = tmp / "sim.toml"
        config.write_text(f"[timing]\nprepare_seconds = 1\n\n[control]\nenabled = true\n\n{sim_toml}")
        self.env = {
            **os.environ, "DATABASE_URL": f"{PG}/{self.db_name}", "REDIS_URL": REDIS,
            "CELERY_BROKER_URL": REDIS, "TCADH_VAR_DIR": str(tmp / "var"), "TCADH_SIM_URL": self.sim_url,
            "DJANGO_SUPERUSER_USERNAME": "admin", "DJANGO_SUPERUSER_PASSWORD": self.password,
            "DJANGO_SUPERUSER_EMAIL": "admin@example.com", "PYTHONUNBUFFERED": "1",
            # Production settings, except that loopback speaks plain HTTP.
            "DEBUG": "false", "SECRET_KEY": uuid.uuid4().hex * 2, "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false", "CSRF_COOKIE_SECURE": "false", "SECURE_HSTS_SECONDS": "0",
        }
        self.env.pop("DJANGO_SETTINGS_MODULE", None)
        self.logs = tmp / "logs"
        self.logs.mkdir()
        self.procs: dict[str, subprocess.Popen] = {}
        self.manage("collectstatic", "--noinput")
        self.manage("migrate", "--noinput")
        self.manage("createsuperuser", "--noinput")
        self.manage("register_simulator", "--url", self.sim_url, "--config", str(config))
        self.spawn("simulator", "-m", "tcadh_sim", "--host", "127.0.0.1", "--port", str(self.sim_port),
                   "--config", str(config))
        for index, port in enumerate(self.ports):
            self.spawn(f"daphne{index}", "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                       "tcadh_console.asgi:application")
        self.spawn("worker", "-m", "celery", "-A", "tcadh_console", "worker", "--pool=threads",
                   "--concurrency=8", "--loglevel=INFO", "--without-gossip", "--without-mingle")
        self.spawn("beat", "-m", "celery", "-A", "tcadh_console", "beat", "--loglevel=INFO")
        for port in [self.sim_port, *self.ports]:
            wait_for_port(port, timeout=60)

    def manage(self, *args: str) -> str:
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=True,
                              capture_output=True, text=True).stdout

    def spawn(self, name: str, *argv: str) -> None:
        log = open(self.logs / f"{name}.log", "w")
        self.procs[name] = subprocess.Popen([sys.executable, *argv], cwd=ROOT, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text()

    def stop(self) -> None:
        import psycopg

        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    missing = servers_missing()
    if missing:
        pytest.skip(f"scale-out tier skipped: {missing} not reachable on 127.0.0.1")
    running = Cluster(tmp_path_factory.mktemp("cluster"))
    yield running
    running.stop()
