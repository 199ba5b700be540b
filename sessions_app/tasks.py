"""Celery tasks: thin wrappers that find the row and call a service."""

import logging

from celery import shared_task

from . import services
from .models import LiveSession

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
