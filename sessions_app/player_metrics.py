"""What viewers' players report about a session's video: time to first frame, reconnects, stalls.

Every page that plays a session reports for itself, so the figures add up over its viewers:
stalls and stalled time are summed; the first frame after the session became ready is the first
one any page reported; a reconnect's time to first frame keeps the slowest, the one an audit asks
about. Each report is bounded, so a page (or a person posting by hand) can skew a figure by at most
one plausible report at a time, and never make a counter overflow in one go.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest

from .models import LiveSession
from .params import BadParameter

# A first frame later than this is a page that sat in a background tab, not a measurement.
FIRST_FRAME_MS_MAX = 10 * 60 * 1000
# One stall is reported when it ends (or when the page goes away); longer than this is not one.
STALL_MS_MAX = 60 * 60 * 1000
FIRST_FRAME_AFTER = ("start", "reconnect")
_FIELDS = {"first_frame": {"event", "ms", "after"}, "stall": {"event", "ms"}}


@dataclass(frozen=True)
class PlayerReport:
    event: str  # "first_frame" or "stall"
    ms: int
    after: str = ""  # first_frame only: "start" (the session became ready) or "reconnect"


def _bounded_ms(value, *, most: int) -> int:
    # bool is an int to Python and JSON's true is not a duration.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= most:
        raise BadParameter(f"ms must be a whole number of milliseconds from 0 to {most}")
    return value


def parse_player_report(data: dict) -> PlayerReport:
    """A report as a page posts it: {"event": "first_frame", "ms": 850, "after": "start"} or
    {"event": "stall", "ms": 4200}. Anything else is a BadParameter saying what was expected."""
    event = data.get("event")
    if not isinstance(event, str) or event not in _FIELDS:
        raise BadParameter("event must be first_frame or stall")
    unknown = sorted(set(data) - _FIELDS[event])
    if unknown:
        raise BadParameter(f"a {event} report has no field {unknown[0][:40]!r}")
    if event == "stall":
        return PlayerReport(event=event, ms=_bounded_ms(data.get("ms"), most=STALL_MS_MAX))
    after = data.get("after")
    if not isinstance(after, str) or after not in FIRST_FRAME_AFTER:
        raise BadParameter("after must be start or reconnect")
    return PlayerReport(event=event, ms=_bounded_ms(data.get("ms"), most=FIRST_FRAME_MS_MAX), after=after)


def player_report_record(*, session: LiveSession, report: PlayerReport) -> None:
    """Add one report to the session's figures, in one conditional UPDATE: reports of several
    viewers arriving together all count, and none overwrites another."""
    rows = LiveSession.objects.filter(pk=session.pk)
    if report.event == "stall":
        rows.update(player_stalls=F("player_stalls") + 1, player_stalled_ms=F("player_stalled_ms") + report.ms)
    elif report.after == "start":
        rows.filter(Q(first_frame_ms__isnull=True)).update(first_frame_ms=report.ms)
    else:
        rows.update(player_reconnects=F("player_reconnects") + 1,
                    reconnect_frame_ms_max=Greatest(Coalesce("reconnect_frame_ms_max", 0), report.ms))
