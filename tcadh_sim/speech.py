"""The avatar's speech: turns drive commands into downstream Type 3 speak-status events whose
timing follows the text length or the audio duration (and Type 2 events telling what a
non-clause stream will say), enforces the audio pacing rule, and tells the video hub what to show.

One `Speaker` per session; at most one utterance is current. Everything runs on the event loop
that serves the requests, so no locking is needed.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from .config import Behaviour
from .errors import TOO_FREQUENT, WRONG_TIME, ApiError
from .validate import bad

PCM_BYTES_PER_SECOND = 16000 * 2  # 16 kHz, 16-bit, mono

_TAG = re.compile(r"<[^>]*>")
# Ideographs and full-width punctuation are read at CJK speed; everything else at Latin speed.
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


class Hub(Protocol):
    def say(self, session_id: str, text: str, duration_s: float) -> None: ...
    def push_audio(self, session_id: str, pcm: bytes) -> None: ...
    def stop_speaking(self, session_id: str) -> None: ...


def spoken_text(text: str) -> str:
    """Text without SSML tags: what the caption shows and what takes time to say."""
    return _TAG.sub("", text).strip()


def contains_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


def has_ssml(text: str) -> bool:
    return bool(_TAG.search(text))


def speech_seconds(text: str, behaviour: Behaviour) -> float:
    plain = spoken_text(text)
    cjk = len(_CJK.findall(plain))
    other = len(plain) - cjk
    return cjk / behaviour.speech_chars_per_second + other / behaviour.speech_latin_chars_per_second


@dataclass
class _Piece:
    text: str
    seconds: float
    seq: int


@dataclass
class _Utterance:
    kind: str  # "text", "stream" (non-clause), "clause" or "audio"
    req_id: str
    last_packet: float
    last_seq: int = 0
    final: bool = False
    final_type: int = 1
    pieces: deque[_Piece] = field(default_factory=deque)
    inserts: deque[_Piece] = field(default_factory=deque)
    play_end: float = 0.0
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    done: bool = False
    begun: bool = False
    speaking: bool = False  # TextStart (or AudioStart) was sent
    waiting_over: bool = False  # WaitingTextOver (or WaitingAudioOver) was sent
    data_packets: int = 0  # audio packets with PCM taken so far
    audio_seconds: float = 0.0  # their duration
    # (arrival time, audio_seconds before it) of the recent data packets past the burst
    paced: deque[tuple[float, float]] = field(default_factory=deque)

    def next_piece(self) -> _Piece | None:
        # The first clause is being processed from the moment it arrives, so an insertion that
        # follows it quickly still plays after it.
        if not self.begun and self.pieces:
            self.begun = True
            return self.pieces.popleft()
        if self.inserts:
            return self.inserts.popleft()
        if self.pieces:
            return self.pieces.popleft()
        return None


class Speaker:
    def __init__(
        self,
        session_id: str,
        hub: Hub,
        behaviour: Behaviour,
        stream_max_interval_s: float,
        emit: Callable[[dict[str, Any]], None],
        monotonic: Callable[[], float],
    ) -> None:
        self._sid = session_id
        self._hub = hub
        self._behaviour = behaviour
        self._max_interval = stream_max_interval_s
        self._emit = emit
        self._now = monotonic
        self._current: _Utterance | None = None
        # Streams and audio that already ended, so a late packet with their ReqId is refused
        # instead of silently starting a new utterance.
        self._ended: deque[str] = deque(maxlen=64)

    # -- commands ---------------------------------------------------------------------------

    def check_text_allowed(self) -> None:
        """SEND_TEXT waits for audio to be over (PROTOCOL.md §11.7 rule 3)."""
        current = self._current
        if current is not None and current.kind == "audio":
            raise ApiError(WRONG_TIME, "audio is being driven: send its IsFinal packet and wait for AudioOver")

    def text(self, req_id: str, text: str, *, interrupt: bool) -> None:
        """SEND_TEXT: non-empty text always replaces current speech; empty + Interrupt stops it."""
        self.check_text_allowed()
        current = self._current
        if current is not None:
            self._interrupt(current)
        if not text:
            return
        utterance = _Utterance("text", req_id, self._now(), final=True)
        utterance.pieces.append(_Piece(text, speech_seconds(text, self._behaviour), 0))
        self._start(utterance, self._run_text)

    def stream(
        self,
        req_id: str,
        seq: int,
        text: str,
        *,
        final: bool,
        interrupt: bool,
        sentence: bool,
        insert: bool,
    ) -> None:
        """SEND_STREAMTEXT: one ReqId per utterance, Seq 1, 2, 3 ...; clause mode if `sentence`."""
        if insert and not sentence:
            raise bad("Data.IsInsertSentence", "only allowed in clause mode (IsSentence true)")
        # PROTOCOL.md §12: the gateway most likely ignores tags here rather than refusing them;
        # spoken_text() keeps them out of what is said either way.
        if not sentence and has_ssml(text) and self._behaviour.non_clause_ssml == "refuse":
            raise bad("Data.Text", "SSML is not allowed in non-clause streaming text")
        current = self._current
        if current is not None and current.kind == "audio":
            raise ApiError(WRONG_TIME, "audio is being driven: send its IsFinal packet and wait for AudioOver")
        if current is not None and current.req_id == req_id and current.kind in ("stream", "clause"):
            if interrupt:
                self._interrupt(current)
                return
            if current.final:
                raise ApiError(WRONG_TIME, f"stream {req_id} already received its final packet")
            if seq != current.last_seq + 1:
                raise bad("Data.Seq", f"expected {current.last_seq + 1} for this stream, got {seq}")
            self._add_text(current, seq, text, final=final, insert=insert)
            return
        if req_id in self._ended:
            if interrupt and not text and self._late_interrupt_ignored():
                return
            raise ApiError(WRONG_TIME, f"stream {req_id} has already ended; use a new ReqId")
        if interrupt:
            if current is not None:
                self._interrupt(current)
            return
        if seq != 1:
            raise bad("Data.Seq", f"a new stream (new ReqId) must start at Seq 1, got {seq}")
        if current is not None:
            self._interrupt(current)
        utterance = _Utterance("clause" if sentence else "stream", req_id, self._now())
        self._add_text(utterance, seq, text, final=final, insert=insert)
        self._start(utterance, self._run_text)

    def audio(self, req_id: str, seq: int, pcm: bytes, *, final: bool, interrupt: bool = False) -> None:
        """SEND_AUDIO: PCM packets of one utterance share a ReqId; the final packet ends it.

        `interrupt` (Data.Interrupt, not in the docs; one third-party design note says it stops
        the audio at once and AudioOver then carries FinalType 3, PROTOCOL.md §11.5) is the
        [behaviour] audio_interrupt knob: "accept" does just that, "refuse" answers 100001."""
        if interrupt:
            self._interrupt_audio(req_id)
            return
        current = self._current
        if current is not None and current.kind != "audio":
            raise ApiError(
                WRONG_TIME, "text is being spoken: interrupt it with SEND_TEXT Interrupt and wait for TextOver"
            )
        if current is not None and current.req_id != req_id:
            raise ApiError(WRONG_TIME, f"audio {current.req_id} is not over yet: finish it and wait for AudioOver")
        if current is not None:
            if current.final:
                raise ApiError(WRONG_TIME, f"audio {req_id} already received its final packet")
            if seq != current.last_seq + 1:
                raise bad("Data.Seq", f"expected {current.last_seq + 1} for this audio, got {seq}")
            utterance = current
        else:
            if req_id in self._ended:
                if final and not pcm and self._late_interrupt_ignored():
                    return
                raise ApiError(WRONG_TIME, f"audio {req_id} has already ended; use a new ReqId")
            if seq != 1:
                raise bad("Data.Seq", f"a new audio utterance (new ReqId) must start at Seq 1, got {seq}")
            utterance = _Utterance("audio", req_id, self._now())
            utterance.play_end = self._now()
            self._waiting(req_id, "WaitingAudioStart")
            self._status(req_id, "AudioStart")
            utterance.speaking = True
            self._start(utterance, self._run_audio)
        now = self._now()
        utterance.last_seq = seq
        utterance.last_packet = now
        if pcm and self._sent_too_fast(utterance, now):
            factor = self._behaviour.audio_min_real_time_factor
            raise ApiError(
                TOO_FREQUENT,
                f"audio sent faster than real time x {factor:g} after the first "
                f"{self._behaviour.audio_burst_packets} packets; this packet is dropped",
            )
        if pcm:
            self._hub.push_audio(self._sid, pcm)
            utterance.play_end = max(now, utterance.play_end) + len(pcm) / PCM_BYTES_PER_SECOND
            utterance.audio_seconds += len(pcm) / PCM_BYTES_PER_SECOND
        if final:
            utterance.final = True
            utterance.final_type = 1
            self._end_known(utterance)
        utterance.wake.set()

    def shutdown(self) -> None:
        """The session closed: stop without further events (its socket is closing too)."""
        if self._current is not None and self._current.task is not None:
            self._current.done = True
            self._current.task.cancel()
        self._current = None

    # -- internals --------------------------------------------------------------------------

    def _sent_too_fast(self, utterance: _Utterance, now: float) -> bool:
        """The pacing rule of PROTOCOL.md §11.5, over a sliding window of packets (see the
        [behaviour] audio_* knobs). A refused packet is not counted, so a client that slows down
        is taken again at once."""
        behaviour = self._behaviour
        if utterance.paced and behaviour.audio_min_real_time_factor > 0:
            since, audio_then = utterance.paced[0]
            audio = utterance.audio_seconds - audio_then
            if audio > 0 and (now - since + behaviour.audio_pacing_slack_seconds) / audio < (
                behaviour.audio_min_real_time_factor
            ):
                return True
        utterance.data_packets += 1
        if utterance.data_packets >= behaviour.audio_burst_packets:
            utterance.paced.append((now, utterance.audio_seconds))
            while len(utterance.paced) > max(1, behaviour.audio_rtf_window_packets):
                utterance.paced.popleft()
        return False

    def _interrupt_audio(self, req_id: str) -> None:
        if self._behaviour.audio_interrupt == "refuse":
            raise bad("Data.Interrupt", "not supported for SEND_AUDIO: send the IsFinal packet to stop audio")
        current = self._current
        if current is not None and current.kind == "audio" and current.req_id == req_id:
            current.final_type = 3
            self._interrupt(current)
        elif current is not None and current.kind != "audio":
            raise ApiError(
                WRONG_TIME, "text is being spoken: interrupt it with SEND_TEXT Interrupt and wait for TextOver"
            )
        elif req_id not in self._ended or not self._late_interrupt_ignored():
            raise ApiError(WRONG_TIME, f"audio {req_id} is not being driven")

    def _waiting(self, req_id: str, status: str) -> None:
        """The Waiting* speak states (PROTOCOL.md §11.8.3 lists them; where they fall is
        UNCONFIRMED, [behaviour] waiting_states): WaitingTextStart / WaitingAudioStart when a drive
        is taken on, just before TextStart / AudioStart; with "all", WaitingTextOver /
        WaitingAudioOver too, once the end is known (the final packet, or the whole SEND_TEXT)
        while the avatar still speaks."""
        wanted = self._behaviour.waiting_states
        if wanted == "all" or (wanted == "start" and status.endswith("Start")):
            self._status(req_id, status)

    def _end_known(self, utterance: _Utterance) -> None:
        if utterance.speaking and utterance.final and not utterance.waiting_over and not utterance.done:
            utterance.waiting_over = True
            self._waiting(utterance.req_id, "WaitingAudioOver" if utterance.kind == "audio" else "WaitingTextOver")

    def _late_interrupt_ignored(self) -> bool:
        """A stop for an utterance that already ended (PROTOCOL.md §12, UNCONFIRMED): the Web
        SDK's stop() sends one whenever the stream finished first, so by default it is a no-op
        that leaves the current utterance, if any, alone."""
        return self._behaviour.late_interrupt == "ignore"

    def _add_text(self, utterance: _Utterance, seq: int, text: str, *, final: bool, insert: bool) -> None:
        utterance.last_seq = seq
        utterance.last_packet = self._now()
        if text:
            piece = _Piece(text, speech_seconds(text, self._behaviour), seq)
            (utterance.inserts if insert else utterance.pieces).append(piece)
        if final:
            utterance.final = True
            self._end_known(utterance)
        utterance.wake.set()

    def _start(self, utterance: _Utterance, runner: Callable[[_Utterance], Any]) -> None:
        if utterance.kind != "audio":
            self._waiting(utterance.req_id, "WaitingTextStart")
        self._current = utterance
        utterance.task = asyncio.get_running_loop().create_task(runner(utterance))

    def _interrupt(self, utterance: _Utterance) -> None:
        if utterance.task is not None:
            utterance.task.cancel()
        self._hub.stop_speaking(self._sid)
        self._finish(utterance)

    def _finish(self, utterance: _Utterance) -> None:
        if utterance.done:
            return
        utterance.done = True
        if utterance.kind == "audio":
            self._status(utterance.req_id, "AudioOver", FinalType=utterance.final_type)
        else:
            self._status(utterance.req_id, "TextOver")
        if utterance.kind != "text":
            self._ended.append(utterance.req_id)
        if self._current is utterance:
            self._current = None

    def _content(self, req_id: str, piece: _Piece) -> None:
        """Type 2: what the avatar is about to say of a non-clause stream, as the server parsed it
        from the fragments (PROTOCOL.md §11.8.2); Text and TextDisplay without SSML tags."""
        plain = spoken_text(piece.text)
        self._emit({
            "Type": 2, "SessionId": self._sid, "ReqId": req_id, "Seq": piece.seq,
            "Text": plain, "TextPro": piece.text, "TextDisplay": plain,
            "ContentType": 9 if has_ssml(piece.text) else 1, "Uninterrupt": False, "Muted": False,
        })

    def _status(self, req_id: str, status: str, seq: int = 0, **extra: Any) -> None:
        self._emit({"Type": 3, "SessionId": self._sid, "ReqId": req_id, "Seq": seq, "SpeakStatus": status, **extra})

    async def _wait_for_packet(self, utterance: _Utterance) -> None:
        """Wait for the next packet; past StreamMaxInterval without one, finalise on the client's behalf."""
        remaining = utterance.last_packet + self._max_interval - self._now()
        if utterance.kind != "clause" and remaining <= 0:
            utterance.final = True
            utterance.final_type = 2
            self._end_known(utterance)
            return
        utterance.wake.clear()
        timeout = None if utterance.kind == "clause" else remaining
        try:
            await asyncio.wait_for(utterance.wake.wait(), timeout)
        except TimeoutError:
            pass

    async def _run_text(self, utterance: _Utterance) -> None:
        started = False
        while True:
            piece = utterance.next_piece()
            if piece is not None:
                if not started:
                    if self._behaviour.text_start_delay_seconds:
                        await asyncio.sleep(self._behaviour.text_start_delay_seconds)
                    self._status(utterance.req_id, "TextStart")
                    started = utterance.speaking = True
                    self._end_known(utterance)
                if utterance.kind == "stream":
                    self._content(utterance.req_id, piece)
                if utterance.kind == "clause":
                    self._status(utterance.req_id, "SentenceStart", piece.seq)
                    # Flow control: the next clause may be sent as soon as this one plays.
                    self._status(utterance.req_id, "SentenceNext", piece.seq)
                self._hub.say(self._sid, spoken_text(piece.text), piece.seconds)
                await asyncio.sleep(piece.seconds)
                if utterance.kind == "clause":
                    self._status(utterance.req_id, "SentenceOver", piece.seq)
                continue
            if utterance.final:
                break
            await self._wait_for_packet(utterance)
        self._finish(utterance)

    async def _run_audio(self, utterance: _Utterance) -> None:
        while not utterance.final:
            await self._wait_for_packet(utterance)
        # The last packet still has to be heard before the avatar is idle again.
        await asyncio.sleep(max(0.0, utterance.play_end - self._now()))
        self._finish(utterance)
