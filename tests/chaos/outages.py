"""When the sweeps could not run: from killing the worker or beat until it is back at work.

A killed process is back when its log says so again (a restarted Celery worker or beat needs
seconds to import Django on a busy machine, longer than it was down). The time a close waits
for them is the kill's cost, not the sweeps'; `overlap` lets the report tell the two apart.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

from tests.cluster_support import Cluster

READY_LINES = {"worker": re.compile(r"celery@\S+ ready\."), "beat": re.compile(r"beat: Starting\.\.\.")}
BACK_TIMEOUT_SECONDS = 120


@dataclass
class Outage:
    process: str
    began: float  # time.time()
    ended: float | None = None


class Outages:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.outages: list[Outage] = []
        self._threads: list[threading.Thread] = []

    def _ready_count(self, process: str) -> int:
        return len(READY_LINES[process].findall(self.cluster.log(process)))

    def kill(self, process: str, *, down_seconds: float) -> None:
        """Kill, stay down, restart; the outage ends when the process is back (watched aside)."""
        before = self._ready_count(process) if process in READY_LINES else 0
        outage = Outage(process, time.time())
        self.outages.append(outage)
        self.cluster.kill(process)
        time.sleep(down_seconds)
        self.cluster.restart(process)
        if process not in READY_LINES:
            outage.ended = time.time()  # a web process is back once its port answers
            return
        thread = threading.Thread(target=self._watch, args=(outage, before), daemon=True)
        thread.start()
        self._threads.append(thread)

    def _watch(self, outage: Outage, before: int) -> None:
        deadline = time.monotonic() + BACK_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._ready_count(outage.process) > before:
                outage.ended = time.time()
                return
            time.sleep(0.2)

    def settle(self) -> None:
        for thread in self._threads:
            thread.join(timeout=BACK_TIMEOUT_SECONDS)

    def sweepers_down(self) -> list[tuple[float, float]]:
        """The merged spans during which the worker or beat was not running."""
        spans = sorted((o.began, o.ended or float("inf")) for o in self.outages if o.process in READY_LINES)
        merged: list[tuple[float, float]] = []
        for began, ended in spans:
            if merged and began <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], ended))
            else:
                merged.append((began, ended))
        return merged

    def overlap(self, began: float, ended: float) -> float:
        """Seconds of [began, ended] during which the sweeps could not run."""
        return sum(max(0.0, min(ended, down_ended) - max(began, down_began))
                   for down_began, down_ended in self.sweepers_down())

    def describe(self) -> str:
        spans = self.sweepers_down()
        total = sum(ended - began for began, ended in spans)
        each = ", ".join(f"{o.process} {((o.ended or float('nan')) - o.began):.0f} s" for o in self.outages)
        return f"sweeps stopped for {total:.0f} s in all ({each})"
