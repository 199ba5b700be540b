"""A real Celery worker and beat, as separate processes on the kombu filesystem broker, close an
idle session: in the simulator and in the database. Nothing here is eager or in-process."""

import importlib.util
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(importlib.util.find_spec("celery") is None or
                                importlib.util.find_spec("django_celery_beat") is None,
                                reason="celery and django-celery-beat are needed for a real worker and beat")

IDLE_LIMIT_SECONDS = 3
SWEEP_EVERY_SECONDS = 2
DEADLINE_SECONDS = 120

SETUP = """
import json, django
django.setup()
from django.core.management import call_command
from django.contrib.auth.models import Group, User
from sessions_app import lifecycle, services
from sessions_app.accounts import account_register
from sessions_app.roles import OPERATOR

call_command("migrate", interactive=False, verbosity=0)
demo = json.loads({demo!r})
account = account_register(name="Simulator", base_url={base_url!r}, appkey=demo["appkey"],
                           accesstoken=demo["accesstoken"], uin=demo["uin"], projects=demo["projects"],
                           assets=demo["assets"])
account.projects.update(idle_limit_seconds={idle})
user = User.objects.create_user("e2e-operator", password="unused")
user.groups.add(Group.objects.get_or_create(name=OPERATOR)[0])
session = lifecycle.session_create(user=user, spec=services.NewSession(
    account=account, project=account.projects.first(), user_id="e2e-idle", protocol="rtmp", driver_type=1))
print(json.dumps({{"pk": session.pk, "cloud_id": session.cloud_session_id}}))
"""


def _env(var_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER")}
    # The sweep's period is written into the schedule each time beat starts: set as the setting, not
    # in the schedule, or beat puts its 30 s default back.
    env.update(TCADH_VAR_DIR=str(var_dir), DJANGO_SETTINGS_MODULE="tcadh_console.settings", PYTHONUNBUFFERED="1",
               TCADH_SWEEP_IDLE_SECONDS=str(SWEEP_EVERY_SECONDS))
    return env


def _row(db: Path, pk: int) -> tuple[str, str, str]:
    with sqlite3.connect(db, timeout=20) as conn:
        return conn.execute("SELECT status, close_reason, error_message FROM sessions_app_livesession WHERE id = ?",
                            (pk,)).fetchone()


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"


def test_worker_and_beat_close_an_idle_session(sim, tmp_path):
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    env = _env(var_dir)
    script = SETUP.format(demo=json.dumps(sim.demo), base_url=sim.base_url, idle=IDLE_LIMIT_SECONDS)
    created = json.loads(subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True,
                                        capture_output=True, text=True, timeout=180).stdout.strip().splitlines()[-1])

    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    celery = [sys.executable, "-m", "celery", "-A", "tcadh_console"]
    procs = [
        subprocess.Popen(celery + ["worker", "--concurrency=2", "--loglevel=INFO", "--without-gossip",
                                   "--without-mingle", "--hostname", f"e2e-{os.getpid()}@%h"],
                         cwd=ROOT, env=env, stdout=worker_log.open("w"), stderr=subprocess.STDOUT),
        subprocess.Popen(celery + ["beat", "--loglevel=INFO", "--max-interval=1"],
                         cwd=ROOT, env=env, stdout=beat_log.open("w"), stderr=subprocess.STDOUT),
    ]
    db = var_dir / "db.sqlite3"
    seen: list[str] = []
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            for proc in procs:
                assert proc.poll() is None, (f"a Celery process exited early\nworker:\n{_tail(worker_log)}"
                                             f"\nbeat:\n{_tail(beat_log)}")
            status, reason, error = _row(db, created["pk"])
            if not seen or seen[-1] != status:
                seen.append(status)
            if status in ("closed", "failed"):
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"not closed in time; statuses {seen}\nworker:\n{_tail(worker_log)}\nbeat:\n{_tail(beat_log)}")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()

    assert (status, reason) == ("closed", "idle"), f"statuses {seen}, error {error!r}"
    assert "started" in seen, f"the worker should have started it first: {seen}"
    in_sim = sim.control("GET", f"sessions/{created['cloud_id']}")
    assert in_sim["status"] == 2 and in_sim["close_type"] == 1, in_sim
