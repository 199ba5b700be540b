"""The seeded timeline of a chaos run: what operators do, what the cloud breaks, what dies.

Everything random is drawn here from one seed, before the run starts, so a seed names a run.
Which live session a cloud-side close hits is chosen when it happens (from a generator derived
from the same seed), since only then is it known what is live.
"""

from __future__ import annotations

import inspect
import random
from dataclasses import dataclass, field
from typing import Any

from tcadh.client import TcadhClient

CREATE_ENDPOINTS = ("createsession", "createsessionbyasset")
# The calls the console's lifecycle makes (list is what reconcile asks), weighted towards the
# ones that decide whether a session ends: asking how it is, and closing it.
FAULTED_ENDPOINTS = {"createsession": 2, "createsessionbyasset": 1, "statsession": 3, "startsession": 1,
                     "closesession": 3, "listsessionofuin": 1}
RETRYABLE_CODES = (-101000, 100012)
REFUSAL_CODES = (100001, 100005)
# A close answered "already closed" / "no such session" while the cloud still holds the session.
CLOSED_CLAIM_CODES = (110013, 110018)
# Past the console's read timeout, so the console gives up while the cloud goes on with the call.
CLIENT_READ_TIMEOUT = inspect.signature(TcadhClient).parameters["timeout"].default[1]
LATE_SECONDS = CLIENT_READ_TIMEOUT + 1
CLOSE_TYPES = (1, 2, 3, 4, 5)
# What an operator does with a session after creating it.
AFTERWARDS = (("close", 0.5), ("idle", 0.35), ("never_started", 0.15))


@dataclass(order=True)
class Step:
    at: float
    kind: str = field(compare=False)
    args: dict[str, Any] = field(compare=False, default_factory=dict)


def fault_spec(rng: random.Random) -> dict[str, Any]:
    """One control-API fault body for one of the console's cloud calls."""
    endpoint = rng.choices(list(FAULTED_ENDPOINTS), list(FAULTED_ENDPOINTS.values()))[0]
    kinds: list[dict[str, Any]] = [
        {"code": rng.choice(RETRYABLE_CODES)},
        {"code": rng.choice(REFUSAL_CODES)},
        {"http_status": rng.choice((500, 502))},
        {"delay_seconds": LATE_SECONDS},
        {"malformed": True},
    ]
    if endpoint in CREATE_ENDPOINTS:
        kinds += [{"fail_preparing": True}] * 2
    if endpoint == "closesession":
        kinds += [{"code": rng.choice(CLOSED_CLAIM_CODES)}] * 2
    return {"endpoint": endpoint, "count": rng.choice((1, 1, 1, 2)), **rng.choice(kinds)}


def build_plan(rng: random.Random, *, seconds: float, sessions: int, faults: int, orphans: int,
               worker_kills: int = 3) -> list[Step]:
    steps: list[Step] = []
    creating = seconds * 0.9
    for n in range(sessions):
        then = rng.choices([name for name, _ in AFTERWARDS], [weight for _, weight in AFTERWARDS])[0]
        steps.append(Step(at=creating * n / sessions + rng.uniform(0, creating / sessions), kind="create", args={
            "n": n, "source": rng.choice(("project", "project", "asset")),
            "protocol": rng.choice(("rtmp", "webrtc")), "auto_start": then != "never_started",
            "then": then, "close_after": rng.uniform(2, 15),
        }))
    steps += [Step(at=rng.uniform(2, seconds), kind="fault", args=fault_spec(rng)) for _ in range(faults)]
    # Every CloseType at least twice, at random moments.
    steps += [Step(at=rng.uniform(5, seconds), kind="cloud_close", args={"close_type": close_type})
              for close_type in CLOSE_TYPES * 2]
    steps += [Step(at=rng.uniform(2, seconds * 0.8), kind="orphan",
                   args={"n": n, "start": rng.random() < 0.5, "source": rng.choice(("project", "asset"))})
              for n in range(orphans)]
    victims = ["worker"] * worker_kills + ["beat", "daphne0"]
    rng.shuffle(victims)
    for index, victim in enumerate(victims):
        slot = seconds * 0.85 / len(victims)
        steps.append(Step(at=seconds * 0.1 + slot * index + rng.uniform(0, slot * 0.5), kind="kill",
                          args={"process": victim, "down_seconds": rng.uniform(1, 4)}))
    return sorted(steps)
