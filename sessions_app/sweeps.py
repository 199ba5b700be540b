"""What keeps paid sessions from staying open unseen: the idle sweep, the reconciliation of each
account against the cloud's list, and the handling of orphans (cloud sessions unknown here).

Every change is a conditional update on what the sweep saw, so two workers running the same
sweep, or a worker and an operator clicking at once, change a row at most once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from tcadh.errors import TcadhError
from tcadh.models import ListedSession, SessionStatus

from . import cloud, services
from .models import Account, LiveSession, SessionEvent

logger = logging.getLogger(__name__)

Status = LiveSession.Status

DEFAULT_IDLE_LIMIT_SECONDS = 300
IDLE_WARNING_SECONDS = 60
# A session the cloud lists but we do not know may be one whose createsession reply is still on
# its way into our database; only a second sighting this much later makes it an orphan.
ORPHAN_CONFIRM_SECONDS = 20
# A row left in "closing" this long (a worker died mid-close) is settled by the reconciler.
STALE_CLOSING_SECONDS = 180
PREPARING_POLL_GRACE_SECONDS = 5

CLOSE_TYPE_WORDS = {
    1: "force-closed by owner",
    2: "timed out with no interaction",
    3: "downstream exited",
    4: "service restart",
    5: "same UserId opened a new stream",
}

_PROTOCOL_BY_SCHEME = {"rtmp": "rtmp", "webrtc": "webrtc", "trtc": "trtc"}


def close_type_words(close_type: int | None) -> str:
    return CLOSE_TYPE_WORDS.get(close_type or 0, "closed in the cloud")


def idle_limit_seconds(session: LiveSession) -> int:
    """The project's limit, else the asset's: the source the session was created from decides."""
    if session.project_id and session.project is not None:
        return session.project.idle_limit_seconds
    if session.asset_id and session.asset is not None:
        return session.asset.idle_limit_seconds
    return DEFAULT_IDLE_LIMIT_SECONDS


def _idle_since(session: LiveSession) -> datetime:
    return session.last_activity_at or session.started_at or session.created_at


def _idle_q(cutoff: datetime) -> Q:
    return Q(last_activity_at__lte=cutoff) | Q(last_activity_at__isnull=True, started_at__lte=cutoff)


# -- closing: claim with the sweep's own conditions, then close in the cloud --------------------

def _record_error(session: LiveSession, exc: TcadhError, *, doing: str) -> None:
    LiveSession.objects.filter(pk=session.pk).update(error_code=exc.code, error_message=f"{doing}: {exc.message}"[:500])
    services.event_record(session=session, kind=SessionEvent.Kind.ERROR, message=f"{doing} failed: {exc.message}",
                          data={"code": exc.code, "retryable": exc.retryable})


def _close(session: LiveSession, *, condition: Q, reason: str, action: str) -> bool:
    """Close if the row still matches what the sweep saw; a refused close stays on the row, shown."""
    try:
        return services.session_close(user=None, session=session, reason=reason, action=action, condition=condition)
    except services.ServiceError as exc:
        _record_error(session, exc.__cause__, doing="closing")
        return False


# -- idle sweep ---------------------------------------------------------------------------------

@dataclass
class IdleSweepResult:
    warned: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)


def session_close_if_idle(*, session: LiveSession, now: datetime | None = None) -> bool:
    """Close with reason "idle" if nobody drove the session within its limit. True if this call closed it."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=idle_limit_seconds(session))
    condition = Q(status=Status.STARTED, is_orphan=False) & _idle_q(cutoff)
    return _close(session, condition=condition, reason="idle", action="close_idle")


def session_warn_idle(*, session: LiveSession, now: datetime | None = None) -> bool:
    """Tell the session's viewers it will close soon; once per idle stretch (a drive clears the mark)."""
    now = now or timezone.now()
    limit = idle_limit_seconds(session)
    warn_cutoff = now - timedelta(seconds=max(limit - IDLE_WARNING_SECONDS, 0))
    with transaction.atomic():
        changed = (LiveSession.objects.filter(pk=session.pk, status=Status.STARTED, idle_warned_at__isnull=True)
                   .filter(_idle_q(warn_cutoff)).update(idle_warned_at=now))
        if changed:
            left = max(int((_idle_since(session) + timedelta(seconds=limit) - now).total_seconds()), 0)
            services.event_record(
                session=session, kind=SessionEvent.Kind.NOTE,
                message=f"idle: closing in {left} s unless someone drives the avatar",
                data={"idle_warning": True, "closes_in_seconds": left},
            )
    return bool(changed)


def sessions_idle_sweep(*, now: datetime | None = None) -> IdleSweepResult:
    now = now or timezone.now()
    result = IdleSweepResult()
    started = (LiveSession.objects.filter(status=Status.STARTED, is_orphan=False)
               .select_related("account", "project", "asset"))
    for session in started:
        idle = now - _idle_since(session)
        limit = timedelta(seconds=idle_limit_seconds(session))
        if idle >= limit:
            if session_close_if_idle(session=session, now=now):
                result.closed.append(session.pk)
        elif idle >= limit - timedelta(seconds=IDLE_WARNING_SECONDS) and session.idle_warned_at is None:
            if session_warn_idle(session=session, now=now):
                result.warned.append(session.pk)
    return result


# -- preparing sessions: a safety net under the per-session polling chain -----------------------

def sessions_refresh_preparing(*, now: datetime | None = None, every_seconds: float = 5) -> int:
    """Ask the cloud once about every preparing session whose polling chain may have been lost.

    A cache key per session keeps several workers (and overlapping runs) to one statsession per
    session per period. Returns how many sessions were asked about.
    """
    now = now or timezone.now()
    grace = now - timedelta(seconds=PREPARING_POLL_GRACE_SECONDS)
    asked = 0
    for session in LiveSession.objects.filter(status=Status.PREPARING, created_at__lte=grace).select_related("account"):
        if not cache.add(f"sweeps:preparing-polled:{session.pk}", 1, timeout=max(every_seconds - 0.5, 1)):
            continue
        services.session_refresh_preparing(session=session)
        asked += 1
    return asked


# -- reconcile ----------------------------------------------------------------------------------

@dataclass
class ReconcileResult:
    listed: int = 0
    closed: list[int] = field(default_factory=list)
    orphaned: list[int] = field(default_factory=list)
    auto_closed: list[int] = field(default_factory=list)


def _stale_closing(session: LiveSession, now: datetime) -> bool:
    started = (session.events.filter(kind=SessionEvent.Kind.STATUS, data__status=Status.CLOSING)
               .order_by("-created_at").values_list("created_at", flat=True).first())
    return started is None or now - started >= timedelta(seconds=STALE_CLOSING_SECONDS)


def session_settle_unlisted(*, session: LiveSession, now: datetime | None = None) -> bool:
    """A session we think live that the cloud no longer lists: close it here with the cloud's reason.

    Asks statsession for the reason (one call, only for sessions that disappeared). True if the
    row was closed or failed by this call.
    """
    now = now or timezone.now()
    client = cloud.client_for(session.account)
    try:
        state = client.stat_session(session.cloud_session_id)
    except TcadhError as exc:
        if exc.code not in services.CLOSED_IN_CLOUD_CODES:
            raise
        reason, close_type, cloud_status = "no longer known to the cloud", None, SessionStatus.CLOSED
    else:
        cloud_status = state.status
        close_type = state.close_type
        reason = close_type_words(close_type)
    expected = LiveSession.LIVE_STATUSES + ((Status.CLOSING,) if session.status == Status.CLOSING else ())
    if cloud_status in (SessionStatus.READY, SessionStatus.PREPARING):
        # Still alive: the list simply left it out (e.g. a preparing session on some gateways).
        return False
    with transaction.atomic():
        if cloud_status == SessionStatus.FAILED:
            message = (state.error_message or "creation failed in the cloud")[:500]
            return services.session_transition(session, expected=expected, to=Status.FAILED, message=f"failed: {message}",
                                        close_reason=message, error_code=state.error_code or None,
                                        error_message=message, closed_at=now)
        done = services.session_transition(session, expected=expected, to=Status.CLOSED,
                                    message=f"closed in the cloud: {reason}", close_reason=reason,
                                    close_type=close_type, closed_at=now)
        if done:
            services.audit_record(actor=None, action="reconcile_close", session=session, detail=reason)
    return done


def _protocol_of(listed: ListedSession) -> str:
    scheme = listed.play_stream_addr.split("://", 1)[0].lower() if "://" in listed.play_stream_addr else ""
    return _PROTOCOL_BY_SCHEME.get(scheme, "")


def orphan_record(*, account: Account, listed: ListedSession, now: datetime | None = None) -> LiveSession | None:
    """A row for a cloud session created outside the console. None if a row appeared meanwhile."""
    now = now or timezone.now()
    status = {SessionStatus.PREPARING: Status.PREPARING,
              SessionStatus.READY: Status.STARTED if listed.is_started else Status.READY}.get(listed.status)
    if status is None:
        return None
    project = (account.projects.filter(project_id=listed.virtualman_project_id).first()
               if listed.virtualman_project_id else None)
    asset = (account.assets.filter(asset_key=listed.asset_virtualman_key).first()
             if listed.asset_virtualman_key else None)
    try:
        with transaction.atomic():
            session = LiveSession.objects.create(
                account=account, project=project, asset=asset, created_by=None, is_orphan=True,
                cloud_session_id=listed.session_id, user_id=listed.user_id, protocol=_protocol_of(listed),
                driver_type=listed.driver_type or LiveSession.DriverType.TEXT, auto_start=False, status=status,
                play_stream_addr=listed.play_stream_addr, ready_at=now if status != Status.PREPARING else None,
                started_at=now if status == Status.STARTED else None, last_activity_at=now,
            )
            services.event_record(session=session, kind=SessionEvent.Kind.STATUS,
                                  message="found in the cloud, not created here (orphan)", data={"status": status})
            services.audit_record(actor=None, action="orphan_found", session=session, detail=listed.session_id)
            services.session_publish(session)
    except IntegrityError:
        return None
    return session


def _orphan_candidates(account: Account, unknown: list[ListedSession], now: datetime) -> list[ListedSession]:
    """The unknown sessions already seen unknown at least ORPHAN_CONFIRM_SECONDS ago."""
    key = f"sweeps:unknown:{account.pk}"
    first_seen: dict[str, float] = cache.get(key) or {}
    stamp = now.timestamp()
    seen_now = {listed.session_id: first_seen.get(listed.session_id, stamp) for listed in unknown}
    cache.set(key, seen_now, timeout=3600)
    return [listed for listed in unknown if stamp - seen_now[listed.session_id] >= ORPHAN_CONFIRM_SECONDS]


def orphan_close_if_unadopted(*, session: LiveSession, account: Account, now: datetime | None = None) -> bool:
    if account.orphan_autoclose_minutes is None:
        return False
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=account.orphan_autoclose_minutes)
    reason = f"orphan not adopted within {account.orphan_autoclose_minutes} minutes"
    return _close(session, condition=Q(is_orphan=True, created_at__lte=cutoff), reason=reason,
                  action="close_orphan")


def account_reconcile(*, account: Account, now: datetime | None = None) -> ReconcileResult:
    """Bring one account's rows in line with the cloud, with one listsessionofuin call.

    Raises TcadhError when the list call fails (the task decides whether to retry).
    """
    now = now or timezone.now()
    # Rows created after the list was taken cannot be in it; judge only the older ones.
    listed_at = timezone.now()
    listed = cloud.client_for(account).list_sessions_of_uin()
    result = ReconcileResult(listed=len(listed))
    listed_ids = {item.session_id for item in listed}

    ours = list(LiveSession.objects.filter(account=account, created_at__lt=listed_at,
                                           status__in=LiveSession.LIVE_STATUSES + (Status.CLOSING,))
                .select_related("account"))
    for session in ours:
        if session.cloud_session_id in listed_ids:
            continue
        if session.status == Status.CLOSING and not _stale_closing(session, now):
            continue
        try:
            if session_settle_unlisted(session=session, now=now):
                result.closed.append(session.pk)
        except TcadhError as exc:
            logger.warning("statsession for unlisted session %s failed: %s", session.pk, exc)

    known = set(LiveSession.objects.filter(cloud_session_id__in=listed_ids).values_list("cloud_session_id", flat=True))
    unknown = [item for item in listed if item.session_id not in known and item.status in
               (SessionStatus.READY, SessionStatus.PREPARING)]
    for item in _orphan_candidates(account, unknown, now):
        orphan = orphan_record(account=account, listed=item, now=now)
        if orphan is not None:
            result.orphaned.append(orphan.pk)

    orphans = LiveSession.objects.filter(account=account, is_orphan=True, status__in=LiveSession.LIVE_STATUSES)
    for orphan in orphans.select_related("account"):
        if orphan_close_if_unadopted(session=orphan, account=account, now=now):
            result.auto_closed.append(orphan.pk)
    return result


# -- orphans: what an operator does with them ---------------------------------------------------

def orphan_adopt(*, user, session: LiveSession) -> None:
    """Make an orphan ours: it gets a creator and falls under the idle sweep from now on."""
    now = timezone.now()
    with transaction.atomic():
        changed = (LiveSession.objects.filter(pk=session.pk, is_orphan=True, status__in=LiveSession.LIVE_STATUSES)
                   .update(is_orphan=False, created_by=user, last_activity_at=now, idle_warned_at=None))
        if not changed:
            raise services.ServiceError("the session is no longer an open orphan")
        services.event_record(session=session, kind=SessionEvent.Kind.NOTE,
                              message=f"adopted by {user.get_username()}", data={"by": user.get_username()})
        services.audit_record(actor=user, action="adopt", session=session)
        services.session_publish(session)


def orphan_close(*, user, session: LiveSession) -> None:
    if not session.is_orphan:
        raise services.ServiceError("the session is not an orphan")
    if not services.session_close(user=user, session=session, reason=f"orphan closed by {user.get_username()}"):
        raise services.ServiceError("the session was already closing or closed")
