"""Celery tasks: thin wrappers that find the row and call a service.

Every task may run twice (acks late, redelivered when a worker dies) and each one is idempotent:
the services claim rows with conditional updates.
"""

import logging

from celery import shared_task
from django.conf import settings

from tcadh.errors import TcadhError

from . import services, sweeps
from .models import Account, LiveSession

logger = logging.getLogger(__name__)

POLL_BACKOFF_CAP_SECONDS = 8


@shared_task
def poll_preparing_session(session_pk: int, attempt: int = 0) -> None:
    session = LiveSession.objects.filter(pk=session_pk).select_related("account").first()
    if session is None:
        return
    if services.session_refresh_and_start(session=session) is services.Preparing.WAITING:
        delay = min(2 ** attempt, POLL_BACKOFF_CAP_SECONDS)
        poll_preparing_session.apply_async(args=[session_pk, attempt + 1], countdown=delay)


@shared_task
def start_session(session_pk: int) -> None:
    session = LiveSession.objects.filter(pk=session_pk).select_related("account").first()
    if session is not None:
        services.session_start_automatically(session=session)


# -- periodic sweeps (scheduled by django-celery-beat; intervals from settings, see schedule.py) --
# Each run is idempotent and bounded by time limits; a run that dies is simply done again by the
# next one.

RECONCILE_MAX_RETRIES = 3


@shared_task(soft_time_limit=20, time_limit=30)
def poll_preparing_sessions() -> dict:
    result = sweeps.sessions_refresh_preparing()
    return {"asked": result.asked, "started": result.started}


@shared_task(soft_time_limit=50, time_limit=60)
def sweep_idle_sessions() -> dict:
    result = sweeps.sessions_idle_sweep()
    return {"warned": result.warned, "closed": result.closed,
            "cap_warned": result.caps.warned, "cap_closed": result.caps.closed, "rolled_up": result.rolled_up}


@shared_task(soft_time_limit=20, time_limit=30)
def reconcile_accounts() -> None:
    """One task per account, so one slow or failing gateway does not hold up the others."""
    for account_pk in Account.objects.values_list("pk", flat=True):
        # Stale after one period: the next sweep queues a fresh one anyway.
        reconcile_account.apply_async(args=[account_pk], expires=settings.TCADH_SWEEP_RECONCILE_SECONDS)


@shared_task(bind=True, soft_time_limit=50, time_limit=60, max_retries=RECONCILE_MAX_RETRIES)
def reconcile_account(self, account_pk: int) -> dict | None:
    account = Account.objects.filter(pk=account_pk).first()
    if account is None:
        return None
    try:
        result = sweeps.account_reconcile(account=account)
    except TcadhError as exc:
        if exc.retryable and self.request.retries < RECONCILE_MAX_RETRIES:
            raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 1))
        logger.warning("reconciling account %s failed: %s", account.name, exc)
        return None
    return {"listed": result.listed, "closed": result.closed, "orphaned": result.orphaned,
            "auto_closed": result.auto_closed, "close_retried": result.close_retried,
            "confirmed": result.confirmed, "reopened": result.reopened}
