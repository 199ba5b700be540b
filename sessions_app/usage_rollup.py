"""Rolling finished days of session-minutes up into UsageDay (and their utterances' start
latencies into LatencyDay), so the Usage page sums a few thousand rows a month instead of every
session.

A session is rolled up once the cloud confirmed it closed and the day it was created is over:
its minutes can no longer change, unless the cloud lists it again (`session_unroll`, called when
a confirmed close is reopened, takes them back out). Each batch claims its rows with a
conditional update before it sums them, so two sweeps rolling up at once never count a session
twice; the idle sweep runs it (`sessions_idle_sweep`).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from .latency import spoken_by_day
from .models import LatencyDay, LiveSession, SavedDay, UsageDay
from .usage import day_start, saved_grouped, seconds_of, session_duration

ROLLUP_BATCH_ROWS = 2000
# Per sweep: a first run over years of history is spread over several sweeps.
ROLLUP_MAX_BATCHES = 25


class _Raced(Exception):
    """Another process claimed part of the batch first: leave it to the next run."""


def _roll_up_batch(pks: list[int]) -> None:
    with transaction.atomic():
        claimed = (LiveSession.objects.filter(pk__in=pks, rolled_up=False, cloud_closed_at__isnull=False)
                   .update(rolled_up=True))
        if claimed != len(pks):
            raise _Raced
        # Confirmed rows: their duration no longer depends on "now".
        grouped = (LiveSession.objects.filter(pk__in=pks).annotate(day=TruncDate("created_at"))
                   .values("day", "account_id", "project_id", "asset_id", "created_by_id")
                   .annotate(n=Count("pk"), duration=Sum(session_duration(timezone.now()))).order_by())
        UsageDay.objects.bulk_create([
            UsageDay(day=row["day"], account_id=row["account_id"], project_id=row["project_id"],
                     asset_id=row["asset_id"], operator_id=row["created_by_id"], sessions=row["n"],
                     seconds=seconds_of(row["duration"]))
            for row in grouped])
        SavedDay.objects.bulk_create([
            SavedDay(day=row["day"], action=row["audit__action"], sessions=row["n"], seconds=seconds_of(row["saved"]))
            for row in saved_grouped(LiveSession.objects.filter(pk__in=pks))])
        LatencyDay.objects.bulk_create(_latency_days(pks, sign=1))


def _latency_days(pks: list[int], *, sign: int) -> list[LatencyDay]:
    """The spoken utterances of these sessions counted by day, account and latency bucket (in the
    database); `sign` -1 takes them back out."""
    return [LatencyDay(day=row["day"], account_id=row["account"], bucket_ms=row["bucket"], utterances=sign * row["n"])
            for row in spoken_by_day(pks)]


def usage_roll_up(*, now=None, batch_rows: int = ROLLUP_BATCH_ROWS, max_batches: int | None = ROLLUP_MAX_BATCHES) -> int:
    """Roll up confirmed sessions created before today; returns how many were rolled up."""
    now = now or timezone.now()
    due = (LiveSession.objects.filter(rolled_up=False, cloud_closed_at__isnull=False, created_at__lt=day_start(now))
           .order_by("created_at").values_list("pk", flat=True))
    done = batches = 0
    while max_batches is None or batches < max_batches:
        pks = list(due[:batch_rows])
        if not pks:
            break
        try:
            _roll_up_batch(pks)
        except _Raced:
            break
        done += len(pks)
        batches += 1
    return done


def session_unroll(*, session: LiveSession) -> bool:
    """A rolled-up session is billing again: take its minutes back out of UsageDay, so the page
    counts it from the session row (up to now) until it is confirmed closed and rolled up again."""
    with transaction.atomic():
        row = (LiveSession.objects.filter(pk=session.pk, rolled_up=True, cloud_closed_at__isnull=False)
               .select_for_update().values("created_at", "cloud_closed_at", "account_id", "project_id", "asset_id",
                                           "created_by_id").first())
        if row is None:
            return False
        UsageDay.objects.create(day=timezone.localdate(row["created_at"]), account_id=row["account_id"],
                                project_id=row["project_id"], asset_id=row["asset_id"],
                                operator_id=row["created_by_id"], sessions=-1,
                                seconds=-(row["cloud_closed_at"] - row["created_at"]).total_seconds())
        for saved in saved_grouped(LiveSession.objects.filter(pk=session.pk)):
            SavedDay.objects.create(day=saved["day"], action=saved["audit__action"], sessions=-saved["n"],
                                    seconds=-seconds_of(saved["saved"]))
        LatencyDay.objects.bulk_create(_latency_days([session.pk], sign=-1))
        LiveSession.objects.filter(pk=session.pk).update(rolled_up=False)
    return True
