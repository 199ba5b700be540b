"""A production-shaped install on loopback, for the scale-out and chaos tiers.

PostgreSQL (a fresh database per cluster), Redis (a database of its own, flushed at start), two
daphne processes, one threads Celery worker, beat and the simulator. The tiers that use it run
only when PostgreSQL and Redis answer; `serve_cluster` skips them with the reason otherwise.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

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


def serve_cluster(tier: str, start: Callable[[], Cluster]) -> Iterator[Cluster]:
    """A session fixture's body: skipped with the reason when the servers are missing, else a
    started cluster, stopped (its database dropped) however the tests end."""
    missing = servers_missing()
    if missing:
        pytest.skip(f"{tier} tier skipped: {missing} not reachable on 127.0.0.1")
    cluster = start()
    try:
        yield cluster
    finally:
        cluster.stop()


class Cluster:
    """Every process of a production install, on loopback.

    `env` adds to (or overrides) the environment of every process; `setup` is a list of
    statements run by `manage.py shell` after the migrations, before any process starts.
    """

    def __init__(self, tmp: Path, *, daphnes: int = 2, sim_toml: str = "", env: dict[str, str] | None = None,
                 setup: tuple[str, ...] = (), redis_url: str = REDIS, db_prefix: str = "tcadh_scaleout"):
        import psycopg
        import redis

        self.db_name = f"{db_prefix}_{uuid.uuid4().hex[:8]}"
        self.db_url = f"{PG}/{self.db_name}"
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db_name}"')
        redis.Redis.from_url(redis_url).flushdb()
        self.sim_port = free_port()
        self.sim_url = f"http://127.0.0.1:{self.sim_port}"
        self.ports = [free_port() for _ in range(daphnes)]
        self.urls = [f"http://127.0.0.1:{port}" for port in self.ports]
        self.password = uuid.uuid4().hex
        self.sim_config = tmp / "sim.toml"
        self.sim_config.write_text(f"[timing]\nprepare_seconds = 1\n\n[control]\nenabled = true\n\n{sim_toml}")
        self.env = {
            **os.environ, "DATABASE_URL": self.db_url, "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url, "TCADH_VAR_DIR": str(tmp / "var"), "TCADH_SIM_URL": self.sim_url,
            "DJANGO_SUPERUSER_USERNAME": "admin", "DJANGO_SUPERUSER_PASSWORD": self.password,
            "DJANGO_SUPERUSER_EMAIL": "admin@example.com", "PYTHONUNBUFFERED": "1",
            # Production settings, except that loopback speaks plain HTTP.
            "DEBUG": "false", "SECRET_KEY": uuid.uuid4().hex * 2, "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false", "CSRF_COOKIE_SECURE": "false", "SECURE_HSTS_SECONDS": "0",
            **(env or {}),
        }
        self.env.pop("DJANGO_SETTINGS_MODULE", None)
        self.logs = tmp / "logs"
        self.logs.mkdir()
        self.procs: dict[str, subprocess.Popen] = {}
        self._argv: dict[str, tuple[str, ...]] = {}
        # collectstatic writes only STATIC_ROOT, the rest only the database: side by side.
        collecting = subprocess.Popen([sys.executable, "manage.py", "collectstatic", "--noinput"], cwd=ROOT,
                                      env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # One process for the database's steps: each manage.py of its own would start Django again.
        prepare = "\n".join([
            "from django.core.management import call_command",
            "call_command('migrate', interactive=False)",
            "call_command('createsuperuser', interactive=False)",
            f"call_command('register_simulator', url={self.sim_url!r}, config={str(self.sim_config)!r})",
            *setup,
        ])
        try:
            self.manage("shell", "-c", prepare)
        finally:
            _, errors = collecting.communicate()
        if collecting.returncode:
            raise subprocess.CalledProcessError(collecting.returncode, collecting.args, stderr=errors)
        self.spawn("simulator", "-m", "tcadh_sim", "--host", "127.0.0.1", "--port", str(self.sim_port),
                   "--config", str(self.sim_config))
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
        self._argv[name] = argv
        log = open(self.logs / f"{name}.log", "a")
        self.procs[name] = subprocess.Popen([sys.executable, *argv], cwd=ROOT, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT)

    def kill(self, name: str) -> None:
        """SIGKILL, as the OOM killer or a lost machine does: nothing gets to clean up."""
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def restart(self, name: str) -> None:
        """Start a killed process again with the arguments it first had; waits for a web port."""
        self.spawn(name, *self._argv[name])
        if name.startswith("daphne"):
            wait_for_port(self.ports[int(name.removeprefix("daphne"))], timeout=60, proc=self.procs[name])

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
