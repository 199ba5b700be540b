"""Celery tasks: thin wrappers that find the row and call a service."""

import logging

from celery import shared_task

from tcadh.errors import TcadhError

from . import services, sweeps
from .models import Account, LiveSession

logger = logging.getLogger(__name__)

POLL_BACKOFF_CAP_SECONDS = 8


@shared_task(acks_late=True)
def poll_preparing_session(session_pk: int, attempt: int = 0) -> None:
    session = LiveSession.objects.filter(pk=session_pk).select_related("account").first()
    if session is None:
        return
    if services.session_refresh_preparing(session=session):
        delay = min(2 ** attempt, POLL_BACKOFF_CAP_SECONDS)
        poll_preparing_session.apply_async(args=[session_pk, attempt + 1], countdown=delay)


@shared_task(acks_late=True)
def start_session(session_pk: int) -> None:
    session = LiveSession.objects.filter(pk=session_pk).select_related("account").first()
    if session is None:
        return
    try:
        services.session_start(user=None, session=session)
    except services.ServiceError as exc:
        services.event_record(session=session, kind="error", message=f"automatic start failed: {exc}")
        logger.warning("automatic start of session %s failed: %s", session_pk, exc)


# -- periodic sweeps (scheduled by django-celery-beat; see the 0002 data migration) -------------
# Each run is idempotent and bounded by time limits; a run that dies is simply done again by the
# next one, so nothing here needs to survive a worker restart.

RECONCILE_MAX_RETRIES = 3


@shared_task(acks_late=True, soft_time_limit=20, time_limit=30)
def poll_preparing_sessions() -> int:
    return sweeps.sessions_refresh_preparing()


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def sweep_idle_sessions() -> dict:
    result = sweeps.sessions_idle_sweep()
    return {"warned": result.warned, "closed": result.closed}


@shared_task(acks_late=True, soft_time_limit=20, time_limit=30)
def reconcile_accounts() -> None:
    """One task per account, so one slow or failing gateway does not hold up the others."""
    for account_pk in Account.objects.values_list("pk", flat=True):
        reconcile_account.delay(account_pk)


@shared_task(bind=True, acks_late=True, soft_time_limit=50, time_limit=60, max_retries=RECONCILE_MAX_RETRIES)
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
            "auto_closed": result.auto_closed}
