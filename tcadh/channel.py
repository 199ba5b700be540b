"""Blocking WebSocket command channel (PROTOCOL §11) on websocket-client, with a reader and a
heartbeat thread. Frames come from ``frames``; this module only adds transport, pacing and
reconnection."""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import websocket

from .errors import CHANNEL_CLOSED, HTTP_ERROR, NETWORK_ERROR, TIMEOUT_ERROR, TcadhError
from .frames import (
    AudioUtterance,
    DriveFailed,
    Event,
    StreamTextUtterance,
    heartbeat_frame,
    last_clause_end,
    parse_event,
    split_pcm,
    text_frame,
)

logger = logging.getLogger("tcadh")

# The session is gone or was never drivable: reconnecting cannot help.
STOP_CODES = frozenset({110013, 110014, 110018, 110022})

_END = object()


@dataclass
class _Drive:
    kind: str
    req_id: str
    utterance: StreamTextUtterance | AudioUtterance | None = None
    stop: threading.Event = field(default_factory=threading.Event)


class CommandChannel:
    """One session's command channel.

    ``url_factory`` is called for every connection attempt so each handshake carries a fresh
    timestamp and signature. Events are delivered to ``on_event`` (called on the reader thread)
    or, without a callback, through ``events()``. ``clock`` and ``sleep`` drive the text spacing
    and audio pacing, so both can be checked without waiting in real time.
    """

    def __init__(
        self,
        url_factory: Callable[[], str],
        session_id: str,
        *,
        on_event: Callable[[Event], None] | None = None,
        heartbeat_interval: float = 40.0,
        text_interval: float = 1.05,
        audio_interval: float = 0.14,
        audio_burst: int = 6,
        reconnect_backoff: float = 0.5,
        reconnect_backoff_max: float = 8.0,
        max_reconnect_attempts: int = 8,
        connect_timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.session_id = session_id
        self._url_factory = url_factory
        self._on_event = on_event
        self._heartbeat_interval = heartbeat_interval
        self._text_interval = text_interval
        self._audio_interval = audio_interval
        self._audio_burst = audio_burst
        self._reconnect_backoff = reconnect_backoff
        self._reconnect_backoff_max = reconnect_backoff_max
        self._max_reconnect_attempts = max_reconnect_attempts
        self._connect_timeout = connect_timeout
        self._clock = clock
        self._sleep = sleep

        self._ws: websocket.WebSocket | None = None
        self._connected = threading.Event()
        self._closed = threading.Event()
        self._send_lock = threading.Lock()
        # Guards the current drive and its Seq counter between the caller and interrupt().
        self._drive_lock = threading.RLock()
        self._current: _Drive | None = None
        self._last_text_at: float | None = None
        self._events: queue.Queue[Any] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self.connections = 0
        self.last_error: TcadhError | None = None

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def connect(self) -> None:
        if self._threads:
            raise RuntimeError("the channel is already connected")
        self._ws = self._open()
        self._connected.set()
        for target, name in ((self._read_loop, "reader"), (self._heartbeat_loop, "heartbeat")):
            thread = threading.Thread(target=target, name=f"tcadh-{name}-{self.session_id}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        if self._closed.is_set() and not self._threads:
            return
        self._closed.set()
        self._connected.clear()
        ws = self._ws
        if ws is not None:
            with self._send_lock:
                _quietly(ws.send_close)
            # Wakes the reader blocked in recv(); it then releases the socket and ends events().
            _quietly(ws.abort)
        if not self._threads:
            self._events.put(_END)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=self._connect_timeout)

    def __enter__(self) -> CommandChannel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def events(self, timeout: float | None = None) -> Iterator[Event]:
        """Downstream events until the channel ends, or until ``timeout`` seconds pass without one."""
        while True:
            try:
                item = self._events.get(timeout=timeout)
            except queue.Empty:
                return
            if item is _END:
                self._events.put(_END)  # later iterators end too
                return
            yield item

    # -- driving ----------------------------------------------------------------------------

    def send_text(self, text: str, *, interrupt: bool = False, use_bot: bool = False) -> str:
        """SEND_TEXT (≤ 4000 UTF-8 bytes); waits as needed to keep SEND_TEXTs ≥ 1 s apart."""
        frame = text_frame(self.session_id, text, interrupt=interrupt, use_bot=use_bot)
        req_id = frame["Payload"]["ReqId"]
        with self._drive_lock:
            self._begin(_Drive("text", req_id))
            self._send_text_frame(frame)
        return req_id

    def stream_text(self, chunks: Iterable[str], *, clause: bool = False) -> str:
        """SEND_STREAMTEXT packets for each chunk, then the final packet.

        In clause mode text is held back until a sentence ends, so every packet is a whole clause.
        """
        utterance = StreamTextUtterance(self.session_id, clause=clause)
        drive = self._begin(_Drive("stream", utterance.req_id, utterance))
        pending = ""
        for chunk in chunks:
            pending += chunk
            cut = last_clause_end(pending) if clause else len(pending)
            ready, pending = pending[:cut], pending[cut:]
            if ready and not self._send_stream(drive, utterance, ready):
                return utterance.req_id
        with self._drive_lock:
            if self._send_stream(drive, utterance, pending):
                self._send(utterance.final())
        return utterance.req_id

    def send_audio(self, pcm: bytes, *, live: bool = False) -> str:
        """SEND_AUDIO of 16 kHz mono s16le PCM in 160 ms packets, then the empty final packet.

        Pre-recorded audio goes out in a burst of ``audio_burst`` packets, then one packet per
        ``audio_interval`` on a schedule fixed at the start, so a late wake-up shortens the next
        wait instead of delaying every later packet. ``live=True`` sends without pacing because
        the source (a microphone) already runs in real time.
        """
        chunks = split_pcm(pcm)
        if not chunks:
            raise ValueError("no audio to send")
        utterance = AudioUtterance(self.session_id)
        drive = self._begin(_Drive("audio", utterance.req_id, utterance))
        start = self._clock()
        for index, chunk in enumerate(chunks):
            if not live:
                delay = start + max(0, index - self._audio_burst + 1) * self._audio_interval - self._clock()
                if delay > 0:
                    self._sleep(delay)
            with self._drive_lock:
                if drive.stop.is_set():
                    break
                self._send(utterance.packet(chunk))
        with self._drive_lock:
            # Also the way to stop audio early: the cloud has no interrupt flag for SEND_AUDIO.
            self._send(utterance.final())
        return utterance.req_id

    def interrupt(self) -> str | None:
        """Stop the current drive; returns its ReqId, or None when nothing was being driven."""
        with self._drive_lock:
            drive = self._current
            if drive is None:
                return None
            self._current = None
            drive.stop.set()
            if drive.kind == "text":
                self._send_text_frame(text_frame(self.session_id, "", interrupt=True))
            elif drive.kind == "stream":
                assert isinstance(drive.utterance, StreamTextUtterance)
                self._send(drive.utterance.interrupt())
            return drive.req_id

    # -- internals --------------------------------------------------------------------------

    def _begin(self, drive: _Drive) -> _Drive:
        with self._drive_lock:
            if self._current is not None:
                self._current.stop.set()
            self._current = drive
        return drive

    def _send_stream(self, drive: _Drive, utterance: StreamTextUtterance, text: str) -> bool:
        with self._drive_lock:
            if drive.stop.is_set():
                return False
            for frame in utterance.packets(text):
                self._send(frame)
        return True

    def _send_text_frame(self, frame: dict[str, Any]) -> None:
        if self._last_text_at is not None:
            delay = self._last_text_at + self._text_interval - self._clock()
            if delay > 0:
                self._sleep(delay)
        self._send(frame)
        self._last_text_at = self._clock()

    def _send(self, frame: dict[str, Any]) -> None:
        if self._closed.is_set():
            raise self.last_error or TcadhError(CHANNEL_CLOSED, "the command channel is closed", retryable=False)
        if not self._connected.wait(self._connect_timeout):
            raise TcadhError(NETWORK_ERROR, "the command channel is reconnecting", retryable=True)
        text = json.dumps(frame, ensure_ascii=False)
        with self._send_lock:
            try:
                assert self._ws is not None
                self._ws.send(text)
            except (websocket.WebSocketException, OSError):
                raise TcadhError(NETWORK_ERROR, "the command channel dropped while sending", retryable=True) from None
        payload = frame["Payload"]
        logger.debug("channel %s sent %s req=%s seq=%s", self.session_id, payload["Command"], payload["ReqId"], payload["Data"].get("Seq"))

    def _open(self) -> websocket.WebSocket:
        url = self._url_factory()
        try:
            ws = websocket.create_connection(url, timeout=self._connect_timeout)
        except websocket.WebSocketBadStatusException as exc:
            status = exc.status_code
            raise TcadhError(
                HTTP_ERROR, f"command channel handshake refused with HTTP {status}", retryable=status >= 500, http_status=status
            ) from None
        except websocket.WebSocketTimeoutException:
            raise TcadhError(TIMEOUT_ERROR, "timed out opening the command channel", retryable=True) from None
        except (websocket.WebSocketException, OSError) as exc:
            # Exception texts can quote the URL, and with it the signature: keep only the type.
            raise TcadhError(NETWORK_ERROR, f"{type(exc).__name__} opening the command channel", retryable=True) from None
        # Reads block until a frame arrives; close() wakes them with abort().
        ws.settimeout(None)
        self.connections += 1
        logger.info("channel %s connected (connection %d)", self.session_id, self.connections)
        return ws

    def _read_loop(self) -> None:
        ws = self._ws
        while ws is not None:
            raw = _receive(ws)
            if raw is not None:
                self._handle(raw)
                if not self._closed.is_set():
                    continue
            self._connected.clear()
            _quietly(ws.shutdown)
            ws = None if self._closed.is_set() else self._reconnect()
        self._closed.set()
        self._events.put(_END)

    def _handle(self, raw: str) -> None:
        event = parse_event(raw)
        if isinstance(event, DriveFailed) and event.code in STOP_CODES:
            self.last_error = TcadhError(event.code, event.message)
            logger.warning("channel %s ends: %s", self.session_id, self.last_error)
            self._closed.set()
        if self._on_event is None:
            self._events.put(event)
            return
        try:
            self._on_event(event)
        except Exception:
            logger.exception("channel %s: on_event callback failed", self.session_id)

    def _reconnect(self) -> websocket.WebSocket | None:
        for attempt in range(self._max_reconnect_attempts):
            if attempt:
                delay = min(self._reconnect_backoff * 2 ** (attempt - 1), self._reconnect_backoff_max)
                if self._closed.wait(delay):
                    return None
            try:
                ws = self._open()
            except TcadhError as err:
                self.last_error = err
                logger.warning("channel %s reconnect %d failed: %s", self.session_id, attempt + 1, err)
                if not err.retryable:
                    return None
                continue
            self._ws = ws
            self._connected.set()
            return ws
        self.last_error = TcadhError(CHANNEL_CLOSED, f"gave up reconnecting after {self._max_reconnect_attempts} attempts")
        return None

    def _heartbeat_loop(self) -> None:
        while not self._closed.wait(self._heartbeat_interval):
            if not self._connected.is_set():
                continue
            try:
                self._send(heartbeat_frame(self.session_id))
            except TcadhError as err:
                logger.info("channel %s heartbeat skipped: %s", self.session_id, err.message)


def _receive(ws: websocket.WebSocket) -> str | None:
    """The next text frame, or None once the connection is gone."""
    try:
        opcode, data = ws.recv_data()
    except (websocket.WebSocketException, OSError):
        return None
    if opcode == websocket.ABNF.OPCODE_CLOSE:
        return None
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


def _quietly(action: Callable[[], object]) -> None:
    try:
        action()
    except (websocket.WebSocketException, OSError):
        pass
