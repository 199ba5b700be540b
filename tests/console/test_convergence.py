"""Every row that may still hold paid concurrency converges with the cloud until the cloud
confirms it closed: cloud faults, lost tasks and dead processes delay that, never end it."""

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from sessions_app import services, sweeps
from sessions_app.models import LiveSession
from sessions_app.schedule import sweep_schedule_sync
from tests.conftest import ROOT

from .helpers import create_session, started_session, wait_ready
from .test_sweeps import make_idle, outside_session, reconcile_twice, set_idle_limit, sim_session

pytestmark = pytest.mark.django_db


def cloud_status(sim, session: LiveSession) -> int:
    return sim_session(sim, session.cloud_session_id)["status"]


def retry_due(account, session: LiveSession) -> sweeps.ReconcileResult:
    session.refresh_from_db()
    return sweeps.account_reconcile(account=account, now=session.next_close_at + timedelta(seconds=1))


# -- 1. a preparing session that fails is closed in the cloud ------------------------------------

@pytest.mark.parametrize("fault", [{"malformed": True}, {"code": 100001}, {"code": 100005}],
                         ids=["malformed body", "100001", "100005"])
def test_a_preparing_session_failed_by_a_statsession_error_is_closed_in_the_cloud(sim, account, operator, fault):
    session = create_session(operator, account)
    sim.control("POST", "faults", json={"endpoint": "statsession", "count": 1, **fault})
    assert services.session_refresh_preparing(session=session) is services.Preparing.ENDED
    session.refresh_from_db()
    assert session.status == "failed"
    assert cloud_status(sim, session) == 2, "the cloud session was left billing"
    assert session.cloud_closed_at is not None


def test_a_timed_out_preparing_session_whose_close_fails_is_closed_by_a_later_sweep(sim, account, operator, settings):
    settings.TCADH_READY_TIMEOUT_SECONDS = 0
    session = create_session(operator, account)
    sim.control("POST", "faults", json={"endpoint": "closesession", "code": -101000, "count": 1})
    services.session_refresh_preparing(session=session)
    session.refresh_from_db()
    assert session.status == "failed" and session.awaits_cloud_close
    assert cloud_status(sim, session) in (1, 3)

    assert retry_due(account, session).close_retried == [session.pk]
    session.refresh_from_db()
    assert session.status == "failed" and session.cloud_closed_at is not None
    assert cloud_status(sim, session) == 2


def test_a_session_that_failed_in_the_cloud_is_confirmed_without_a_close(sim, account, operator):
    # The cloud's own status 4 is its confirmation: nothing is left to close.
    sim.control("POST", "faults", json={"endpoint": "createsession", "fail_preparing": True, "count": 1})
    session = wait_ready(create_session(operator, account))
    session.refresh_from_db()
    assert session.status == "failed" and session.cloud_closed_at is not None
    assert sweeps.account_reconcile(account=account).close_retried == []


# -- 2. ended rows are re-checked against the cloud ----------------------------------------------

@pytest.mark.parametrize("status", ["closed", "failed"])
def test_an_ended_row_whose_session_the_cloud_still_lists_is_closed_there(sim, account, operator, status):
    session = started_session(operator, account)
    ended = timezone.now() - timedelta(seconds=5)
    # A row taken for closed while the cloud kept the session (a close that did not take).
    LiveSession.objects.filter(pk=session.pk).update(status=status, closed_at=ended, cloud_closed_at=ended)

    result = sweeps.account_reconcile(account=account)
    assert result.reopened == [session.pk] and result.orphaned == []
    assert cloud_status(sim, session) == 2
    session.refresh_from_db()
    assert session.status == status and session.cloud_closed_at > ended
    assert session.events.filter(message__contains="still live in the cloud").exists()


def test_absence_from_two_lists_confirms_an_ended_row_when_statsession_keeps_failing(sim, account, operator):
    session = started_session(operator, account)
    sim.control("POST", f"sessions/{session.cloud_session_id}/close", json={"close_type": 1})
    LiveSession.objects.filter(pk=session.pk).update(status="failed", closed_at=timezone.now(),
                                                     next_close_at=timezone.now() + timedelta(hours=1))
    sim.control("POST", "faults", json={"endpoint": "statsession", "code": 100005, "count": 2})
    assert sweeps.account_reconcile(account=account).confirmed == [], "one absence is not an answer"
    assert LiveSession.objects.get(pk=session.pk).unlisted_count == 1
    assert sweeps.account_reconcile(account=account).confirmed == [session.pk]
    assert LiveSession.objects.get(pk=session.pk).cloud_closed_at is not None


def test_a_listed_session_resets_its_absence_count(sim, account, operator):
    session = started_session(operator, account)
    LiveSession.objects.filter(pk=session.pk).update(status="closing", unlisted_count=1,
                                                     next_close_at=timezone.now() + timedelta(hours=1))
    sweeps.account_reconcile(account=account)
    assert LiveSession.objects.get(pk=session.pk).unlisted_count == 0


# -- 4. ready sessions have a closer, and automatic starts are retried ---------------------------

def test_a_ready_session_nobody_starts_is_warned_then_closed_with_the_reason(sim, account, operator):
    set_idle_limit(account, 90)
    session = wait_ready(create_session(operator, account))
    make_idle(session, 40)
    assert sweeps.sessions_idle_sweep().warned == [session.pk]
    assert session.events.filter(message__contains="unless it is started").exists()
    make_idle(session, 120)
    assert sweeps.sessions_idle_sweep().closed == [session.pk]
    session.refresh_from_db()
    assert (session.status, session.close_reason) == ("closed", "not started within 90 s")
    assert cloud_status(sim, session) == 2


def test_a_failed_automatic_start_is_retried_by_the_preparing_sweep(sim, account, operator):
    session = wait_ready(create_session(operator, account, auto_start=True))
    sim.control("POST", "faults", json={"endpoint": "startsession", "code": -101000, "count": 1})
    assert services.session_start_automatically(session=session) is False
    assert LiveSession.objects.get(pk=session.pk).status == "ready"
    LiveSession.objects.filter(pk=session.pk).update(ready_at=timezone.now() - timedelta(seconds=30))
    assert sweeps.sessions_refresh_preparing().started == [session.pk]
    assert LiveSession.objects.get(pk=session.pk).status == "started"


def test_an_adopted_orphan_that_was_ready_falls_under_the_ready_limit(sim, account, operator, client):
    set_idle_limit(account, 60)
    cloud_id = outside_session(sim, "outside-ready")
    reconcile_twice(account)
    orphan = LiveSession.objects.get(cloud_session_id=cloud_id)
    assert orphan.status == "ready"
    client.force_login(operator)
    client.post(reverse("orphan_adopt", args=[orphan.pk]))
    make_idle(orphan, 120)
    assert sweeps.sessions_idle_sweep().closed == [orphan.pk]
    assert sim_session(sim, cloud_id)["status"] == 2


def test_a_session_started_in_the_cloud_but_ready_here_is_recorded_started(sim, account, operator):
    session = wait_ready(create_session(operator, account))
    # The process that called startsession died before writing the row.
    services.cloud.client_for(account).start_session(session.cloud_session_id)
    sweeps.account_reconcile(account=account)
    assert LiveSession.objects.get(pk=session.pk).status == "started"


# -- the dashboard shows what the cloud has not confirmed ----------------------------------------

def test_the_dashboard_lists_ended_sessions_the_cloud_has_not_confirmed_closed(sim, account, operator, client):
    session = started_session(operator, account)
    sim.control("POST", "faults", json={"endpoint": "closesession", "code": -101000, "count": 1})
    with pytest.raises(services.ServiceError):
        services.session_close(user=operator, session=session)
    client.force_login(operator)
    page = client.get(reverse("dashboard")).content.decode()
    assert "Not yet confirmed closed in the cloud" in page and session.cloud_session_id in page

    retry_due(account, session)
    page = client.get(reverse("dashboard")).content.decode()
    assert "Not yet confirmed closed in the cloud" not in page


# -- 6 and 7: what several processes must share --------------------------------------------------

def _settings_in_child(env: dict, code: str):
    child_env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")}
    child_env.update(env, DJANGO_SETTINGS_MODULE="tcadh_console.settings")
    script = "import django, json; django.setup()\n" + code
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=child_env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("broker", ["redis://127.0.0.1:6379/15", "amqp://guest@127.0.0.1:5672//"])
def test_tasks_of_a_killed_worker_are_redelivered(broker, tmp_path):
    conf = _settings_in_child({"CELERY_BROKER_URL": broker, "TCADH_VAR_DIR": str(tmp_path)}, """
from tcadh_console.celery import app
print(json.dumps({"acks_late": app.conf.task_acks_late, "reject": app.conf.task_reject_on_worker_lost,
                  "options": app.conf.broker_transport_options, "limit": app.conf.task_time_limit}))
""")
    assert conf["acks_late"] and conf["reject"]
    if broker.startswith("redis"):
        # Redis hands an unacknowledged task out again only after the visibility timeout: it must
        # outlast the longest task, and not be Redis's default hour.
        assert conf["limit"] < conf["options"]["visibility_timeout"] < 3600


def test_sweep_state_is_shared_by_every_process_and_survives_a_restart(tmp_path):
    """Orphan sightings and polling de-duplication must agree across workers and restarts."""
    env = {"TCADH_VAR_DIR": str(tmp_path)}
    first = _settings_in_child(env, "from django.core.cache import cache\n"
                                    "print(json.dumps(cache.add('sweeps:probe', 1, timeout=60)))")
    second = _settings_in_child(env, "from django.core.cache import cache\n"
                                     "print(json.dumps(cache.add('sweeps:probe', 1, timeout=60)))")
    assert (first, second) == (True, False)


def test_the_cache_is_redis_when_redis_is_configured(tmp_path):
    backend = _settings_in_child({"REDIS_URL": "redis://127.0.0.1:6379/15", "TCADH_VAR_DIR": str(tmp_path)},
                                 "from django.conf import settings\n"
                                 "print(json.dumps(settings.CACHES['default']['BACKEND']))")
    assert backend.endswith("RedisCache")


def test_the_demo_account_registers_with_the_simulators_concurrency(account, sim):
    assert account.concurrency_limit == sim.demo["concurrency"] >= 1


def test_beat_takes_the_sweep_periods_from_the_settings(settings):
    settings.TCADH_SWEEP_RECONCILE_SECONDS = 7
    assert sweep_schedule_sync() == 1
    reconcile = PeriodicTask.objects.get(task="sessions_app.tasks.reconcile_accounts")
    assert (reconcile.interval.every, reconcile.expire_seconds) == (7, 7)
    assert sweep_schedule_sync() == 0, "nothing to change the second time"


def test_the_role_groups_exist_after_migrating():
    assert set(Group.objects.values_list("name", flat=True)) >= {"operator", "auditor"}
