"""Cutting the muxer's FLV byte output into whole tags, each labelled with what a player needs.

Reading the bytes, rather than trusting which packet was just muxed, keeps the labels right even
though the muxer interleaves and may hold a packet back until the other stream catches up.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

_FILE_HEADER_LEN = 9 + 4  # "FLV" header plus the first PreviousTagSize
_TAG_HEADER_LEN = 11
_AUDIO, _VIDEO, _SCRIPT = 8, 9, 18


class TagKind(Enum):
    INIT = "init"  # file header, metadata, codec configuration: every viewer needs these first
    KEYFRAME = "keyframe"  # a video picture a decoder can start from
    MEDIA = "media"  # any other audio or video data


@dataclass(frozen=True)
class FlvTag:
    kind: TagKind
    data: bytes  # the whole tag including its trailing PreviousTagSize
    slot: int  # the file header, the script tag and each codec's configuration replace their own slot


class FlvTagReader:
    def __init__(self) -> None:
        self._pending = bytearray()
        self._header_seen = False

    def feed(self, data: bytes) -> list[FlvTag]:
        self._pending += data
        tags: list[FlvTag] = []
        if not self._header_seen:
            if len(self._pending) < _FILE_HEADER_LEN:
                return tags
            if self._pending[:3] != b"FLV":
                raise ValueError("muxer output does not start with an FLV header")
            tags.append(FlvTag(TagKind.INIT, bytes(self._pending[:_FILE_HEADER_LEN]), slot=0))
            del self._pending[:_FILE_HEADER_LEN]
            self._header_seen = True
        while len(self._pending) >= _TAG_HEADER_LEN:
            size = int.from_bytes(self._pending[1:4], "big")
            end = _TAG_HEADER_LEN + size + 4
            if len(self._pending) < end:
                break
            raw = bytes(self._pending[:end])
            del self._pending[:end]
            tags.append(_label(raw))
        return tags


def _label(raw: bytes) -> FlvTag:
    tag_type = raw[0] & 0x1F
    body = raw[_TAG_HEADER_LEN:]
    if tag_type == _SCRIPT:
        return FlvTag(TagKind.INIT, raw, slot=_SCRIPT)
    # Byte 1 of an AVC or AAC tag body is 0 for the codec configuration ("sequence header").
    is_config = len(body) > 1 and body[1] == 0
    if tag_type == _VIDEO:
        if is_config:
            return FlvTag(TagKind.INIT, raw, slot=_VIDEO)
        return FlvTag(TagKind.KEYFRAME if body[0] >> 4 == 1 else TagKind.MEDIA, raw, slot=-1)
    if tag_type == _AUDIO and is_config and body[0] >> 4 == 10:
        return FlvTag(TagKind.INIT, raw, slot=_AUDIO)
    return FlvTag(TagKind.MEDIA, raw, slot=-1)
