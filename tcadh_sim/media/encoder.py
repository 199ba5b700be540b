"""The per-session encoder: a worker thread that paints, encodes and muxes one live FLV stream,
and the same packets into HLS segments when given a directory for them.

It runs in its own thread because encoding is CPU work; PyAV releases the GIL inside the codecs,
so the event loop keeps serving while sessions encode. Frames are produced against a monotonic
clock at the configured rate, never faster, and every frame carries exactly its share of audio
samples, so audio and video timestamps advance together.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from fractions import Fraction

import av

from .flv_tags import FlvTag, FlvTagReader
from .hls import HlsRun, HlsWriter
from .scene import Scene
from .speech import SAMPLE_RATE, Speech

log = logging.getLogger(__name__)

AUDIO_OUTPUT_RATE = 48_000  # AAC-LC at 48 kHz mono is what every browser's MSE plays without fuss
_MAX_LAG_S = 0.5  # when this far behind (an overloaded machine), drop the backlog instead of bursting


class _Sink:
    """The file object the FLV muxer writes to; the worker drains it after every frame."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def write(self, data: bytes) -> int:
        self._buffer += data
        return len(data)

    def drain(self) -> bytes:
        data = bytes(self._buffer)
        self._buffer.clear()
        return data


class SessionEncoder:
    def __init__(
        self,
        *,
        session_id: str,
        label: str,
        speech: Speech,
        width: int,
        height: int,
        fps: int,
        on_tags: Callable[[list[FlvTag]], None],
        on_failure: Callable[[], None],
        hls: HlsRun | None = None,
    ) -> None:
        """on_tags and on_failure are called from the worker thread."""
        self._session_id = session_id
        self._label = label
        self._speech = speech
        self._width, self._height, self._fps = width, height, fps
        self._on_tags = on_tags
        self._on_failure = on_failure
        self._hls = hls
        self._hls_wanted = threading.Event()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"flv-{session_id}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def want_hls(self) -> None:
        """An HLS player asked: from the next keyframe on, the packets go into segments too.
        Until then no segment is written, which keeps FLV-only sessions at their old cost."""
        self._hls_wanted.set()

    def stop(self) -> None:
        """Ask the worker to finish; it exits within one frame interval."""
        self._stop.set()

    def _run(self) -> None:
        try:
            self._encode()
        except Exception:
            log.exception("stream encoder for session %s failed", self._session_id)
            self._on_failure()

    def _encode(self) -> None:
        scene = Scene(self._width, self._height, self._fps, session_id=self._session_id, label=self._label)
        sink = _Sink()
        reader = FlvTagReader()
        # No duration/filesize patching at the end: the output is a pipe, not a seekable file.
        container = av.open(sink, "w", format="flv", container_options={"flvflags": "no_duration_filesize"})
        hls: HlsWriter | None = None
        try:
            video = container.add_stream(
                "libx264",
                rate=self._fps,
                options={
                    "preset": "ultrafast",
                    "tune": "zerolatency",
                    "profile": "baseline",
                    "g": str(self._fps),
                    "bf": "0",
                },
            )
            video.width, video.height, video.pix_fmt = self._width, self._height, "yuv420p"
            # One thread per session: slice threads would only add wake-ups at this size, and
            # several sessions already spread over the cores.
            video.codec_context.thread_count = 1
            audio = container.add_stream("aac", rate=AUDIO_OUTPUT_RATE, layout="mono")
            container.start_encoding()
            self._on_tags(reader.feed(sink.drain()))

            audio_time_base = Fraction(1, SAMPLE_RATE)
            start = time.monotonic()
            index = 0
            samples_sent = 0
            while not self._stop.is_set():
                delay = start + index / self._fps - time.monotonic()
                if delay > 0:
                    if self._stop.wait(delay):
                        break
                elif delay < -_MAX_LAG_S:
                    start = time.monotonic() - index / self._fps
                # Cumulative rounding: over a second the counts add up to exactly SAMPLE_RATE.
                n_samples = (index + 1) * SAMPLE_RATE // self._fps - samples_sent
                spoken = self._speech.next_frame(n_samples, time.monotonic())

                picture = scene.compose(index, spoken, time.strftime("%H:%M:%S"))
                picture.pts = index
                packets = video.encode(picture)

                sound = av.AudioFrame.from_ndarray(spoken.samples.reshape(1, -1), format="s16", layout="mono")
                sound.sample_rate = SAMPLE_RATE
                sound.time_base = audio_time_base
                sound.pts = samples_sent
                packets += audio.encode(sound)  # resampled to the AAC rate inside PyAV

                container.mux(packets)
                if hls is None and self._hls is not None and self._hls_wanted.is_set():
                    # A segment must start with a picture a decoder can start from.
                    if any(p.stream is video and p.is_keyframe for p in packets):
                        hls = HlsWriter(self._hls, video, audio)
                if hls is not None:
                    hls.mux(packets)
                tags = reader.feed(sink.drain())
                if tags:
                    self._on_tags(tags)
                index += 1
                samples_sent += n_samples
        finally:
            container.close()
            if hls is not None:
                hls.close()
            # The run's segments go with it: the next run writes a directory of its own.
            if self._hls is not None:
                self._hls.remove()
