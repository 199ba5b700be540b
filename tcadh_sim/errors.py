"""Header.Code values the simulator emits (PROTOCOL.md §6) and the exception that carries one."""

from __future__ import annotations

OK = 0
INVALID_PARAMETER = 100001
UNAUTHORIZED = 100005
CONCURRENCY_EXCEEDED = 100008
TOO_FREQUENT = 100012
SESSION_CLOSED = 110013
SESSION_NOT_READY = 110014
WRONG_TIME = 110015
SESSION_NOT_STARTED = 110016
SESSION_UNKNOWN = 110018
SAME_USER_REPLACED = 110022


class ApiError(Exception):
    """A business error answered as a non-zero Header.Code (HTTP status stays 200)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
