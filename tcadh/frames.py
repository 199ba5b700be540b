"""Pure builders and parsers of command-channel frames (PROTOCOL §11). No I/O here.

Everything returns plain dicts ready for ``json.dumps``, which ``channel.CommandChannel`` sends.
"""
from __future__ import annotations

import base64
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any, Union

from .errors import INVALID_RESPONSE

TEXT_MAX_BYTES = 4000
# 2025 docs allow 2000 bytes per packet, 2024 docs 1000: stay within both.
STREAM_PACKET_MAX_BYTES = 1000
AUDIO_PACKET_BYTES = 5120  # 160 ms of 16 kHz mono s16le

SEND_TEXT = "SEND_TEXT"
SEND_STREAMTEXT = "SEND_STREAMTEXT"
SEND_AUDIO = "SEND_AUDIO"
SEND_HEARTBEAT = "SEND_HEARTBEAT"

_CLAUSE_END = "。！？!?.;；\n"
_CLAUSE = re.compile(f"[^{re.escape(_CLAUSE_END)}]*[{re.escape(_CLAUSE_END)}]+|[^{re.escape(_CLAUSE_END)}]+")


def new_req_id() -> str:
    return uuid.uuid4().hex


def command_frame(session_id: str, command: str, data: dict[str, Any], req_id: str) -> dict[str, Any]:
    return {"Header": {}, "Payload": {"ReqId": req_id, "SessionId": session_id, "Command": command, "Data": data}}


def text_data(text: str, *, interrupt: bool = False, use_bot: bool = False) -> dict[str, Any]:
    """``Data`` of SEND_TEXT, shared by the WebSocket frame and the HTTP ``command`` call."""
    data: dict[str, Any] = {"Text": text, "Interrupt": interrupt}
    if not use_bot:
        # Without this a project bound to a dialogue bot would answer the text instead of speaking it.
        data["ChatCommand"] = "NotUseChat"
    return data


def text_frame(
    session_id: str, text: str, *, interrupt: bool = False, use_bot: bool = False, req_id: str | None = None
) -> dict[str, Any]:
    size = len(text.encode("utf-8"))
    if size > TEXT_MAX_BYTES:
        raise ValueError(f"text is {size} bytes in UTF-8; SEND_TEXT allows at most {TEXT_MAX_BYTES}")
    return command_frame(session_id, SEND_TEXT, text_data(text, interrupt=interrupt, use_bot=use_bot), req_id or new_req_id())


def heartbeat_frame(session_id: str) -> dict[str, Any]:
    return command_frame(session_id, SEND_HEARTBEAT, {"Text": "PING"}, new_req_id())


def split_utf8(text: str, max_bytes: int) -> list[str]:
    """Pieces of at most ``max_bytes`` UTF-8 bytes, cut only between code points."""
    pieces: list[str] = []
    start, size = 0, 0
    for index, char in enumerate(text):
        width = len(char.encode("utf-8"))
        if size + width > max_bytes:
            pieces.append(text[start:index])
            start, size = index, 0
        size += width
    if start < len(text):
        pieces.append(text[start:])
    return pieces


def last_clause_end(text: str) -> int:
    """Index just past the last sentence punctuation in ``text`` (0 when there is none)."""
    for index in range(len(text) - 1, -1, -1):
        if text[index] in _CLAUSE_END:
            return index + 1
    return 0


class StreamTextUtterance:
    """One SEND_STREAMTEXT utterance: a single ReqId and a Seq counting from 1."""

    def __init__(self, session_id: str, *, clause: bool = False) -> None:
        self.session_id = session_id
        self.clause = clause
        self.req_id = new_req_id()
        self.seq = 0

    def packets(self, text: str) -> list[dict[str, Any]]:
        """Frames carrying ``text``; in clause mode each starts a new packet at a clause boundary."""
        pieces = _CLAUSE.findall(text) if self.clause else [text]
        return [
            self._frame(part, is_final=False)
            for piece in pieces
            for part in split_utf8(piece, STREAM_PACKET_MAX_BYTES)
        ]

    def final(self, text: str = "") -> dict[str, Any]:
        if len(text.encode("utf-8")) > STREAM_PACKET_MAX_BYTES:
            raise ValueError(f"final packet text exceeds {STREAM_PACKET_MAX_BYTES} bytes; send it with packets()")
        return self._frame(text, is_final=True)

    def interrupt(self) -> dict[str, Any]:
        return self._frame("", is_final=True, interrupt=True)

    def _frame(self, text: str, *, is_final: bool, interrupt: bool = False) -> dict[str, Any]:
        self.seq += 1
        data: dict[str, Any] = {"Text": text, "Seq": self.seq, "IsFinal": is_final}
        if interrupt:
            data["Interrupt"] = True
        if self.clause:
            data["IsSentence"] = True
        return command_frame(self.session_id, SEND_STREAMTEXT, data, self.req_id)


class AudioUtterance:
    """One SEND_AUDIO utterance of 16 kHz mono 16-bit PCM packets."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.req_id = new_req_id()
        self.seq = 0

    def packet(self, pcm_chunk: bytes) -> dict[str, Any]:
        size = len(pcm_chunk)
        if not 0 < size <= AUDIO_PACKET_BYTES or size % 2:
            raise ValueError(f"audio packet must be 2..{AUDIO_PACKET_BYTES} bytes of 16-bit PCM (even length), got {size}")
        self.seq += 1
        audio = base64.b64encode(pcm_chunk).decode("ascii")
        return command_frame(self.session_id, SEND_AUDIO, {"Audio": audio, "Seq": self.seq, "IsFinal": False}, self.req_id)

    def final(self) -> dict[str, Any]:
        self.seq += 1
        return command_frame(self.session_id, SEND_AUDIO, {"Audio": "", "Seq": self.seq, "IsFinal": True}, self.req_id)


def split_pcm(pcm: bytes, size: int = AUDIO_PACKET_BYTES) -> list[bytes]:
    if size <= 0 or size % 2:
        raise ValueError("packet size must be a positive even number of bytes")
    if len(pcm) % 2:
        raise ValueError("16-bit PCM must have an even number of bytes")
    return [pcm[offset:offset + size] for offset in range(0, len(pcm), size)]


@dataclass(frozen=True)
class SpeakStatus:
    req_id: str
    seq: int
    status: str
    final_type: int | None = None


@dataclass(frozen=True)
class LlmText:
    req_id: str
    seq: int
    text: str
    final: bool


@dataclass(frozen=True)
class DriveFailed:
    req_id: str
    code: int
    message: str


@dataclass(frozen=True)
class MalformedFrame(DriveFailed):
    """A downstream frame that could not be understood; ``raw`` holds its beginning."""

    raw: str = ""


@dataclass(frozen=True)
class OtherEvent:
    type: int | None
    payload: dict[str, Any]


Event = Union[SpeakStatus, LlmText, DriveFailed, MalformedFrame, OtherEvent]

_RAW_KEPT = 200
_DRIVE_ERROR = -111005  # the cloud's "error while driving", for Type 9/0 frames without ErrorCode


def parse_event(raw: str | bytes) -> Event:
    """Typed view of one downstream frame. Never raises: bad input becomes ``MalformedFrame``."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    try:
        message = json.loads(text)
    except ValueError:
        return MalformedFrame("", INVALID_RESPONSE, "frame is not JSON", text[:_RAW_KEPT])
    if not isinstance(message, dict):
        return MalformedFrame("", INVALID_RESPONSE, "frame is not a JSON object", text[:_RAW_KEPT])
    header = message.get("Header") if isinstance(message.get("Header"), dict) else {}
    payload = message.get("Payload") if isinstance(message.get("Payload"), dict) else {}
    try:
        return _event(header, payload)
    except (TypeError, ValueError):
        return MalformedFrame(str(payload.get("ReqId", "")), INVALID_RESPONSE, "frame has fields of the wrong type", text[:_RAW_KEPT])


def _event(header: dict[str, Any], payload: dict[str, Any]) -> Event:
    req_id = str(payload.get("ReqId") or "")
    header_code = int(header.get("Code") or 0)
    if header_code:
        return DriveFailed(req_id, header_code, str(header.get("Message") or ""))
    kind = payload.get("Type")
    kind = None if kind is None else int(kind)
    error_code = int(payload.get("ErrorCode") or 0)
    if kind in (0, 9) or error_code:
        message = payload.get("ErrorMsg") or payload.get("ErrorMessage") or ""
        return DriveFailed(req_id, error_code or _DRIVE_ERROR, str(message))
    seq = int(payload.get("Seq") or 0)
    if kind == 3:
        final_type = payload.get("FinalType")
        return SpeakStatus(req_id, seq, str(payload.get("SpeakStatus") or ""), None if final_type is None else int(final_type))
    if kind == 4:
        # Text is the question that started the round (PROTOCOL §11.8.3); the answer is what is
        # displayed, or failing that what is spoken (TextPro may hold SSML tags).
        answer = payload.get("TextDisplay") or payload.get("TextPro") or ""
        return LlmText(req_id, seq, str(answer), bool(payload.get("Final", False)))
    return OtherEvent(kind, payload)
