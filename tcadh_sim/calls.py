"""A log of every HTTP call and command-channel handshake, for the control API."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CallLog:
    entries: list[dict[str, Any]] = field(default_factory=list)

    def record(self, t: float, endpoint: str, code: int, http_status: int = 200) -> None:
        self.entries.append({"t": t, "endpoint": endpoint, "code": code, "http_status": http_status})

    def since(self, t: float | None) -> list[dict[str, Any]]:
        return [e for e in self.entries if t is None or e["t"] > t]

    @staticmethod
    def counts(entries: list[dict[str, Any]]) -> dict[str, int]:
        return dict(Counter(e["endpoint"] for e in entries))

    def clear(self) -> None:
        self.entries.clear()
