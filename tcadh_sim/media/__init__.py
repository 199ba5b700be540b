"""The simulator's live video: an avatar that speaks, encoded as HTTP-FLV per session."""

from .hub import StreamHub, StreamStats

__all__ = ["StreamHub", "StreamStats"]
