"""Read-side queries of the audit pages: who used what, when and for how long.

Built to stay fast on a million sessions: pages move by a (created_at, id) cursor over the
(scope, created_at) indexes instead of OFFSET and COUNT(*), the CSV streams rows from a server-side
iterator, and the concurrency chart folds sessions into a fixed number of buckets as they stream by.
"""

from __future__ import annotations

import base64
import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from tcadh.errors import TcadhError

from . import cloud, cloud_errors, params
from .csv_cells import Echo, csv_cell
from .latency import sessions_latency
from .models import Account, Asset, AuditEntry, LiveSession, Project

SCOPES: dict[str, type[Account] | type[Project] | type[Asset]] = {
    "account": Account, "project": Project, "asset": Asset,
}
LIVE_CACHE_SECONDS = 5
DB_CHUNK_ROWS = 2000
CSV_CHUNK_ROWS = 500


@dataclass(frozen=True)
class SessionFilters:
    since: datetime | None = None
    until: datetime | None = None
    status: str = ""
    close_reason: str = ""
    creator: str = ""
    protocol: str = ""


@dataclass(frozen=True)
class Page:
    rows: list
    next_cursor: str | None


# -- cursors ------------------------------------------------------------------------------------

def cursor_encode(created_at: datetime, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{pk}".encode()).decode().rstrip("=")


def cursor_decode(cursor: str) -> tuple[datetime, int] | None:
    """None for anything that is not a cursor we made: a bad link shows the first page."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, pk = raw.rsplit("|", 1)
        created_at = parse_datetime(stamp)
        if created_at is None or created_at.tzinfo is None:
            return None
        if not params.DATETIME_MIN <= created_at.replace(tzinfo=None) <= params.DATETIME_MAX:
            return None
        return created_at, params.parse_id(pk, name="cursor")
    except (ValueError, UnicodeDecodeError):
        return None


def _keyset_page(qs: QuerySet, *, cursor: str | None, size: int) -> Page:
    """Newest first; the page after `cursor` without counting or skipping rows."""
    position = cursor_decode(cursor) if cursor else None
    if position:
        created_at, pk = position
        qs = qs.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk))
    rows = list(qs.order_by("-created_at", "-pk")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows=rows, next_cursor=cursor_encode(rows[-1].created_at, rows[-1].pk) if more else None)


# -- sessions -----------------------------------------------------------------------------------

def _duration(now: datetime) -> ExpressionWrapper:
    # Billed from creation (PROTOCOL §7.2) until closed, or until now for open sessions.
    return ExpressionWrapper(Coalesce(F("closed_at"), Value(now)) - F("created_at"), output_field=DurationField())


def sessions_filtered(*, scope: str | None = None, obj=None, filters: SessionFilters = SessionFilters()) -> QuerySet:
    qs = LiveSession.objects.all()
    if scope is not None:
        qs = qs.filter(**{scope: obj})
    if filters.since:
        qs = qs.filter(created_at__gte=filters.since)
    if filters.until:
        qs = qs.filter(created_at__lt=filters.until)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.close_reason:
        qs = qs.filter(close_reason__icontains=filters.close_reason)
    if filters.creator:
        qs = qs.filter(created_by__username=filters.creator)
    if filters.protocol:
        qs = qs.filter(protocol=filters.protocol)
    return qs


def sessions_page(*, scope: str, obj, filters: SessionFilters, cursor: str | None = None, size: int = 50) -> Page:
    qs = sessions_filtered(scope=scope, obj=obj, filters=filters).select_related(
        "account", "project", "asset", "created_by")
    return _keyset_page(qs, cursor=cursor, size=size)


def session_duration(session: LiveSession, now: datetime | None = None) -> timedelta:
    return (session.closed_at or now or timezone.now()) - session.created_at


@dataclass(frozen=True)
class Totals:
    sessions: int
    session_minutes: float

    @property
    def average_minutes(self) -> float:
        return self.session_minutes / self.sessions if self.sessions else 0.0


def _minutes(value: timedelta | None) -> float:
    return round(value.total_seconds() / 60, 1) if value else 0.0


def sessions_totals(*, scope: str, obj, filters: SessionFilters) -> Totals:
    now = timezone.now()
    row = sessions_filtered(scope=scope, obj=obj, filters=filters).aggregate(
        sessions=Count("pk"), duration=Sum(_duration(now)))
    return Totals(sessions=row["sessions"], session_minutes=_minutes(row["duration"]))


def group_totals(*, scope: str, filters: SessionFilters) -> list[tuple[object, Totals]]:
    """Every account / project / asset with its session count and session-minutes in the range."""
    now = timezone.now()
    rows = (sessions_filtered(filters=filters).filter(**{f"{scope}__isnull": False})
            .values(f"{scope}_id").annotate(sessions=Count("pk"), duration=Sum(_duration(now))).order_by())
    by_pk = {row[f"{scope}_id"]: Totals(row["sessions"], _minutes(row["duration"])) for row in rows}
    model = SCOPES[scope]
    related = model.objects.all() if scope == "account" else model.objects.select_related("account")
    return [(obj, by_pk.get(obj.pk, Totals(0, 0.0))) for obj in related]


# -- CSV ----------------------------------------------------------------------------------------

CSV_COLUMNS = [
    ("SessionId", "cloud_session_id"), ("Account", "account__name"), ("UIN", "account__uin"),
    ("Project", "project__name"), ("Asset", "asset__name"), ("Creator", "created_by__username"),
    ("UserId", "user_id"), ("Protocol", "protocol"), ("DriverType", "driver_type"), ("Status", "status"),
    ("Orphan", "is_orphan"), ("Created", "created_at"), ("Ready", "ready_at"), ("Started", "started_at"),
    ("Closed", "closed_at"), ("Close reason", "close_reason"), ("CloseType", "close_type"),
    ("Error", "error_message"), ("First frame (ms)", "first_frame_ms"), ("Stalls", "player_stalls"),
    ("Stalled (ms)", "player_stalled_ms"),
]
CSV_TITLES = [title for title, _ in CSV_COLUMNS] + [
    "Duration (s)", "Spoken utterances", "Start latency p50 (ms)", "Start latency p95 (ms)"]


def sessions_csv(qs: QuerySet, *, chunk_rows: int = CSV_CHUNK_ROWS) -> Iterator[str]:
    """CSV text in pieces of `chunk_rows` rows, read DB_CHUNK_ROWS at a time from a server-side
    cursor: memory stays flat whatever the row count. Each piece's start latencies come in one
    query for its sessions."""
    now = timezone.now()
    yield csv.writer(Echo()).writerow(CSV_TITLES)
    # A row is written in two parts joined by a comma: the session's cells as it is read, its
    # start latency once its piece's latencies are known. Held meanwhile as text, not as rows.
    cells = csv.writer(Echo(), lineterminator="")
    fields = [name for _, name in CSV_COLUMNS]
    created_at, closed_at = fields.index("created_at"), fields.index("closed_at")
    rows = qs.order_by("-created_at", "-pk").values_list("pk", *fields).iterator(chunk_size=DB_CHUNK_ROWS)

    def piece(chunk: list[tuple[int, str]]) -> str:
        latencies = sessions_latency(session_pks=[pk for pk, _ in chunk])
        return "".join(
            f"{head},{cells.writerow([latency.count, csv_cell(latency.p50), csv_cell(latency.p95)])}\r\n"
            for pk, head in chunk for latency in (latencies[pk],))

    chunk: list[tuple[int, str]] = []
    for pk, *row in rows:
        seconds = int(((row[closed_at] or now) - row[created_at]).total_seconds())
        chunk.append((pk, cells.writerow([csv_cell(v) for v in row] + [seconds])))
        if len(chunk) >= chunk_rows:
            yield piece(chunk)
            chunk.clear()
    if chunk:
        yield piece(chunk)


# -- live now (from the cloud) ------------------------------------------------------------------

@dataclass(frozen=True)
class LiveNow:
    rows: list[dict]
    error: str = ""


def _listed_now(scope: str, obj) -> list[dict]:
    account = obj if scope == "account" else obj.account
    client = cloud.client_for(account)
    if scope == "account":
        listed = client.list_sessions_of_uin()
    elif scope == "project":
        listed = client.list_sessions_of_project(obj.project_id)
    else:
        listed = client.list_sessions_of_asset(obj.asset_key)
    # Only what a page may show: never the play address.
    return [{"session_id": s.session_id, "user_id": s.user_id, "status": int(s.status), "started": s.is_started,
             "driver_type": s.driver_type, "project_id": s.virtualman_project_id,
             "asset_key": s.asset_virtualman_key} for s in listed]


def live_now(*, scope: str, obj) -> LiveNow:
    """What the cloud lists right now, fresh within LIVE_CACHE_SECONDS, joined to our rows."""
    key = f"audit:live:{scope}:{obj.pk}"
    listed = cache.get(key)
    if listed is None:
        try:
            listed = _listed_now(scope, obj)
        except TcadhError as exc:
            return LiveNow(rows=[], error=f"the cloud did not answer: {cloud_errors.explain(exc)}")
        cache.set(key, listed, timeout=LIVE_CACHE_SECONDS)
    ours = {s.cloud_session_id: s for s in LiveSession.objects.filter(
        cloud_session_id__in=[item["session_id"] for item in listed]).select_related("created_by")}
    rows = [{**item, "row": ours.get(item["session_id"])} for item in listed]
    return LiveNow(rows=rows)


# -- concurrency chart --------------------------------------------------------------------------

@dataclass(frozen=True)
class ConcurrencySeries:
    since: datetime
    until: datetime
    bucket_seconds: float
    values: list[int]
    limit: int | None

    @property
    def peak(self) -> int:
        return max(self.values, default=0)

    def as_json(self) -> dict:
        return {"since": self.since.isoformat(), "until": self.until.isoformat(),
                "bucket_seconds": self.bucket_seconds, "values": self.values, "limit": self.limit,
                "peak": self.peak}


def account_concurrency(*, account: Account, since: datetime, until: datetime, buckets: int = 240) -> ConcurrencySeries:
    """Sessions open during each of `buckets` equal slices of [since, until).

    A session counts in every slice it overlaps, so a slice's value is an upper bound of the
    sessions open at any instant inside it (exact once slices are shorter than sessions).
    Uses a difference array: memory is one integer per slice whatever the number of sessions.
    """
    now = timezone.now()
    span = max((until - since).total_seconds(), 1.0)
    width = span / buckets
    diff = [0] * (buckets + 1)
    overlapping = (LiveSession.objects.filter(account=account, created_at__lt=until)
                   .filter(Q(closed_at__isnull=True) | Q(closed_at__gt=since))
                   .values_list("created_at", "closed_at").iterator(chunk_size=DB_CHUNK_ROWS))
    for created_at, closed_at in overlapping:
        end = min(closed_at or now, until)
        if end <= since:
            continue
        first = max(int((max(created_at, since) - since).total_seconds() // width), 0)
        last = min(math.ceil((end - since).total_seconds() / width) - 1, buckets - 1)
        if last < first:
            last = first
        diff[first] += 1
        diff[last + 1] -= 1
    values, running = [], 0
    for step in diff[:buckets]:
        running += step
        values.append(running)
    return ConcurrencySeries(since=since, until=until, bucket_seconds=width, values=values,
                             limit=account.concurrency_limit)


# -- audit log ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class AuditFilters:
    since: datetime | None = None
    until: datetime | None = None
    action: str = ""
    actor: str = ""
    account: Account | None = None
    ok: bool | None = None


def audit_entries_page(*, filters: AuditFilters, cursor: str | None = None, size: int = 50) -> Page:
    qs = AuditEntry.objects.select_related("actor", "account", "session")
    if filters.since:
        qs = qs.filter(created_at__gte=filters.since)
    if filters.until:
        qs = qs.filter(created_at__lt=filters.until)
    if filters.action:
        qs = qs.filter(action=filters.action)
    if filters.actor:
        qs = qs.filter(actor__username=filters.actor)
    if filters.account is not None:
        qs = qs.filter(account=filters.account)
    if filters.ok is not None:
        qs = qs.filter(ok=filters.ok)
    return _keyset_page(qs, cursor=cursor, size=size)


def audit_actions() -> list[str]:
    return list(AuditEntry.objects.order_by("action").values_list("action", flat=True).distinct())
