"""What the console stores (close reasons, errors, session events, audit details, kiosk runs) is
English whatever language the request that caused it speaks, and every page that shows it, the
admin included, puts it in the viewer's language (static/js/labels.js on the JavaScript catalog)."""

import re

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from presentations.models import KioskConfig, KioskRun
from sessions_app import services
from sessions_app.cloud_errors import CLOUD_ERROR_WORDS, cloud_error_words, explain_in_english
from sessions_app.models import AuditEntry, LiveSession, SessionEvent
from sessions_app.sweeps import CLOSE_TYPE_WORDS, close_type_words
from tcadh.errors import TcadhError
from tcadh_console.celery import app as celery_app

from .helpers import create_session, shown_by_the_page, wait_ready

CJK = re.compile(r"[\u4e00-\u9fff]")
CHINESE = "zh-CN,zh;q=0.9,en;q=0.5"
ENGLISH = "en-US,en;q=0.9"
LATIN = re.compile(r"[A-Za-z]")


def new_session_form(account) -> dict:
    return {"account": account.pk, "project": account.projects.first().pk, "protocol": "rtmp", "driver_type": 1,
            "user_id": "zh-viewer", "stream_max_interval": 2000}


def marked(text: str) -> str:
    return f"<span data-console-words>{escape(text)}</span>"


def test_a_create_refused_to_a_chinese_request_is_audited_in_english_and_shown_in_each_language(
        client, sim, account, operator, admin_user, tmp_path):
    account.daily_minutes_cap = 0
    account.save()
    client.force_login(operator)
    reply = client.post(reverse("session_new"), new_session_form(account), HTTP_ACCEPT_LANGUAGE=CHINESE)
    assert "账号 Simulator 今日已用 0.0 会话分钟" in reply.content.decode()  # the requester's own language
    detail = AuditEntry.objects.get(ok=False).detail
    assert detail == ("account Simulator has used 0.0 of its 0 session-minutes for the day, all of the daily cap; "
                      "new sessions are refused until tomorrow unless an admin raises the cap")
    client.force_login(admin_user)
    log = client.get(reverse("audit_log"), HTTP_ACCEPT_LANGUAGE=CHINESE).content.decode()
    assert f"<td data-console-words>{escape(detail)}</td>" in log
    assert shown_by_the_page([detail], CHINESE, tmp_path) == [
        "账号 Simulator 今日已用 0.0 会话分钟，每日上限为 0，已用完每日上限；除非管理员提高上限，否则明天之前将拒绝新建会话"]
    assert shown_by_the_page([detail], ENGLISH, tmp_path) == [detail]


@pytest.fixture
def eager_tasks(django_capture_on_commit_callbacks):
    """Tasks run in the request that queued them, as with CELERY_TASK_ALWAYS_EAGER, in its language:
    within this, what a request queues after commit runs before the request is done."""
    celery_app.conf.task_always_eager = True
    yield lambda: django_capture_on_commit_callbacks(execute=True)
    celery_app.conf.task_always_eager = False


def test_a_session_failed_in_a_chinese_request_stores_english_and_each_page_shows_its_language(
        client, sim, account, operator, admin_user, eager_tasks, tmp_path):
    sim.control("POST", "faults", json={"endpoint": "statsession", "code": -111003, "count": 1})
    client.force_login(operator)
    # The first poll runs in the request, which speaks Chinese: the cloud's refusal fails the session.
    with translation.override("zh-hans"), eager_tasks():
        client.post(reverse("session_new"), new_session_form(account), HTTP_ACCEPT_LANGUAGE=CHINESE)
    session = LiveSession.objects.get()
    assert session.status == LiveSession.Status.FAILED
    said = re.search(r"\(the cloud said: (.*), code -111003\)$", session.error_message).group(1)
    assert session.error_message == explain_in_english(TcadhError(-111003, said))
    assert session.close_reason == session.error_message[:200] and not CJK.search(session.error_message)
    failed = session.events.get(data__status="failed").message
    assert failed == f"failed: {session.error_message}"

    page = client.get(reverse("session_detail", args=[session.pk]), HTTP_ACCEPT_LANGUAGE=CHINESE).content.decode()
    assert f">{escape(session.error_message)}</p>" in page and f'<span class="message">{escape(failed)}</span>' in page
    client.force_login(admin_user)
    history = client.get(reverse("audit_account_history", args=[account.pk]), HTTP_ACCEPT_LANGUAGE=CHINESE).content.decode()
    assert marked(session.error_message) in history
    with translation.override("zh-hans"):
        chinese = cloud_error_words(-111003, said)
    assert shown_by_the_page([session.error_message, failed], CHINESE, tmp_path) == [chinese, f"失败：{chinese}"]
    assert shown_by_the_page([session.error_message, failed], ENGLISH, tmp_path) == [session.error_message, failed]


def test_an_automatic_start_refused_while_a_request_speaks_chinese_is_stored_in_english(sim, account, operator,
                                                                                         tmp_path):
    session = wait_ready(create_session(operator, account, auto_start=True))
    sim.control("POST", "faults", json={"endpoint": "startsession", "code": 100008, "count": 1})
    with translation.override("zh-hans"):
        assert not services.session_start_automatically(session=session)
    message = session.events.get(kind=SessionEvent.Kind.ERROR).message
    assert message.startswith("automatic start failed: every concurrent session the account purchased is in use")
    said = re.search(r"\(the cloud said: (.*), code 100008\)$", message).group(1)
    with translation.override("zh-hans"):
        chinese = f"自动开始失败：{cloud_error_words(100008, said)}"
    assert shown_by_the_page([message], CHINESE, tmp_path) == [chinese]


def test_every_cloud_error_a_row_stores_each_page_shows_as_the_console_words_it(db, tmp_path):
    """static/js/cloud-words.js against sessions_app/cloud_errors.py: every code, the same words."""
    errors = [TcadhError(code, "raw cloud text") for code in CLOUD_ERROR_WORDS] + [
        TcadhError(123456, "something new"), TcadhError(100008, "")]
    stored = [explain_in_english(exc) for exc in errors]
    with translation.override("zh-hans"):
        chinese = [cloud_error_words(exc.code, exc.message) for exc in errors]
    assert not any(CJK.search(text) for text in stored)
    texts = stored + [f"failed: {text}" for text in stored]
    assert shown_by_the_page(texts, CHINESE, tmp_path) == chinese + [f"失败：{text}" for text in chinese]
    assert shown_by_the_page(texts, ENGLISH, tmp_path) == texts


# What the code stores besides the cloud's words, as it writes it; names and the cloud's wire
# names are quoted as they are.
QUOTED = ("olivia", "booth", "TextStart", "TextOver", "statsession", "UserId", "x9")
STORED = [
    *CLOSE_TYPE_WORDS.values(), close_type_words(None), "creation failed in the cloud",
    "closed in the cloud while preparing", "not ready after 2 minutes", "no longer known to the cloud",
    "closed in the cloud: absent from the cloud's list 2 times",
    "confirmed closed in the cloud: statsession: timed out with no interaction",
    "confirmed closed in the cloud: absent from the cloud's list 3 times",
    "closing in the cloud failed (attempt 2), will retry: x9", "orphan closed by olivia",
    "closing: orphan closed by olivia", "kiosk booth: the kiosk was switched off",
    "kiosk booth: outside the kiosk's daily window", "kiosk booth: the kiosk page stopped responding",
    "session failed", "automatic start failed: a preparing session cannot be started",
    "avatar TextStart", "avatar TextOver (clause 2)", "command channel closed: the command channel ended",
    "interrupted", "layout changed: position 0.5, vertical 0.0, zoom 1.0", "position 0.5, vertical 0.0, zoom 1.0",
    "code 100008: x9", "script 3 “olivia”, 5 cues", "script 3 “olivia”", "kiosk booth", "viewer olivia",
    "32000 bytes of audio",
]


def test_every_other_reason_event_and_detail_the_console_stores_each_page_shows_in_its_language(db, tmp_path):
    for english, shown in zip(STORED, shown_by_the_page(STORED, CHINESE, tmp_path)):
        rest = shown
        for name in QUOTED:
            rest = rest.replace(name, "")
        assert CJK.search(shown) and not LATIN.search(rest), (english, shown)
    assert shown_by_the_page(STORED, ENGLISH, tmp_path) == STORED


def test_the_admin_shows_the_consoles_words_in_the_page_language(client, sim, account, operator, admin_user,
                                                                 tmp_path):
    session = create_session(operator, account)
    speak = session.events.create(kind=SessionEvent.Kind.SPEAK, message="avatar TextStart (clause 2)",
                                  data={"speak_status": "TextStart", "seq": 2})
    session.events.create(kind=SessionEvent.Kind.LLM, message="idle", data={"req_id": "r1"})
    services.session_close(user=operator, session=session)
    AuditEntry.objects.create(action=AuditEntry.Action.DRIVE_TEXT, session=session, detail="closed by operator")
    client.force_login(admin_user)

    def admin_page(name, *args):
        response = client.get(reverse(f"admin:{name}", args=args), HTTP_ACCEPT_LANGUAGE=CHINESE)
        assert response.status_code == 200
        return response.content.decode()

    events = admin_page("sessions_app_sessionevent_changelist")
    assert marked(speak.message) in events and '<script src="/jsi18n/"></script>' in events
    assert re.search(r'<script type="module" src="[^"]*js/console-words\.js"></script>', events)
    # A bot's answer is its own words, whatever they say.
    assert '<td class="field-message">idle</td>' in events
    assert marked(speak.message) in admin_page("sessions_app_sessionevent_change", speak.pk)
    assert marked("closed by operator") in admin_page("sessions_app_livesession_changelist")
    assert marked("closed by operator") in admin_page("sessions_app_livesession_change", session.pk)
    audit = admin_page("sessions_app_auditentry_changelist")
    assert marked("closed by operator") in audit  # the close's reason
    assert '<td class="field-detail">closed by operator</td>' in audit  # what the operator had said
    assert shown_by_the_page([speak.message], CHINESE, tmp_path) == ["数字人 TextStart（第 2 句）"]
    assert shown_by_the_page([speak.message], ENGLISH, tmp_path) == [speak.message]


def test_the_kiosk_runs_admin_shows_why_a_run_ended_in_the_page_language(client, sim, account, operator, admin_user):
    session = create_session(operator, account)
    kiosk = KioskConfig.objects.create(slug="booth", name="Booth", project=account.projects.first())
    run = KioskRun.objects.create(kiosk=kiosk, session=session, page_id="p1", heartbeat_at=session.created_at,
                                  ended_at=session.created_at, end_reason="the kiosk page stopped responding")
    client.force_login(admin_user)
    for name, args in (("presentations_kioskrun_changelist", ()), ("presentations_kioskrun_change", (run.pk,))):
        page = client.get(reverse(f"admin:{name}", args=args), HTTP_ACCEPT_LANGUAGE=CHINESE).content.decode()
        assert marked(run.end_reason) in page, name
