"""What a session cost, seen on the Usage page, and a daily cap that refuses and closes.

Runs its own console with a 2 s idle sweep, so a cap closes a session within seconds of reaching it.
"""

import json
import re
import time

import pytest
from playwright.sync_api import expect

from .conftest import Console, log_in, screenshot

SWEEP_SECONDS = "2"
# What the capped operator's earlier sessions of the day used before the live one starts: the live
# session then reaches a one-minute cap in 15 s, time enough (three times what it takes on a
# loaded machine) to open and reload the presenter view on its warning.
SPENT_SECONDS = 45
SPEND = """
from datetime import timedelta
from django.contrib.auth.models import User
from django.utils import timezone
from sessions_app.budgets import operator_budget
from sessions_app.models import Account, LiveSession
from sessions_app.usage import day_start

now = timezone.now()
user = User.objects.get(username={username!r})
short = {seconds!r} - operator_budget(user=user, day=day_start(now), now=now).used_seconds
if short > 0:
    # Not before midnight: what is left then is spent by the live session itself.
    created = max(now - timedelta(seconds=short), day_start(now))
    account = Account.objects.get()
    earlier = LiveSession.objects.create(
        account=account, project=account.projects.first(), created_by=user, user_id="earlier-today",
        cloud_session_id="earlier-today", protocol="rtmp", driver_type=1, status="closed", close_reason="operator")
    LiveSession.objects.filter(pk=earlier.pk).update(created_at=created, closed_at=now, cloud_closed_at=now)
"""


@pytest.fixture(scope="module")
def usage_console(tmp_path_factory, migrated_database):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TCADH_SWEEP_IDLE_SECONDS", SWEEP_SECONDS)
        running = Console(tmp_path_factory.mktemp("usage-console"), migrated_database)
    yield running
    running.terminate()  # waited for at the end of the run, with any other (consoles_stop_together)


def session_times(console, pk: int) -> dict:
    code = ("import json; from sessions_app.models import LiveSession as S; s = S.objects.get(pk=%d); "
            "print(json.dumps({'created': s.created_at.timestamp(), "
            "'confirmed': s.cloud_closed_at and s.cloud_closed_at.timestamp()}))" % pk)
    return json.loads(console.manage("shell", "-c", code).strip().splitlines()[-1])


def confirmed_lifetime(console, pk: int, timeout: float = 30.0) -> float:
    """Seconds from creation to the cloud's confirmation, once the cloud confirmed the close."""
    deadline = time.monotonic() + timeout
    while True:
        times = session_times(console, pk)
        if times["confirmed"]:
            return times["confirmed"] - times["created"]
        assert time.monotonic() < deadline, "the cloud never confirmed the close"


def demo_script(console) -> int:
    """A one-cue script to present, made in the console's own database."""
    code = ("from presentations.models import Cue, DemoScript as D; d = D.objects.create(name='Cap demo'); "
            "Cue.objects.create(script=d, position=0, text='Hello.'); print(d.pk)")
    return int(console.manage("shell", "-c", code).strip().splitlines()[-1])


def spend_today(console, username: str, seconds: float) -> None:
    """Bring what `username`'s sessions used today up to `seconds`, with one closed session."""
    console.manage("shell", "-c", SPEND.format(username=username, seconds=seconds))


def create_session(page, console) -> None:
    page.goto(f"{console.url}/sessions/new/")
    page.get_by_label("Project").select_option(index=1)
    page.get_by_role("button", name="Create session").click()


def session_pk(page) -> int:
    return int(re.search(r"/sessions/(\d+)/", page.url).group(1))


def test_a_closed_sessions_minutes_on_the_usage_page_match_its_lifetime(usage_console, page):
    log_in(page, usage_console)
    create_session(page, usage_console)
    status = page.get_by_role("status")
    expect(status).to_have_text("started", timeout=30_000)
    pk = session_pk(page)
    page.get_by_role("button", name="Close session").click()
    expect(status).to_have_text("closed", timeout=15_000)
    lifetime = confirmed_lifetime(usage_console, pk)

    page.get_by_role("link", name="Usage").click()
    row = page.get_by_role("table", name="Session-minutes by operator").get_by_role("row", name=re.compile("^admin"))
    expect(row).to_be_visible()
    minutes = float(row.get_by_role("cell").nth(1).inner_text())
    assert abs(minutes * 60 - lifetime) < 1, (minutes, lifetime)
    # The meter stopped at the confirmation: a later look shows the same.
    page.reload()
    assert float(row.get_by_role("cell").nth(1).inner_text()) == minutes


def test_a_daily_cap_warns_then_closes_a_live_session_and_refuses_the_next(usage_console, page):
    log_in(page, usage_console)
    page.goto(f"{usage_console.url}/admin/sessions_app/operatorbudget/add/")
    page.get_by_label("User").select_option(label="admin")
    page.get_by_label("Daily cap (session-minutes)").fill("1")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("was added successfully")).to_be_visible()
    script = demo_script(usage_console)
    spend_today(usage_console, "admin", SPENT_SECONDS)

    create_session(page, usage_console)
    status = page.get_by_role("status")
    expect(status).to_have_text(re.compile("preparing|ready|started"))
    presenter = page.context.new_page()
    presenter.goto(f"{usage_console.url}/present/sessions/{session_pk(page)}/presenter/?script={script}")
    history = page.get_by_role("list", name="Session history")
    expect(history).to_contain_text("daily cap: closing in", timeout=30_000)
    counting_down = re.compile(r"The daily cap closes this session in \d+ s\.")
    for viewer in (page, presenter):
        expect(viewer.locator("#cap-notice")).to_have_text(counting_down)
    # A page opened after the warning shows it too.
    presenter.reload()
    expect(presenter.locator("#cap-notice")).to_have_text(counting_down)
    expect(status).to_have_text("closed", timeout=120_000)
    expect(page.locator("#cap-notice")).to_be_hidden()
    presenter.close()
    expect(history).to_contain_text("closing: daily cap reached: operator admin has used")
    messages = history.get_by_role("listitem").all_inner_texts()
    warned = next(i for i, text in enumerate(messages) if "daily cap: closing in" in text)
    assert warned < next(i for i, text in enumerate(messages) if "daily cap reached" in text)

    page.goto(f"{usage_console.url}/sessions/new/")
    notice = page.get_by_role("region", name="Before you create")
    expect(notice).to_contain_text("operator admin has used")
    page.get_by_label("Project").select_option(index=1)
    page.get_by_role("button", name="Create session").click()
    expect(page.get_by_role("alert")).to_contain_text("The session was not created: operator admin has used")
    assert page.url.endswith("/sessions/new/")

    page.get_by_role("link", name="Usage").click()
    caps = page.get_by_role("table", name="Daily caps")
    expect(caps.get_by_role("row", name=re.compile("^operator admin"))).to_be_visible()
    saved = page.get_by_role("table", name="Minutes saved").get_by_role("row", name=re.compile("^daily cap"))
    expect(saved.get_by_role("cell").first).to_have_text("1")
    screenshot(page, "usage")
