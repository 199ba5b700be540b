"""Faults armed through the control API, consumed by the next N calls of one endpoint."""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from .validate import bad

HTTP_ENDPOINTS = (
    "createsession",
    "createsessionbyasset",
    "statsession",
    "startsession",
    "closesession",
    "listsessionofuin",
    "listsessionofprojectid",
    "listsessionofassetvk",
    "updatesessionconfig",
    "gettrtcsign",
    "command",
)
CHANNEL_ENDPOINT = "commandchannel"
CREATE_ENDPOINTS = ("createsession", "createsessionbyasset")


@dataclass
class Fault:
    endpoint: str
    remaining: int
    code: int | None = None
    http_status: int | None = None
    delay_seconds: float = 0.0
    malformed: bool = False
    # On the command channel this drops the socket when the next upstream frame arrives,
    # which is how a network cut looks from the client's side.
    drop_websocket: bool = False
    # On create endpoints the new session ends in status 4 instead of becoming ready.
    fail_preparing: bool = False

    def describe(self) -> dict[str, Any]:
        return asdict(self)


def parse_fault(spec: Any) -> Fault:
    """Validate a control-API fault body; errors name the field."""
    if not isinstance(spec, dict):
        raise bad("body", "expected a JSON object")
    known = {"endpoint", "code", "http_status", "delay_seconds", "malformed", "drop_websocket", "fail_preparing", "count"}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise bad(unknown[0], "unknown field")
    endpoint = spec.get("endpoint")
    if endpoint not in HTTP_ENDPOINTS + (CHANNEL_ENDPOINT,):
        raise bad("endpoint", f"one of {', '.join(HTTP_ENDPOINTS + (CHANNEL_ENDPOINT,))}")
    count = spec.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise bad("count", "integer >= 1")
    fault = Fault(endpoint=endpoint, remaining=count)
    code = spec.get("code")
    if code is not None:
        if isinstance(code, bool) or not isinstance(code, int) or code == 0:
            raise bad("code", "non-zero integer")
        fault.code = code
    status = spec.get("http_status")
    if status is not None:
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise bad("http_status", "integer 400-599")
        fault.http_status = status
    delay = spec.get("delay_seconds", 0)
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 <= delay <= 120:
        raise bad("delay_seconds", "number 0-120")
    fault.delay_seconds = float(delay)
    for flag in ("malformed", "drop_websocket", "fail_preparing"):
        value = spec.get(flag, False)
        if not isinstance(value, bool):
            raise bad(flag, "true or false")
        setattr(fault, flag, value)
    if fault.drop_websocket and endpoint != CHANNEL_ENDPOINT:
        raise bad("drop_websocket", "only for endpoint commandchannel")
    if fault.drop_websocket and (fault.code or fault.http_status or fault.malformed or fault.delay_seconds):
        raise bad("drop_websocket", "cannot be combined with other faults")
    if fault.fail_preparing and endpoint not in CREATE_ENDPOINTS:
        raise bad("fail_preparing", "only for createsession and createsessionbyasset")
    if not (fault.code or fault.http_status or fault.malformed or fault.delay_seconds
            or fault.drop_websocket or fault.fail_preparing):
        raise bad("body", "name at least one fault: code, http_status, delay_seconds, malformed, drop_websocket, fail_preparing")
    return fault


class Faults:
    def __init__(self) -> None:
        self._armed: deque[Fault] = deque()

    def arm(self, fault: Fault) -> None:
        self._armed.append(fault)

    def take(self, endpoint: str, *, drop: bool = False) -> Fault | None:
        """The oldest armed fault for this endpoint (calls and channel frames kept apart)."""
        for fault in self._armed:
            if fault.endpoint == endpoint and fault.drop_websocket == drop:
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._armed.remove(fault)
                return fault
        return None

    def describe(self) -> list[dict[str, Any]]:
        return [fault.describe() for fault in self._armed]

    def clear(self) -> None:
        self._armed.clear()
