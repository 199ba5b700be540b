"""State changes of sessions. Each records an AuditEntry and a SessionEvent.

Cloud calls happen outside database transactions; every status change is a conditional update
on the status it expects, so a worker and an operator acting at once never close twice or bring
a closed session back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tcadh.errors import TcadhError
from tcadh.models import SessionStatus

from . import broadcast, cloud
from .models import Account, Asset, AuditEntry, LiveSession, Project, SessionEvent
from .selectors import event_summary, session_summary

logger = logging.getLogger(__name__)

Status = LiveSession.Status
CLOSED_IN_CLOUD_CODES = {110013, 110018}


class ServiceError(Exception):
    """An action could not be done; the message is written for the operator."""


def _cloud_message(exc: TcadhError) -> str:
    return f"the cloud refused: {exc.message or 'no message'} (code {exc.code})"


def audit_record(*, actor, action: str, ok: bool = True, session: LiveSession | None = None,
                 account: Account | None = None, project: Project | None = None,
                 asset: Asset | None = None, detail: str = "") -> AuditEntry:
    if session is not None:
        account = account or session.account
        project = project or session.project
        asset = asset or session.asset
    return AuditEntry.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action, ok=ok, session=session, account=account, project=project, asset=asset,
        detail=detail[:500],
    )


def event_record(*, session: LiveSession, kind: str, message: str, data: dict | None = None) -> SessionEvent:
    event = SessionEvent.objects.create(session=session, kind=kind, message=message[:1000], data=data or {})
    broadcast.send_after_commit(
        [broadcast.session_group(session.pk)], {"type": "session.event", "event": event_summary(event)}
    )
    return event


def session_publish(session: LiveSession) -> None:
    session.refresh_from_db()
    broadcast.send_after_commit(
        [broadcast.session_group(session.pk), broadcast.session_status_group(session.pk),
         broadcast.DASHBOARD_GROUP],
        {"type": "session.update", "session": session_summary(session)},
    )


def session_transition(session: LiveSession, *, expected: tuple[str, ...], to: str, message: str,
                       condition: Q | None = None, **fields) -> bool:
    """Move the row from one of `expected` (and still matching `condition`) to `to`; False if
    someone else moved it first."""
    rows = LiveSession.objects.filter(pk=session.pk, status__in=expected)
    if condition is not None:
        rows = rows.filter(condition)
    changed = rows.update(status=to, **fields)
    if changed:
        event_record(session=session, kind=SessionEvent.Kind.STATUS, message=message, data={"status": to})
        session_publish(session)
    return bool(changed)


@dataclass(frozen=True)
class NewSession:
    account: Account
    user_id: str
    protocol: str
    driver_type: int
    stream_max_interval: int = 2000
    auto_start: bool = True
    project: Project | None = None
    asset: Asset | None = None


def session_create(*, user, spec: NewSession) -> LiveSession:
    """Create a cloud session from a project or an asset and record it as preparing or ready."""
    if (spec.project is None) == (spec.asset is None):
        raise ServiceError("choose either a project or an asset")
    source = spec.project or spec.asset
    if source.account_id != spec.account.pk:
        raise ServiceError(f"{source} does not belong to account {spec.account}")
    client = cloud.client_for(spec.account)
    common = dict(user_id=spec.user_id, protocol=spec.protocol, driver_type=spec.driver_type,
                  stream_max_interval=spec.stream_max_interval)
    action = "create_from_project" if spec.project else "create_from_asset"
    try:
        if spec.project:
            created = client.create_session(project_id=spec.project.project_id, **common)
        else:
            created = client.create_session_by_asset(asset_key=spec.asset.asset_key, **common)
    except TcadhError as exc:
        audit_record(actor=user, action=action, ok=False, account=spec.account, project=spec.project,
                     asset=spec.asset, detail=f"code {exc.code}: {exc.message}")
        raise ServiceError(_cloud_message(exc)) from exc

    ready = created.status == SessionStatus.READY
    now = timezone.now()
    with transaction.atomic():
        session = LiveSession.objects.create(
            account=spec.account, project=spec.project, asset=spec.asset,
            created_by=user if user is not None and user.is_authenticated else None,
            cloud_session_id=created.session_id, user_id=spec.user_id, protocol=spec.protocol,
            driver_type=spec.driver_type, stream_max_interval=spec.stream_max_interval,
            auto_start=spec.auto_start,
            status=Status.READY if ready else Status.PREPARING,
            play_stream_addr=created.play_stream_addr if ready else "",
            ready_at=now if ready else None, last_activity_at=now,
        )
        event_record(session=session, kind=SessionEvent.Kind.STATUS,
                     message=f"created from {session.source_label}, {session.status}",
                     data={"status": session.status})
        audit_record(actor=user, action=action, session=session, detail=created.session_id)
        session_publish(session)
        transaction.on_commit(lambda: _after_create(session))
    return session


def _after_create(session: LiveSession) -> None:
    from . import tasks

    if session.status == Status.PREPARING:
        tasks.poll_preparing_session.apply_async(args=[session.pk], countdown=1)
    elif session.auto_start:
        tasks.start_session.delay(session.pk)


def session_start(*, user, session: LiveSession) -> None:
    session.refresh_from_db()
    if session.status == Status.STARTED:
        return
    if session.status != Status.READY:
        raise ServiceError(f"a {session.status} session cannot be started")
    try:
        cloud.client_for(session.account).start_session(session.cloud_session_id)
    except TcadhError as exc:
        audit_record(actor=user, action="start", ok=False, session=session, detail=f"code {exc.code}: {exc.message}")
        raise ServiceError(_cloud_message(exc)) from exc
    now = timezone.now()
    with transaction.atomic():
        session_transition(session, expected=(Status.READY,), to=Status.STARTED, message="started",
                    started_at=now, last_activity_at=now)
        audit_record(actor=user, action="start", session=session)


def session_close(*, user, session: LiveSession, reason: str = "closed by operator", action: str = "close",
                  condition: Q | None = None) -> bool:
    """Close in the cloud and here. False when the session was already closing or closed, or no
    longer matches `condition` (a sweep's own test, re-checked as the row is claimed)."""
    with transaction.atomic():
        claimed = session_transition(session, expected=LiveSession.LIVE_STATUSES, to=Status.CLOSING,
                                     message=f"closing: {reason}", condition=condition)
    if not claimed:
        return False
    try:
        cloud.client_for(session.account).close_session(session.cloud_session_id)
    except TcadhError as exc:
        if exc.code not in CLOSED_IN_CLOUD_CODES:
            with transaction.atomic():
                # Give the row back to the reconciler: still live as far as anyone knows.
                session.refresh_from_db()
                back = Status.READY if session.started_at is None else Status.STARTED
                session_transition(session, expected=(Status.CLOSING,), to=back, message=f"close failed: {exc.message}")
                audit_record(actor=user, action=action, ok=False, session=session,
                             detail=f"code {exc.code}: {exc.message}")
            raise ServiceError(_cloud_message(exc)) from exc
    with transaction.atomic():
        session_transition(session, expected=(Status.CLOSING,), to=Status.CLOSED, message=f"closed: {reason}",
                           closed_at=timezone.now(), close_reason=reason)
        audit_record(actor=user, action=action, session=session, detail=reason)
    return True


def session_mark_ready(*, session: LiveSession, play_stream_addr: str) -> bool:
    with transaction.atomic():
        return session_transition(session, expected=(Status.PREPARING,), to=Status.READY, message="ready",
                           play_stream_addr=play_stream_addr, ready_at=timezone.now())


def session_mark_failed(*, session: LiveSession, reason: str, error_code: int | None = None) -> bool:
    with transaction.atomic():
        return session_transition(session, expected=LiveSession.LIVE_STATUSES + (Status.CLOSING,), to=Status.FAILED,
                           message=f"failed: {reason}", close_reason=reason, error_code=error_code,
                           error_message=reason[:500], closed_at=timezone.now())


def session_refresh_preparing(*, session: LiveSession) -> bool:
    """Ask the cloud about a preparing session. True while it is still worth asking again."""
    session.refresh_from_db()
    if session.status != Status.PREPARING:
        return False
    age = timezone.now() - session.created_at
    try:
        state = cloud.client_for(session.account).stat_session(session.cloud_session_id)
    except TcadhError as exc:
        if exc.retryable and age < timedelta(seconds=settings.TCADH_READY_TIMEOUT_SECONDS):
            logger.warning("statsession for session %s failed, will retry: %s", session.pk, exc)
            return True
        session_mark_failed(session=session, reason=_cloud_message(exc), error_code=exc.code)
        return False
    if state.status == SessionStatus.READY:
        if session_mark_ready(session=session, play_stream_addr=state.play_stream_addr) and session.auto_start:
            from . import tasks

            tasks.start_session.delay(session.pk)
        return False
    if state.status in (SessionStatus.CLOSED, SessionStatus.FAILED):
        reason = state.error_message or ("creation failed in the cloud" if state.status == SessionStatus.FAILED
                                         else "closed in the cloud while preparing")
        session_mark_failed(session=session, reason=reason, error_code=state.error_code or None)
        return False
    if age >= timedelta(seconds=settings.TCADH_READY_TIMEOUT_SECONDS):
        minutes = settings.TCADH_READY_TIMEOUT_SECONDS / 60
        reason = f"not ready after {minutes:g} minutes"
        if session_mark_failed(session=session, reason=reason):
            try:
                cloud.client_for(session.account).close_session(session.cloud_session_id)
            except TcadhError as exc:
                logger.warning("closing timed-out session %s failed: %s", session.pk, exc)
        return False
    return True


def _require_started(session: LiveSession) -> None:
    session.refresh_from_db()
    refusal = session.drive_refusal()
    if refusal:
        raise ServiceError(refusal)


def session_touch(*, session: LiveSession) -> None:
    """Operator activity: what the idle sweep measures."""
    LiveSession.objects.filter(pk=session.pk).update(last_activity_at=timezone.now(), idle_warned_at=None)


@dataclass(frozen=True)
class SpaceConfig:
    position: float
    position_vertical: float
    zoom: float
    background_url: str = ""


def session_update_config(*, user, session: LiveSession, config: SpaceConfig) -> None:
    _require_started(session)
    try:
        cloud.client_for(session.account).update_session_config(
            session.cloud_session_id, position=config.position, position_vertical=config.position_vertical,
            zoom=config.zoom, background_url=config.background_url or None,
        )
    except TcadhError as exc:
        audit_record(actor=user, action="update_config", ok=False, session=session,
                     detail=f"code {exc.code}: {exc.message}")
        raise ServiceError(_cloud_message(exc)) from exc
    with transaction.atomic():
        session_touch(session=session)
        detail = f"position {config.position}, vertical {config.position_vertical}, zoom {config.zoom}"
        event_record(session=session, kind=SessionEvent.Kind.NOTE, message=f"layout changed: {detail}")
        audit_record(actor=user, action="update_config", session=session, detail=detail)


def session_trtc_sign(*, user, session: LiveSession, viewer_user_id: str, room: str):
    """Credentials for a viewer to join the avatar's TRTC room (never the avatar's own)."""
    if session.protocol != LiveSession.Protocol.TRTC:
        raise ServiceError("only TRTC sessions have a room to join")
    if viewer_user_id == session.user_id:
        raise ServiceError("the viewer must use a different UserId than the avatar")
    room_kw = {"room_id": int(room)} if room.isdigit() else {"str_room_id": room}
    try:
        sign = cloud.client_for(session.account).get_trtc_sign(session.cloud_session_id,
                                                              user_id=viewer_user_id, **room_kw)
    except TcadhError as exc:
        raise ServiceError(_cloud_message(exc)) from exc
    audit_record(actor=user, action="trtc_sign", session=session, detail=f"viewer {viewer_user_id}")
    return sign
