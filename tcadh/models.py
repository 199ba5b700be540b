"""Typed results of the session-management endpoints (PROTOCOL §7, §10)."""
from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from .errors import INVALID_RESPONSE, TcadhError
from .redact import redact_play_addr


class SessionStatus(enum.IntEnum):
    READY = 1
    CLOSED = 2
    PREPARING = 3
    FAILED = 4

    @classmethod
    def parse(cls, value: Any) -> SessionStatus:
        try:
            return cls(int(value))
        except (TypeError, ValueError):
            raise TcadhError(INVALID_RESPONSE, f"unknown SessionStatus {value!r}") from None


def _play_addr(value: str) -> str:
    return repr(redact_play_addr(value))


def _secret(value: str) -> str:
    return "'***'" if value else "''"


def _redacting(secret: Callable[[str], str]) -> Any:
    return field(metadata={"redact": secret})


def _repr(self: object) -> str:
    """dataclass-style repr that passes sensitive fields through their redactor."""
    shown = []
    for f in fields(self):  # type: ignore[arg-type]
        value = getattr(self, f.name)
        redact = f.metadata.get("redact")
        shown.append(f"{f.name}={redact(value) if redact else repr(value)}")
    return f"{type(self).__name__}({', '.join(shown)})"


@dataclass(frozen=True, repr=False)
class CreatedSession:
    session_id: str
    status: SessionStatus
    play_stream_addr: str = _redacting(_play_addr)
    req_id: str = ""

    __repr__ = _repr

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], req_id: str) -> CreatedSession:
        return cls(
            session_id=_str(payload, "SessionId", required=True),
            status=SessionStatus.parse(payload.get("SessionStatus")),
            play_stream_addr=_str(payload, "PlayStreamAddr"),
            req_id=_str(payload, "ReqId") or req_id,
        )


@dataclass(frozen=True, repr=False)
class SessionState:
    status: SessionStatus
    play_stream_addr: str = _redacting(_play_addr)
    speak_status: str = ""
    is_started: bool = False
    error_code: int = 0
    error_message: str = ""
    close_type: int | None = None

    __repr__ = _repr

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> SessionState:
        close_type = payload.get("CloseType")
        return cls(
            status=SessionStatus.parse(payload.get("SessionStatus")),
            play_stream_addr=_str(payload, "PlayStreamAddr"),
            speak_status=_str(payload, "SpeakStatus"),
            is_started=bool(payload.get("IsSessionStarted", False)),
            error_code=int(payload.get("ErrorCode") or 0),
            error_message=_str(payload, "ErrorMessage"),
            close_type=None if close_type in (None, "") else int(close_type),
        )


@dataclass(frozen=True, repr=False)
class ListedSession:
    session_id: str
    user_id: str
    status: SessionStatus
    play_stream_addr: str = _redacting(_play_addr)
    driver_type: int = 0
    is_started: bool = False
    virtualman_type: str = ""
    create_type: int | None = None
    virtualman_key: str = ""
    asset_virtualman_key: str = ""
    virtualman_project_id: str = ""

    __repr__ = _repr

    @classmethod
    def from_payload(cls, item: Mapping[str, Any]) -> ListedSession:
        create_type = item.get("CreateType")
        return cls(
            session_id=_str(item, "SessionId", required=True),
            user_id=_str(item, "UserId"),
            status=SessionStatus.parse(item.get("SessionStatus")),
            play_stream_addr=_str(item, "PlayStreamAddr"),
            # Documented as a string, sent as an int in every example.
            driver_type=int(item.get("DriverType") or 0),
            is_started=bool(item.get("IsSessionStarted", False)),
            virtualman_type=_str(item, "VirtualmanType"),
            create_type=None if create_type in (None, "") else int(create_type),
            virtualman_key=_str(item, "VirtualmanKey"),
            asset_virtualman_key=_str(item, "AssetVirtualmanKey"),
            virtualman_project_id=_str(item, "VirtualmanProjectId"),
        )


@dataclass(frozen=True, repr=False)
class TrtcSign:
    user_sig: str = _redacting(_secret)
    private_map_key: str = _redacting(_secret)

    __repr__ = _repr

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> TrtcSign:
        return cls(user_sig=_str(payload, "UserSig"), private_map_key=_str(payload, "PrivateMapKey"))


def _str(payload: Mapping[str, Any], key: str, *, required: bool = False) -> str:
    value = payload.get(key)
    if value is None or value == "":
        if required:
            raise TcadhError(INVALID_RESPONSE, f"response lacks {key}")
        return ""
    return str(value)
