"""The console in the viewer's language: Accept-Language, the header's switcher, the admin, the
JavaScript catalog under the CSP, the console's own words for the cloud's error codes, and dates."""

import json
import re
from datetime import datetime

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import capfirst

from presentations.models import Cue, DemoScript, KioskConfig, KioskRun
from sessions_app import selectors
from sessions_app.cloud_errors import CLOUD_ERROR_WORDS, cloud_error_words
from sessions_app.models import AuditEntry, LiveSession, UsageDay

from .helpers import create_session, wait_ready

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_accept_language_zh_cn_gives_the_chinese_dashboard(client, operator):
    client.force_login(operator)
    page = client.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9,en;q=0.5").content.decode()
    assert '<html lang="zh-hans">' in page
    assert "活动会话" in page and "新建会话" in page and "退出登录" in page
    assert "Live sessions" not in page and "Log out" not in page


def test_english_stays_the_default(client, operator):
    client.force_login(operator)
    page = client.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9").content.decode()
    assert '<html lang="en">' in page and "Live sessions" in page and not CJK.search(page.split("<main>")[1])


def test_the_switcher_remembers_the_choice_over_the_browser_language(client, operator):
    client.force_login(operator)
    dashboard = reverse("dashboard")
    switcher = client.get(dashboard, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'action="{reverse("set_language")}"' in switcher and 'value="zh-hans" lang="zh-hans"' in switcher
    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": dashboard},
                           HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302 and response.url == dashboard
    page = client.get(dashboard, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "活动会话" in page and 'value="zh-hans" lang="zh-hans" aria-current="true"' in page
    client.post(reverse("set_language"), {"language": "en", "next": dashboard}, HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert "Live sessions" in client.get(dashboard, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()


def test_the_switcher_is_on_the_login_page_and_never_redirects_off_site(client, db):
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "登录" in page and 'name="language"' in page
    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": "https://evil.example/"})
    assert response.status_code == 302 and not response.url.startswith("https://evil.example")


def test_the_admin_follows_the_language(client, admin_user):
    client.force_login(admin_user)
    page = client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "站点管理" in page  # Django's own zh_Hans catalogue: "Site administration"


def test_the_javascript_catalog_is_a_same_origin_script_the_csp_allows(client, db):
    response = client.get(reverse("javascript-catalog"), HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/javascript")
    body = response.content.decode()
    # The catalogue is JSON inside the script: non-ASCII text is \u-escaped.
    assert json.dumps("数字人正在准备…")[1:-1] in body and "globals.gettext" in body
    page = client.get(reverse("login"))
    assert f'<script src="{reverse("javascript-catalog")}"></script>' in page.content.decode()
    policy = page["Content-Security-Policy"]
    assert re.search(r"script-src 'self'(;|$)", policy) and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]


def test_every_cloud_code_has_console_words_in_both_languages():
    for code in CLOUD_ERROR_WORDS:
        english = cloud_error_words(code, "raw cloud text")
        with translation.override("zh-hans"):
            chinese = cloud_error_words(code, "raw cloud text")
        assert f"code {code}" in english and f"错误码 {code}" in chinese and "raw cloud text" in chinese
        assert CJK.search(chinese.replace("raw cloud text", "")) and not CJK.search(english)


def test_an_unknown_cloud_code_keeps_the_clouds_own_message():
    with translation.override("zh-hans"):
        assert cloud_error_words(123456, "something new") == "云端拒绝：something new（错误码 123456）"


def test_a_refused_start_is_explained_in_chinese(client, sim, account, operator):
    session = wait_ready(create_session(operator, account, auto_start=False))
    sim.control("POST", "faults", json={"endpoint": "startsession", "code": 100008, "count": 1})
    client.force_login(operator)
    page = client.post(reverse("session_start", args=[session.pk]), follow=True,
                       HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "账号购买的并发会话已全部占用：请在仪表盘关闭一个活动会话，或请在数字人控制台（资源管理）购买或续费会话互动并发" in page
    session.refresh_from_db()
    assert session.status == LiveSession.Status.READY


@pytest.mark.parametrize("status, word", [("ready", "已就绪"), ("started", "已开始"), ("closed", "已关闭")])
def test_a_session_status_is_shown_in_the_viewers_language(client, sim, account, operator, status, word):
    session = wait_ready(create_session(operator, account, auto_start=False))
    LiveSession.objects.filter(pk=session.pk).update(status=status)
    client.force_login(operator)
    page = client.get(reverse("session_detail", args=[session.pk]), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert f'id="session-status">{word}</span>' in page
    english = client.get(reverse("session_detail", args=[session.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'id="session-status">{status}</span>' in english


# Cloud and wire names, written the same in every language.
UNTRANSLATED_NAMES = {"ID", "UIN", "User Agent", "HTTP Accept", "appkey", "Accesstoken", "SessionId", "UserId", "ReqId", "VirtualmanProjectId",
                      "AssetVirtualmanKey"}


def test_every_model_the_admin_shows_is_named_in_chinese(admin_user):
    for model, model_admin in admin.site._registry.items():
        # The console's own models, and those of a package whose Chinese the console ships (axes).
        if model._meta.app_label not in ("sessions_app", "presentations", "axes"):
            continue
        excluded = set(model_admin.exclude or ())
        with translation.override("zh-hans"):
            names = [str(model._meta.verbose_name), str(model._meta.verbose_name_plural)] + [
                str(field.verbose_name) for field in model._meta.get_fields()
                if field.concrete and field.editable and field.name not in excluded]
        assert [name for name in names if not CJK.search(name) and name not in UNTRANSLATED_NAMES] == [], model


def test_the_admin_lists_in_chinese(client, sim, account, operator, admin_user):
    session = create_session(operator, account)
    session.utterances.create(req_id="r1", kind="text", text="你好", created_by=operator, state="interrupted")
    client.force_login(admin_user)
    utterances = client.get(reverse("admin:sessions_app_utterance_changelist"), HTTP_ACCEPT_LANGUAGE="zh-CN")
    page = utterances.content.decode()
    # The column headings, the filter's states and the model's own name.
    assert "创建者" in page and "排队中" in page and "已打断" in page and "发言" in page
    accounts = client.get(reverse("admin:sessions_app_account_changelist"), HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert "Accesstoken" in accounts.content.decode() and "并发上限" in accounts.content.decode()
    added = client.get(reverse("admin:sessions_app_account_add"), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "该账号每天可用的会话分钟数" in added and "孤立会话自动关闭时间（分钟）" in added


def test_the_presentations_admin_is_in_chinese(client, sim, account, admin_user):
    kiosk = KioskConfig.objects.create(slug="booth", name="Booth", project=account.projects.first())
    script = DemoScript.objects.create(name="Tour")
    script.cues.create(position=1, kind=Cue.Kind.PAUSE, pause_seconds=2)
    client.force_login(admin_user)
    pages = {name: client.get(reverse(f"admin:presentations_{name}", args=args), HTTP_ACCEPT_LANGUAGE="zh-CN")
             .content.decode() for name, args in (("kioskconfig_changelist", ()), ("kioskconfig_change", (kiosk.pk,)),
                                                  ("demoscript_change", (script.pk,)), ("kioskrun_changelist", ()))}
    assert "招揽间隔（空闲分钟数）" in pages["kioskconfig_change"] and "地址（slug）" in pages["kioskconfig_change"]
    assert "演示者备注" in pages["demoscript_change"] and "停顿" in pages["demoscript_change"]
    assert "展台运行记录" in pages["kioskrun_changelist"]
    with translation.override("en"):
        english = {capfirst(str(name)) for model in (KioskConfig, KioskRun, DemoScript, Cue)
                   for name in [model._meta.verbose_name, model._meta.verbose_name_plural]
                   + [field.verbose_name for field in model._meta.get_fields() if field.concrete]}
    assert "Attract every (minutes idle)" in english and "Kiosk runs" in english
    for name, page in pages.items():
        shown = [word for word in english if re.search(rf">\s*{re.escape(word)}:?\s*<", page)]
        assert shown == [], name


def test_dates_are_written_as_the_viewers_language_writes_them(client, admin_user):
    entry = AuditEntry.objects.create(action=AuditEntry.Action.CLOSE, detail="closed by operator")
    AuditEntry.objects.filter(pk=entry.pk).update(created_at=timezone.make_aware(datetime(2026, 1, 31, 9, 30, 15)))
    client.force_login(admin_user)
    chinese = client.get(reverse("audit_log"), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    english = client.get(reverse("audit_log"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert ">2026年1月31日 09:30:15</time>" in chinese and ">Jan. 31, 2026, 09:30:15</time>" in english
    # The close's reason is the console's English, marked for the page to put in its language.
    assert "<td data-console-words>closed by operator</td>" in chinese


def test_the_usage_days_are_written_in_the_viewers_language(client, sim, account, admin_user):
    today = timezone.localdate()
    UsageDay.objects.create(day=today, account=account, sessions=1, seconds=150)
    client.force_login(admin_user)
    page = client.get(reverse("usage"), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    day = f"{today.year}年{today.month}月{today.day}日"
    assert f'<th scope="row">{day}</th>' in page and f"<title>{day}：2.50 会话分钟</title>" in page
    # The export stays machine-readable.
    body = b"".join(client.get(reverse("usage_export"), {"month": f"{today:%Y-%m}"},
                               HTTP_ACCEPT_LANGUAGE="zh-CN").streaming_content).decode()
    assert f"\r\n{today.isoformat()}," in body


def test_what_every_viewer_is_told_of_a_session_is_in_english(sim, account, operator):
    with translation.override("zh-hans"):
        session = create_session(operator, account)
        summary = selectors.session_summary(session)
        assert session.source_label.startswith("项目 ")
    project = account.projects.first()
    assert summary["source"] == f"project {project}"
    created = session.events.get()
    assert created.message == f"created from project {project}, preparing"
