"""StreamHub: the live HTTP-FLV and HLS streams of every ready session, as the simulator core
sees it.

All public methods are called on the event loop thread. Each session's encoder runs only while
someone watches: it starts with the first viewer and stops when the last one leaves, so idle
sessions cost nothing. An FLV viewer watches while its response is open; an HLS viewer only
fetches files, so it counts as watching for HLS_LEASE_SECONDS after its last request.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse

from .encoder import SessionEncoder
from .flv_fanout import FlvFanout, Viewer
from .flv_tags import FlvTag, TagKind
from .hls import SEGMENT_SECONDS, HlsRun
from .speech import Speech

log = logging.getLogger(__name__)

# Access-Control-Allow-Origin is not set here: the application's CORS middleware decides it.
_STREAM_HEADERS = {"Cache-Control": "no-cache, no-store"}
HLS_LEASE_SECONDS = 10.0
# A player's first playlist request may start the encoder: it is answered once a segment exists.
_FIRST_PLAYLIST_WAIT_SECONDS = 4 * SEGMENT_SECONDS + 4.0
_PLAYLIST_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class StreamStats:
    viewers: int
    encoding: bool
    encoder_runs: int  # how many times an encoder was started for this session
    viewer_skips: int  # times a slow viewer was moved ahead to a later keyframe
    hls_written: bool = False  # the current encoder run has written an HLS playlist


@dataclass(eq=False)
class _Stream:
    session_id: str
    label: str
    fanout: FlvFanout
    speech: Speech = field(default_factory=Speech)
    encoder: SessionEncoder | None = None
    encoder_runs: int = 0
    viewer_skips: int = 0
    closed: bool = False
    hls: HlsRun | None = None
    hls_until: float = 0.0  # monotonic time until which an HLS player counts as watching
    hls_lease: asyncio.Task[None] | None = None
    video_paused: bool = False  # the pause-video fault: no viewer gets anything new


class StreamHub:
    def __init__(
        self, width: int = 640, height: int = 360, fps: int = 15, *, viewer_buffer_bytes: int = 1 << 20
    ) -> None:
        self.width, self.height, self.fps = width, height, fps
        self._viewer_buffer_bytes = viewer_buffer_bytes
        self._streams: dict[str, _Stream] = {}
        self._threads: list[threading.Thread] = []  # stopped or running, joined by aclose()
        self._hls_root: Path | None = None  # made on first use, removed by aclose()

    def open(self, session_id: str, *, label: str) -> None:
        if session_id in self._streams:
            return
        self._streams[session_id] = _Stream(session_id, label, FlvFanout(self._viewer_buffer_bytes))

    def close(self, session_id: str) -> None:
        stream = self._streams.pop(session_id, None)
        if stream is None:
            return
        stream.closed = True
        if stream.hls_lease is not None:
            stream.hls_lease.cancel()
        self._stop_encoder(stream)
        stream.fanout.end()

    def say(self, session_id: str, text: str, duration_s: float) -> None:
        if stream := self._streams.get(session_id):
            stream.speech.say(text, duration_s, time.monotonic())

    def push_audio(self, session_id: str, pcm: bytes) -> None:
        if stream := self._streams.get(session_id):
            stream.speech.push_audio(pcm)

    def stop_speaking(self, session_id: str) -> None:
        if stream := self._streams.get(session_id):
            stream.speech.stop()

    def pause_video(self, session_id: str, *, paused: bool) -> bool:
        """The pause-video fault, as a stuck upstream encoder looks to players: connections stay
        open and nothing new arrives (an HLS player finds no playlist, a new FLV viewer gets no
        picture); when it goes on, each FLV viewer picks up at the next keyframe. False when the
        session has no stream."""
        stream = self._streams.get(session_id)
        if stream is None:
            return False
        stream.video_paused = paused
        if paused:
            stream.fanout.hold()
        return True

    def flv_response(self, session_id: str) -> Response:
        stream = self._streams.get(session_id)
        if stream is None:
            return _no_stream(session_id)
        return StreamingResponse(self._watch(stream), media_type="video/x-flv", headers=_STREAM_HEADERS)

    async def hls_playlist(self, session_id: str) -> Response:
        stream = self._streams.get(session_id)
        if stream is None:
            return _no_stream(session_id)
        self._renew_hls_lease(stream)
        deadline = time.monotonic() + _FIRST_PLAYLIST_WAIT_SECONDS
        while not stream.closed and stream.hls is not None:
            text = None if stream.video_paused else stream.hls.playlist_text()
            if text is not None:
                return Response(text, media_type="application/vnd.apple.mpegurl", headers=_STREAM_HEADERS)
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(_PLAYLIST_POLL_SECONDS)
            # The waiting player is watching all along.
            stream.hls_until = time.monotonic() + HLS_LEASE_SECONDS
        return JSONResponse({"error": "the stream has no segment yet", "SessionId": session_id}, status_code=503)

    def hls_segment(self, session_id: str, name: str) -> Response:
        stream = self._streams.get(session_id)
        if stream is None:
            return _no_stream(session_id)
        self._renew_hls_lease(stream)
        path = stream.hls.segment(name) if stream.hls is not None else None
        if path is None:
            return JSONResponse({"error": "no such segment", "SessionId": session_id}, status_code=404)
        return FileResponse(path, media_type="video/mp4", headers=_STREAM_HEADERS)

    def stats(self, session_id: str) -> StreamStats | None:
        stream = self._streams.get(session_id)
        if stream is None:
            return None
        return StreamStats(
            viewers=stream.fanout.viewer_count,
            encoding=stream.encoder is not None,
            encoder_runs=stream.encoder_runs,
            viewer_skips=stream.viewer_skips,
            hls_written=stream.hls is not None and stream.hls.playlist.exists(),
        )

    async def aclose(self) -> None:
        for session_id in list(self._streams):
            self.close(session_id)
        threads, self._threads = self._threads, []
        for thread in threads:
            await asyncio.to_thread(thread.join, 5.0)
        if self._hls_root is not None:
            shutil.rmtree(self._hls_root, ignore_errors=True)
            self._hls_root = None

    async def _watch(self, stream: _Stream) -> AsyncIterator[bytes]:
        # Subscribing here, when the server starts sending the body, rather than in flv_response,
        # means a response that is never sent cannot leave a viewer behind.
        if stream.closed:
            return
        # The encoder first: a new run clears what the stopped one left in the fanout, which a
        # viewer added before would be sent, followed by the new run's header and timestamps from
        # zero again, a stream a player stalls on.
        if stream.encoder is None:
            self._start_encoder(stream)
        viewer = stream.fanout.add_viewer()
        try:
            while (chunk := await viewer.next_chunk()) is not None:
                yield chunk
        finally:
            stream.viewer_skips += viewer.skips
            stream.fanout.remove_viewer(viewer)
            if not self._watched(stream):
                self._stop_encoder(stream)

    def _watched(self, stream: _Stream) -> bool:
        return stream.fanout.viewer_count > 0 or time.monotonic() < stream.hls_until

    def _renew_hls_lease(self, stream: _Stream) -> None:
        stream.hls_until = time.monotonic() + HLS_LEASE_SECONDS
        if stream.encoder is None:
            self._start_encoder(stream)
        if stream.encoder is not None:
            stream.encoder.want_hls()
        if stream.hls_lease is None or stream.hls_lease.done():
            stream.hls_lease = asyncio.get_running_loop().create_task(self._expire_hls_lease(stream))

    async def _expire_hls_lease(self, stream: _Stream) -> None:
        while (remaining := stream.hls_until - time.monotonic()) > 0:
            await asyncio.sleep(remaining)
        if not self._watched(stream):
            self._stop_encoder(stream)

    def _start_encoder(self, stream: _Stream) -> None:
        loop = asyncio.get_running_loop()
        stream.fanout.restart()
        stream.encoder_runs += 1
        run = stream.encoder_runs
        stream.hls = HlsRun(self._hls_directory() / stream.session_id / f"r{run}", run, stream.session_id)

        def publish(tags: list[FlvTag]) -> None:
            # Tags of a stopped run (the thread finishing its last frame) must not reach viewers
            # of a newer run, whose decoders were set up from that run's own header.
            if stream.encoder_runs == run and stream.encoder is not None:
                # A run started while paused still sets up the decoders of those who come later.
                stream.fanout.publish([t for t in tags if t.kind is TagKind.INIT] if stream.video_paused else tags)

        def fail() -> None:
            if stream.encoder_runs == run and stream.encoder is not None:
                stream.encoder = None
                stream.hls = None
                stream.fanout.end()
                stream.fanout = FlvFanout(self._viewer_buffer_bytes)

        encoder = SessionEncoder(
            session_id=stream.session_id,
            label=stream.label,
            speech=stream.speech,
            width=self.width,
            height=self.height,
            fps=self.fps,
            on_tags=lambda tags: _post(loop, encoder, publish, tags),
            on_failure=lambda: _post(loop, encoder, fail),
            hls=stream.hls,
        )
        stream.encoder = encoder
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(encoder.thread)
        encoder.start()

    def _stop_encoder(self, stream: _Stream) -> None:
        if stream.encoder is not None:
            stream.encoder.stop()
            stream.encoder = None
            stream.hls = None

    def _hls_directory(self) -> Path:
        if self._hls_root is None:
            self._hls_root = Path(tempfile.mkdtemp(prefix="tcadh-sim-hls-"))
        return self._hls_root


def _no_stream(session_id: str) -> Response:
    return JSONResponse({"error": "no live stream for this session", "SessionId": session_id}, status_code=404)


def _post(
    loop: asyncio.AbstractEventLoop, encoder: SessionEncoder, callback: Callable[..., None], *args: object
) -> None:
    """Run callback on the loop from the worker thread; a loop that is gone stops the worker."""
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:
        encoder.stop()
