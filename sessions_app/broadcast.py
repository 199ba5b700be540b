"""Group names and after-commit broadcasts of session changes to open pages."""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

DASHBOARD_GROUP = "dashboard"


def session_group(session_pk: int) -> str:
    return f"session-{session_pk}"


def session_status_group(session_pk: int) -> str:
    """Only the session's status changes, for the relay: it need not wake for every chat message."""
    return f"session-{session_pk}-status"


def send_after_commit(groups: list[str], message: dict) -> None:
    """Send once the surrounding transaction commits, so no page shows what was rolled back."""

    def send() -> None:
        layer = get_channel_layer()
        for group in groups:
            async_to_sync(layer.group_send)(group, message)

    transaction.on_commit(send)
