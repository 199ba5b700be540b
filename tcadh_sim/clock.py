"""Time sources, injectable so tests can move the wall clock without sleeping."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Clock:
    # Wall time only judges the signed `timestamp`; every interval (preparing, idle, rate
    # limits, receive times) uses the monotonic source so a wall-clock jump cannot close sessions.
    wall: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
