"""Read-side queries of the audit pages: who used what, when and for how long.

Built to stay fast on a million sessions: pages move by a (created_at, id) cursor over the
(scope, created_at) indexes instead of OFFSET and COUNT(*); totals add UsageDay's daily rollup to
the few sessions it does not hold; filters the rollup cannot answer read a bounded range of
sessions; the concurrency chart is counted per bucket by the database over a bounded window; the
CSV streams rows from a server-side iterator.
"""

from __future__ import annotations

import base64
import csv
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta

from django.core.cache import cache
from django.db.models import Count, IntegerField, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from tcadh.errors import TcadhError

from . import cloud, cloud_errors, params
from .csv_cells import Echo, csv_cell
from .db_time import MillisecondsBetween, SecondsBetween
from .latency import sessions_latency
from .models import (LONG_SESSION, LONG_SESSION_SECONDS, ROLLED_UP_CLOSE_GAP, Account, Asset, AuditEntry, LiveSession,
                     Project, UsageDay)
from .usage import day_start

SCOPES: dict[str, type[Account] | type[Project] | type[Asset]] = {
    "account": Account, "project": Project, "asset": Asset,
}
LIVE_CACHE_SECONDS = 5
DB_CHUNK_ROWS = 2000
CSV_CHUNK_ROWS = 500
# Status, close reason and protocol are only found by reading the sessions one by one: without a
# From date, the pages that filter by them read this far back (a week is some 20 000 sessions).
SCANNED_DEFAULT_RANGE = timedelta(days=7)


@dataclass(frozen=True)
class SessionFilters:
    since: datetime | None = None
    until: datetime | None = None
    status: str = ""
    close_reason: str = ""
    creator: str = ""
    protocol: str = ""

    @property
    def reads_sessions(self) -> bool:
        """Filters that UsageDay cannot answer and no index finds quickly."""
        return bool(self.status or self.close_reason or self.protocol)

    def bounded(self, *, now: datetime) -> SessionFilters:
        """These filters as a page reads them: with `reads_sessions` and no From date, from
        SCANNED_DEFAULT_RANGE ago."""
        if self.reads_sessions and self.since is None:
            return replace(self, since=(self.until or now) - SCANNED_DEFAULT_RANGE)
        return self


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


def _lifetime_seconds(now: datetime) -> SecondsBetween:
    # Created until closed here, or until now while open: what each row shows as its duration.
    return SecondsBetween("created_at", Coalesce("closed_at", Value(now)))


def _whole_days(filters: SessionFilters) -> tuple[datetime | None, datetime | None] | None:
    """The local midnights [first, last) bounding the whole days inside the filters' range (None
    for an open end), or None when the range holds no whole day."""
    first = last = None
    if filters.since:
        first = day_start(filters.since)
        if first != filters.since:
            first = timezone.make_aware(datetime.combine(first.date() + timedelta(days=1), time()))
    if filters.until:
        last = day_start(filters.until)
    if first and last and first >= last:
        return None
    return first, last


def _totals_by(key: str, *, sessions: QuerySet, rolled_up: QuerySet, filters: SessionFilters,
               now: datetime) -> dict[object, Totals]:
    """Sessions and session-minutes of `sessions` (filtered by `filters`) per `key`.

    For the whole days of the range, the sessions rolled up into UsageDay come from `rolled_up`
    (the same scope's UsageDay rows), whose seconds are billed ones (until confirmed closed in the
    cloud): the few rolled-up sessions whose close here differs from that have the difference
    taken back. Everything else comes from the sessions. One statement, so a roll-up committing
    meanwhile is counted exactly once.
    """
    lifetime = _lifetime_seconds(now)

    def counted(qs: QuerySet) -> QuerySet:
        return qs.values(key).annotate(n=Count("*"), s=Sum(lifetime))

    days = None if filters.reads_sessions else _whole_days(filters)
    if days is None:
        parts = [counted(sessions)]
    else:
        # Each part a plain range of one index: the partial days at either end, and inside the
        # whole days the sessions not rolled up (today's, the unconfirmed) and the close gaps.
        first, last = days
        inside, day_range, parts = Q(), {}, []
        if first:
            parts.append(counted(sessions.filter(created_at__lt=first)))
            inside &= Q(created_at__gte=first)
            day_range["day__gte"] = timezone.localdate(first)
        if last:
            parts.append(counted(sessions.filter(created_at__gte=last)))
            inside &= Q(created_at__lt=last)
            day_range["day__lt"] = timezone.localdate(last)
        if filters.creator:
            rolled_up = rolled_up.filter(operator__username=filters.creator)
        parts += [
            counted(sessions.filter(inside, rolled_up=False)),
            rolled_up.filter(**day_range).values(key).annotate(n=Sum("sessions"), s=Sum("seconds")),
            sessions.filter(inside).filter(ROLLED_UP_CLOSE_GAP).values(key).annotate(
                n=Value(0, output_field=IntegerField()),
                s=Sum(SecondsBetween("cloud_closed_at", Coalesce("closed_at", Value(now))))),
        ]
    found: dict[object, list] = defaultdict(lambda: [0, 0.0])
    for row in parts[0].order_by().union(*(part.order_by() for part in parts[1:]), all=True):
        found[row[key]][0] += row["n"]
        found[row[key]][1] += row["s"] or 0.0
    return {pk: Totals(sessions=n, session_minutes=round(seconds / 60, 1)) for pk, (n, seconds) in found.items()}


def sessions_totals(*, scope: str, obj, filters: SessionFilters) -> Totals:
    found = _totals_by(f"{scope}_id", sessions=sessions_filtered(scope=scope, obj=obj, filters=filters),
                       rolled_up=UsageDay.objects.filter(**{scope: obj}), filters=filters, now=timezone.now())
    return found.get(obj.pk, Totals(0, 0.0))


def group_totals(*, scope: str, filters: SessionFilters) -> list[tuple[object, Totals]]:
    """Every account / project / asset with its session count and session-minutes in the range."""
    present = {f"{scope}__isnull": False}
    by_pk = _totals_by(f"{scope}_id", sessions=sessions_filtered(filters=filters).filter(**present),
                       rolled_up=UsageDay.objects.filter(**present), filters=filters, now=timezone.now())
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
    # A row is written in two parts joined by a comma: the session's cells as it is read, its
    # start latency once its piece's latencies are known. Held meanwhile as text, not as rows.
    # The writer keeps its CRLF line end, which is what makes it quote a cell holding a CR or LF.
    writer = csv.writer(Echo())

    def cells(values: list) -> str:
        return writer.writerow(values).removesuffix("\r\n")

    yield writer.writerow(CSV_TITLES)
    fields = [name for _, name in CSV_COLUMNS]
    created_at, closed_at = fields.index("created_at"), fields.index("closed_at")
    rows = qs.order_by("-created_at", "-pk").values_list("pk", *fields).iterator(chunk_size=DB_CHUNK_ROWS)

    def piece(chunk: list[tuple[int, str]]) -> str:
        latencies = sessions_latency(session_pks=[pk for pk, _ in chunk])
        return "".join(
            f"{head},{cells([latency.count, csv_cell(latency.p50), csv_cell(latency.p95)])}\r\n"
            for pk, head in chunk for latency in (latencies[pk],))

    chunk: list[tuple[int, str]] = []
    for pk, *row in rows:
        seconds = int(((row[closed_at] or now) - row[created_at]).total_seconds())
        chunk.append((pk, cells([csv_cell(v) for v in row] + [seconds])))
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


def account_concurrency(*, account: Account, since: datetime, until: datetime, buckets: int = 240,
                        now: datetime | None = None) -> ConcurrencySeries:
    """Sessions open during each of `buckets` equal slices of [since, until).

    A session counts in every slice it overlaps, so a slice's value is an upper bound of the
    sessions open at any instant inside it (exact once slices are shorter than sessions). The
    database gives each overlapping session's first and last slice, counted per pair: what comes
    back is bounded by the number of slices, not of sessions. A session open at `since` was either
    created less than LONG_SESSION_SECONDS before it or is among the few long ones, each read
    through its own index: the window's cost, not the account's history.
    """
    now = now or timezone.now()
    span_ms = max(round((until - since).total_seconds() * 1000), 1000)
    end = Coalesce("closed_at", Value(now))
    start_ms = Greatest(MillisecondsBetween(Value(since), "created_at"), Value(0))
    end_ms = Least(MillisecondsBetween(Value(since), end), Value(span_ms))
    first = start_ms * Value(buckets) / Value(span_ms)
    last = (end_ms * Value(buckets) + Value(span_ms - 1)) / Value(span_ms) - Value(1)
    overlapping = (LiveSession.objects.filter(account=account, created_at__lt=until)
                   .alias(end=end).filter(end__gt=since))
    lookback = since - timedelta(seconds=LONG_SESSION_SECONDS)
    parts = [part.annotate(first=first, last=last).values_list("first", "last").annotate(n=Count("*")).order_by()
             for part in (overlapping.filter(created_at__gte=lookback),
                          overlapping.filter(created_at__lt=lookback).filter(LONG_SESSION))]
    diff = [0] * (buckets + 1)
    for first_slice, last_slice, n in parts[0].union(parts[1], all=True):
        diff[first_slice] += n
        # A session shorter than a millisecond still counts in its slice.
        diff[min(max(last_slice, first_slice), buckets - 1) + 1] -= n
    values, running = [], 0
    for step in diff[:buckets]:
        running += step
        values.append(running)
    return ConcurrencySeries(since=since, until=until, bucket_seconds=span_ms / 1000 / buckets, values=values,
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
    # The closed set an entry may hold (AuditEntry.Action): a DISTINCT over the log would read it all.
    return sorted(AuditEntry.Action.values)
