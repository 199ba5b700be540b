"""Start latency: how long after the console received an utterance the avatar started speaking it
(`Utterance.start_ms`), summed up as the median and the 95th percentile.

Percentiles are nearest-rank: always a latency some utterance really had, and the page's script
(static/js/latency.js) computes them by the same rule from what it is shown.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Case, Count, F, FloatField, IntegerField, When
from django.db.models.functions import Cast, Ceil, TruncDate

from .models import LiveSession, Utterance

# How many of a session's latest start latencies its page is given to go on from: an all-day
# kiosk's page shows its recent latency, not its whole day's.
RECENT_ON_PAGE = 1000


def percentile(ordered: list[int], p: float) -> int | None:
    """The nearest-rank `p`th percentile of ascending `ordered`; None when it is empty."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


# Bucket widths of the start-latency histogram: (below this many ms, this wide), then the last.
BUCKET_WIDTHS = ((1000, 10), (5000, 50), (60000, 500))
LAST_BUCKET_WIDTH = 5000


def bucket_of(ms: int) -> int:
    """The histogram bucket of a start latency, named by its upper bound: 10 ms wide below 1 s,
    50 ms below 5 s, 500 ms below a minute, 5 s beyond. A percentile read off the buckets is at
    most one bucket's width above the exact one."""
    for below, width in BUCKET_WIDTHS:
        if ms < below:
            return math.ceil(ms / width) * width
    return math.ceil(ms / LAST_BUCKET_WIDTH) * LAST_BUCKET_WIDTH


def _rounded_up(field: str, width: int):
    return Cast(Ceil(Cast(F(field), FloatField()) / width), IntegerField()) * width


def bucket_expression(field: str = "start_ms"):
    """`bucket_of` computed by the database, for grouping a day's utterances where they lie."""
    return Case(*(When(**{f"{field}__lt": below}, then=_rounded_up(field, width)) for below, width in BUCKET_WIDTHS),
                default=_rounded_up(field, LAST_BUCKET_WIDTH), output_field=IntegerField())


def spoken_by_day(sessions):
    """The spoken utterances of `sessions` counted by their session's day (TIME_ZONE), account and
    latency bucket: rows of "day", "account", "bucket" and "n"."""
    return (Utterance.objects.filter(session__in=sessions, start_ms__isnull=False)
            .annotate(day=TruncDate("session__created_at"), account=F("session__account_id"), bucket=bucket_expression())
            .values("day", "account", "bucket").annotate(n=Count("pk")).order_by())


@dataclass(frozen=True)
class Latency:
    count: int = 0
    p50: int | None = None
    p95: int | None = None

    @classmethod
    def of(cls, values: Iterable[int]) -> Latency:
        ordered = sorted(values)
        return cls(len(ordered), percentile(ordered, 50), percentile(ordered, 95))

    @classmethod
    def of_buckets(cls, counts: dict[int, int]) -> Latency:
        """From utterance counts by bucket (`bucket_of`): the buckets the percentiles fall in."""
        ordered = sorted((bucket, n) for bucket, n in counts.items() if n > 0)
        total = sum(n for _, n in ordered)
        if not total:
            return cls()

        def at(p: float) -> int:
            rank, seen = max(1, math.ceil(p / 100 * total)), 0
            for bucket, n in ordered:
                seen += n
                if seen >= rank:
                    return bucket
            return ordered[-1][0]

        return cls(total, at(50), at(95))


def _spoken(sessions) -> Iterable[tuple[int, int]]:
    return (Utterance.objects.filter(session__in=sessions, start_ms__isnull=False)
            .values_list("session_id", "start_ms").order_by())


def sessions_latency(*, session_pks: list[int]) -> dict[int, Latency]:
    """Each session's start latency, in one query (a page or a CSV chunk of sessions)."""
    grouped: dict[int, list[int]] = defaultdict(list)
    for session_pk, ms in _spoken(session_pks):
        grouped[session_pk].append(ms)
    return {pk: Latency.of(grouped.get(pk, ())) for pk in session_pks}


def session_latency(*, session: LiveSession) -> Latency:
    return sessions_latency(session_pks=[session.pk])[session.pk]


def session_recent_starts(*, session: LiveSession, last: int = RECENT_ON_PAGE) -> dict[str, int]:
    """The start latencies of the session's latest spoken utterances, by ReqId, for its page."""
    rows = (session.utterances.filter(start_ms__isnull=False).order_by("-created_at", "-id")
            .values_list("req_id", "start_ms")[:last])
    return dict(rows)
