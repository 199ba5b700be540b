"""Idle sweep, reconciliation and orphans against the real simulator."""

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from sessions_app import services, sweeps, tasks
from sessions_app.live.utterances import utterance_open
from sessions_app.models import AuditEntry, LiveSession, SessionEvent
from tcadh import SessionStatus, TcadhClient

from .helpers import create_session, started_session, wait_ready

pytestmark = pytest.mark.django_db


def sim_session(sim, session_id: str) -> dict:
    return sim.control("GET", f"sessions/{session_id}")


def calls(sim) -> dict:
    return sim.control("GET", "calls")["counts"]


def set_idle_limit(account, seconds: int) -> None:
    account.projects.update(idle_limit_seconds=seconds)
    account.assets.update(idle_limit_seconds=seconds)


def make_idle(session: LiveSession, seconds: float) -> LiveSession:
    LiveSession.objects.filter(pk=session.pk).update(last_activity_at=timezone.now() - timedelta(seconds=seconds))
    session.refresh_from_db()
    return session


def outside_session(sim, user_id: str) -> str:
    """A session created straight on the simulator, as another tool of the same account would."""
    demo = sim.demo
    client = TcadhClient(sim.base_url, demo["appkey"], demo["accesstoken"])
    session_id = client.create_session(project_id=demo["projects"][0], user_id=user_id, protocol="rtmp").session_id
    deadline = time.monotonic() + 10
    while client.stat_session(session_id).status != SessionStatus.READY:
        assert time.monotonic() < deadline, "the outside session never became ready"
        time.sleep(0.1)
    return session_id


def reconcile_twice(account):
    """An unknown session becomes an orphan only on a second sighting some time later."""
    now = timezone.now()
    first = sweeps.account_reconcile(account=account, now=now)
    assert first.orphaned == []
    return sweeps.account_reconcile(account=account, now=now + timedelta(seconds=settings.TCADH_ORPHAN_CONFIRM_SECONDS + 1))


# -- idle sweep ---------------------------------------------------------------------------------

def test_idle_sweep_warns_a_minute_before_then_closes_with_reason_idle(sim, account, operator):
    set_idle_limit(account, 90)
    session = started_session(operator, account)

    make_idle(session, 40)
    result = sweeps.sessions_idle_sweep()
    assert result.warned == [session.pk] and result.closed == []
    session.refresh_from_db()
    assert session.idle_warned_at is not None and session.status == "started"
    warning = session.events.get(data__idle_warning=True)
    assert "closing in" in warning.message
    assert sweeps.sessions_idle_sweep().warned == [], "one warning per idle stretch"

    make_idle(session, 91)
    assert sweeps.sessions_idle_sweep().closed == [session.pk]
    session.refresh_from_db()
    assert session.status == "closed" and session.close_reason == "idle" and session.closed_at
    assert sim_session(sim, session.cloud_session_id)["status"] == 2
    assert AuditEntry.objects.filter(session=session, action="close_idle", ok=True).count() == 1


def test_idle_limit_comes_from_the_asset_for_asset_sessions(sim, account, operator):
    account.projects.update(idle_limit_seconds=3600)
    account.assets.update(idle_limit_seconds=5)
    session = started_session(operator, account, project=None, asset=account.assets.first())
    make_idle(session, 6)
    assert sweeps.sessions_idle_sweep().closed == [session.pk]


def test_driving_clears_the_warning_and_keeps_the_session(sim, account, operator):
    set_idle_limit(account, 90)
    session = started_session(operator, account)
    make_idle(session, 40)
    sweeps.sessions_idle_sweep()
    utterance_open(session=session, user=operator, kind="text", req_id="r-still-here", text="still here")
    session.refresh_from_db()
    assert session.idle_warned_at is None
    assert sweeps.sessions_idle_sweep().closed == []


def test_a_drive_between_the_sweeps_look_and_its_close_wins(sim, account, operator):
    set_idle_limit(account, 60)
    session = started_session(operator, account)
    stale = make_idle(session, 600)  # what the sweep read
    services.session_touch(session=session)  # the operator types just before the close
    assert sweeps.session_close_if_idle(session=stale) is False
    session.refresh_from_db()
    assert session.status == "started"
    assert "closesession" not in calls(sim)


def test_two_sweeps_racing_close_a_session_exactly_once(sim, account, operator):
    set_idle_limit(account, 60)
    session = make_idle(started_session(operator, account), 600)
    first, second = LiveSession.objects.get(pk=session.pk), LiveSession.objects.get(pk=session.pk)
    assert sweeps.session_close_if_idle(session=first) is True
    assert sweeps.session_close_if_idle(session=second) is False
    assert sweeps.sessions_idle_sweep().closed == []
    assert calls(sim).get("closesession") == 1
    assert AuditEntry.objects.filter(session=session, action="close_idle").count() == 1
    assert session.events.filter(message="closed: idle").count() == 1


def test_operator_close_and_idle_sweep_at_once_close_once(sim, account, operator):
    set_idle_limit(account, 60)
    session = make_idle(started_session(operator, account), 600)
    stale = LiveSession.objects.select_related("account", "project").get(pk=session.pk)
    assert services.session_close(user=operator, session=session) is True
    assert sweeps.session_close_if_idle(session=stale) is False
    assert calls(sim).get("closesession") == 1
    session.refresh_from_db()
    assert session.close_reason == "closed by operator"


def test_a_refused_close_is_recorded_on_the_session_and_retried_until_the_cloud_confirms(sim, account, operator):
    set_idle_limit(account, 60)
    session = make_idle(started_session(operator, account), 600)
    sim.control("POST", "faults", json={"endpoint": "closesession", "code": 100005, "count": 2})
    assert sweeps.sessions_idle_sweep().closed == []
    session.refresh_from_db()
    # Ended here for good (never back to started), and still owed a close in the cloud.
    assert session.status == "closing" and session.awaits_cloud_close
    assert session.error_code == 100005 and "closing" in session.error_message
    assert session.events.filter(kind=SessionEvent.Kind.ERROR).exists()
    assert AuditEntry.objects.filter(session=session, action="close_idle", ok=False).count() == 1
    assert sweeps.sessions_idle_sweep().closed == [], "the idle sweep does not own it any more"

    assert sweeps.account_reconcile(account=account).close_retried == [session.pk], "the next sweep retries"
    session.refresh_from_db()
    assert session.status == "closing" and session.close_attempts == 2
    assert sweeps.account_reconcile(account=account).close_retried == [], "not due before its backoff"
    assert session.next_close_at - timezone.now() >= timedelta(seconds=4), "then it waits"

    assert sweeps.account_reconcile(account=account, now=session.next_close_at).close_retried == [session.pk]
    session.refresh_from_db()
    assert (session.status, session.close_reason) == ("closed", "idle")
    assert session.cloud_closed_at is not None
    assert sim_session(sim, session.cloud_session_id)["status"] == 2


def test_idle_sweep_leaves_orphans_to_the_orphan_timer(sim, account, operator):
    account.orphan_autoclose_minutes = None
    account.save()
    set_idle_limit(account, 1)
    outside_session(sim, "outside-idle")
    reconcile_twice(account)
    orphan = LiveSession.objects.get(is_orphan=True)
    make_idle(orphan, 600)
    assert sweeps.sessions_idle_sweep().closed == []


# -- preparing safety net -----------------------------------------------------------------------

def test_poll_sweep_picks_up_a_preparing_session_whose_polling_was_lost(sim, account, operator):
    session = create_session(operator, account)
    assert session.status == "preparing"
    LiveSession.objects.filter(pk=session.pk).update(created_at=timezone.now() - timedelta(seconds=30))
    deadline = time.monotonic() + 10
    while LiveSession.objects.get(pk=session.pk).status == "preparing":
        assert time.monotonic() < deadline, "never became ready"
        assert sweeps.sessions_refresh_preparing(every_seconds=0.1).asked <= 1
        time.sleep(0.2)
    assert LiveSession.objects.get(pk=session.pk).status == "ready"


# -- reconcile ----------------------------------------------------------------------------------

def test_reconcile_closes_a_session_the_cloud_closed_with_the_clouds_reason(sim, account, operator):
    session = started_session(operator, account)
    kept = started_session(operator, account)
    sim.control("POST", f"sessions/{session.cloud_session_id}/close", json={"close_type": 2})
    before = calls(sim).get("listsessionofuin", 0)

    result = sweeps.account_reconcile(account=account)

    assert result.closed == [session.pk]
    assert calls(sim)["listsessionofuin"] == before + 1, "one list call per account per cycle"
    session.refresh_from_db()
    assert session.status == "closed"
    assert session.close_type == 2 and session.close_reason == "timed out with no interaction"
    kept.refresh_from_db()
    assert kept.status == "started"
    assert sweeps.account_reconcile(account=account).closed == [], "idempotent"


@pytest.mark.parametrize("close_type, words", [(3, "downstream exited"), (5, "same UserId opened a new stream")])
def test_close_type_words(sim, account, operator, close_type, words):
    session = wait_ready(create_session(operator, account))
    sim.control("POST", f"sessions/{session.cloud_session_id}/close", json={"close_type": close_type})
    sweeps.account_reconcile(account=account)
    session.refresh_from_db()
    assert (session.status, session.close_reason) == ("closed", words)


def test_a_close_claimed_by_a_process_that_died_is_retried_once_its_claim_lapses(sim, account, operator, settings):
    session = started_session(operator, account)
    # What a worker leaves behind when it is killed between claiming the close and calling the cloud.
    claimed_at = timezone.now()
    LiveSession.objects.filter(pk=session.pk).update(
        status="closing", close_reason="idle", close_attempts=1,
        next_close_at=claimed_at + timedelta(seconds=settings.TCADH_STALE_CLOSING_SECONDS))
    result = sweeps.account_reconcile(account=account, now=claimed_at)
    assert result.close_retried == [] and result.closed == [], "someone may be closing it right now"
    assert LiveSession.objects.get(pk=session.pk).status == "closing"
    assert sim_session(sim, session.cloud_session_id)["status"] == 1, "still billed"

    later = claimed_at + timedelta(seconds=settings.TCADH_STALE_CLOSING_SECONDS + 1)
    assert sweeps.account_reconcile(account=account, now=later).close_retried == [session.pk]
    session.refresh_from_db()
    assert (session.status, session.close_reason) == ("closed", "idle") and session.cloud_closed_at is not None
    assert sim_session(sim, session.cloud_session_id)["status"] == 2


def test_a_closing_row_the_cloud_already_closed_is_confirmed_at_once(sim, account, operator):
    session = started_session(operator, account)
    LiveSession.objects.filter(pk=session.pk).update(status="closing", close_reason="closed by operator",
                                                     next_close_at=timezone.now() + timedelta(hours=1))
    sim.control("POST", f"sessions/{session.cloud_session_id}/close", json={"close_type": 1})
    assert sweeps.account_reconcile(account=account).confirmed == [session.pk]
    session.refresh_from_db()
    assert (session.status, session.close_reason) == ("closed", "closed by operator")
    assert session.cloud_closed_at is not None


def test_orphan_appears_on_the_dashboard_and_is_adopted(sim, account, operator, client):
    account.orphan_autoclose_minutes = 10
    account.save()
    cloud_id = outside_session(sim, "outside-adopt")

    result = reconcile_twice(account)
    orphan = LiveSession.objects.get(cloud_session_id=cloud_id)
    assert result.orphaned == [orphan.pk]
    assert orphan.is_orphan and orphan.created_by is None and orphan.status == "ready"
    assert orphan.project == account.projects.first() and orphan.protocol == "rtmp"
    assert sweeps.account_reconcile(account=account).orphaned == [], "found once"

    client.force_login(operator)
    page = client.get(reverse("dashboard")).content.decode()
    assert cloud_id in page and ">Adopt</button>" in page and ">Close</button>" in page

    response = client.post(reverse("orphan_adopt", args=[orphan.pk]))
    assert response.status_code == 302
    orphan.refresh_from_db()
    assert not orphan.is_orphan and orphan.created_by == operator
    assert AuditEntry.objects.filter(session=orphan, action="adopt", actor=operator).exists()
    client.post(reverse("orphan_adopt", args=[orphan.pk]))  # a second click changes nothing
    orphan.refresh_from_db()
    assert orphan.created_by == operator

    later = timezone.now() + timedelta(minutes=30)
    assert sweeps.account_reconcile(account=account, now=later).auto_closed == []
    assert LiveSession.objects.get(pk=orphan.pk).is_live


def test_unadopted_orphan_is_closed_automatically(sim, account, operator):
    account.orphan_autoclose_minutes = 0
    account.save()
    cloud_id = outside_session(sim, "outside-autoclose")
    result = reconcile_twice(account)
    orphan = LiveSession.objects.get(cloud_session_id=cloud_id)
    assert result.auto_closed == [orphan.pk]
    orphan.refresh_from_db()
    assert orphan.status == "closed" and "orphan not adopted" in orphan.close_reason
    assert sim_session(sim, cloud_id)["status"] == 2


def test_orphans_stay_when_autoclose_is_off(sim, account):
    account.orphan_autoclose_minutes = None
    account.save()
    outside_session(sim, "outside-kept")
    reconcile_twice(account)
    later = timezone.now() + timedelta(days=1)
    assert sweeps.account_reconcile(account=account, now=later).auto_closed == []


def test_close_button_closes_an_orphan_and_auditors_cannot(sim, account, operator, auditor, client):
    account.orphan_autoclose_minutes = None
    account.save()
    cloud_id = outside_session(sim, "outside-close")
    reconcile_twice(account)
    orphan = LiveSession.objects.get(cloud_session_id=cloud_id)

    client.force_login(auditor)
    assert client.post(reverse("orphan_close", args=[orphan.pk])).status_code == 403
    client.force_login(operator)
    client.post(reverse("orphan_close", args=[orphan.pk]))
    orphan.refresh_from_db()
    assert orphan.status == "closed"
    assert sim_session(sim, cloud_id)["status"] == 2


def test_reconcile_task_retries_a_transient_list_failure(sim, account):
    # The client already retries reads three times; the fourth failure reaches the task.
    sim.control("POST", "faults", json={"endpoint": "listsessionofuin", "code": -101000, "count": 4})
    result = tasks.reconcile_account.apply(args=[account.pk])
    assert result.successful()
    assert calls(sim)["listsessionofuin"] == 5


def test_reconcile_task_gives_up_on_a_permanent_error(sim, account):
    sim.control("POST", "faults", json={"endpoint": "listsessionofuin", "code": 100005, "count": 1})
    result = tasks.reconcile_account.apply(args=[account.pk])
    assert result.successful() and result.result is None
    assert calls(sim)["listsessionofuin"] == 1


def test_beat_schedule_is_seeded():
    schedule = {t.task: t.interval.every for t in PeriodicTask.objects.filter(task__startswith="sessions_app.")}
    assert schedule == {
        "sessions_app.tasks.poll_preparing_sessions": 5,
        "sessions_app.tasks.sweep_idle_sessions": 30,
        "sessions_app.tasks.reconcile_accounts": 60,
    }
