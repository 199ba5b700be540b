"""Plays a chaos plan against a running cluster: operators at the forms, faults armed in the
simulator, cloud-side closes, orphans started behind the console's back, processes killed.

Operator actions run on a small pool (a create held up by a late cloud answer must not hold up
the timeline); faults, closes and kills run on the timeline's own thread, in order.
"""

from __future__ import annotations

import contextlib
import heapq
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

from tcadh.client import TcadhClient
from tcadh.errors import TcadhError
from tests.cluster_support import Cluster

from .census import CLOUD_LIVE, cloud_sessions
from .cluster import CloudAccount
from .console_forms import ConsoleOperator
from .outages import Outages
from .plan import Step

OPERATORS = 6


@dataclass
class Outcome:
    created: set[int] = field(default_factory=set)
    refused: Counter = field(default_factory=Counter)  # what the form said when it created nothing
    closes: Counter = field(default_factory=Counter)
    armed: Counter = field(default_factory=Counter)
    cloud_closes: Counter = field(default_factory=Counter)
    orphans: list[str] = field(default_factory=list)
    kills: list[str] = field(default_factory=list)
    submitted: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class Scenario:
    def __init__(self, cluster: Cluster, account: CloudAccount, steps: list[Step], seed: int) -> None:
        self.cluster = cluster
        self.account = account
        self.operator = ConsoleOperator(cluster.urls, "admin", cluster.password)
        self.outcome = Outcome()
        self._queue: list[Step] = list(steps)
        heapq.heapify(self._queue)
        self._queue_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=OPERATORS, thread_name_prefix="operator")
        self._targets = random.Random(f"{seed}-targets")
        self._began = 0.0
        self.outages = Outages(cluster)

    def run(self) -> Outcome:
        """Plays every step at its time; returns when the last one has been done."""
        self._began = time.monotonic()
        pending = []
        while True:
            with self._queue_lock:
                step = heapq.heappop(self._queue) if self._queue else None
            if step is None:
                if all(future.done() for future in pending):
                    break
                time.sleep(0.1)
                continue
            wait = step.at - (time.monotonic() - self._began)
            if wait > 0:
                time.sleep(wait)
            if step.kind in ("create", "close"):
                pending.append(self._pool.submit(getattr(self, step.kind), step.args))
            else:
                getattr(self, step.kind)(step.args)
        for future in pending:
            future.result()
        self._pool.shutdown()
        self.outages.settle()
        return self.outcome

    def _later(self, delay: float, kind: str, args: dict) -> None:
        with self._queue_lock:
            heapq.heappush(self._queue, Step(at=time.monotonic() - self._began + delay, kind=kind, args=args))

    # -- operators ---------------------------------------------------------------------------

    def create(self, args: dict) -> None:
        with self.outcome.lock:
            self.outcome.submitted += 1
        try:
            pk, error = self.operator.create_session(source=args["source"], protocol=args["protocol"],
                                                     auto_start=args["auto_start"], user_id=f"chaos-{args['n']}")
        except requests.RequestException as exc:
            pk, error = None, type(exc).__name__
        with self.outcome.lock:
            if pk is None:
                self.outcome.refused[_gist(error)] += 1
                return
            self.outcome.created.add(pk)
        if args["then"] == "close":
            self._later(args["close_after"], "close", {"pk": pk})

    def close(self, args: dict) -> None:
        try:
            said = self.operator.close_session(args["pk"])
        except requests.RequestException as exc:
            said = type(exc).__name__
        with self.outcome.lock:
            self.outcome.closes[_gist(said)] += 1

    # -- the cloud ---------------------------------------------------------------------------

    def fault(self, spec: dict) -> None:
        requests.post(f"{self.cluster.sim_url}/_sim/faults", json=spec, timeout=10).raise_for_status()
        kind = next(key for key in spec if key not in ("endpoint", "count"))
        self.outcome.armed[f"{spec['endpoint']} {kind}={spec[kind]}"] += 1

    def cloud_close(self, args: dict) -> None:
        live = sorted(sid for sid, status in cloud_sessions(self.cluster.sim_url).items() if status in CLOUD_LIVE)
        if not live:
            return
        target = self._targets.choice(live)
        answer = requests.post(f"{self.cluster.sim_url}/_sim/sessions/{target}/close",
                               json={"close_type": args["close_type"]}, timeout=10)
        if answer.status_code == 200:
            self.outcome.cloud_closes[args["close_type"]] += 1

    def orphan(self, args: dict) -> None:
        """A session someone else started with the same credentials: the console never saw it made."""
        client = TcadhClient(self.cluster.sim_url, self.account.appkey, self.account.accesstoken)
        common = {"user_id": f"elsewhere-{args['n']}", "protocol": "rtmp"}
        # A fault armed for the console may hit these calls instead: still chaos, so carry on.
        try:
            if args["source"] == "project":
                created = client.create_session(project_id=self.account.project, **common)
            else:
                created = client.create_session_by_asset(asset_key=self.account.asset, **common)
        except TcadhError:
            return
        self.outcome.orphans.append(created.session_id)
        if args["start"]:
            with contextlib.suppress(TcadhError):
                self._start_when_ready(client, created.session_id)

    def _start_when_ready(self, client: TcadhClient, session_id: str) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if client.stat_session(session_id).status == 1:
                client.start_session(session_id)
                return
            time.sleep(0.2)

    # -- our processes -----------------------------------------------------------------------

    def kill(self, args: dict) -> None:
        self.outcome.kills.append(args["process"])
        self.outages.kill(args["process"], down_seconds=args["down_seconds"])


def _gist(message: str) -> str:
    """A form's answer without the session ids in it, so like answers count together."""
    return " ".join(word for word in message.split() if sum(ch.isdigit() for ch in word) < 10)[:120]
