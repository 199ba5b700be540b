"""Kiosks against the real simulator: a page gets its own session, keeps it alive by heartbeating,
and loses it when it goes away, after hours, or when the cloud closes it."""

from datetime import time, timedelta
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from presentations import services
from presentations.models import KioskConfig, KioskRun
from sessions_app.models import AuditEntry, LiveSession
from tests.console.helpers import wait_ready

PAGE = "page1"


@pytest.fixture
def kiosk(account, operator):
    return services.kiosk_save(user=operator, kiosk=KioskConfig(
        slug="booth", name="Booth", project=account.projects.first()))


def started(run: KioskRun) -> LiveSession:
    session = wait_ready(run.session)
    from sessions_app import services as session_services

    session_services.session_start(user=None, session=session)
    session.refresh_from_db()
    return session


def test_a_page_gets_its_own_audited_session(kiosk, operator, admin_user):
    state = services.kiosk_open(user=admin_user, kiosk=kiosk, page_id=PAGE)
    assert state.state == "live"
    session = state.run.session
    assert session.created_by == operator  # the kiosk's owner, like any session of theirs
    assert session.user_id == f"kiosk-{kiosk.pk}-booth" and session.auto_start
    assert AuditEntry.objects.filter(action="create_from_project", session=session, actor=operator).exists()
    assert AuditEntry.objects.filter(action="kiosk_open", session=session, actor=admin_user,
                                     detail="kiosk booth").exists()
    again = services.kiosk_open(user=admin_user, kiosk=kiosk, page_id=PAGE)
    assert again.state == "live" and again.run.pk == state.run.pk
    assert LiveSession.objects.count() == 1


def test_another_screen_is_told_the_kiosk_is_busy(kiosk, operator):
    services.kiosk_open(user=operator, kiosk=kiosk, page_id=PAGE)
    assert services.kiosk_open(user=operator, kiosk=kiosk, page_id="other").state == "busy"
    assert LiveSession.objects.count() == 1


def test_a_request_already_creating_the_session_is_not_doubled(kiosk, operator):
    KioskConfig.objects.filter(pk=kiosk.pk).update(opening_at=timezone.now())
    assert services.kiosk_open(user=operator, kiosk=kiosk, page_id=PAGE).state == "starting"
    assert not LiveSession.objects.exists()


def test_heartbeats_keep_the_session_and_silence_closes_it(kiosk, operator):
    run = services.kiosk_open(user=operator, kiosk=kiosk, page_id=PAGE).run
    session = started(run)
    later = timezone.now() + timedelta(seconds=services.HEARTBEAT_STALE_SECONDS - 5)
    assert services.kiosk_heartbeat(user=operator, kiosk=kiosk, page_id=PAGE, session_pk=session.pk,
                                    now=later).state == "live"
    session.refresh_from_db()
    assert session.last_activity_at >= run.session.last_activity_at
    assert services.kiosk_runs_sweep(now=later + timedelta(seconds=services.HEARTBEAT_STALE_SECONDS - 1)) == []
    ended = services.kiosk_runs_sweep(now=later + timedelta(seconds=services.HEARTBEAT_STALE_SECONDS + 1))
    assert ended == [run.pk]
    session.refresh_from_db()
    assert session.status == "closed" and session.close_reason == "kiosk booth: the kiosk page stopped responding"
    state = services.kiosk_heartbeat(user=operator, kiosk=kiosk, page_id=PAGE, session_pk=session.pk)
    assert state.state == "ended"


def test_closing_the_page_closes_the_session(kiosk, operator, sim):
    run = services.kiosk_open(user=operator, kiosk=kiosk, page_id=PAGE).run
    assert not services.kiosk_close(user=operator, kiosk=kiosk, page_id="someone-else", session_pk=run.session_id)
    assert services.kiosk_close(user=operator, kiosk=kiosk, page_id=PAGE, session_pk=run.session_id)
    run.refresh_from_db()
    run.session.refresh_from_db()
    assert run.ended_at is not None and run.session.status == "closed"
    assert sim.control("GET", f"sessions/{run.session.cloud_session_id}")["status"] == 2


def test_the_cloud_closing_the_session_makes_the_page_start_a_new_one(kiosk, operator, sim):
    run = services.kiosk_open(user=operator, kiosk=kiosk, page_id=PAGE).run
    session = started(run)
    sim.control("POST", f"sessions/{session.cloud_session_id}/close", json={"close_type": 3})
    state = services.kiosk_heartbeat(user=operator, kiosk=kiosk, page_id=PAGE, session_pk=session.pk)
    assert state.state == "ended"
    session.refresh_from_db()
    assert session.status == "closed" and session.close_type == 3
    fresh = services.kiosk_open(user=operator, kiosk=kiosk, page_id=PAGE)
    assert fresh.state == "live" and fresh.run.session_id != session.pk
    assert KioskRun.objects.filter(ended_at__isnull=True).count() == 1


def test_after_hours_the_session_closes_and_the_page_waits(kiosk, operator):
    run = services.kiosk_open(user=operator, kiosk=kiosk, page_id=PAGE).run
    now = timezone.localtime()
    kiosk.window_start = (now + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    kiosk.window_end = (now + timedelta(hours=2)).time().replace(second=0, microsecond=0)
    kiosk.save()
    state = services.kiosk_heartbeat(user=operator, kiosk=kiosk, page_id=PAGE, session_pk=run.session_id)
    assert state.state == "after_hours" and state.opens_at > now
    run.session.refresh_from_db()
    assert run.session.status == "closed" and "daily window" in run.session.close_reason
    assert services.kiosk_open(user=operator, kiosk=kiosk, page_id=PAGE).state == "after_hours"


def test_switched_off_kiosk_makes_no_session(kiosk, operator):
    KioskConfig.objects.filter(pk=kiosk.pk).update(enabled=False)
    assert services.kiosk_open(user=operator, kiosk=kiosk, page_id=PAGE).state == "disabled"
    assert not LiveSession.objects.exists()


@pytest.mark.parametrize("start, end, at, is_open", [
    (None, None, time(3), True),
    (time(9), time(17), time(8, 59), False),
    (time(9), time(17), time(9), True),
    (time(9), time(17), time(17), False),
    (time(22), time(2), time(23), True),
    (time(22), time(2), time(1, 59), True),
    (time(22), time(2), time(12), False),
])
def test_daily_window(start, end, at, is_open):
    kiosk = KioskConfig(window_start=start, window_end=end)
    moment = timezone.make_aware(timezone.datetime(2025, 3, 3, at.hour, at.minute))
    assert services.window_is_open(kiosk, moment) is is_open


def test_next_opening_is_today_or_tomorrow():
    kiosk = KioskConfig(window_start=time(9), window_end=time(17))
    evening = timezone.make_aware(timezone.datetime(2025, 3, 3, 18, 0))
    assert services.window_next_open(kiosk, evening) == timezone.make_aware(timezone.datetime(2025, 3, 4, 9, 0))
    morning = timezone.make_aware(timezone.datetime(2025, 3, 3, 7, 0))
    assert services.window_next_open(kiosk, morning) == timezone.make_aware(timezone.datetime(2025, 3, 3, 9, 0))


def test_a_failed_create_is_reported_and_releases_the_claim(kiosk, operator):
    with mock.patch("presentations.services.session_services.session_create",
                    side_effect=services.ServiceError("the cloud refused: quota (code 100008)")):
        state = services.kiosk_open(user=operator, kiosk=kiosk, page_id=PAGE)
    assert state.state == "error" and "quota" in state.message
    kiosk.refresh_from_db()
    assert kiosk.opening_at is None


# -- the page's endpoints -------------------------------------------------------------------------

def test_kiosk_endpoints(client, kiosk, operator, auditor):
    client.force_login(auditor)
    assert client.get(reverse("kiosk_page", args=["booth"])).status_code == 403
    assert client.post(reverse("kiosk_session", args=["booth"]), {"page": PAGE}).status_code == 403
    client.force_login(operator)
    page = client.get(reverse("kiosk_page", args=["booth"])).content.decode()
    assert 'role="status"' in page and 'class="topbar"' not in page
    assert client.post(reverse("kiosk_session", args=["booth"]), {"page": "../bad"}).status_code == 400
    reply = client.post(reverse("kiosk_session", args=["booth"]), {"page": PAGE}).json()
    assert reply["state"] == "live"
    session = reply["session"]
    assert session["ws_path"] == f"/ws/sessions/{session['summary']['id']}/chat/"
    beat = client.post(reverse("kiosk_heartbeat", args=["booth"]), {"page": PAGE, "session": session["summary"]["id"]})
    assert beat.json()["state"] == "live"
    closed = client.post(reverse("kiosk_close", args=["booth"]), {"page": PAGE, "session": session["summary"]["id"]})
    assert closed.json() == {"closed": True}
    assert LiveSession.objects.get(pk=session["summary"]["id"]).status == "closed"


def test_kiosk_form_needs_one_source_and_a_whole_window(client, account, operator):
    client.force_login(operator)
    page = client.post(reverse("kiosk_new"), {"name": "K", "slug": "k", "protocol": "rtmp", "driver_type": 1,
                                              "attract_every_minutes": 3, "window_start": "09:00",
                                              "enabled": "on"}).content.decode()
    assert "Choose the project (or an asset)" in page and "Give both the opening and the closing time" in page
    response = client.post(reverse("kiosk_new"), {"name": "K", "slug": "k", "protocol": "rtmp", "driver_type": 1,
                                                  "attract_every_minutes": 3, "asset": account.assets.first().pk,
                                                  "enabled": "on"})
    assert response.status_code == 302
    kiosk = KioskConfig.objects.get(slug="k")
    assert kiosk.created_by == operator
    assert AuditEntry.objects.filter(action="kiosk_create", detail="kiosk k").exists()


@pytest.mark.parametrize("session_id", ["²", "٣", str(2**63), "-1", "1 ", "abc"])
def test_kiosk_heartbeat_and_close_refuse_what_is_not_an_id(client, kiosk, operator, session_id):
    client.force_login(operator)
    client.post(reverse("kiosk_session", args=["booth"]), {"page": PAGE})
    for name in ("kiosk_heartbeat", "kiosk_close"):
        response = client.post(reverse(name, args=["booth"]), {"page": PAGE, "session": session_id})
        assert response.status_code == 400, name
        assert response.json() == {"error": "session must be an id (digits only)"}
    # The page's session was left alone by both.
    assert KioskRun.objects.get(page_id=PAGE).ended_at is None


@pytest.mark.parametrize("page_id", ["²", "页面", "a" * 41, "a b", ""])
def test_a_kiosk_page_id_is_ascii_letters_digits_and_dashes(client, kiosk, operator, page_id):
    client.force_login(operator)
    response = client.post(reverse("kiosk_session", args=["booth"]), {"page": page_id})
    assert response.status_code == 400
    assert not KioskRun.objects.exists()
