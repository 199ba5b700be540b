"""The words pages show for stored values: session statuses and utterance states.

Templates translate the same values with ``{% translate value context "..." %}``; the tables here
are where makemessages finds those words.
"""

from django.utils.translation import pgettext_lazy

STATUS_LABELS = {
    "preparing": pgettext_lazy("session status", "preparing"),
    "ready": pgettext_lazy("session status", "ready"),
    "started": pgettext_lazy("session status", "started"),
    "closing": pgettext_lazy("session status", "closing"),
    "closed": pgettext_lazy("session status", "closed"),
    "failed": pgettext_lazy("session status", "failed"),
}

UTTERANCE_STATE_LABELS = {
    "queued": pgettext_lazy("utterance state", "queued"),
    "speaking": pgettext_lazy("utterance state", "speaking"),
    "done": pgettext_lazy("utterance state", "done"),
    "interrupted": pgettext_lazy("utterance state", "interrupted"),
    "failed": pgettext_lazy("utterance state", "failed"),
}


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))

# The usage page's "cut off by" column, by the words sessions_app.usage groups with.
CUT_OFF_LABELS = {
    "idle sweep": pgettext_lazy("cut off by", "idle sweep"),
    "orphan close": pgettext_lazy("cut off by", "orphan close"),
    "daily cap": pgettext_lazy("cut off by", "daily cap"),
}
