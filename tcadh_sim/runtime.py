"""The simulator's shared state, one per application instance."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from .calls import CallLog
from .clock import Clock
from .config import SimConfig
from .faults import Faults
from .state import SessionStore


@dataclass
class Simulator:
    config: SimConfig
    clock: Clock
    hub: Any
    store: SessionStore
    faults: Faults = field(default_factory=Faults)
    calls: CallLog = field(default_factory=CallLog)

    def record_call(self, endpoint: str, code: int, http_status: int = 200) -> None:
        self.calls.record(self.clock.monotonic(), endpoint, code, http_status)


def envelope(code: int, message: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The Header/Payload body used by every HTTP response and downstream frame."""
    return {"Header": {"Code": code, "Message": message, "RequestID": uuid.uuid4().hex}, "Payload": payload}


def summarize_data(data: Any) -> Any:
    """A frame's Data for inspection, with Base64 audio replaced by its size."""
    if isinstance(data, dict) and isinstance(data.get("Audio"), str):
        return {**data, "Audio": f"<{len(data['Audio'])} base64 chars>"}
    return data
