"""The background work that follows a session's creation.

Services change rows and call the cloud; they never queue tasks (tasks call services, and the
two would import each other). Views and the kiosk create sessions through here, which queues
the polling or the automatic start once the new row is committed.
"""

from django.db import transaction

from . import services, tasks
from .models import LiveSession

FIRST_POLL_SECONDS = 1


def session_create(*, user, spec: services.NewSession) -> LiveSession:
    session = services.session_create(user=user, spec=spec)
    if session.status == LiveSession.Status.PREPARING:
        transaction.on_commit(lambda: tasks.poll_preparing_session.apply_async(
            args=[session.pk], countdown=FIRST_POLL_SECONDS))
    elif session.auto_start:
        transaction.on_commit(lambda: tasks.start_session.delay(session.pk))
    return session
