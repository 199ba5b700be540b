"""The drives of each relay: utterances sent through it and not over yet, and what pages last
heard of each. Kept in memory per relay, by ReqId, so a speak status reaches pages without a
database read."""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from tcadh.frames import AudioUtterance, StreamTextUtterance

from ..models import Utterance
from . import page_messages
from .relay import Relay
from .utterances import moves_from


@dataclass
class Drive:
    """One utterance sent through a relay and not over yet."""

    kind: str
    req_id: str
    # The utterance as pages last heard of it (`selectors.utterance_summary`, kept in memory).
    summary: dict[str, Any]
    builder: StreamTextUtterance | AudioUtterance | None = None
    ended: bool = False  # final packet queued, or interrupted
    interrupted: bool = False
    unflushed_bytes: int = 0
    flushed_at: float = field(default_factory=time.monotonic)
    # When the console received it, on the wall clock its row's created_at is read from.
    sent_at: float = field(default_factory=time.time)


_drives: weakref.WeakKeyDictionary[Relay, dict[str, Drive]] = weakref.WeakKeyDictionary()


def drives_of(relay: Relay) -> dict[str, Drive]:
    """The relay's drives by ReqId."""
    return _drives.setdefault(relay, {})


def mark(drive: Drive, timing: str) -> bool:
    """Note that the drive reached `timing` (one of `Utterance.TIMINGS`) now; only the first time
    counts. Kept in its summary, so pages hear of it with the drive's next state."""
    if drive.summary.get(timing) is not None:
        return False
    drive.summary[timing] = max(0, round((time.time() - drive.sent_at) * 1000))
    return True


def timings(drive: Drive) -> dict[str, int]:
    """The timings the drive reached so far, as its row keeps them."""
    return {name: drive.summary[name] for name in Utterance.TIMINGS if drive.summary.get(name) is not None}


def show_state(relay: Relay, drive: Drive, to: str, error: str = "") -> None:
    """Tell pages the drive's new state, by the same rule `utterance_advance` applies to its row."""
    if drive.summary["state"] in moves_from(to):
        drive.summary.update(state=to, error=error[:500])
        relay.publish(page_messages.utterance(drive.summary))


def show_growth(relay: Relay, drive: Drive, *, text: str = "", audio_bytes: int = 0) -> None:
    drive.summary["text"] += text
    drive.summary["audio_bytes"] += audio_bytes
    if text:
        relay.publish(page_messages.utterance(drive.summary))
