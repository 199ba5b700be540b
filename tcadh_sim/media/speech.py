"""What the avatar is saying right now, shared between the event loop and the encoder thread.

The event loop writes (say, push_audio, stop); the encoder thread reads once per video frame and
takes exactly that frame's share of audio, so the audio track and the mouth stay in step with the
stream clock rather than with when packets happened to arrive.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000  # SEND_AUDIO's PCM: 16 kHz, mono, signed 16-bit little endian
_FULL_MOUTH_RMS = 3000.0  # RMS (of int16 samples) at which the mouth is fully open
_MOUTH_RELEASE = 0.6  # per-frame decay, so the mouth closes over a few frames, not instantly
_BABBLE_PEAK = 1400.0  # quiet: about -27 dBFS, a hint of a voice under a text-driven caption
_SYLLABLES_PER_S = 4.2
_BABBLE_PITCH_HZ = 150.0
_HARMONICS = (1.0, 0.5, 0.25)


@dataclass(frozen=True)
class SpeechFrame:
    samples: np.ndarray  # int16 mono at SAMPLE_RATE, this frame's share of the audio track
    mouth: float  # 0 closed .. 1 fully open
    caption: str  # "" when nothing is being said
    progress: float  # 0..1 through the caption's speaking time, for paging long captions


class Speech:
    def __init__(self, *, max_buffered_s: float = 30.0) -> None:
        self._lock = threading.Lock()
        self._pcm = bytearray()
        self._max_pcm_bytes = int(max_buffered_s * SAMPLE_RATE) * 2
        self._caption = ""
        self._caption_start = 0.0
        self._caption_end = 0.0
        self._mouth = 0.0
        # Phases carried across frames so the synthetic voice has no clicks at frame edges.
        self._pitch_phase = 0.0
        self._syllable_phase = 0.0

    def say(self, text: str, duration_s: float, now: float) -> None:
        """Replace whatever text is being said; the core decides when a new sentence starts."""
        with self._lock:
            self._caption = text
            self._caption_start = now
            self._caption_end = now + max(0.0, duration_s)

    def push_audio(self, pcm: bytes) -> None:
        with self._lock:
            self._pcm += pcm
            overflow = len(self._pcm) - self._max_pcm_bytes
            if overflow > 0:
                # Audio arriving much faster than real time: keep the newest, the way a live
                # stream would, instead of growing without bound.
                overflow += overflow % 2
                del self._pcm[:overflow]
                log.warning("audio arriving faster than real time; dropped %d bytes", overflow)

    def stop(self) -> None:
        with self._lock:
            self._pcm.clear()
            self._caption = ""
            self._caption_end = 0.0

    def next_frame(self, n_samples: int, now: float) -> SpeechFrame:
        """Take the next n_samples of the audio track and describe the picture that goes with it."""
        with self._lock:
            take = min(len(self._pcm) // 2, n_samples) * 2
            pcm = bytes(self._pcm[:take])
            del self._pcm[:take]
            speaking_text = bool(self._caption) and now < self._caption_end
            if not speaking_text:
                self._caption = ""
            caption = self._caption
            span = self._caption_end - self._caption_start
            progress = min(1.0, (now - self._caption_start) / span) if speaking_text and span > 0 else 0.0

        samples = np.zeros(n_samples, dtype=np.int16)
        if pcm:
            played = np.frombuffer(pcm, dtype="<i2")
            samples[: played.size] = played
            rms = math.sqrt(float(np.mean(played.astype(np.float32) ** 2)))
            target = min(1.0, rms / _FULL_MOUTH_RMS) ** 0.7
        elif speaking_text:
            samples, target = self._babble_frame(n_samples)
        else:
            target = 0.0
        self._mouth = max(target, self._mouth * _MOUTH_RELEASE)
        if self._mouth < 0.05:
            self._mouth = 0.0
        return SpeechFrame(samples, self._mouth, caption, progress)

    def _babble_frame(self, n: int) -> tuple[np.ndarray, float]:
        """A soft voiced hum in syllable-sized pulses; the mouth follows the pulse envelope."""
        t = np.arange(n, dtype=np.float64)
        syllable = (self._syllable_phase + t * _SYLLABLES_PER_S / SAMPLE_RATE) % 1.0
        envelope = np.sin(np.pi * syllable) ** 2
        pitch = self._pitch_phase + 2 * np.pi * _BABBLE_PITCH_HZ * t / SAMPLE_RATE
        voice = sum(weight * np.sin((i + 1) * pitch) for i, weight in enumerate(_HARMONICS))
        self._syllable_phase = float((self._syllable_phase + n * _SYLLABLES_PER_S / SAMPLE_RATE) % 1.0)
        self._pitch_phase = float((self._pitch_phase + 2 * np.pi * _BABBLE_PITCH_HZ * n / SAMPLE_RATE) % (2 * np.pi))
        # Scaled by the harmonics' total weight so the peak never exceeds _BABBLE_PEAK.
        samples = (voice * envelope * (_BABBLE_PEAK / sum(_HARMONICS))).astype(np.int16)
        return samples, float(envelope.mean())
