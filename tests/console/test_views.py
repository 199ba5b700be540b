"""Pages and form posts: who may do what, and what a person sees."""

import pytest
from django.urls import reverse

from sessions_app import views
from sessions_app.live.limits import browser_limits
from sessions_app.models import AuditEntry, LiveSession, SessionEvent, Utterance

from .helpers import create_session, started_session, wait_ready

ACTIONS = ["session_start", "session_close", "session_layout"]


def cloud_calls(sim) -> int:
    return sum(sim.control("GET", "calls")["counts"].values())


@pytest.mark.parametrize("name", ["dashboard", "session_new"])
def test_anonymous_is_sent_to_login(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_anonymous_cannot_post_actions(client, sim, account, operator):
    session = wait_ready(create_session(operator, account))
    for name in ACTIONS:
        response = client.post(reverse(name, args=[session.pk]), {"text": "hi"})
        assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_auditor_is_refused_every_action_without_a_cloud_call(client, sim, account, operator, auditor):
    session = started_session(operator, account)
    client.force_login(auditor)
    before = cloud_calls(sim)
    audits = AuditEntry.objects.count()
    assert client.post(reverse("session_new"), {"account": account.pk, "project": account.projects.first().pk,
                                                "protocol": "rtmp", "driver_type": 1, "user_id": "x",
                                                "stream_max_interval": 2000}).status_code == 403
    assert client.get(reverse("session_new")).status_code == 403
    for name in ACTIONS:
        response = client.post(reverse(name, args=[session.pk]),
                               {"text": "hi", "position": 0, "position_vertical": 0, "zoom": 1})
        assert response.status_code == 403, name
    assert cloud_calls(sim) == before
    assert AuditEntry.objects.count() == audits
    # ...but may look at everything.
    assert client.get(reverse("dashboard")).status_code == 200
    assert client.get(reverse("session_detail", args=[session.pk])).status_code == 200


def test_user_without_a_role_sees_nothing(client, db, django_user_model):
    client.force_login(django_user_model.objects.create_user("nobody", password="x"))
    assert client.get(reverse("dashboard")).status_code == 403


def test_new_session_form_has_labelled_fields_and_a_userid_warning(client, account, operator):
    client.force_login(operator)
    html = client.get(reverse("session_new")).content.decode()
    for label in ["Account", "Project", "Asset", "Protocol", "Driver type", "User ID"]:
        assert f">{label}</label>" in html
    assert "closes that other session" in html
    assert ">Create session</button>" in html


def test_new_session_form_errors_are_shown_next_to_the_field(client, account, operator):
    client.force_login(operator)
    response = client.post(reverse("session_new"), {
        "account": account.pk, "project": account.projects.first().pk, "asset": account.assets.first().pk,
        "protocol": "rtmp", "driver_type": 1, "user_id": "u1", "stream_max_interval": 9000,
    })
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["asset"] == ["Choose a project or an asset, not both."]
    assert "stream_max_interval" in errors
    assert not LiveSession.objects.exists()


def test_operator_creates_and_lands_on_the_session_page(client, sim, account, operator):
    client.force_login(operator)
    response = client.post(reverse("session_new"), {
        "account": account.pk, "project": account.projects.first().pk, "protocol": "rtmp",
        "driver_type": 1, "user_id": "u-page", "stream_max_interval": 2000, "auto_start": "on",
    })
    session = LiveSession.objects.get()
    assert response.status_code == 302 and response.url == reverse("session_detail", args=[session.pk])
    html = client.get(response.url).content.decode()
    assert 'role="status"' in html and ">preparing</span>" in html
    assert "Start session" in html and "Close session" in html and "<video" in html


def test_cloud_error_is_shown_on_the_form_and_nothing_is_saved(client, sim, account, operator):
    sim.control("POST", "faults", json={"endpoint": "createsession", "code": 100008, "count": 1})
    client.force_login(operator)
    response = client.post(reverse("session_new"), {
        "account": account.pk, "project": account.projects.first().pk, "protocol": "rtmp",
        "driver_type": 1, "user_id": "u-err", "stream_max_interval": 2000,
    })
    assert response.status_code == 200
    assert "100008" in response.content.decode()
    assert not LiveSession.objects.exists()


def test_play_address_and_accesstoken_never_reach_the_page(client, sim, account, operator):
    session = started_session(operator, account, protocol="trtc")
    client.force_login(operator)
    pages = [client.get(reverse("session_detail", args=[session.pk])).content.decode(),
             client.get(reverse("dashboard")).content.decode(),
             client.get(reverse("session_player", args=[session.pk])).content.decode()]
    assert "userSig" in session.play_stream_addr
    for page in pages:
        assert session.play_stream_addr not in page
        assert "userSig" not in page and "privateMapKey" not in page
        assert sim.demo["accesstoken"] not in page


def test_player_source_is_the_flv_twin_of_the_rtmp_address(client, sim, account, operator):
    session = wait_ready(create_session(operator, account))
    client.force_login(operator)
    data = client.get(reverse("session_player", args=[session.pk])).json()
    assert data["source"] == {"kind": "flv", "url": f"{sim.base_url}/live/{session.cloud_session_id}.flv"}


def test_the_page_has_no_http_say_form_and_carries_the_chat_limits(client, sim, account, operator):
    """The avatar is driven from the chat box only, whose limits come from the server."""
    session = started_session(operator, account)
    client.force_login(operator)
    response = client.get(reverse("session_detail", args=[session.pk]))
    assert 'name="text"' not in response.content.decode()
    assert response.context["chat_limits"] == browser_limits()
    assert 'id="chat-limits"' in response.content.decode()


def test_with_one_account_and_project_the_form_is_ready_to_submit(client, account, operator):
    client.force_login(operator)
    initial = client.get(reverse("session_new")).context["form"].initial
    assert initial["account"] == account.pk and initial["project"] == account.projects.get().pk
    assert initial["user_id"].startswith("console-")


def _conversation(session, operator, count: int) -> None:
    for number in range(1, count + 1):
        req_id = f"{number:032d}"
        Utterance.objects.create(session=session, req_id=req_id, kind="text", text=f"Line {number}.", state="done",
                                 created_by=operator)
        for status in ("TextStart", "TextOver"):
            SessionEvent.objects.create(session=session, kind="speak", message=f"avatar {status}",
                                        data={"req_id": req_id, "type": 3, "speak_status": status, "seq": 0})
    SessionEvent.objects.create(session=session, kind="error", message="the cloud refused: wrong time (code 1)",
                                data={"req_id": "", "code": 1})


def test_the_transcript_downloads_whole_for_every_viewer(client, sim, account, operator, auditor):
    session = create_session(operator, account)
    _conversation(session, operator, 3)
    client.force_login(auditor)
    response = client.get(reverse("session_transcript", args=[session.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="transcript-{session.cloud_session_id}.txt"'
    lines = [line.split("] ", 1)[1] for line in response.content.decode().splitlines()]
    assert lines == ["olivia: Line 1. (done) [TextStart → TextOver]", "olivia: Line 2. (done) [TextStart → TextOver]",
                     "olivia: Line 3. (done) [TextStart → TextOver]", "console: the cloud refused: wrong time (code 1)"]
    client.logout()
    assert client.get(reverse("session_transcript", args=[session.pk])).status_code == 302


def test_a_long_transcript_shows_its_end_and_says_what_is_in_the_download(client, sim, account, operator,
                                                                           monkeypatch):
    monkeypatch.setattr(views, "TRANSCRIPT_ON_PAGE", 2)
    session = create_session(operator, account)
    _conversation(session, operator, 3)
    client.force_login(operator)
    page = client.get(reverse("session_detail", args=[session.pk])).content.decode()
    transcript = page[page.index('id="transcript"'):]
    assert "Line 1." not in transcript and "Line 2." in transcript and "Line 3." in transcript
    assert transcript.index("Line 3.") < transcript.index("the cloud refused")
    assert "1 earlier utterance in the download" in transcript


# -- hostile input ------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["ftp://files.example.com/bg.png", "file:///etc/passwd", "javascript:alert(1)",
                                 "data:image/png;base64,AAAA"])
def test_layout_refuses_a_background_the_cloud_cannot_fetch(client, sim, account, operator, url):
    session = started_session(operator, account)
    client.force_login(operator)
    before = cloud_calls(sim)
    response = client.post(reverse("session_layout", args=[session.pk]),
                           {"background_url": url, "position": 0, "position_vertical": 0, "zoom": 1}, follow=True)
    assert "Background URL: Enter an http:// or https:// address." in response.content.decode()
    assert cloud_calls(sim) == before


def test_layout_takes_an_https_background(client, sim, account, operator):
    session = started_session(operator, account)
    client.force_login(operator)
    response = client.post(reverse("session_layout", args=[session.pk]),
                           {"background_url": "https://cdn.example.com/bg.png", "position": 0,
                            "position_vertical": 0, "zoom": 1}, follow=True)
    assert "Layout updated." in response.content.decode()


@pytest.mark.parametrize("pk", [2**63, 10**30])
def test_session_ids_beyond_the_database_range_are_404(client, operator, pk):
    client.force_login(operator)
    for suffix in ("", "transcript.txt", "player.json"):
        assert client.get(f"/sessions/{pk}/{suffix}").status_code == 404, suffix
    for suffix in ("start/", "close/", "layout/", "trtc-join/"):
        assert client.post(f"/sessions/{pk}/{suffix}").status_code == 404, suffix
    assert client.post(f"/audit/orphans/{pk}/adopt/").status_code == 404


@pytest.mark.parametrize("form, field", [
    ("session_new", "user_id"),
    ("session_layout", "background_url"),
])
def test_forms_that_reach_the_cloud_refuse_nul(client, sim, account, operator, form, field):
    session = started_session(operator, account)
    client.force_login(operator)
    before = cloud_calls(sim)
    data = {"account": account.pk, "project": account.projects.first().pk, "protocol": "rtmp", "driver_type": 1,
            "user_id": "someone", "stream_max_interval": 2000, "position": 0, "position_vertical": 0, "zoom": 1,
            "background_url": "https://cdn.example.com/bg.png"}
    data[field] = data[field][:3] + "\x00" + data[field][3:]
    url = reverse(form) if form == "session_new" else reverse(form, args=[session.pk])
    page = client.post(url, data, follow=True).content.decode()
    assert "Null characters are not allowed." in page
    assert cloud_calls(sim) == before


def test_the_session_page_and_the_download_show_when_the_avatar_started_speaking(client, sim, account, operator):
    session = create_session(operator, account)
    _conversation(session, operator, 3)
    for number, start_ms in ((1, 640), (2, 410)):
        Utterance.objects.filter(session=session, req_id=f"{number:032d}").update(start_ms=start_ms)
    client.force_login(operator)
    page = client.get(reverse("session_detail", args=[session.pk]))
    html = page.content.decode()
    assert html.count('class="latency muted"') == 2 and "started speaking after 640 ms" in html
    assert page.context["start_latencies"] == {f"{2:032d}": 410, f"{1:032d}": 640}
    summary = html.split('id="start-latency">', 1)[1].split("</p>", 1)[0]
    assert "410 ms (median), 640 ms (p95), of 2 utterances" in " ".join(summary.split())
    lines = client.get(reverse("session_transcript", args=[session.pk])).content.decode().splitlines()
    assert lines[0].endswith("olivia: Line 1. (done, started speaking after 640 ms) [TextStart → TextOver]")
    assert lines[2].endswith("olivia: Line 3. (done) [TextStart → TextOver]")
