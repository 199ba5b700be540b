"""The players' reports: who may post them, what is refused, and how figures add up."""

import json

import pytest
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from sessions_app import player_metrics
from sessions_app.models import Account, LiveSession
from sessions_app.params import BadParameter


@pytest.fixture
def session(db):
    account = Account(name="Reports", base_url="http://127.0.0.1:9", appkey="reports-appkey")
    account.set_accesstoken("secret")
    account.save()
    return LiveSession.objects.create(account=account, cloud_session_id="s-report", user_id="u", protocol="rtmp",
                                      driver_type=1, status=LiveSession.Status.STARTED)


def post(client, session, body, **headers):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(reverse("session_player_report", args=[session.pk]), data=data,
                       content_type="application/json", **headers)


def test_stalls_add_up_and_show_on_the_pages(client, session, auditor, admin_user):
    client.force_login(auditor)
    for ms in (4200, 1800):
        response = post(client, session, {"event": "stall", "ms": ms})
        assert response.status_code == 200 and response.json() == {"recorded": "stall"}
    session.refresh_from_db()
    assert (session.player_stalls, session.player_stalled_ms) == (2, 6000)
    page = client.get(reverse("session_detail", args=[session.pk])).content.decode()
    assert "2 stalls, 6.0 s without video" in page
    client.force_login(admin_user)
    history = client.get(reverse("audit_account_history", args=[session.account.pk])).content.decode()
    assert "2 stalls, 6.0 s without video" in history


def test_first_frame_keeps_the_first_start_and_the_slowest_reconnect(client, session, operator):
    client.force_login(operator)
    for body in ({"event": "first_frame", "ms": 850, "after": "start"},
                 {"event": "first_frame", "ms": 99, "after": "start"},
                 {"event": "first_frame", "ms": 1200, "after": "reconnect"},
                 {"event": "first_frame", "ms": 700, "after": "reconnect"}):
        assert post(client, session, body).status_code == 200
    session.refresh_from_db()
    assert (session.first_frame_ms, session.player_reconnects, session.reconnect_frame_ms_max) == (850, 2, 1200)
    assert session.player_figures == ["first frame after 850 ms", "no stalls",
                                      "2 reconnects, slowest first frame after 1.2 s"]


@pytest.mark.parametrize("body, message", [
    ({"event": "stall", "ms": -1}, "ms must be a whole number"),
    ({"event": "stall", "ms": player_metrics.STALL_MS_MAX + 1}, "ms must be a whole number"),
    ({"event": "stall", "ms": 12.5}, "ms must be a whole number"),
    ({"event": "stall", "ms": True}, "ms must be a whole number"),
    ({"event": "stall", "ms": "100"}, "ms must be a whole number"),
    ({"event": "stall"}, "ms must be a whole number"),
    ({"event": "first_frame", "ms": player_metrics.FIRST_FRAME_MS_MAX + 1, "after": "start"}, "ms must be"),
    ({"event": "first_frame", "ms": 10, "after": "later"}, "after must be start or reconnect"),
    ({"event": "stall", "ms": 10, "after": "start"}, "a stall report has no field 'after'"),
    ({"event": "boom", "ms": 10}, "event must be first_frame or stall"),
    ([1, 2], "the body must be a JSON object"),
    ("{not json", "the body must be a JSON object"),
])
def test_bad_reports_are_refused_with_the_reason_and_change_nothing(client, session, operator, body, message):
    client.force_login(operator)
    response = post(client, session, body)
    assert response.status_code == 400 and message in response.json()["error"]
    session.refresh_from_db()
    assert (session.player_stalls, session.player_stalled_ms, session.first_frame_ms, session.player_reconnects) == (
        0, 0, None, 0)


def test_only_viewers_with_a_csrf_token_may_report(client, session, operator, django_user_model):
    body = {"event": "stall", "ms": 100}
    anonymous = post(client, session, body)
    assert anonymous.status_code == 302 and anonymous.url.startswith(reverse("login"))
    client.force_login(django_user_model.objects.create_user("nobody", password="pw"))
    assert post(client, session, body).status_code == 403
    client.force_login(operator)
    assert client.get(reverse("session_player_report", args=[session.pk])).status_code == 405
    assert client.post(reverse("session_player_report", args=[987654]), data="{}",
                       content_type="application/json").status_code == 404
    session.refresh_from_db()
    assert session.player_stalls == 0


def test_the_csrf_check_applies(session, operator):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(operator)
    assert post(strict, session, {"event": "stall", "ms": 100}).status_code == 403
    strict.get(reverse("session_detail", args=[session.pk]))
    token = strict.cookies["csrftoken"].value
    assert post(strict, session, {"event": "stall", "ms": 100}, HTTP_X_CSRFTOKEN=token).status_code == 200


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=6)
FIELDS = st.sampled_from(["event", "ms", "after", "extra"])
VALUES = st.one_of(JSON, st.sampled_from(["stall", "first_frame", "start", "reconnect"]),
                   st.integers(min_value=-10, max_value=player_metrics.STALL_MS_MAX + 10))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(FIELDS, VALUES, max_size=4))
def test_any_body_is_a_bounded_report_or_a_reason(data):
    try:
        report = player_metrics.parse_player_report(data)
    except BadParameter as exc:
        assert str(exc)
        return
    most = player_metrics.STALL_MS_MAX if report.event == "stall" else player_metrics.FIRST_FRAME_MS_MAX
    assert type(report.ms) is int and 0 <= report.ms <= most
    assert report.after in (("",) if report.event == "stall" else player_metrics.FIRST_FRAME_AFTER)
