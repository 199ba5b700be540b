"""State changes of sessions. Each records an AuditEntry and a SessionEvent.

Cloud calls happen outside database transactions, and the transaction after a cloud call is
durable: calling one of these inside an outer transaction fails loudly instead of holding a
database transaction open across a slow cloud. Every status change is a conditional update on
the status it expects, so a worker and an operator acting at once never close twice or bring a
closed session back.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from tcadh.client import trtc_room_arguments
from tcadh.errors import TcadhError
from tcadh.models import SessionStatus

from . import broadcast, budgets, cloud, cloud_errors, usage_rollup
from .labels import status_label
from .models import Account, Asset, AuditEntry, LiveSession, Project, SessionEvent
from .selectors import event_summary, session_summary

logger = logging.getLogger(__name__)

Status = LiveSession.Status
CLOSED_IN_CLOUD_CODES = {110013, 110018}


class ServiceError(Exception):
    """An action could not be done; the message is written for the operator."""


def _cloud_message(exc: TcadhError) -> str:
    return cloud_errors.explain(exc)


def audit_record(*, actor, action: AuditEntry.Action, ok: bool = True, session: LiveSession | None = None,
                 account: Account | None = None, project: Project | None = None,
                 asset: Asset | None = None, detail: str = "") -> AuditEntry:
    if session is not None:
        account = account or session.account
        project = project or session.project
        asset = asset or session.asset
    return AuditEntry.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        # An action outside the closed set is a programming error, refused before it is written.
        action=AuditEntry.Action(action), ok=ok, session=session, account=account, project=project, asset=asset,
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
    """Create a cloud session from a project or an asset and record it as preparing or ready.

    Queues nothing: `lifecycle.session_create` is what views call, and it queues the polling.
    """
    if (spec.project is None) == (spec.asset is None):
        raise ServiceError(_("choose either a project or an asset"))
    source = spec.project or spec.asset
    if source.account_id != spec.account.pk:
        raise ServiceError(_("%(source)s does not belong to account %(account)s") % {"source": source, "account": spec.account})
    action = AuditEntry.Action.CREATE_FROM_PROJECT if spec.project else AuditEntry.Action.CREATE_FROM_ASSET
    # Caps are enforced here, before the cloud starts billing: a refused create costs nothing.
    spent = budgets.budget_spent(account=spec.account, user=user)
    if spent is not None:
        audit_record(actor=user, action=action, ok=False, account=spec.account, project=spec.project,
                     asset=spec.asset, detail=spent.english)
        raise ServiceError(str(spent))
    client = cloud.client_for(spec.account)
    common = dict(user_id=spec.user_id, protocol=spec.protocol, driver_type=spec.driver_type,
                  stream_max_interval=spec.stream_max_interval)
    try:
        if spec.project:
            created = client.create_session(project_id=spec.project.project_id, **common)
        else:
            created = client.create_session_by_asset(asset_key=spec.asset.asset_key, **common)
    except TcadhError as exc:
        # A reply lost after the cloud created the session leaves it unknown here: reconciliation
        # finds it in the account's list and treats it as an orphan.
        audit_record(actor=user, action=action, ok=False, account=spec.account, project=spec.project,
                     asset=spec.asset, detail=f"code {exc.code}: {exc.message}")
        raise ServiceError(_cloud_message(exc)) from exc

    ready = created.status == SessionStatus.READY
    now = timezone.now()
    with transaction.atomic(durable=True):
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
                     message=f"created from {session.source_english}, {session.status}",
                     data={"status": session.status})
        audit_record(actor=user, action=action, session=session, detail=created.session_id)
        session_publish(session)
    return session


def session_start(*, user, session: LiveSession) -> None:
    session.refresh_from_db()
    if session.status == Status.STARTED:
        return
    if session.status != Status.READY:
        raise ServiceError(_("a %(status)s session cannot be started") % {"status": status_label(session.status)})
    try:
        cloud.client_for(session.account).start_session(session.cloud_session_id)
    except TcadhError as exc:
        audit_record(actor=user, action=AuditEntry.Action.START, ok=False, session=session, detail=f"code {exc.code}: {exc.message}")
        raise ServiceError(_cloud_message(exc)) from exc
    session_mark_started(session=session, user=user)


def session_mark_started(*, session: LiveSession, user=None, message: str = "started") -> bool:
    """The cloud runs the session: record it (after our startsession, or seen in the cloud's list)."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        changed = session_transition(session, expected=(Status.READY,), to=Status.STARTED, message=message,
                                     started_at=now, last_activity_at=now)
        if changed:
            audit_record(actor=user, action=AuditEntry.Action.START, session=session)
    return changed


def session_start_automatically(*, session: LiveSession) -> bool:
    """Start a session created with auto start. A refusal is shown on the session; the preparing
    sweep tries again until the session starts or its ready limit closes it.

    No one is answered: the refusal is stored and logged, so it is worded in English even when a
    request's language is active (a task run eagerly in the request that queued it)."""
    try:
        with translation.override(None):
            session_start(user=None, session=session)
    except ServiceError as exc:
        event_record(session=session, kind=SessionEvent.Kind.ERROR, message=f"automatic start failed: {exc}")
        logger.warning("automatic start of session %s failed: %s", session.pk, exc)
        return False
    return True


# -- closing: the console decides, the cloud confirms -------------------------------------------
# A row leaves the live statuses once (closing, failed); from then on it only waits for the cloud
# to confirm that it stopped billing (cloud_closed_at). Each closesession attempt is claimed by
# moving next_close_at forward, so concurrent sweeps attempt it once, and a process that dies
# mid-attempt only delays the next one until the claim lapses.

CLOSE_RETRY_SECOND_SECONDS = 5


def close_retry_delay(attempts: int) -> timedelta:
    """How long after the failed closesession number `attempts` the next one is due: the first
    failure is retried by the next sweep, later ones after 5 s, 10 s, 20 s, … up to the cap."""
    if attempts <= 1:
        return timedelta(0)
    seconds = CLOSE_RETRY_SECOND_SECONDS * 2 ** min(attempts - 2, 16)
    return timedelta(seconds=min(seconds, settings.TCADH_CLOSE_RETRY_MAX_SECONDS))


def _close_claim_lapse(now) -> dict:
    return {"next_close_at": now + timedelta(seconds=settings.TCADH_STALE_CLOSING_SECONDS)}


def session_close(*, user, session: LiveSession, reason: str = "closed by operator",
                  action: AuditEntry.Action = AuditEntry.Action.CLOSE,
                  condition: Q | None = None) -> bool:
    """Close in the cloud and here. False when the session was already closing or ended, or no
    longer matches `condition` (a sweep's own test, re-checked as the row is claimed).

    A refused close leaves the row `closing` (it never goes back to live) and raises
    ServiceError; the sweeps retry it with backoff until the cloud confirms.
    """
    now = timezone.now()
    with transaction.atomic(durable=True):
        claimed = session_transition(session, expected=LiveSession.LIVE_STATUSES, to=Status.CLOSING,
                                     message=f"closing: {reason}", condition=condition,
                                     close_reason=reason[:200], close_attempts=1, **_close_claim_lapse(now))
    if not claimed:
        return False
    session.refresh_from_db()
    try:
        session_close_in_cloud(session=session)
    except TcadhError as exc:
        audit_record(actor=user, action=action, ok=False, session=session, detail=f"code {exc.code}: {exc.message}")
        raise ServiceError(_("%(refusal)s; the console keeps trying to close it") % {"refusal": _cloud_message(exc)}) from exc
    audit_record(actor=user, action=action, session=session, detail=reason)
    return True


def session_close_unattended(*, session: LiveSession, reason: str, action: AuditEntry.Action, condition: Q) -> bool:
    """A close no one waits on (a sweep's, a cap's), if the row still matches `condition`: True
    when this call closed it, here and in the cloud. A cloud refusal is no error to report here:
    the row is ended all the same and the convergence sweeps retry the cloud's close."""
    try:
        return session_close(user=None, session=session, reason=reason, action=action, condition=condition)
    except ServiceError:
        return False


def session_close_in_cloud(*, session: LiveSession) -> bool:
    """One closesession for a row the console has ended, by whoever claimed the attempt.

    A `closing` row becomes `closed` once the cloud accepted the close. True when the cloud also
    confirmed the session gone (cloud_closed_at set). Raises TcadhError when closesession failed;
    the error is on the row and the next attempt is scheduled.
    """
    client = cloud.client_for(session.account)
    try:
        client.close_session(session.cloud_session_id)
    except TcadhError as exc:
        if exc.code not in CLOSED_IN_CLOUD_CODES:
            _close_failed(session, exc)
            raise
    confirmed = _cloud_says_closed(client, session)
    now = timezone.now()
    with transaction.atomic(durable=True):
        if session.status == Status.CLOSING:
            session_transition(session, expected=(Status.CLOSING,), to=Status.CLOSED,
                               message=f"closed: {session.close_reason}", closed_at=now)
        if confirmed:
            session_confirm_closed_in_cloud(session=session, now=now)
        else:
            # Accepted but still there: the next attempt comes after the usual backoff.
            LiveSession.objects.filter(pk=session.pk).update(
                next_close_at=now + close_retry_delay(session.close_attempts))
    return confirmed


def _cloud_says_closed(client, session: LiveSession) -> bool:
    try:
        state = client.stat_session(session.cloud_session_id)
    except TcadhError as exc:
        return exc.code in CLOSED_IN_CLOUD_CODES
    return state.status in (SessionStatus.CLOSED, SessionStatus.FAILED)


def _close_failed(session: LiveSession, exc: TcadhError) -> None:
    now = timezone.now()
    LiveSession.objects.filter(pk=session.pk).update(
        error_code=exc.code, error_message=f"closing: {exc.message}"[:500],
        next_close_at=now + close_retry_delay(session.close_attempts))
    event_record(session=session, kind=SessionEvent.Kind.ERROR,
                 message=f"closing in the cloud failed (attempt {session.close_attempts}), "
                         f"will retry: {exc.message or exc.code}",
                 data={"code": exc.code, "retryable": exc.retryable})
    logger.warning("closesession for session %s failed (attempt %s): %s", session.pk, session.close_attempts, exc)


def session_claim_close_attempt(*, session: LiveSession, now=None) -> bool:
    """Take the next closesession attempt of an ended row if it is due; False if not due or taken."""
    now = now or timezone.now()
    due = Q(next_close_at__isnull=True) | Q(next_close_at__lte=now)
    claimed = (LiveSession.objects.filter(pk=session.pk, status__in=LiveSession.ENDED_STATUSES,
                                          cloud_closed_at__isnull=True).filter(due)
               .update(close_attempts=F("close_attempts") + 1, **_close_claim_lapse(now)))
    if claimed:
        session.refresh_from_db()
    return bool(claimed)


def session_confirm_closed_in_cloud(*, session: LiveSession, now=None, how: str = "") -> bool:
    """The cloud no longer bills this session. A row still `closing` is closed with its reason."""
    now = now or timezone.now()
    with transaction.atomic():
        if not LiveSession.objects.filter(pk=session.pk, cloud_closed_at__isnull=True).update(
                cloud_closed_at=now, next_close_at=None):
            return False
        closed_now = session_transition(session, expected=(Status.CLOSING,), to=Status.CLOSED,
                                        message=f"closed: {session.close_reason}", closed_at=now)
        if how:
            event_record(session=session, kind=SessionEvent.Kind.NOTE, message=f"confirmed closed in the cloud: {how}")
        if not closed_now:
            session_publish(session)
    return True


def session_reopen_cloud_close(*, session: LiveSession) -> bool:
    """An ended row whose session the cloud still lists: it is billing again until closed."""
    with transaction.atomic():
        usage_rollup.session_unroll(session=session)
        changed = (LiveSession.objects.filter(pk=session.pk, status__in=LiveSession.ENDED_STATUSES,
                                              cloud_closed_at__isnull=False)
                   .update(cloud_closed_at=None, next_close_at=None, unlisted_count=0))
        if changed:
            event_record(session=session, kind=SessionEvent.Kind.ERROR,
                         message="still live in the cloud after it ended here: closing it again")
            session_publish(session)
    return bool(changed)


def session_mark_ready(*, session: LiveSession, play_stream_addr: str) -> bool:
    with transaction.atomic():
        return session_transition(session, expected=(Status.PREPARING,), to=Status.READY, message="ready",
                           play_stream_addr=play_stream_addr, ready_at=timezone.now())


def session_mark_failed(*, session: LiveSession, reason: str, error_code: int | None = None,
                        closed_in_cloud: bool = False) -> bool:
    """Fail a live row. Unless the cloud already said the session is gone, close it there at once
    (and, should that fail, through the sweeps' retries)."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        failed = session_transition(
            session, expected=LiveSession.LIVE_STATUSES, to=Status.FAILED, message=f"failed: {reason}",
            close_reason=reason[:200], error_code=error_code, error_message=reason[:500], closed_at=now,
            cloud_closed_at=now if closed_in_cloud else None, close_attempts=0 if closed_in_cloud else 1,
            **({} if closed_in_cloud else _close_claim_lapse(now)))
    if failed and not closed_in_cloud:
        session.refresh_from_db()
        try:
            session_close_in_cloud(session=session)
        except TcadhError:
            pass  # recorded on the row by session_close_in_cloud; the sweeps retry it
    return failed


class Preparing(enum.Enum):
    """What one look at a preparing session found."""

    WAITING = "waiting"  # ask again later
    READY = "ready"      # became ready by this call
    STARTED = "started"  # became ready by this call and was started on its own (auto start)
    ENDED = "ended"      # no longer preparing (failed, closed, or someone else moved it)


def session_refresh_preparing(*, session: LiveSession) -> Preparing:
    """Ask the cloud about a preparing session once."""
    session.refresh_from_db()
    if session.status != Status.PREPARING:
        return Preparing.ENDED
    age = timezone.now() - session.created_at
    timed_out = age >= timedelta(seconds=settings.TCADH_READY_TIMEOUT_SECONDS)
    try:
        state = cloud.client_for(session.account).stat_session(session.cloud_session_id)
    except TcadhError as exc:
        if exc.retryable and not timed_out:
            logger.warning("statsession for session %s failed, will retry: %s", session.pk, exc)
            return Preparing.WAITING
        session_mark_failed(session=session, reason=cloud_errors.explain_in_english(exc), error_code=exc.code,
                            closed_in_cloud=exc.code in CLOSED_IN_CLOUD_CODES)
        return Preparing.ENDED
    if state.status == SessionStatus.READY:
        return Preparing.READY if session_mark_ready(session=session, play_stream_addr=state.play_stream_addr) \
            else Preparing.ENDED
    if state.status in (SessionStatus.CLOSED, SessionStatus.FAILED):
        reason = state.error_message or ("creation failed in the cloud" if state.status == SessionStatus.FAILED
                                         else "closed in the cloud while preparing")
        session_mark_failed(session=session, reason=reason, error_code=state.error_code or None,
                            closed_in_cloud=True)
        return Preparing.ENDED
    if timed_out:
        minutes = settings.TCADH_READY_TIMEOUT_SECONDS / 60
        session_mark_failed(session=session, reason=f"not ready after {minutes:g} minutes")
        return Preparing.ENDED
    return Preparing.WAITING


def session_refresh_and_start(*, session: LiveSession) -> Preparing:
    """One look at a preparing session, and the automatic start of one found ready that asks for
    it. READY: ready and not started (left to an operator, or its automatic start was refused,
    which the preparing sweep retries)."""
    outcome = session_refresh_preparing(session=session)
    if outcome is Preparing.READY and session.auto_start and session_start_automatically(session=session):
        return Preparing.STARTED
    return outcome


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
        audit_record(actor=user, action=AuditEntry.Action.UPDATE_CONFIG, ok=False, session=session,
                     detail=f"code {exc.code}: {exc.message}")
        raise ServiceError(_cloud_message(exc)) from exc
    with transaction.atomic(durable=True):
        session_touch(session=session)
        detail = f"position {config.position}, vertical {config.position_vertical}, zoom {config.zoom}"
        event_record(session=session, kind=SessionEvent.Kind.NOTE, message=f"layout changed: {detail}")
        audit_record(actor=user, action=AuditEntry.Action.UPDATE_CONFIG, session=session, detail=detail)


def session_trtc_sign(*, user, session: LiveSession, viewer_user_id: str, room: str):
    """Credentials for a viewer to join the avatar's TRTC room (never the avatar's own)."""
    if session.protocol != LiveSession.Protocol.TRTC:
        raise ServiceError(_("only TRTC sessions have a room to join"))
    if viewer_user_id == session.user_id:
        raise ServiceError(_("the viewer must use a different UserId than the avatar"))
    room_kw = trtc_room_arguments(room)
    try:
        sign = cloud.client_for(session.account).get_trtc_sign(session.cloud_session_id,
                                                              user_id=viewer_user_id, **room_kw)
    except TcadhError as exc:
        raise ServiceError(_cloud_message(exc)) from exc
    audit_record(actor=user, action=AuditEntry.Action.TRTC_SIGN, session=session, detail=f"viewer {viewer_user_id}")
    return sign
