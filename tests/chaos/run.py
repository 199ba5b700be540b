"""One chaos run, start to verdict: plan from a seed, play it, stop the faults, wait for the
console and the cloud to agree (or for the deadline), and count what they still disagree on.

Shared by the chaos tier (which asserts on it) and bench/convergence.py (which only prints it).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.cluster_support import Cluster

from .census import Census, CloudWatch, Convergence, Deadlines, convergence, row_history, take_census
from .cluster import (
    ACCOUNT,
    CLOSE_RETRY_MAX_SECONDS,
    ORPHAN_CONFIRM_SECONDS,
    READY_TIMEOUT_SECONDS,
    STALE_CLOSING_SECONDS,
    SWEEP_SECONDS,
)
from .plan import LATE_SECONDS, build_plan
from .scenario import Outcome, Scenario

TWO_CYCLES = 2 * SWEEP_SECONDS
SLOWEST_SHOWN = 3
# After the faults stop: a late answer still in flight lands, an orphan needs its second
# sighting, a close its retry; then two sweep cycles.
SETTLE_SECONDS = LATE_SECONDS + ORPHAN_CONFIRM_SECONDS + CLOSE_RETRY_MAX_SECONDS + TWO_CYCLES
DEADLINES = Deadlines(closing_seconds=STALE_CLOSING_SECONDS + TWO_CYCLES,
                      preparing_seconds=READY_TIMEOUT_SECONDS + TWO_CYCLES)


@dataclass
class ChaosRun:
    seed: int
    outcome: Outcome
    census: Census
    convergence: Convergence
    chaos_seconds: float
    settled_after: float
    tracebacks: int
    slowest: list[str]
    outages: str

    def report(self, logs: Path) -> str:
        outcome, census = self.outcome, self.census
        return "\n".join([
            f"chaos: seed {self.seed}; {outcome.submitted} sessions submitted through the form, "
            f"{len(outcome.created)} created, {len(outcome.orphans)} orphans started in the cloud, "
            f"{sum(outcome.armed.values())} faults armed, {sum(outcome.cloud_closes.values())} cloud-side closes "
            f"by CloseType {dict(sorted(outcome.cloud_closes.items()))}, kills {outcome.kills}, "
            f"chaos phase {self.chaos_seconds:.0f} s",
            f"chaos: faults {dict(outcome.armed.most_common())}",
            f"chaos: the form refused {dict(outcome.refused.most_common())}",
            f"chaos: operator closes {dict(outcome.closes.most_common())}",
            f"chaos: {'settled' if census.settled else 'NOT settled'} {self.settled_after:.0f} s after the faults "
            f"stopped (allowed {SETTLE_SECONDS:g} s); {len(census.rows)} rows; tracebacks logged: {self.tracebacks}",
            f"chaos: {census.counts()} (and {len(census.settling)} rows closing within their deadline); "
            f"leaks by kind {census.leaks_by_kind()}",
            f"chaos: kills: {self.outages}",
            f"chaos: fault -> closed in the cloud: {self.convergence.describe(TWO_CYCLES)}",
            *(f"chaos: slow close {line}" for line in self.slowest),
            f"chaos: leaked {census.leaked}",
            f"chaos: stuck {census.stuck}",
            f"chaos: lost {census.lost}",
            f"chaos: logs in {logs}",
        ])


def run_chaos(cluster: Cluster, *, seed: int, seconds: float = 90, sessions: int = 64, faults: int = 65,
              orphans: int = 5, say: Callable[[str], None] = print) -> ChaosRun:
    say(f"chaos seed {seed} (CHAOS_SEED={seed} replays this plan)")
    steps = build_plan(random.Random(seed), seconds=seconds, sessions=sessions, faults=faults, orphans=orphans)
    watch = CloudWatch(cluster.sim_url)
    watch.start()
    began = time.monotonic()
    scenario = Scenario(cluster, ACCOUNT, steps, seed)
    outcome = scenario.run()
    requests.delete(f"{cluster.sim_url}/_sim/faults", timeout=10).raise_for_status()
    stopped = time.monotonic()

    def census_now() -> Census:
        return take_census(db_url=cluster.db_url, sim_url=cluster.sim_url, created=outcome.created,
                           deadlines=DEADLINES)

    # No verdict before the last late answer has landed and two sweeps have seen its effect.
    earliest, deadline = stopped + LATE_SECONDS + TWO_CYCLES, stopped + SETTLE_SECONDS
    census = census_now()
    while not (census.settled and time.monotonic() >= earliest) and time.monotonic() < deadline:
        time.sleep(1)
        census = census_now()
    settled_after = time.monotonic() - stopped
    watch.stop()
    closing = convergence(census.rows, watch.closed_at, scenario.outages.overlap)
    ended_at = {row.pk: row.ended_at for row in census.rows}
    slowest = [f"row {pk} {seconds:.1f} s: {row_history(cluster.db_url, pk, ended_at[pk])}"
               for pk, seconds in closing.slowest(SLOWEST_SHOWN)]
    return ChaosRun(
        seed=seed, outcome=outcome, census=census, convergence=closing, chaos_seconds=stopped - began,
        settled_after=settled_after, tracebacks=sum(cluster.log(name).count("Traceback") for name in cluster.procs),
        slowest=slowest, outages=scenario.outages.describe(),
    )
