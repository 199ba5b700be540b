"""Session-minutes: what concurrency is paid for, summed in the database.

A session is paid for from its creation until the cloud confirmed it closed (`cloud_closed_at`);
one not yet confirmed counts up to now. Its minutes count on the day it was created (in
TIME_ZONE), so a day's rows, the month's total and the daily caps all add up the same way.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, DateTimeField, DurationField, ExpressionWrapper, F, Sum, Value
from django.db.models.functions import Coalesce, Greatest, TruncDate
from django.utils import timezone
from django.utils.formats import date_format

from .csv_cells import Echo, csv_cell
from .latency import Latency, spoken_by_day
from .models import Account, Asset, LatencyDay, LiveSession, Project, SavedDay, UsageDay

CSV_CHUNK_ROWS = 500
# The counterfactual of "minutes saved": without the console, the cloud itself closes a session
# 10 minutes after its last interaction (PROTOCOL.md §7.3).
CLOUD_NO_INTERACTION_CLOSE = timedelta(minutes=10)
# Closes that cut a session short (the sweeps', and an operator's close of an orphan), by the
# audit action they write.
CUT_OFF_ACTIONS = {"close_idle": "idle sweep", "close_orphan": "orphan close", "close_cap": "daily cap"}


def session_duration(now: datetime) -> ExpressionWrapper:
    """Created → confirmed closed in the cloud, or → now while it may still be billed."""
    end = Coalesce(F("cloud_closed_at"), Value(now, output_field=DateTimeField()))
    return ExpressionWrapper(end - F("created_at"), output_field=DurationField())


def seconds_of(value: timedelta | None) -> float:
    return value.total_seconds() if value else 0.0


def day_start(moment: datetime) -> datetime:
    """Midnight (TIME_ZONE) of the day `moment` falls on."""
    local = timezone.localtime(moment)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    first = timezone.make_aware(datetime(month.year, month.month, 1))
    following = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    return first, timezone.make_aware(datetime(following.year, following.month, 1))


# -- the Usage page: the rollup grouped in the database, plus the sessions not rolled up -------

@dataclass
class UsageLine:
    key: object
    label: str
    sessions: int = 0
    seconds: float = 0.0
    # Spoken utterances by start-latency bucket (`latency.bucket_of`): kept by day and account.
    starts: Counter = field(default_factory=Counter)

    @property
    def minutes(self) -> float:
        return self.seconds / 60

    @property
    def latency(self) -> Latency:
        return Latency.of_buckets(self.starts)

    @property
    def minutes_text(self) -> str:
        return f"{self.minutes:.2f}"


@dataclass
class UsageReport:
    since: datetime
    until: datetime
    total: UsageLine
    by_day: list[UsageLine] = field(default_factory=list)
    by_account: list[UsageLine] = field(default_factory=list)
    by_project: list[UsageLine] = field(default_factory=list)
    by_asset: list[UsageLine] = field(default_factory=list)
    by_operator: list[UsageLine] = field(default_factory=list)


GROUPS = ("account_id", "project_id", "asset_id", "created_by_id")
# The same groups in UsageDay, which calls the creator the operator.
ROLLED_UP = {"account_id": "account_id", "project_id": "project_id", "asset_id": "asset_id",
             "created_by_id": "operator_id"}


def usage_grouped(*, since: datetime, until: datetime, now: datetime, groups: tuple[str, ...] = GROUPS,
                  rows=None):
    """Sessions and session-minutes of LiveSession rows per day and `groups`, in one pass."""
    rows = LiveSession.objects.all() if rows is None else rows
    return (rows.filter(created_at__gte=since, created_at__lt=until)
            .annotate(day=TruncDate("created_at"))
            .values("day", *groups)
            .annotate(sessions=Count("pk"), duration=Sum(session_duration(now)))
            .order_by())


def usage_rows(*, since: datetime, until: datetime, now: datetime,
               groups: tuple[str, ...] = GROUPS) -> Iterator[tuple[tuple, int, float]]:
    """((day, *group pks), sessions, seconds) for the range, from UsageDay for what is rolled up
    and from the sessions for the rest (today's, and those the cloud has not confirmed closed).
    `since` and `until` are midnights; a key may come more than once."""
    rolled = (UsageDay.objects.filter(day__gte=timezone.localdate(since), day__lt=timezone.localdate(until))
              .values("day", *(ROLLED_UP[group] for group in groups))
              .annotate(n=Sum("sessions"), s=Sum("seconds")).order_by())
    for row in rolled:
        yield (row["day"], *(row[ROLLED_UP[group]] for group in groups)), row["n"], row["s"]
    fresh = usage_grouped(since=since, until=until, now=now, groups=groups,
                          rows=LiveSession.objects.filter(rolled_up=False))
    for row in fresh:
        yield (row["day"], *(row[group] for group in groups)), row["sessions"], seconds_of(row["duration"])


# The Usage page's views that show start latency, and the LatencyDay column each is grouped by.
LATENCY_VIEWS = {"day": "day", "account_id": "account_id"}


def latency_counts(*, view: str, since: datetime, until: datetime) -> Iterator[tuple[object, int, int]]:
    """(day or account pk, latency bucket, spoken utterances) for the range, grouped by the
    database per `view` (LATENCY_VIEWS) for the rolled-up sessions, and from the utterances of the
    rest. A key may come more than once. Grouping by one view at a time returns the days' rows
    and the accounts' rows, not every day times every account."""
    column = LATENCY_VIEWS[view]
    rolled = (LatencyDay.objects.filter(day__gte=timezone.localdate(since), day__lt=timezone.localdate(until))
              .values_list(column, "bucket_ms").annotate(n=Sum("utterances")).order_by())
    yield from rolled
    fresh = LiveSession.objects.filter(rolled_up=False, created_at__gte=since, created_at__lt=until)
    fresh_key = {"day": "day", "account_id": "account"}[view]
    for row in spoken_by_day(fresh):
        yield row[fresh_key], row["bucket"], row["n"]


NOBODY = {"account_id": "(none)", "project_id": "(no project)", "asset_id": "(no asset)",
          "created_by_id": "(found in the cloud)"}


class Names:
    """Display names of the accounts, projects, assets and operators the rows point at, each
    fetched once."""

    def __init__(self):
        User = get_user_model()
        self._models = {"account_id": Account, "project_id": Project, "asset_id": Asset, "created_by_id": User}
        self._known: dict[str, dict] = {group: {} for group in GROUPS}

    def fetch(self, group: str, pks) -> None:
        missing = {pk for pk in pks if pk is not None and pk not in self._known[group]}
        if missing:
            model = self._models[group]
            for obj in model.objects.filter(pk__in=missing):
                self._known[group][obj.pk] = obj.get_username() if group == "created_by_id" else obj.name

    def of(self, group: str, pk) -> str:
        if pk is None:
            return NOBODY[group]
        self.fetch(group, [pk])
        return self._known[group].get(pk, NOBODY[group])


def usage_report(*, since: datetime, until: datetime, now: datetime | None = None) -> UsageReport:
    """The range by day, account, project, asset and operator. The rolled-up part is grouped by
    the database once per view (a few dozen rows each); only the sessions not rolled up yet are
    folded here."""
    now = now or timezone.now()
    columns = {"day": "day", **ROLLED_UP}
    lines: dict[str, dict] = {view: {} for view in columns}

    def add(view: str, key, sessions: int, seconds: float) -> None:
        line = lines[view].setdefault(key, UsageLine(key=key, label=""))
        line.sessions += sessions
        line.seconds += seconds

    rolled = UsageDay.objects.filter(day__gte=timezone.localdate(since), day__lt=timezone.localdate(until))
    for view, column in columns.items():
        for row in rolled.values(column).annotate(n=Sum("sessions"), s=Sum("seconds")).order_by():
            add(view, row[column], row["n"], row["s"])
    fresh = usage_grouped(since=since, until=until, now=now, rows=LiveSession.objects.filter(rolled_up=False))
    for row in fresh:
        seconds = seconds_of(row["duration"])
        for view in columns:
            add(view, row[view], row["sessions"], seconds)
    for view in LATENCY_VIEWS:
        for key, bucket, n in latency_counts(view=view, since=since, until=until):
            line = lines[view].get(key)
            if line is None:
                line = lines[view][key] = UsageLine(key=key, label="")
            line.starts[bucket] += n

    names = Names()
    for group in GROUPS:
        names.fetch(group, lines[group])
        for pk, line in lines[group].items():
            line.label = names.of(group, pk)
    by_day = [lines["day"][day] for day in sorted(lines["day"])]
    for line in by_day:
        line.label = date_format(line.key)  # the viewer's language; the CSV keeps ISO days
    total = UsageLine(key=None, label="Total", sessions=sum(line.sessions for line in by_day),
                      seconds=sum(line.seconds for line in by_day),
                      starts=sum((line.starts for line in by_day), Counter()))

    def ranked(group: str) -> list[UsageLine]:
        return sorted(lines[group].values(), key=lambda line: (-line.seconds, line.label))

    return UsageReport(since=since, until=until, total=total, by_day=by_day, by_account=ranked("account_id"),
                       by_project=ranked("project_id"), by_asset=ranked("asset_id"),
                       by_operator=ranked("created_by_id"))


def month_to_date(*, now: datetime | None = None, report: UsageReport | None = None) -> list[UsageLine]:
    """Every account with its sessions and session-minutes since the first of this month; taken
    from `report` when that is this month's already."""
    now = now or timezone.now()
    since, until = month_bounds(timezone.localdate(now))
    lines = {account.pk: UsageLine(key=account.pk, label=account.name) for account in Account.objects.all()}
    if report is not None and (report.since, report.until) == (since, until):
        found = [((None, line.key), line.sessions, line.seconds) for line in report.by_account]
    else:
        found = usage_rows(since=since, until=until, now=now, groups=("account_id",))
    for (_, account_pk), sessions, seconds in found:
        lines[account_pk].sessions += sessions
        lines[account_pk].seconds += seconds
    return list(lines.values())


# -- minutes saved ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Saved:
    cause: str
    sessions: int
    seconds: float

    @property
    def minutes_text(self) -> str:
        return f"{self.seconds / 60:.2f}"


def _saved_seconds() -> ExpressionWrapper:
    last_interaction = Coalesce(F("last_activity_at"), F("started_at"), F("created_at"))
    deadline = ExpressionWrapper(last_interaction + Value(CLOUD_NO_INTERACTION_CLOSE), output_field=DateTimeField())
    return ExpressionWrapper(Greatest(deadline, F("cloud_closed_at")) - F("cloud_closed_at"),
                             output_field=DurationField())


def saved_grouped(rows):
    """Cut-off sessions among `rows` (confirmed closed), per day created and kind of close."""
    return (rows.filter(cloud_closed_at__isnull=False, audit__action__in=CUT_OFF_ACTIONS)
            .annotate(day=TruncDate("created_at")).values("day", "audit__action")
            .annotate(n=Count("pk", distinct=True), saved=Sum(_saved_seconds())).order_by())


def minutes_saved(*, since: datetime, until: datetime) -> list[Saved]:
    """Session-minutes the idle sweep, orphan closes and the daily caps cut off, of the sessions
    created in the range (midnights), one line per cause.

    A session cut off at T, whose last interaction was at A, would otherwise have run until the
    cloud's own no-interaction close at A + 10 minutes: it saved max(0, A + 10 min - T), where T
    is when the cloud confirmed it closed. Only confirmed closes count; a cut-off the cloud has
    not confirmed may still be billed. Rolled-up days come from SavedDay.
    """
    totals: dict[str, list] = defaultdict(lambda: [0, 0.0])
    rolled = (SavedDay.objects.filter(day__gte=timezone.localdate(since), day__lt=timezone.localdate(until))
              .values("action").annotate(n=Sum("sessions"), s=Sum("seconds")).order_by())
    fresh = saved_grouped(LiveSession.objects.filter(rolled_up=False, created_at__gte=since, created_at__lt=until))
    for action, sessions, seconds in [(row["action"], row["n"], row["s"]) for row in rolled] + \
            [(row["audit__action"], row["n"], seconds_of(row["saved"])) for row in fresh]:
        totals[CUT_OFF_ACTIONS[action]][0] += sessions
        totals[CUT_OFF_ACTIONS[action]][1] += seconds
    return [Saved(cause=cause, sessions=totals[cause][0], seconds=totals[cause][1])
            for cause in CUT_OFF_ACTIONS.values()]


# -- concurrency now ----------------------------------------------------------------------------

@dataclass(frozen=True)
class AccountConcurrency:
    account: Account
    live: int
    # Ended here, not yet confirmed closed by the cloud: they may still hold a slot.
    unconfirmed: int

    @property
    def in_use(self) -> int:
        return self.live + self.unconfirmed

    @property
    def limit(self) -> int | None:
        return self.account.concurrency_limit

    @property
    def free(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.in_use, 0)

    def as_json(self) -> dict:
        """What the dashboard's concurrency card is redrawn from."""
        return {"account": self.account.name, "in_use": self.in_use, "unconfirmed": self.unconfirmed,
                "limit": self.limit, "free": self.free}


def concurrency_now() -> list[AccountConcurrency]:
    """Each account's slots held now: every row the cloud has not confirmed closed."""
    live_statuses = LiveSession.LIVE_STATUSES + (LiveSession.Status.CLOSING,)
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    rows = (LiveSession.objects.filter(cloud_closed_at__isnull=True).values("account_id", "status")
            .annotate(n=Count("pk")).order_by())
    for row in rows:
        counts[row["account_id"]][0 if row["status"] in live_statuses else 1] += row["n"]
    return [AccountConcurrency(account=account, live=counts[account.pk][0], unconfirmed=counts[account.pk][1])
            for account in Account.objects.all()]


# -- CSV ----------------------------------------------------------------------------------------

CSV_HEADER = ["Day", "Account", "Project", "Asset", "Operator", "Sessions", "Session-minutes"]


def usage_csv(*, since: datetime, until: datetime, now: datetime | None = None,
              chunk_rows: int = CSV_CHUNK_ROWS) -> Iterator[str]:
    """The month's usage as CSV, one row per day, account, project, asset and operator, written
    in pieces. Memory follows the number of such rows (thousands a month), not of sessions."""
    now = now or timezone.now()
    writer = csv.writer(Echo())
    yield writer.writerow(CSV_HEADER)
    merged: dict[tuple, list] = {}
    for key, sessions, seconds in usage_rows(since=since, until=until, now=now):
        line = merged.setdefault(key, [0, 0.0])
        line[0] += sessions
        line[1] += seconds
    names = Names()
    for index, group in enumerate(GROUPS, start=1):
        names.fetch(group, {key[index] for key in merged})

    def cells_of(key: tuple) -> list:
        return [key[0].isoformat()] + [names.of(group, pk) for group, pk in zip(GROUPS, key[1:])]

    batch: list[str] = []
    for key in sorted(merged, key=cells_of):
        sessions, seconds = merged[key]
        cells = cells_of(key)
        batch.append(writer.writerow([csv_cell(cell) for cell in cells] + [sessions, round(seconds / 60, 2)]))
        if len(batch) >= chunk_rows:
            yield "".join(batch)
            batch.clear()
    if batch:
        yield "".join(batch)
