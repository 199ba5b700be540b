"""Both sides of the truth: what the simulated cloud holds and what the console's rows say.

`CloudWatch` samples the simulator's session list in the background and keeps, per session,
when it was first seen closed (status 2, or 4 for a creation that failed: neither holds
concurrency). `take_census` compares the two sides and names every disagreement.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

import psycopg
import requests

CLOUD_LIVE = (1, 3)  # ready, preparing: what the cloud bills and lists
CLOUD_ENDED = (2, 4)
CLOUD_WORDS = {1: "ready", 2: "closed", 3: "preparing", 4: "failed"}
CONSOLE_LIVE = ("preparing", "ready", "started", "closing")
CONSOLE_OPEN = ("preparing", "ready", "started")
SAMPLE_SECONDS = 0.5
# A close that goes through is done within one sample; later than this, something got in its way.
FIRST_ATTEMPT_SECONDS = 2 * SAMPLE_SECONDS

ROWS_SQL = """
SELECT s.id, s.cloud_session_id, s.status, s.is_orphan, s.created_at,
       (SELECT max(e.created_at) FROM sessions_app_sessionevent e
         WHERE e.session_id = s.id AND e.kind = 'status' AND e.data->>'status' = 'closing'),
       (SELECT min(e.created_at) FROM sessions_app_sessionevent e
         WHERE e.session_id = s.id AND e.kind = 'status' AND e.data->>'status' IN ('closing', 'closed', 'failed'))
  FROM sessions_app_livesession s
"""


def cloud_sessions(sim_url: str) -> dict[str, int]:
    answer = requests.get(f"{sim_url}/_sim/sessions", timeout=10)
    answer.raise_for_status()
    return {entry["session_id"]: entry["status"] for entry in answer.json()["sessions"]}


class CloudWatch:
    def __init__(self, sim_url: str) -> None:
        self.sim_url = sim_url
        self.closed_at: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cloud-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sessions = cloud_sessions(self.sim_url)
            except requests.RequestException:
                sessions = {}
            now = time.time()
            for session_id, status in sessions.items():
                if status in CLOUD_ENDED:
                    self.closed_at.setdefault(session_id, now)
            self._stop.wait(SAMPLE_SECONDS)


@dataclass
class Row:
    pk: int
    session_id: str
    status: str
    is_orphan: bool
    created_at: datetime
    closing_since: datetime | None
    ended_at: datetime | None


@dataclass(frozen=True)
class Deadlines:
    """How long a row may sit in a passing state before it counts as stuck."""

    closing_seconds: float
    preparing_seconds: float


@dataclass
class Census:
    leaked: list[str] = field(default_factory=list)  # live in the cloud, ended or unknown here
    stuck: list[str] = field(default_factory=list)  # closing / preparing past its deadline
    lost: list[str] = field(default_factory=list)  # live here, ended in the cloud (or a created row gone)
    settling: list[int] = field(default_factory=list)  # closing, still within its deadline
    rows: list[Row] = field(default_factory=list)

    @property
    def settled(self) -> bool:
        return not (self.leaked or self.stuck or self.lost or self.settling)

    def counts(self) -> str:
        return f"leaked={len(self.leaked)} stuck={len(self.stuck)} lost={len(self.lost)}"

    def leaks_by_kind(self) -> dict[str, int]:
        return dict(Counter(leak.split(" ", 1)[1] for leak in self.leaked).most_common())


def console_rows(db_url: str) -> list[Row]:
    with psycopg.connect(db_url) as conn:
        return [Row(*record) for record in conn.execute(ROWS_SQL).fetchall()]


def take_census(*, db_url: str, sim_url: str, created: set[int], deadlines: Deadlines) -> Census:
    rows = console_rows(db_url)
    cloud = cloud_sessions(sim_url)
    now = datetime.now(timezone.utc)
    census = Census(rows=rows)
    by_session = {row.session_id: row for row in rows}
    for session_id, status in cloud.items():
        row = by_session.get(session_id)
        if status in CLOUD_LIVE and (row is None or row.status not in CONSOLE_LIVE):
            here = "no row" if row is None else row.status + (" orphan" if row.is_orphan else "")
            census.leaked.append(f"{session_id} ({here} here, {CLOUD_WORDS[status]} in the cloud)")
    for row in rows:
        if row.status in CONSOLE_OPEN and cloud.get(row.session_id) not in CLOUD_LIVE:
            there = CLOUD_WORDS.get(cloud.get(row.session_id), "unknown")
            census.lost.append(f"{row.session_id} ({row.status} here, {there} in the cloud)")
        if row.status == "closing":
            since = (now - (row.closing_since or row.created_at)).total_seconds()
            if since > deadlines.closing_seconds:
                census.stuck.append(f"row {row.pk} closing for {since:.0f} s")
            else:
                census.settling.append(row.pk)
        age = (now - row.created_at).total_seconds()
        if row.status == "preparing" and age > deadlines.preparing_seconds:
            census.stuck.append(f"row {row.pk} preparing for {age:.0f} s")
    census.lost += [f"row {pk}" for pk in sorted(created - {row.pk for row in rows})]
    return census


@dataclass
class Convergence:
    """From the console deciding a session is over to the cloud holding it closed."""

    first_attempt: int
    delayed: dict[int, float]  # row id: seconds
    # The same, less the time the worker or beat was down meanwhile: what the sweeps achieve.
    delayed_while_running: dict[int, float]
    never: list[str]

    def describe(self, target_seconds: float) -> str:
        if not self.delayed:
            spread = "none delayed"
        else:
            spread = (f"{len(self.delayed)} closed after a fault: {_spread(self.delayed, target_seconds)}; "
                      f"not counting the time the worker or beat was down: "
                      f"{_spread(self.delayed_while_running, target_seconds)}")
        never = f"{len(self.never)} never closed {self.never}" if self.never else "none left open"
        return f"{self.first_attempt} closed in the cloud at once; {spread}; {never}"

    def slowest(self, count: int) -> list[tuple[int, float]]:
        return sorted(self.delayed.items(), key=lambda item: -item[1])[:count]


def _spread(seconds_by_row: dict[int, float], target_seconds: float) -> str:
    seconds = list(seconds_by_row.values())
    p50, worst = statistics.median(seconds), max(seconds)

    def verdict(value: float) -> str:
        return "under" if value < target_seconds else "NOT under"

    return (f"p50 {p50:.1f} s ({verdict(p50)} the {target_seconds:g} s target), "
            f"max {worst:.1f} s ({verdict(worst)})")


def convergence(rows: list[Row], closed_at: dict[str, float],
                sweeps_down: Callable[[float, float], float]) -> Convergence:
    """`sweeps_down(began, ended)`: how many of those seconds the worker or beat was down."""
    result = Convergence(first_attempt=0, delayed={}, delayed_while_running={}, never=[])
    for row in rows:
        if row.ended_at is None:
            continue
        closed = closed_at.get(row.session_id)
        if closed is None:
            result.never.append(f"row {row.pk} {row.status}")
            continue
        decided = row.ended_at.timestamp()
        seconds = max(0.0, closed - decided)
        if seconds <= FIRST_ATTEMPT_SECONDS:
            result.first_attempt += 1
        else:
            result.delayed[row.pk] = seconds
            result.delayed_while_running[row.pk] = seconds - sweeps_down(decided, closed)
    return result


def row_history(db_url: str, pk: int, ended_at: datetime) -> str:
    """What the console recorded about one row from the moment it decided the session was over."""
    with psycopg.connect(db_url) as conn:
        events = conn.execute(
            "SELECT created_at, kind, message FROM sessions_app_sessionevent WHERE session_id = %s "
            "AND created_at >= %s ORDER BY created_at, id", (pk, ended_at)).fetchall()
    return "; ".join(f"+{(at - ended_at).total_seconds():.1f} s {kind}: {message[:80]}" for at, kind, message in events)
