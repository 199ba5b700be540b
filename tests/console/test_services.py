"""The session lifecycle services against the running simulator."""

import pytest

from sessions_app import services
from sessions_app.models import AuditEntry, LiveSession, SessionEvent

from .helpers import create_session, started_session, wait_ready

Status = LiveSession.Status


def sim_state(sim, session):
    return sim.control("GET", f"sessions/{session.cloud_session_id}")


def test_create_poll_start_say_close(sim, account, operator):
    session = create_session(operator, account)
    assert session.status == Status.PREPARING
    assert session.created_by == operator

    wait_ready(session)
    assert session.status == Status.READY
    assert session.play_stream_addr.endswith(f"/live/{session.cloud_session_id}")

    services.session_start(user=operator, session=session)
    session.refresh_from_db()
    assert session.status == Status.STARTED and session.started_at is not None

    assert services.session_close(user=operator, session=session) is True
    session.refresh_from_db()
    assert session.status == Status.CLOSED and session.close_reason == "closed by operator"
    assert sim_state(sim, session)["status"] == 2

    actions = list(AuditEntry.objects.filter(session=session).order_by("id").values_list("action", flat=True))
    assert actions == ["create_from_project", "start", "close"]
    statuses = [e.data.get("status") for e in SessionEvent.objects.filter(session=session, kind="status")]
    assert statuses == ["preparing", "ready", "started", "closing", "closed"]


def test_create_from_asset(sim, account, operator):
    session = create_session(operator, account, project=None, asset=account.assets.first())
    wait_ready(session)
    assert session.status == Status.READY
    assert session.source_label.startswith("asset ")


def test_closing_twice_is_a_no_op(sim, account, operator):
    session = wait_ready(create_session(operator, account))
    assert services.session_close(user=operator, session=session) is True
    calls_before = sim.control("GET", "calls")["counts"].get("closesession", 0)
    assert services.session_close(user=operator, session=session) is False
    assert sim.control("GET", "calls")["counts"].get("closesession", 0) == calls_before
    assert AuditEntry.objects.filter(session=session, action="close").count() == 1


def test_starting_a_closed_session_is_refused(sim, account, operator):
    session = wait_ready(create_session(operator, account))
    services.session_close(user=operator, session=session)
    with pytest.raises(services.ServiceError, match="closed session cannot be started"):
        services.session_start(user=operator, session=session)
    session.refresh_from_db()
    assert session.status == Status.CLOSED


def test_cloud_refusal_on_create_is_explained_and_audited(sim, account, operator):
    sim.control("POST", "faults", json={"endpoint": "createsession", "code": 100008, "count": 1})
    with pytest.raises(services.ServiceError, match="100008"):
        create_session(operator, account)
    assert not LiveSession.objects.exists()
    entry = AuditEntry.objects.get()
    assert entry.ok is False and entry.action == "create_from_project" and "100008" in entry.detail


@pytest.mark.parametrize("wait_ready_first", [True, False], ids=["ready", "preparing"])
def test_a_failed_close_keeps_the_session_closing_until_a_retry_closes_it(sim, account, operator, wait_ready_first):
    session = create_session(operator, account)
    if wait_ready_first:
        session = wait_ready(session)
    sim.control("POST", "faults", json={"endpoint": "closesession", "code": -101000, "count": 1})
    with pytest.raises(services.ServiceError, match="keeps trying"):
        services.session_close(user=operator, session=session)
    session.refresh_from_db()
    # Never handed back to ready: that stopped a preparing session's polling and its auto start.
    assert session.status == Status.CLOSING and session.awaits_cloud_close
    assert services.session_close(user=operator, session=session) is False, "already being closed"
    assert services.session_claim_close_attempt(session=session, now=session.next_close_at)
    assert services.session_close_in_cloud(session=session) is True
    session.refresh_from_db()
    assert session.status == Status.CLOSED and session.cloud_closed_at is not None
    assert sim_state(sim, session)["status"] == 2


def test_session_not_ready_in_time_is_failed_and_closed_in_the_cloud(sim, account, operator, settings):
    settings.TCADH_READY_TIMEOUT_SECONDS = 0
    session = create_session(operator, account)
    assert services.session_refresh_preparing(session=session) is services.Preparing.ENDED
    session.refresh_from_db()
    assert session.status == Status.FAILED
    assert session.close_reason == "not ready after 0 minutes"
    assert sim_state(sim, session)["status"] == 2
    assert session.cloud_closed_at is not None


def test_layout_needs_a_started_session(sim, account, operator):
    session = wait_ready(create_session(operator, account))
    config = services.SpaceConfig(position=0.1, position_vertical=0.0, zoom=1.2)
    with pytest.raises(services.ServiceError, match="start it first"):
        services.session_update_config(user=operator, session=session, config=config)
    assert not AuditEntry.objects.filter(action="update_config").exists()


def test_layout_update_reaches_the_cloud_and_its_rate_limit_is_explained(sim, account, operator):
    session = started_session(operator, account)
    config = services.SpaceConfig(position=0.1, position_vertical=0.0, zoom=1.2)
    services.session_update_config(user=operator, session=session, config=config)
    with pytest.raises(services.ServiceError, match="100012"):
        services.session_update_config(user=operator, session=session, config=config)


def test_accesstoken_is_encrypted_at_rest(account, sim):
    assert sim.demo["accesstoken"] not in account.accesstoken_encrypted
    assert account.accesstoken == sim.demo["accesstoken"]


def test_audit_actions_are_a_closed_set(db):
    services.audit_record(actor=None, action=AuditEntry.Action.START)
    with pytest.raises(ValueError):
        services.audit_record(actor=None, action="strat")
    assert not AuditEntry.objects.filter(action="strat").exists()
