"""Browser messages checked and turned into chat commands: pure, no database, no session state.

Browser messages (JSON objects on the session socket):

    {"type": "say", "text": "...", "use_bot": false}
    {"type": "stream", "action": "start" | "chunk" | "end", "text": "..."}
    {"type": "audio", "pcm": "<base64 of 16 kHz s16le mono>", "final": false}
    {"type": "interrupt"}

Invalid input raises ChatError, whose message is shown to the person typing, in their language
(`words`); nothing goes upstream.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Union

from django.utils.translation import gettext_noop

from .limits import AUDIO_CHUNK_MAX_BYTES, FRAME_MAX_CHARS, SAY_MAX_BYTES, STREAM_CHUNK_MAX_CHARS
from .words import Refusal


class ChatError(Refusal):
    """Input the relay will not send; the message says what is wrong, for the person typing."""


def frame_read(text_data: str | None) -> dict[str, Any]:
    """A socket frame as a JSON object, or a ChatError saying what makes it unreadable."""
    if text_data is None:
        raise ChatError(gettext_noop("binary frames are not accepted; send JSON text"))
    if len(text_data) > FRAME_MAX_CHARS:
        raise ChatError(gettext_noop("the message has %(count)s characters; at most %(max)s are read"),
                        count=len(text_data), max=FRAME_MAX_CHARS)
    try:
        content = json.loads(text_data)
    except RecursionError:
        # Python's parser recurses once per level of nesting.
        raise ChatError(gettext_noop("the message is nested too deeply")) from None
    except ValueError:
        raise ChatError(gettext_noop("the message is not valid JSON")) from None
    if not isinstance(content, dict):
        raise ChatError(gettext_noop("the message must be a JSON object"))
    return content


def _text_field(content: dict, name: str = "text", *, required: bool = True) -> str:
    """A text field that can go upstream as it is: a string of whole characters, no NUL."""
    value = content.get(name, None if required else "")
    if not isinstance(value, str):
        raise ChatError(gettext_noop("'%(name)s' must be a string"), name=name)
    if "\x00" in value:
        # The cloud would take it, but PostgreSQL refuses it in the Utterance row written after.
        raise ChatError(gettext_noop("'%(name)s' contains a NUL character; remove it and send again"), name=name)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # JSON may carry half of a UTF-16 surrogate pair ("\ud83d" alone); no UTF-8 frame can.
        raise ChatError(gettext_noop("'%(name)s' contains half of a character (a lone UTF-16 surrogate); "
                                     "send whole characters"), name=name) from None
    return value


def _bool_field(content: dict, name: str) -> bool:
    value = content.get(name, False)
    if not isinstance(value, bool):
        raise ChatError(gettext_noop("'%(name)s' must be true or false"), name=name)
    return value


@dataclass(frozen=True)
class Say:
    """A whole text for SEND_TEXT; `use_bot` hands it to the project's bot instead."""
    text: str
    use_bot: bool


def _say(content: dict) -> Say:
    text = _text_field(content).strip()
    if not text:
        raise ChatError(gettext_noop("'text' is empty: type something to say"))
    size = len(text.encode("utf-8"))
    if size > SAY_MAX_BYTES:
        raise ChatError(gettext_noop("'text' is %(size)s bytes in UTF-8; at most %(max)s can be said at once "
                                     "(use Stream for longer text)"), size=size, max=SAY_MAX_BYTES)
    return Say(text, _bool_field(content, "use_bot"))


@dataclass(frozen=True)
class StreamPart:
    """A piece of a stream: start opens it, chunk adds text, end sends what is left."""
    action: str
    text: str


def _stream(content: dict) -> StreamPart:
    action = content.get("action")
    if action not in ("start", "chunk", "end"):
        raise ChatError(gettext_noop("'action' must be start, chunk or end"))
    text = _text_field(content, required=action == "chunk")
    if len(text) > STREAM_CHUNK_MAX_CHARS:
        raise ChatError(gettext_noop("'text' has %(count)s characters; send at most %(max)s per chunk"),
                        count=len(text), max=STREAM_CHUNK_MAX_CHARS)
    return StreamPart(action, text)


@dataclass(frozen=True)
class AudioChunk:
    """Up to 160 ms of 16 kHz mono s16le; `final` ends the utterance."""
    pcm: bytes
    final: bool


def _audio(content: dict) -> AudioChunk:
    encoded = content.get("pcm", "")
    if not isinstance(encoded, str):
        raise ChatError(gettext_noop("'pcm' must be a Base64 string"))
    final = _bool_field(content, "final")
    if len(encoded) > (AUDIO_CHUNK_MAX_BYTES // 3 + 1) * 4 + 4:
        raise ChatError(gettext_noop("'pcm' chunk is larger than %(max)s bytes (160 ms)"), max=AUDIO_CHUNK_MAX_BYTES)
    try:
        pcm = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ChatError(gettext_noop("'pcm' is not valid Base64")) from None
    if len(pcm) > AUDIO_CHUNK_MAX_BYTES:
        raise ChatError(gettext_noop("'pcm' chunk is %(size)s bytes; at most %(max)s (160 ms)"), size=len(pcm),
                        max=AUDIO_CHUNK_MAX_BYTES)
    if len(pcm) % 2:
        raise ChatError(gettext_noop("'pcm' chunk has an odd number of bytes; 16-bit samples need an even length"))
    if not pcm and not final:
        raise ChatError(gettext_noop("'pcm' is empty; send audio or set 'final'"))
    return AudioChunk(pcm, final)


@dataclass(frozen=True)
class Interrupt:
    """Stop whatever the avatar is saying or about to say."""


_PARSERS = {"say": _say, "stream": _stream, "audio": _audio, "interrupt": lambda content: Interrupt()}


Command = Union[Say, StreamPart, AudioChunk, Interrupt]


def command_parse(content: dict[str, Any]) -> Command:
    """Check one browser message's shape and sizes."""
    kind = content.get("type")
    parser = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        raise ChatError(gettext_noop("'type' must be say, stream, audio or interrupt"))
    return parser(content)
