"""What keeps paid sessions from staying open unseen: the idle sweep, the reconciliation of each
account against the cloud's list, and the handling of orphans (cloud sessions unknown here).

Every change is a conditional update on what the sweep saw, so two workers running the same
sweep, or a worker and an operator clicking at once, change a row at most once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from tcadh.errors import TcadhError
from tcadh.models import ListedSession, SessionStatus

from . import budget_sweep, cloud, services, usage_rollup
from .models import Account, AuditEntry, LiveSession, SessionEvent

logger = logging.getLogger(__name__)

Status = LiveSession.Status
Action = AuditEntry.Action

DEFAULT_IDLE_LIMIT_SECONDS = 300
IDLE_WARNING_SECONDS = 60
PREPARING_POLL_GRACE_SECONDS = 5
# The cloud's list must leave a session out this many reconciliations in a row before its
# absence alone counts as the cloud's confirmation that the session is closed.
UNLISTED_CONFIRMATIONS = 2

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

# -- idle sweep ---------------------------------------------------------------------------------

@dataclass
class IdleSweepResult:
    warned: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    caps: budget_sweep.CapSweepResult = field(default_factory=budget_sweep.CapSweepResult)
    rolled_up: int = 0


def _ready_unstarted(session: LiveSession) -> bool:
    return session.status == Status.READY


def session_close_if_idle(*, session: LiveSession, now: datetime | None = None) -> bool:
    """Close a started session nobody drove, or a ready one nobody started, within its limit.
    True if this call closed it."""
    now = now or timezone.now()
    limit = idle_limit_seconds(session)
    cutoff = now - timedelta(seconds=limit)
    condition = Q(status=session.status, is_orphan=False) & _idle_q(cutoff)
    reason = f"not started within {limit} s" if _ready_unstarted(session) else "idle"
    return services.session_close_unattended(session=session, condition=condition, reason=reason,
                                             action=Action.CLOSE_IDLE)


def session_warn_idle(*, session: LiveSession, now: datetime | None = None) -> bool:
    """Tell the session's viewers it will close soon; once per idle stretch (a drive clears the mark)."""
    now = now or timezone.now()
    limit = idle_limit_seconds(session)
    warn_cutoff = now - timedelta(seconds=max(limit - IDLE_WARNING_SECONDS, 0))
    with transaction.atomic():
        changed = (LiveSession.objects.filter(pk=session.pk, status=session.status, idle_warned_at__isnull=True)
                   .filter(_idle_q(warn_cutoff)).update(idle_warned_at=now))
        if changed:
            left = max(int((_idle_since(session) + timedelta(seconds=limit) - now).total_seconds()), 0)
            unless = "it is started" if _ready_unstarted(session) else "someone drives the avatar"
            services.event_record(
                session=session, kind=SessionEvent.Kind.NOTE,
                message=f"idle: closing in {left} s unless {unless}",
                data={"idle_warning": True, "closes_in_seconds": left},
            )
    return bool(changed)


def sessions_idle_sweep(*, now: datetime | None = None) -> IdleSweepResult:
    now = now or timezone.now()
    result = IdleSweepResult()
    waiting = (LiveSession.objects.filter(status__in=(Status.READY, Status.STARTED), is_orphan=False)
               .select_related("account", "project", "asset"))
    for session in waiting:
        idle = now - _idle_since(session)
        limit = timedelta(seconds=idle_limit_seconds(session))
        if idle >= limit:
            if session_close_if_idle(session=session, now=now):
                result.closed.append(session.pk)
        elif idle >= limit - timedelta(seconds=IDLE_WARNING_SECONDS) and session.idle_warned_at is None:
            if session_warn_idle(session=session, now=now):
                result.warned.append(session.pk)
    # Daily caps and the usage rollup ride on the same task: one fewer thing for beat to schedule.
    result.caps = budget_sweep.sessions_cap_sweep(now=now)
    result.rolled_up = usage_rollup.usage_roll_up(now=now)
    return result


# -- preparing and ready sessions: a safety net under the per-session task chain ----------------

@dataclass
class PreparingSweepResult:
    asked: int = 0
    started: list[int] = field(default_factory=list)


def _once_per(key: str, seconds: float) -> bool:
    """True for the first caller in this period, across every worker (the cache is shared)."""
    return cache.add(key, 1, timeout=max(seconds, 1))


def sessions_refresh_preparing(*, now: datetime | None = None,
                               every_seconds: float | None = None) -> PreparingSweepResult:
    """Ask the cloud once about every preparing session whose polling chain may have been lost,
    and start every auto-start session left ready (its start failed, or its task was lost).

    A cache key per session keeps several workers (and overlapping runs) to one call per session
    per period.
    """
    now = now or timezone.now()
    every = every_seconds if every_seconds is not None else settings.TCADH_SWEEP_PREPARING_SECONDS
    grace = now - timedelta(seconds=PREPARING_POLL_GRACE_SECONDS)
    result = PreparingSweepResult()
    for session in LiveSession.objects.filter(status=Status.PREPARING, created_at__lte=grace).select_related("account"):
        if not _once_per(f"sweeps:preparing-polled:{session.pk}", every - 0.5):
            continue
        result.asked += 1
        if services.session_refresh_and_start(session=session) is services.Preparing.STARTED:
            result.started.append(session.pk)
    unstarted = LiveSession.objects.filter(status=Status.READY, auto_start=True, is_orphan=False,
                                           ready_at__lte=grace).select_related("account")
    for session in unstarted:
        # Twice the period: an automatic start that failed is not hammered every sweep.
        if _once_per(f"sweeps:start-retried:{session.pk}", 2 * every):
            if services.session_start_automatically(session=session):
                result.started.append(session.pk)
    return result


# -- reconcile: every row that may still be billed, against the cloud --------------------------

@dataclass
class ReconcileResult:
    listed: int = 0
    closed: list[int] = field(default_factory=list)
    orphaned: list[int] = field(default_factory=list)
    auto_closed: list[int] = field(default_factory=list)
    # Ended rows: closesession retried, confirmed closed in the cloud, found live again.
    close_retried: list[int] = field(default_factory=list)
    confirmed: list[int] = field(default_factory=list)
    reopened: list[int] = field(default_factory=list)


def session_settle_unlisted(*, session: LiveSession, now: datetime | None = None) -> bool:
    """A row the cloud no longer lists: ask statsession what became of it (one call).

    A live row is closed (or failed) here with the cloud's reason; an ended row is confirmed
    closed. True if this call changed the row. A session the cloud says is still alive is left
    as it is (a live row stays live; an ended one is closed by the retries). Raises TcadhError
    when statsession fails.
    """
    now = now or timezone.now()
    try:
        state = cloud.client_for(session.account).stat_session(session.cloud_session_id)
    except TcadhError as exc:
        if exc.code not in services.CLOSED_IN_CLOUD_CODES:
            raise
        state, reason, close_type, cloud_status = None, "no longer known to the cloud", None, SessionStatus.CLOSED
    else:
        cloud_status, close_type = state.status, state.close_type
        reason = close_type_words(close_type)
    if cloud_status in (SessionStatus.READY, SessionStatus.PREPARING):
        # Still alive: the list simply left it out (e.g. a preparing session on some gateways).
        return False
    if session.status in LiveSession.ENDED_STATUSES:
        return services.session_confirm_closed_in_cloud(session=session, now=now, how=f"statsession: {reason}")
    with transaction.atomic():
        if cloud_status == SessionStatus.FAILED:
            message = (state.error_message or "creation failed in the cloud")[:500]
            return services.session_transition(
                session, expected=LiveSession.LIVE_STATUSES, to=Status.FAILED, message=f"failed: {message}",
                close_reason=message[:200], error_code=state.error_code or None, error_message=message,
                closed_at=now, cloud_closed_at=now)
        done = services.session_transition(session, expected=LiveSession.LIVE_STATUSES, to=Status.CLOSED,
                                           message=f"closed in the cloud: {reason}", close_reason=reason,
                                           close_type=close_type, closed_at=now, cloud_closed_at=now)
        if done:
            services.audit_record(actor=None, action=Action.RECONCILE_CLOSE, session=session, detail=reason)
    return done


def _settle_absent(session: LiveSession, now: datetime) -> bool:
    """A row left out of this list; its count of absences in a row decides when absence alone
    is the cloud's answer (statsession may be failing too)."""
    LiveSession.objects.filter(pk=session.pk).update(unlisted_count=F("unlisted_count") + 1)
    session.refresh_from_db()
    try:
        return session_settle_unlisted(session=session, now=now)
    except TcadhError as exc:
        logger.warning("statsession for unlisted session %s failed: %s", session.pk, exc)
    if session.unlisted_count < UNLISTED_CONFIRMATIONS:
        return False
    how = f"absent from the cloud's list {session.unlisted_count} times"
    if session.status in LiveSession.ENDED_STATUSES:
        return services.session_confirm_closed_in_cloud(session=session, now=now, how=how)
    with transaction.atomic():
        return services.session_transition(session, expected=LiveSession.LIVE_STATUSES, to=Status.CLOSED,
                                           message=f"closed in the cloud: {how}", close_reason=how[:200],
                                           closed_at=now, cloud_closed_at=now)


def sessions_retry_close(*, account: Account, now: datetime | None = None) -> list[int]:
    """Send closesession again for every ended row of the account whose next attempt is due."""
    now = now or timezone.now()
    due = Q(next_close_at__isnull=True) | Q(next_close_at__lte=now)
    retried = []
    rows = (LiveSession.objects.filter(account=account, status__in=LiveSession.ENDED_STATUSES,
                                       cloud_closed_at__isnull=True).filter(due).select_related("account"))
    for session in rows:
        if not services.session_claim_close_attempt(session=session, now=now):
            continue
        retried.append(session.pk)
        try:
            services.session_close_in_cloud(session=session)
        except TcadhError:
            pass  # on the row, with the next attempt scheduled
    return retried


def account_reconcile(*, account: Account, now: datetime | None = None) -> ReconcileResult:
    """Bring one account's rows in line with the cloud, with one listsessionofuin call.

    Closes that are due are retried first, so they go on while the list call fails. Raises
    TcadhError when the list call fails (the task decides whether to retry).
    """
    now = now or timezone.now()
    result = ReconcileResult(close_retried=sessions_retry_close(account=account, now=now))
    # Rows created after the list was taken cannot be in it; judge only the older ones.
    listed_at = timezone.now()
    listed = cloud.client_for(account).list_sessions_of_uin()
    result.listed = len(listed)
    live = {item.session_id: item for item in listed
            if item.status in (SessionStatus.READY, SessionStatus.PREPARING)}

    pending = (LiveSession.objects.filter(account=account, created_at__lt=listed_at, cloud_closed_at__isnull=True)
               .select_related("account"))
    for session in pending:
        item = live.get(session.cloud_session_id)
        if item is None:
            ended_before = session.status in LiveSession.ENDED_STATUSES
            if _settle_absent(session, now):
                (result.confirmed if ended_before else result.closed).append(session.pk)
            continue
        if session.unlisted_count:
            LiveSession.objects.filter(pk=session.pk).update(unlisted_count=0)
        if session.status == Status.READY and item.is_started:
            services.session_mark_started(session=session, message="started (seen in the cloud)")

    confirmed_but_listed = LiveSession.objects.filter(
        account=account, cloud_session_id__in=live, status__in=LiveSession.ENDED_STATUSES,
        cloud_closed_at__isnull=False, cloud_closed_at__lt=listed_at).select_related("account")
    for session in confirmed_but_listed:
        if services.session_reopen_cloud_close(session=session):
            result.reopened.append(session.pk)
    if result.reopened:
        result.close_retried += sessions_retry_close(account=account, now=now)

    known = set(LiveSession.objects.filter(cloud_session_id__in=live).values_list("cloud_session_id", flat=True))
    unknown = [item for item in live.values() if item.session_id not in known]
    for item in _orphan_candidates(account, unknown, now):
        orphan = orphan_record(account=account, listed=item, now=now)
        if orphan is not None:
            result.orphaned.append(orphan.pk)

    orphans = LiveSession.objects.filter(account=account, is_orphan=True, status__in=LiveSession.LIVE_STATUSES)
    for orphan in orphans.select_related("account"):
        if orphan_close_if_unadopted(session=orphan, account=account, now=now):
            result.auto_closed.append(orphan.pk)
    return result


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
            services.audit_record(actor=None, action=Action.ORPHAN_FOUND, session=session, detail=listed.session_id)
            services.session_publish(session)
    except IntegrityError:
        return None
    return session


def _orphan_candidates(account: Account, unknown: list[ListedSession], now: datetime) -> list[ListedSession]:
    """The unknown sessions already seen unknown at least TCADH_ORPHAN_CONFIRM_SECONDS ago."""
    key = f"sweeps:unknown:{account.pk}"
    first_seen: dict[str, float] = cache.get(key) or {}
    stamp = now.timestamp()
    seen_now = {listed.session_id: first_seen.get(listed.session_id, stamp) for listed in unknown}
    cache.set(key, seen_now, timeout=3600)
    return [listed for listed in unknown if stamp - seen_now[listed.session_id] >= settings.TCADH_ORPHAN_CONFIRM_SECONDS]


def orphan_close_if_unadopted(*, session: LiveSession, account: Account, now: datetime | None = None) -> bool:
    if account.orphan_autoclose_minutes is None:
        return False
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=account.orphan_autoclose_minutes)
    reason = f"orphan not adopted within {account.orphan_autoclose_minutes} minutes"
    return services.session_close_unattended(session=session, condition=Q(is_orphan=True, created_at__lte=cutoff),
                                             reason=reason, action=Action.CLOSE_ORPHAN)


# -- orphans: what an operator does with them ---------------------------------------------------

def orphan_adopt(*, user, session: LiveSession) -> None:
    """Make an orphan ours: it gets a creator and falls under the idle sweep from now on."""
    now = timezone.now()
    with transaction.atomic():
        changed = (LiveSession.objects.filter(pk=session.pk, is_orphan=True, status__in=LiveSession.LIVE_STATUSES)
                   .update(is_orphan=False, created_by=user, last_activity_at=now, idle_warned_at=None))
        if not changed:
            raise services.ServiceError(_("the session is no longer an open orphan"))
        services.event_record(session=session, kind=SessionEvent.Kind.NOTE,
                              message=f"adopted by {user.get_username()}", data={"by": user.get_username()})
        services.audit_record(actor=user, action=Action.ADOPT, session=session)
        services.session_publish(session)


def orphan_close(*, user, session: LiveSession) -> None:
    if not session.is_orphan:
        raise services.ServiceError(_("the session is not an orphan"))
    if not services.session_close(user=user, session=session, reason=f"orphan closed by {user.get_username()}",
                                  action=Action.CLOSE_ORPHAN):
        raise services.ServiceError(_("the session was already closing or closed"))
