"""Session-minutes, concurrency, minutes saved and the cloud's quota errors, against the simulator."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.db.models import F
from django.utils import timezone

from sessions_app import cloud_errors, services, sweeps, usage, usage_rollup
from sessions_app.csv_cells import csv_cell
from sessions_app.latency import Latency
from sessions_app.models import LatencyDay, LiveSession, UsageDay, Utterance

from .helpers import create_session, started_session, wait_ready
from .test_sweeps import make_idle, outside_session, reconcile_twice, set_idle_limit, sim_session

pytestmark = pytest.mark.django_db


def this_month():
    return usage.month_bounds(timezone.localdate())


def operator_line(report: usage.UsageReport, username: str) -> usage.UsageLine:
    return next(line for line in report.by_operator if line.label == username)


# -- session-minutes ----------------------------------------------------------------------------

def test_the_minutes_of_a_closed_session_match_its_lifetime_in_the_cloud(sim, account, operator):
    session = started_session(operator, account)
    services.session_close(user=operator, session=session)
    session.refresh_from_db()
    assert session.cloud_closed_at is not None
    lifetime = (session.cloud_closed_at - session.created_at).total_seconds()

    since, until = this_month()
    later = timezone.now() + timedelta(minutes=5)
    report = usage.usage_report(since=since, until=until, now=later)
    line = operator_line(report, "olivia")
    assert line.sessions == 1
    assert abs(line.seconds - lifetime) < 1, "a confirmed close stops the meter, whenever the page is read"
    assert report.by_account[0].label == "Simulator" and abs(report.by_account[0].seconds - lifetime) < 1
    assert [day.key for day in report.by_day] == [timezone.localdate(session.created_at)]
    assert abs(report.total.seconds - lifetime) < 1


def test_an_unconfirmed_session_counts_until_now(sim, account, operator):
    session = started_session(operator, account)
    # Ended here, never confirmed by the cloud: it may still be billed.
    LiveSession.objects.filter(pk=session.pk).update(status="closed", closed_at=session.created_at)
    since, until = this_month()
    now = session.created_at + timedelta(minutes=3)
    line = operator_line(usage.usage_report(since=since, until=until, now=now), "olivia")
    assert abs(line.seconds - 180) < 1


def test_month_to_date_totals_every_account(sim, account, operator):
    session = started_session(operator, account)
    services.session_close(user=operator, session=session)
    session.refresh_from_db()
    lines = usage.month_to_date(now=session.cloud_closed_at + timedelta(seconds=1))
    assert [(line.label, line.sessions) for line in lines] == [("Simulator", 1)]
    assert abs(lines[0].seconds - (session.cloud_closed_at - session.created_at).total_seconds()) < 1


# -- minutes saved ------------------------------------------------------------------------------

def test_an_idle_close_saves_the_minutes_until_the_clouds_own_close(sim, account, operator):
    set_idle_limit(account, 90)
    session = started_session(operator, account)
    make_idle(session, 120)
    assert sweeps.sessions_idle_sweep().closed == [session.pk]
    session.refresh_from_db()
    expected = (session.last_activity_at + usage.CLOUD_NO_INTERACTION_CLOSE - session.cloud_closed_at).total_seconds()
    saved = {line.cause: line for line in usage.minutes_saved(since=session.created_at - timedelta(minutes=1),
                                                              until=timezone.now() + timedelta(seconds=1))}
    assert saved["idle sweep"].sessions == 1
    assert abs(saved["idle sweep"].seconds - expected) < 1
    assert saved["daily cap"].sessions == 0 and saved["orphan close"].sessions == 0


def test_an_operators_own_close_saves_nothing(sim, account, operator):
    session = started_session(operator, account)
    services.session_close(user=operator, session=session)
    saved = usage.minutes_saved(since=session.created_at, until=timezone.now() + timedelta(seconds=1))
    assert sum(line.sessions for line in saved) == 0


# -- concurrency --------------------------------------------------------------------------------

def test_the_dashboard_shows_each_accounts_concurrency_in_use_against_purchased(sim, account, operator, client):
    wait_ready(create_session(operator, account))
    client.force_login(operator)
    page = client.get(reverse("dashboard")).content.decode()
    assert "Concurrency" in page
    held = {h.account.name: h for h in usage.concurrency_now()}["Simulator"]
    assert (held.in_use, held.limit, held.free) == (1, 2, 1)
    # What the card is redrawn from as sessions open and close.
    figures = client.get(reverse("dashboard_concurrency")).json()["accounts"]
    assert figures == [{"account": "Simulator", "in_use": 1, "unconfirmed": 0, "limit": 2, "free": 1}]
    client.logout()
    assert client.get(reverse("dashboard_concurrency")).status_code == 302


def test_the_new_session_form_says_when_the_account_has_no_free_concurrency(sim, account, operator, client):
    client.force_login(operator)
    assert "purchased concurrent sessions are in use" not in client.get(reverse("session_new")).content.decode()
    create_session(operator, account)
    create_session(operator, account)
    page = client.get(reverse("session_new")).content.decode()
    assert "Account Simulator: all 2 purchased concurrent sessions are in use" in page


def test_the_clouds_concurrency_refusal_is_told_in_plain_words(sim, account, operator, client):
    create_session(operator, account)
    create_session(operator, account)
    client.force_login(operator)
    response = client.post(reverse("session_new"), {
        "account": account.pk, "project": account.projects.first().pk, "protocol": "rtmp", "driver_type": 1,
        "user_id": "third", "stream_max_interval": 2000})
    page = response.content.decode()
    assert "every concurrent session the account purchased is in use" in page
    assert "close a live session on the Dashboard" in page and "code 100008" in page


@pytest.mark.parametrize("code, words", [
    (100014, "buy or renew session-interaction concurrency"),
    (-101001, "no rendering capacity free right now: try again in a minute"),
    (100015, "this avatar has expired: renew it"),
    (110021, "top up the TRTC account"),
])
def test_quota_errors_of_the_cloud_say_what_to_do(sim, account, operator, code, words):
    sim.control("POST", "faults", json={"endpoint": "createsession", "code": code, "count": 1})
    with pytest.raises(services.ServiceError) as refused:
        create_session(operator, account)
    assert words in str(refused.value) and f"code {code}" in str(refused.value)


def test_every_documented_cloud_code_has_words_and_unknown_ones_keep_the_clouds():
    documented = {-101000, -101001, -101002, -111001, -111002, -111003, -111004, -111005, 100001, 100005,
                  100008, 100012, 100014, 100015, 110013, 110014, 110015, 110016, 110018, 110021, 110022}
    assert set(cloud_errors.CLOUD_ERROR_WORDS) == documented
    assert cloud_errors.cloud_error_words(424242, "odd") == "the cloud refused: odd (code 424242)"


# -- CSV ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["=HYPERLINK(\"x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_csv_cells_that_would_be_formulas_become_text(text):
    assert csv_cell(text) == "'" + text


def test_csv_cells_keep_numbers_and_plain_text():
    assert csv_cell(-5) == -5 and csv_cell("a=b") == "a=b" and csv_cell(None) == ""


def test_the_usage_csv_streams_neutralised_names(sim, account, auditor, client):
    sly = User.objects.create_user(username="-1+1", password="pw")
    session = started_session(sly, account)
    services.session_close(user=sly, session=session)
    client.force_login(auditor)
    response = client.get(reverse("usage_export"))
    assert response.streaming
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == usage.CSV_HEADER
    assert rows[1][1:5] == ["Simulator", account.projects.first().name, "(no asset)", "'-1+1"]
    assert rows[1][5] == "1"


def test_the_audit_csv_neutralises_text_too(sim, account, auditor, client):
    session = started_session(auditor, account)
    services.session_close(user=auditor, session=session, reason="=cmd|' /C calc'!A0")
    client.force_login(auditor)
    body = b"".join(client.get(reverse("audit_account_export", args=[account.pk])).streaming_content).decode()
    assert "'=cmd|" in body


# -- the page -----------------------------------------------------------------------------------

def test_the_usage_page_is_for_auditors_and_admins(sim, account, operator, auditor, admin_user, client):
    client.force_login(operator)
    assert client.get(reverse("usage")).status_code == 403
    assert "Usage</a>" not in client.get(reverse("dashboard")).content.decode()
    for user in (auditor, admin_user):
        client.force_login(user)
        page = client.get(reverse("usage"))
        assert page.status_code == 200
        assert "<svg" in page.content.decode() and "Minutes saved this month" in page.content.decode()


def test_a_bad_month_shows_this_month_with_a_message(sim, account, auditor, client):
    client.force_login(auditor)
    page = client.get(reverse("usage"), {"month": "<b>never</b>"}).content.decode()
    assert "is not a month like" in page and "<b>never" not in page
    assert client.get(reverse("usage"), {"month": "9999-12"}).status_code == 200


def test_the_usage_page_names_operators_as_text(sim, account, auditor, client):
    sly = User.objects.create_user(username="<i>x", password="pw")
    started_session(sly, account)
    client.force_login(auditor)
    page = client.get(reverse("usage")).content.decode()
    assert "&lt;i&gt;x" in page and "<i>x" not in page


def test_a_session_is_counted_from_its_creation_while_it_prepares(sim, account, operator):
    session = create_session(operator, account)
    assert sim_session(sim, session.cloud_session_id)["status"] in (1, 3)
    since, until = this_month()
    line = operator_line(usage.usage_report(since=since, until=until, now=session.created_at + timedelta(seconds=30)),
                         "olivia")
    assert abs(line.seconds - 30) < 1


# -- the rollup of finished days ----------------------------------------------------------------

def yesterdays(session: LiveSession, lasted: float) -> LiveSession:
    """The session as if created yesterday and confirmed closed `lasted` seconds later."""
    created = session.created_at - timedelta(days=1)
    LiveSession.objects.filter(pk=session.pk).update(created_at=created,
                                                     cloud_closed_at=created + timedelta(seconds=lasted))
    session.refresh_from_db()
    return session


def two_days(session: LiveSession, now) -> usage.UsageReport:
    since = usage.day_start(session.created_at)
    return usage.usage_report(since=since, until=since + timedelta(days=2), now=now)


def test_rolling_up_a_finished_day_keeps_every_figure(sim, account, operator, auditor, client):
    old = yesterdays(started_session(operator, account), 125)
    services.session_close(user=operator, session=old)
    today = started_session(operator, account, user_id="today")
    now = timezone.now() + timedelta(seconds=30)
    before = two_days(old, now)

    assert usage_rollup.usage_roll_up(now=now) == 1
    assert LiveSession.objects.get(pk=old.pk).rolled_up and not LiveSession.objects.get(pk=today.pk).rolled_up
    assert UsageDay.objects.get().seconds == 125
    after = two_days(old, now)
    assert [(d.key, d.sessions, round(d.seconds, 3)) for d in after.by_day] == \
        [(d.key, d.sessions, round(d.seconds, 3)) for d in before.by_day]
    assert [(d.label, round(d.seconds, 3)) for d in after.by_operator] == \
        [(d.label, round(d.seconds, 3)) for d in before.by_operator]
    assert usage_rollup.usage_roll_up(now=now) == 0, "rolled up once"
    client.force_login(auditor)
    since = usage.day_start(old.created_at)
    body = b"".join(client.get(reverse("usage_export"), {"month": f"{since:%Y-%m}"}).streaming_content).decode()
    assert f"{timezone.localdate(old.created_at).isoformat()},Simulator" in body and ",1,2.08" in body


def test_a_rolled_up_session_the_cloud_lists_again_counts_until_now_once(sim, account, operator):
    old = started_session(operator, account)
    services.session_close(user=operator, session=old)
    old = yesterdays(old, 60)
    assert usage_rollup.usage_roll_up() == 1
    assert services.session_reopen_cloud_close(session=old)
    old.refresh_from_db()
    assert not old.rolled_up and old.cloud_closed_at is None
    now = timezone.now()
    line = operator_line(two_days(old, now), "olivia")
    assert line.sessions == 1
    assert abs(line.seconds - (now - old.created_at).total_seconds()) < 1


def test_a_batch_partly_claimed_by_another_roll_up_is_left_to_it(sim, account, operator):
    one = yesterdays(started_session(operator, account), 60)
    two = yesterdays(started_session(operator, account, user_id="two"), 60)
    LiveSession.objects.filter(pk=one.pk).update(rolled_up=True)
    with pytest.raises(usage_rollup._Raced):
        usage_rollup._roll_up_batch([one.pk, two.pk])
    assert not UsageDay.objects.exists() and not LiveSession.objects.get(pk=two.pk).rolled_up


def test_an_operator_closing_an_orphan_counts_as_an_orphan_close(sim, account, operator):
    outside_session(sim, "outside-tool")
    orphan = LiveSession.objects.get(pk=reconcile_twice(account).orphaned[0])
    sweeps.orphan_close(user=operator, session=orphan)
    saved = {line.cause: line for line in usage.minutes_saved(since=orphan.created_at - timedelta(minutes=1),
                                                              until=timezone.now() + timedelta(seconds=1))}
    assert saved["orphan close"].sessions == 1 and saved["orphan close"].seconds > 0


def test_minutes_saved_are_the_same_before_and_after_their_day_is_rolled_up(sim, account, operator):
    set_idle_limit(account, 90)
    session = started_session(operator, account)
    make_idle(session, 120)
    assert sweeps.sessions_idle_sweep().closed == [session.pk]
    day = timedelta(days=1)
    LiveSession.objects.filter(pk=session.pk).update(
        created_at=F("created_at") - day, started_at=F("started_at") - day,
        last_activity_at=F("last_activity_at") - day, cloud_closed_at=F("cloud_closed_at") - day)
    session.refresh_from_db()
    since = usage.day_start(session.created_at)

    def saved():
        return [(line.cause, line.sessions, round(line.seconds, 3))
                for line in usage.minutes_saved(since=since, until=since + 2 * day)]

    before = saved()
    assert before[0][:2] == ("idle sweep", 1) and before[0][2] > 0
    assert usage_rollup.usage_roll_up() == 1
    assert saved() == before
    services.session_reopen_cloud_close(session=session)
    assert saved()[0][1] == 0, "a session billing again has saved nothing yet"


def test_month_to_date_read_off_this_months_report_matches_its_own_query(sim, account, operator):
    started_session(operator, account)
    now = timezone.now()
    since, until = usage.month_bounds(timezone.localdate(now))
    report = usage.usage_report(since=since, until=until, now=now)
    own = usage.month_to_date(now=now)
    assert [(line.label, line.sessions, round(line.seconds, 3)) for line in usage.month_to_date(now=now, report=report)] \
        == [(line.label, line.sessions, round(line.seconds, 3)) for line in own]
    assert own[0].sessions == 1


# -- start latency ------------------------------------------------------------------------------

def spoken(session: LiveSession, *starts: int | None) -> None:
    for number, start_ms in enumerate(starts):
        Utterance.objects.create(session=session, req_id=f"r{session.pk}-{number}", kind=Utterance.Kind.TEXT,
                                 text="Hello.", created_by=session.created_by, start_ms=start_ms)


def latencies(report: usage.UsageReport) -> list:
    return [(line.key, line.latency) for line in [report.total, *report.by_account, *report.by_day]]


def test_start_latency_percentiles_by_day_and_account_stay_the_same_once_rolled_up(sim, account, operator):
    old = started_session(operator, account)
    spoken(old, 180, 240, None, 1234)
    services.session_close(user=operator, session=old)
    old = yesterdays(old, 60)
    today = started_session(operator, account, user_id="today")
    spoken(today, 95)
    now = timezone.now()
    before = two_days(old, now)
    # Buckets are 10 ms wide below a second and 50 ms to five: 1234 ms counts as 1250.
    assert before.by_account[0].latency == before.total.latency == Latency(count=4, p50=180, p95=1250)
    day_lines = {line.key: line.latency for line in before.by_day}
    assert day_lines[timezone.localdate(old.created_at)] == Latency(count=3, p50=240, p95=1250)

    assert usage_rollup.usage_roll_up(now=now) == 1
    assert sum(LatencyDay.objects.values_list("utterances", flat=True)) == 3
    assert latencies(two_days(old, now)) == latencies(before)

    assert services.session_reopen_cloud_close(session=old)
    assert latencies(two_days(old, now)) == latencies(before), "taken back out of the rollup, counted once"


def test_the_usage_page_shows_start_latency_by_day_and_account(sim, account, operator, auditor, client):
    session = started_session(operator, account)
    spoken(session, 300, 420)
    client.force_login(auditor)
    html = client.get(reverse("usage")).content.decode()
    by_account = html.split('aria-label="Session-minutes by account"', 1)[1].split("</table>", 1)[0]
    assert "300 / 420 ms" in by_account
    by_operator = html.split('aria-label="Session-minutes by operator"', 1)[1].split("</table>", 1)[0]
    assert "Started speaking after" not in by_operator
    assert "Started speaking after 300 ms (median), 420 ms (p95), of 2 utterances." in " ".join(html.split())
