"""Daily caps are enforced on the server: creates past them are refused before the cloud is asked,
and a live session at its cap is warned first, then closed."""

from datetime import timedelta

import pytest
from django.urls import reverse

from presentations.selectors import session_stage
from sessions_app import budget_sweep, budgets, selectors, services, sweeps
from sessions_app.models import AuditEntry, LiveSession, OperatorBudget

from .helpers import create_session, started_session
from .test_sweeps import calls, sim_session

pytestmark = pytest.mark.django_db


def spend(session: LiveSession, seconds: float) -> None:
    """Make a closed session have lasted `seconds` (still on the day it was created)."""
    LiveSession.objects.filter(pk=session.pk).update(cloud_closed_at=session.created_at + timedelta(seconds=seconds))


def aged(session: LiveSession, seconds: float) -> LiveSession:
    """A live session as if created `seconds` ago (its day's budget is then measured to now)."""
    LiveSession.objects.filter(pk=session.pk).update(created_at=session.created_at - timedelta(seconds=seconds))
    session.refresh_from_db()
    return session


def test_an_operator_past_their_cap_is_refused_before_the_cloud_is_asked(sim, account, operator):
    OperatorBudget.objects.create(user=operator, daily_minutes_cap=1)
    first = started_session(operator, account)
    services.session_close(user=operator, session=first)
    spend(first, 61)
    creates = calls(sim).get("createsession", 0)

    with pytest.raises(services.ServiceError) as refused:
        create_session(operator, account)
    assert "operator olivia has used 1.0 of their 1 session-minutes for the day, all of the daily cap" in str(refused.value)
    assert calls(sim).get("createsession", 0) == creates, "the cloud was asked (and billed) anyway"
    assert AuditEntry.objects.filter(action="create_from_project", ok=False, actor=operator).exists()


def test_an_account_cap_refuses_every_operator(sim, account, operator, admin_user, client):
    account.daily_minutes_cap = 2
    account.save()
    first = started_session(admin_user, account)
    services.session_close(user=admin_user, session=first)
    spend(first, 120)
    client.force_login(operator)
    assert "account Simulator has used 2.0 of its 2 session-minutes" in client.get(reverse("session_new")).content.decode()
    response = client.post(reverse("session_new"), {
        "account": account.pk, "project": account.projects.first().pk, "protocol": "rtmp", "driver_type": 1,
        "user_id": "late", "stream_max_interval": 2000})
    assert "The session was not created: account Simulator has used 2.0" in response.content.decode()
    assert LiveSession.objects.count() == 1


def test_under_the_cap_a_create_goes_ahead(sim, account, operator):
    OperatorBudget.objects.create(user=operator, daily_minutes_cap=5)
    account.daily_minutes_cap = 5
    account.save()
    assert create_session(operator, account).status in ("preparing", "ready")


def test_a_live_session_at_its_cap_is_warned_a_minute_ahead_then_closed(sim, account, operator, settings):
    settings.TCADH_SWEEP_IDLE_SECONDS = 10
    OperatorBudget.objects.create(user=operator, daily_minutes_cap=3)
    session = started_session(operator, account)

    aged(session, 60)  # two minutes left: nothing yet
    assert sweeps.sessions_idle_sweep().caps == budget_sweep.CapSweepResult()

    aged(session, 70)  # 50 s left: within a minute and a sweep period
    result = sweeps.sessions_idle_sweep()
    assert result.caps.warned == [session.pk] and result.caps.closed == []
    warning = session.events.get(data__cap_warning=True)
    assert warning.kind == "note" and warning.message.startswith("daily cap: closing in ")
    assert sweeps.sessions_idle_sweep().caps.warned == [], "warned once"
    # Pages opened after the warning are rendered with it: the session page and the presenter view.
    session.refresh_from_db()
    assert selectors.session_cap_warning(session)["id"] == warning.pk
    assert session_stage(session)["cap_warning"]["data"]["closes_in_seconds"] == warning.data["closes_in_seconds"]

    aged(session, 55)  # past the cap
    assert sweeps.sessions_idle_sweep().caps.closed == [session.pk]
    session.refresh_from_db()
    assert session.status == "closed" and session.cloud_closed_at is not None
    assert session.close_reason.startswith("daily cap reached: operator olivia has used")
    assert sim_session(sim, session.cloud_session_id)["status"] == 2
    assert AuditEntry.objects.filter(action="close_cap", session=session).exists()
    assert selectors.session_cap_warning(session) is None, "a closed session has nothing left to warn of"
    closing = session.events.get(message__startswith="closing: daily cap reached")
    assert closing.pk > warning.pk


def test_several_sessions_spend_one_budget_together(sim, account, operator):
    account.daily_minutes_cap = 4
    account.save()
    one = aged(started_session(operator, account), 60)
    two = aged(started_session(operator, account, user_id="second"), 60)
    # 2 of 4 minutes used, two sessions running: the cap comes in one minute, not two.
    budget = budgets.account_budget(account=account, day=budgets.day_start(one.created_at),
                                    now=one.created_at + timedelta(seconds=60))
    assert budget.draining == 2 and abs(budget.seconds_to_cap - 60) < 1
    assert sorted(sweeps.sessions_idle_sweep().caps.warned) == sorted([one.pk, two.pk])


def test_a_cap_lowered_below_what_was_used_warns_and_closes_at_once(sim, account, operator):
    session = aged(started_session(operator, account), 90)
    OperatorBudget.objects.create(user=operator, daily_minutes_cap=1)
    result = sweeps.sessions_idle_sweep().caps
    assert result.warned == [session.pk] and result.closed == [session.pk]
    messages = list(session.events.values_list("message", flat=True))
    warned = next(i for i, m in enumerate(messages) if m.startswith("daily cap: closing in 0 s"))
    assert warned < next(i for i, m in enumerate(messages) if m.startswith("closing: daily cap reached"))


def test_a_session_closed_by_someone_else_after_the_sweeps_look_is_not_closed_again(sim, account, operator):
    OperatorBudget.objects.create(user=operator, daily_minutes_cap=1)
    session = aged(started_session(operator, account), 90)
    budget = budgets.operator_budget(user=operator, day=budgets.day_start(session.created_at),
                                     now=session.created_at + timedelta(seconds=90))
    services.session_close(user=operator, session=session)
    assert budget_sweep.session_close_at_cap(session=session, budget=budget) is False
    assert not AuditEntry.objects.filter(action="close_cap").exists()


def test_orphans_are_left_to_the_orphan_timer(sim, account, operator):
    account.daily_minutes_cap = 1
    account.save()
    session = aged(started_session(operator, account), 120)
    LiveSession.objects.filter(pk=session.pk).update(is_orphan=True)
    assert sweeps.sessions_idle_sweep().caps == budget_sweep.CapSweepResult()


def test_the_usage_page_shows_the_caps_and_what_they_used(sim, account, operator, admin_user, client):
    OperatorBudget.objects.create(user=operator, daily_minutes_cap=30)
    account.daily_minutes_cap = 600
    account.save()
    client.force_login(admin_user)
    page = client.get(reverse("usage")).content.decode()
    assert "operator olivia" in page and "account Simulator" in page
    assert reverse("admin:sessions_app_operatorbudget_changelist") in page
