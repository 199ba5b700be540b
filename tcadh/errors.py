"""The single error type raised by the client, and the local codes it uses."""
from __future__ import annotations

# Local codes, all negative and small so they never collide with the cloud's (§6).
NETWORK_ERROR = -1      # connection refused/reset, DNS, TLS, socket dropped while sending
TIMEOUT_ERROR = -2      # connect or read timeout
HTTP_ERROR = -3         # non-200 HTTP status, or a refused WebSocket handshake
INVALID_RESPONSE = -4   # body is not JSON or lacks the Header/Payload envelope
CHANNEL_CLOSED = -5     # the command channel was closed locally or gave up reconnecting

# Cloud codes worth repeating a read-only call for: transient overload or internal faults.
RETRYABLE_CODES = frozenset({-101000, -101001, 100012, -111002})


class TcadhError(Exception):
    """A failed call: the cloud's ``Header.Code``/``Message``/``RequestID`` or a local code."""

    def __init__(
        self,
        code: int,
        message: str,
        request_id: str = "",
        *,
        retryable: bool | None = None,
        http_status: int | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.request_id = request_id
        self.retryable = code in RETRYABLE_CODES if retryable is None else retryable
        self.http_status = http_status
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"error {self.code}: {self.message} (request {self.request_id or '-'})"
