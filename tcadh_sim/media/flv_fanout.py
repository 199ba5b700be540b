"""Handing one encoder's FLV tags to many HTTP viewers, each with its own bounded buffer.

Everything here runs on the event loop thread. A viewer that joins mid-stream first gets the
init tags and the current group of pictures (from the latest keyframe), so its decoder can start
at once. A viewer that falls behind by more than its buffer loses what was queued and resumes at
the next keyframe: it never holds memory for long or slows anyone else.
"""

from __future__ import annotations

import asyncio
from collections import deque

from .flv_tags import FlvTag, TagKind

_MAX_GOP_BYTES = 8 << 20  # a guard only: a GOP is about a second of video


class Viewer:
    def __init__(self, max_buffer_bytes: int) -> None:
        self._max = max_buffer_bytes
        self._init: bytes | None = None  # kept apart so that skipping ahead never loses it
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._wake = asyncio.Event()
        self._ended = False
        self.started = False  # has been given the init tags
        self.in_sync = False  # is following the live stream from a keyframe on
        self.skips = 0  # times it fell behind and was moved to a later keyframe

    async def next_chunk(self) -> bytes | None:
        """Everything queued so far as one chunk of whole tags; None once the stream has ended."""
        while not self._chunks and self._init is None:
            if self._ended:
                return None
            self._wake.clear()
            await self._wake.wait()
        chunk = b"".join([self._init or b"", *self._chunks])
        self._init = None
        self._chunks.clear()
        self._size = 0
        return chunk

    def _put_init(self, data: bytes) -> None:
        self._init = data
        self.started = True
        self._wake.set()

    def _put(self, data: bytes) -> None:
        if self._size + len(data) > self._max and self.in_sync:
            self._chunks.clear()
            self._size = 0
            self.in_sync = False
            self.skips += 1
            return
        self._chunks.append(data)
        self._size += len(data)
        self._wake.set()

    def _end(self) -> None:
        self._ended = True
        self._wake.set()


class FlvFanout:
    def __init__(self, max_viewer_buffer_bytes: int) -> None:
        self._max_viewer_buffer = max_viewer_buffer_bytes
        self._viewers: list[Viewer] = []
        self._init: dict[int, bytes] = {}
        self._gop: list[bytes] = []
        self._gop_bytes = 0

    @property
    def viewer_count(self) -> int:
        return len(self._viewers)

    def add_viewer(self) -> Viewer:
        viewer = Viewer(self._max_viewer_buffer)
        self._viewers.append(viewer)
        if self._gop:
            self._start(viewer, self._gop)
        return viewer

    def remove_viewer(self, viewer: Viewer) -> None:
        if viewer in self._viewers:
            self._viewers.remove(viewer)

    def restart(self) -> None:
        """A new encoder run begins: its header and keyframes replace the old ones."""
        self._init.clear()
        self._gop = []
        self._gop_bytes = 0

    def hold(self) -> None:
        """The stream stops for a while: nobody is given the frames before the stop, and when it
        goes on every viewer resumes at a keyframe (a decoder cannot go on mid-GOP past a gap)."""
        self._gop = []
        self._gop_bytes = 0
        for viewer in self._viewers:
            viewer.in_sync = False

    def end(self) -> None:
        for viewer in self._viewers:
            viewer._end()
        self._viewers.clear()

    def publish(self, tags: list[FlvTag]) -> None:
        for tag in tags:
            if tag.kind is TagKind.INIT:
                self._init[tag.slot] = tag.data
                for viewer in self._viewers:
                    if viewer.in_sync:
                        viewer._put(tag.data)
                continue
            if tag.kind is TagKind.KEYFRAME:
                self._gop = [tag.data]
                self._gop_bytes = len(tag.data)
            elif self._gop and self._gop_bytes + len(tag.data) <= _MAX_GOP_BYTES:
                self._gop.append(tag.data)
                self._gop_bytes += len(tag.data)
            else:
                self._gop = []
            for viewer in self._viewers:
                if viewer.in_sync:
                    viewer._put(tag.data)
                elif tag.kind is TagKind.KEYFRAME:
                    self._start(viewer, [tag.data])

    def _start(self, viewer: Viewer, tags: list[bytes]) -> None:
        if not viewer.started:
            # In the muxer's order: file header, metadata, then each codec's configuration.
            viewer._put_init(b"".join(self._init.values()))
        # The catch-up burst is at most one GOP, so it is queued whatever the buffer holds.
        for data in tags:
            viewer._put(data)
        viewer.in_sync = True
