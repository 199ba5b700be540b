"""Upstream drive commands (PROTOCOL.md §11.2-11.6), shared by the WebSocket channel and the
HTTP `command` endpoint so both drive the avatar through the same checks and speech engine."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from .bot import answer_chunks, thinking
from .config import Behaviour
from .errors import WRONG_TIME, ApiError
from .ssml import ssml_problem
from .state import Session, SessionStore
from .validate import bad, opt_bool, opt_int, opt_object, opt_str, req_int, req_str

SEND_TEXT = "SEND_TEXT"
SEND_STREAMTEXT = "SEND_STREAMTEXT"
SEND_AUDIO = "SEND_AUDIO"
SEND_HEARTBEAT = "SEND_HEARTBEAT"
CHANNEL_COMMANDS = (SEND_TEXT, SEND_STREAMTEXT, SEND_AUDIO, SEND_HEARTBEAT)

WS_TEXT_MAX_BYTES = 4000
HTTP_TEXT_MAX_CHARS = 4000
STREAM_PACKET_MAX_BYTES = 2000  # the 2025 limit; clients keep to the older 1000
AUDIO_PACKET_MAX_BYTES = 5120  # 160 ms of 16 kHz 16-bit mono


@dataclass(frozen=True)
class Command:
    req_id: str
    session_id: str
    name: str
    data: dict[str, Any]


def parse_command(payload: dict[str, Any], allowed: tuple[str, ...]) -> Command:
    req_id = req_str(payload, "ReqId")
    session_id = req_str(payload, "SessionId")
    name = req_str(payload, "Command")
    if name not in allowed:
        raise bad("Payload.Command", f"must be one of {', '.join(allowed)}")
    data = opt_object(payload, "Data")
    if data is None:
        if name != SEND_HEARTBEAT:
            raise bad("Payload.Data", "required JSON object")
        data = {}
    return Command(req_id, session_id, name, data)


def run_command(store: SessionStore, session: Session, command: Command, *, over_http: bool = False) -> None:
    """Validate and execute one drive command on a ready, started session."""
    session.require_drivable()
    store.touch(session)
    if command.name == SEND_HEARTBEAT:
        return
    if command.name == SEND_TEXT:
        _send_text(store, session, command, over_http=over_http)
    elif command.name == SEND_STREAMTEXT:
        _send_stream_text(session, command, store.config.behaviour)
    else:
        _send_audio(session, command)


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _check_ssml(text: str, behaviour: Behaviour) -> None:
    """SSML must be well-formed where it is allowed (SEND_TEXT, clause-mode streams), unless
    [behaviour] ssml_well_formed is "ignore"."""
    problem = ssml_problem(text) if behaviour.ssml_well_formed == "refuse" else None
    if problem:
        raise bad("Data.Text", f"SSML is not well-formed: {problem}")


def _send_text(store: SessionStore, session: Session, command: Command, *, over_http: bool) -> None:
    data = command.data
    text = opt_str(data, "Text", "Data")
    interrupt = opt_bool(data, "Interrupt", "Data")
    chat = opt_str(data, "ChatCommand", "Data")
    if chat not in ("", "NotUseChat"):
        raise bad("Data.ChatCommand", 'must be "NotUseChat" or empty')
    opt_str(data, "ChatRoundId", "Data")
    opt_str(data, "VideoSeiInfo", "Data")
    opt_bool(data, "SmartActionEnabled", "Data")
    opt_int(data, "EnhanceText", "Data")
    if len(opt_str(data, "CloudAiVisitorBizId", "Data")) > 64:
        raise bad("Data.CloudAiVisitorBizId", "at most 64 characters")
    if over_http and len(text) > HTTP_TEXT_MAX_CHARS:
        raise bad("Data.Text", f"at most {HTTP_TEXT_MAX_CHARS} characters")
    if not over_http and _utf8_len(text) > WS_TEXT_MAX_BYTES:
        raise bad("Data.Text", f"at most {WS_TEXT_MAX_BYTES} bytes (UTF-8)")
    if not text and not interrupt:
        raise bad("Data.Text", "required unless Interrupt is true")
    _check_ssml(text, store.config.behaviour)
    now = store.clock.monotonic()
    # A bare interrupt speaks nothing, so it is not held to the text spacing rule.
    if text:
        session.check_text_spacing(now, store.config.behaviour.text_interval_seconds)
    use_bot = bool(text) and chat == "" and session.has_bot
    assert session.speaker is not None
    session.speaker.check_text_allowed()
    if use_bot:
        chunks = answer_chunks(text)
        _emit_dialogue(session, command.req_id, text, chunks)
        text = "".join(chunks)
    session.speaker.text(command.req_id, text, interrupt=interrupt)
    if text:
        session.last_text_at = now


def _emit_dialogue(session: Session, req_id: str, question: str, chunks: list[str]) -> None:
    """A bound bot's round, ahead of its speech: the input echo (Type 1), the model's reasoning
    (Type 5, PROTOCOL.md §11.8.2, 2025+ docs) and the answer in chunks (Type 4)."""
    base = {"SessionId": session.session_id, "ReqId": req_id}
    session.emit({"Type": 1, **base, "Seq": 0, "Text": question})
    reasoning = thinking(question)
    session.emit({"Type": 5, **base, "Seq": 0, "Text": question, "TextPro": reasoning, "TextDisplay": reasoning,
                  "ContentType": 1, "Final": True})
    for i, chunk in enumerate(chunks, start=1):
        session.emit(
            {
                "Type": 4,
                **base,
                "Seq": i,
                "Text": question,
                "TextPro": chunk,
                "TextDisplay": chunk,
                "ContentType": 1,
                "TtsSupport": True,
                "Final": i == len(chunks),
                "IsHighLight": False,
                "Uninterrupt": False,
                "Muted": False,
            }
        )


def _positive_seq(data: dict[str, Any]) -> int:
    seq = req_int(data, "Seq", "Data")
    if seq < 1:
        raise bad("Data.Seq", "packets are numbered from 1")
    return seq


def _send_stream_text(session: Session, command: Command, behaviour: Behaviour) -> None:
    data = command.data
    text = opt_str(data, "Text", "Data")
    if _utf8_len(text) > STREAM_PACKET_MAX_BYTES:
        raise bad("Data.Text", f"at most {STREAM_PACKET_MAX_BYTES} bytes (UTF-8) per packet")
    seq = _positive_seq(data)
    final = opt_bool(data, "IsFinal", "Data")
    interrupt = opt_bool(data, "Interrupt", "Data")
    sentence = opt_bool(data, "IsSentence", "Data")
    insert = opt_bool(data, "IsInsertSentence", "Data")
    opt_bool(data, "SmartActionEnabled", "Data")
    opt_str(data, "VideoSeiInfo", "Data")
    if sentence:
        # A clause is complete, so its tags are too; non-clause fragments may split a tag.
        _check_ssml(text, behaviour)
    assert session.speaker is not None
    session.speaker.stream(
        command.req_id, seq, text, final=final, interrupt=interrupt, sentence=sentence, insert=insert
    )


def _send_audio(session: Session, command: Command) -> None:
    if session.driver_type != 3:
        raise ApiError(WRONG_TIME, "SEND_AUDIO needs a session created with DriverType 3")
    data = command.data
    encoded = opt_str(data, "Audio", "Data")
    try:
        pcm = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise bad("Data.Audio", "not valid Base64") from None
    if len(pcm) % 2:
        raise bad("Data.Audio", "decoded PCM length must be even (16-bit samples)")
    if len(pcm) > AUDIO_PACKET_MAX_BYTES:
        raise bad("Data.Audio", f"at most {AUDIO_PACKET_MAX_BYTES} bytes of PCM per packet (160 ms)")
    seq = _positive_seq(data)
    final = opt_bool(data, "IsFinal", "Data")
    interrupt = opt_bool(data, "Interrupt", "Data")
    opt_str(data, "VideoSeiInfo", "Data")
    assert session.speaker is not None
    session.speaker.audio(command.req_id, seq, pcm, final=final, interrupt=interrupt)
