"""The WebSocket command channel of one session (PROTOCOL §11), on asyncio.

One client for every caller: the console's chat relay and the ``tcadh`` management command.
Frames come from ``frames``; this module adds the transport: a freshly signed URL for every
connection, a bounded outbox drained by one writer (urgent frames first, SEND_TEXT with text held
until the spacing allows it), a heartbeat whenever the channel is idle, reconnection with
jittered backoff, typed downstream events, and typed handshake refusals.

``CommandChannel.send`` queues frames without waiting; ``send_text``, ``stream_text`` and
``send_audio`` build whole drives and return once their frames are written. ``clock`` and
``sleep`` drive the spacing and the audio pacing, so both can be checked without waiting in
real time.
"""
from __future__ import annotations

import asyncio
import contextvars
import inspect
import json
import logging
import random
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from .errors import CHANNEL_CLOSED, HTTP_ERROR, NETWORK_ERROR, TIMEOUT_ERROR, TcadhError
from .frames import (
    SEND_TEXT,
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

# More than the cloud's 1 s between texts (§11.3), with room for the two clocks to differ.
TEXT_INTERVAL_SECONDS = 1.05
HEARTBEAT_SECONDS = 40.0
# 160 ms of audio every 140 ms after a burst of six: inside the cloud's real-time window (§11.5).
AUDIO_INTERVAL_SECONDS = 0.14
AUDIO_BURST = 6
OUTBOX_LIMIT = 256
# How many ReqIds of sent frames are remembered (`was_sent`).
SENT_KEPT = 512
# A float sum can fall a hair short of the time just slept to; closer than this is "now".
_CLOCK_SLACK = 1e-6

CONNECTING = "connecting"
CONNECTED = "connected"
RECONNECTING = "reconnecting"
CLOSED = "closed"


class HandshakeRefused(TcadhError):
    """The cloud answered the WebSocket handshake with an HTTP error; ``cloud_code`` and
    ``cloud_message`` are what its JSON body said (0 and "" without one)."""

    def __init__(self, http_status: int, cloud_code: int, cloud_message: str) -> None:
        self.cloud_code = cloud_code
        self.cloud_message = cloud_message
        super().__init__(HTTP_ERROR, f"command channel handshake refused with HTTP {http_status}",
                         retryable=http_status >= 500 and cloud_code not in STOP_CODES, http_status=http_status)


class OutboxFull(TcadhError):
    """The cloud is not taking frames as fast as they come."""

    def __init__(self) -> None:
        super().__init__(NETWORK_ERROR, "the command channel is backed up", retryable=True)


@dataclass
class _Outgoing:
    frame: dict[str, Any]
    req_id: str
    spaced: bool
    written: asyncio.Future | None = None


@dataclass
class _Drive:
    """What ``interrupt()`` stops: the drive the helpers started last."""

    kind: str
    req_id: str
    utterance: StreamTextUtterance | AudioUtterance | None = None
    stopped: bool = False


def spaced(frame: dict[str, Any]) -> bool:
    """SEND_TEXT with text must be more than 1 s after the previous one; a bare interrupt speaks
    nothing and goes at once."""
    payload = frame["Payload"]
    return payload["Command"] == SEND_TEXT and bool(payload["Data"].get("Text"))


def handshake_error(exc: BaseException) -> TcadhError:
    """A typed error for a failed connection attempt. Exception texts can quote the URL, and with
    it the signature: only the exception's type is kept."""
    if isinstance(exc, InvalidStatus):
        code, message = _cloud_code(exc.response.body)
        return HandshakeRefused(exc.response.status_code, code, message)
    if isinstance(exc, TimeoutError):
        return TcadhError(TIMEOUT_ERROR, "timed out opening the command channel", retryable=True)
    return TcadhError(NETWORK_ERROR, f"{type(exc).__name__} on the command channel", retryable=True)


def _cloud_code(body: bytes | None) -> tuple[int, str]:
    try:
        header = json.loads(body or b"{}").get("Header") or {}
        return int(header.get("Code") or 0), str(header.get("Message") or "")
    except (ValueError, TypeError, AttributeError):
        return 0, ""


class CommandChannel:
    """One session's command channel.

    ``url_factory`` (plain or async) is called for every connection attempt so each handshake
    carries a fresh timestamp and signature; a non-retryable ``TcadhError`` from it ends the
    channel. Events go to ``on_event`` (called on the event loop; it must not block) or, without
    one, through ``events()``. ``on_change`` is called whenever ``state`` or ``heartbeat_at``
    changes. ``max_reconnect_attempts=None`` reconnects until ``close()``.
    """

    def __init__(
        self,
        url_factory: Callable[[], str | Awaitable[str]],
        session_id: str,
        *,
        on_event: Callable[[Event], None] | None = None,
        on_change: Callable[[], None] | None = None,
        heartbeat_interval: float = HEARTBEAT_SECONDS,
        text_interval: float = TEXT_INTERVAL_SECONDS,
        audio_interval: float = AUDIO_INTERVAL_SECONDS,
        audio_burst: int = AUDIO_BURST,
        reconnect_backoff: float = 0.5,
        reconnect_backoff_max: float = 8.0,
        max_reconnect_attempts: int | None = 8,
        connect_timeout: float = 10.0,
        send_timeout: float = 5.0,
        outbox_limit: int = OUTBOX_LIMIT,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.session_id = session_id
        self._url_factory = url_factory
        self._on_event = on_event
        self._on_change = on_change
        self.heartbeat_interval = heartbeat_interval
        self.text_interval = text_interval
        self._audio_interval = audio_interval
        self._audio_burst = audio_burst
        self._reconnect_backoff = reconnect_backoff
        self._reconnect_backoff_max = reconnect_backoff_max
        self._max_reconnect_attempts = max_reconnect_attempts
        self._connect_timeout = connect_timeout
        self._send_timeout = send_timeout
        self._outbox_limit = outbox_limit
        self._loop = asyncio.get_running_loop()
        self._clock = clock or self._loop.time
        self._sleep = sleep

        self.state = CONNECTING
        self.heartbeat_at: float | None = None  # time.time() of the last heartbeat sent
        self.connections = 0
        self.last_error: TcadhError | None = None
        self.sent_req_ids: OrderedDict[str, None] = OrderedDict()
        self._outbox: deque[_Outgoing] = deque()
        # What the idle writer awaits: a bare future, so a queued frame wakes it in one loop step.
        self._waker: asyncio.Future | None = None
        self._closed = asyncio.Event()
        self._connected = asyncio.Event()
        self._last_upstream = self._clock()
        self._last_text = float("-inf")
        self._current: _Drive | None = None
        self._events: asyncio.Queue[Event | None] = asyncio.Queue()
        self._runner: asyncio.Task | None = None

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    @property
    def queued(self) -> int:
        return len(self._outbox)

    def start(self) -> asyncio.Task:
        """Run the channel in a task of its own (fresh context: it outlives whoever started it)."""
        if self._runner is None:
            self._runner = self._loop.create_task(self.run(), name=f"tcadh-channel-{self.session_id}",
                                                  context=contextvars.Context())
        return self._runner

    async def connect(self) -> None:
        """Start the channel and wait for its first connection; the error if it never came."""
        runner = self.start()
        connected = asyncio.ensure_future(self._connected.wait())
        try:
            await asyncio.wait({connected, runner}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            connected.cancel()
        if not self._connected.is_set():
            raise self.last_error or TcadhError(CHANNEL_CLOSED, "the command channel closed")

    def close(self, error: TcadhError | None = None) -> None:
        """Stop for good; what is still queued is dropped."""
        if not self._closed.is_set():
            if error is not None:
                self.last_error = error
            self._closed.set()
            self._wake()

    async def until_closed(self) -> None:
        """Until ``close()`` is called (or the channel ends by itself)."""
        await self._closed.wait()

    async def wait_closed(self) -> None:
        """Until the task of ``start()`` has finished."""
        if self._runner is not None:
            await asyncio.gather(self._runner, return_exceptions=True)

    async def aclose(self) -> None:
        self.close()
        await self.wait_closed()

    async def __aenter__(self) -> CommandChannel:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def events(self, timeout: float | None = None) -> AsyncIterator[Event]:
        """Downstream events until the channel ends, or until ``timeout`` seconds pass without one."""
        while True:
            try:
                # What already arrived is yielded even with no time to wait.
                event = self._events.get_nowait() if self._events.qsize() else \
                    await asyncio.wait_for(self._events.get(), timeout)
            except TimeoutError:
                return
            if event is None:
                self._events.put_nowait(None)  # later iterators end too
                return
            yield event

    # -- upstream ---------------------------------------------------------------------------

    def send(self, frames: list[dict[str, Any]], *, urgent: bool = False) -> list[asyncio.Future]:
        """Queue frames for the cloud without waiting; ``urgent`` ones (interrupts) go ahead of
        everything queued. Futures that settle once each frame is written."""
        if self.closed:
            raise self.last_error or TcadhError(CHANNEL_CLOSED, "the command channel is closed", retryable=False)
        if not urgent and len(self._outbox) + len(frames) > self._outbox_limit:
            raise OutboxFull()
        items = [_Outgoing(frame, frame["Payload"]["ReqId"], spaced(frame), self._loop.create_future())
                 for frame in frames]
        if urgent:
            self._outbox.extendleft(reversed(items))
        else:
            self._outbox.extend(items)
        self._wake()
        return [item.written for item in items]

    def withdraw(self, req_ids: set[str]) -> int:
        """Drop frames of these drives that were not written yet; how many were dropped."""
        kept = [item for item in self._outbox if item.req_id not in req_ids]
        for item in self._outbox:
            if item.req_id in req_ids and not item.written.done():
                item.written.cancel()
        dropped = len(self._outbox) - len(kept)
        self._outbox = deque(kept)
        return dropped

    def was_sent(self, req_id: str) -> bool:
        return req_id in self.sent_req_ids

    # -- whole drives ----------------------------------------------------------------------

    async def send_text(self, text: str, *, interrupt: bool = False, use_bot: bool = False) -> str:
        """SEND_TEXT (≤ 4000 UTF-8 bytes), held as long as the text spacing asks."""
        frame = text_frame(self.session_id, text, interrupt=interrupt, use_bot=use_bot)
        self._begin(_Drive("text", frame["Payload"]["ReqId"]))
        await self._written(self.send([frame]))
        return frame["Payload"]["ReqId"]

    async def stream_text(self, chunks: Iterable[str], *, clause: bool = False) -> str:
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
            if ready and not await self._stream(drive, utterance.packets(ready)):
                return utterance.req_id
        await self._stream(drive, utterance.packets(pending) + [utterance.final()])
        return utterance.req_id

    async def send_audio(self, pcm: bytes, *, live: bool = False) -> str:
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
                    await self._sleep_for(delay)
            if drive.stopped:
                break
            await self._written(self.send([utterance.packet(chunk)]))
        # Also the way to stop audio early: the cloud has no interrupt flag for SEND_AUDIO.
        await self._written(self.send([utterance.final()]))
        return utterance.req_id

    def interrupt(self) -> str | None:
        """Stop the current drive; its ReqId, or None when nothing was being driven."""
        drive, self._current = self._current, None
        if drive is None:
            return None
        drive.stopped = True
        self.withdraw({drive.req_id})
        if drive.kind == "text":
            self.send([text_frame(self.session_id, "", interrupt=True)], urgent=True)
        elif drive.kind == "stream":
            self.send([drive.utterance.interrupt()], urgent=True)
        return drive.req_id

    def _begin(self, drive: _Drive) -> _Drive:
        if self._current is not None:
            self._current.stopped = True
        self._current = drive
        return drive

    async def _stream(self, drive: _Drive, frames: list[dict[str, Any]]) -> bool:
        if drive.stopped:
            return False
        await self._written(self.send(frames))
        return True

    async def _written(self, futures: list[asyncio.Future]) -> None:
        for future in futures:
            try:
                await asyncio.shield(future)
            except asyncio.CancelledError:
                if not future.cancelled():
                    raise  # the caller was cancelled
                # Withdrawn by an interrupt: the drive is over, not failed.

    # -- the connection ----------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, pump, reconnect until closed; then fail what is still queued."""
        attempt = 0
        try:
            while not self.closed:
                try:
                    url = self._url_factory()
                    if inspect.isawaitable(url):
                        url = await url
                    if self.closed:
                        break
                    # Frames are small JSON commands: per-message deflate would only cost CPU on both ends.
                    async with connect(url, open_timeout=self._connect_timeout, ping_interval=None,
                                       close_timeout=2, max_size=2**22, compression=None) as ws:
                        attempt = 0
                        self.connections += 1
                        logger.info("channel %s connected (connection %d)", self.session_id, self.connections)
                        self._connected.set()
                        self._set_state(CONNECTED)
                        await self._pump(ws)
                except TcadhError as err:
                    # From the URL factory: it knows whether the session can still be driven.
                    self._failed(err, final=not err.retryable)
                except (OSError, TimeoutError, ConnectionClosed, InvalidHandshake) as exc:
                    err = handshake_error(exc)
                    self._failed(err, final=self._gives_up(err))
                self._connected.clear()
                if self.closed:
                    break
                attempt += 1
                if self._max_reconnect_attempts is not None and attempt > self._max_reconnect_attempts:
                    self.close(TcadhError(CHANNEL_CLOSED,
                                          f"gave up reconnecting after {self._max_reconnect_attempts} attempts"))
                    break
                self._set_state(RECONNECTING)
                delay = min(self._reconnect_backoff_max, self._reconnect_backoff * 2 ** (attempt - 1))
                await self._wait_closed_for(delay * random.uniform(0.8, 1.2))
        finally:
            self.close()
            self._connected.clear()
            for item in self._outbox:
                if not item.written.done():
                    item.written.set_exception(self.last_error or TcadhError(CHANNEL_CLOSED, "closed"))
                    item.written.exception()  # retrieved: nobody may be waiting for it
            self._outbox.clear()
            self._events.put_nowait(None)
            self._set_state(CLOSED)

    def _gives_up(self, err: TcadhError) -> bool:
        """A stop code ends any channel. Other refusals end a channel with a reconnect limit (a
        terminal's); one that never gives up (the relay's) tries again, as a refusal may be passing
        and its URL factory checks the session before every attempt."""
        if isinstance(err, HandshakeRefused) and err.cloud_code in STOP_CODES:
            return True
        return not err.retryable and self._max_reconnect_attempts is not None

    def _failed(self, err: TcadhError, *, final: bool) -> None:
        self.last_error = err
        logger.warning("channel %s: %s", self.session_id, err)
        if final:
            self.close()

    async def _wait_closed_for(self, seconds: float) -> None:
        waiter = asyncio.ensure_future(self._closed.wait())
        try:
            await asyncio.wait({waiter}, timeout=max(seconds, 0.0))
        finally:
            waiter.cancel()

    async def _pump(self, ws: ClientConnection) -> None:
        tasks = {asyncio.ensure_future(self._read(ws)), asyncio.ensure_future(self._write(ws)),
                 asyncio.ensure_future(self._closed.wait())}
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()

    async def _write(self, ws: ClientConnection) -> None:
        while not self.closed:
            now = self._clock()
            item = self._outbox[0] if self._outbox else None
            if item is None:
                idle_left = self._last_upstream + self.heartbeat_interval - now
                if idle_left <= 0:
                    await self._transmit(ws, heartbeat_frame(self.session_id))
                    self.heartbeat_at = time.time()
                    self._changed()
                    continue
                await self._idle(idle_left)
                continue
            if item.spaced and self._last_text + self.text_interval - now > _CLOCK_SLACK:
                # Hold the text (queue, don't reject); an interrupt may reorder the queue meanwhile.
                await self._idle(self._last_text + self.text_interval - now, clocked=True)
                continue
            await self._transmit(ws, item.frame)
            if self._outbox and self._outbox[0] is item:
                self._outbox.popleft()
            if item.spaced:
                self._last_text = self._clock()
            self.sent_req_ids[item.req_id] = None
            while len(self.sent_req_ids) > SENT_KEPT:
                self.sent_req_ids.popitem(last=False)
            if not item.written.done():
                item.written.set_result(None)

    async def _idle(self, seconds: float, *, clocked: bool = False) -> None:
        """Until `seconds` pass or something is queued. `clocked`: time measured on the injected
        clock, so the injected sleep decides when it has passed."""
        waker = self._waker = self._loop.create_future()
        if clocked and self._sleep is not None:
            sleeper = asyncio.ensure_future(self._sleep(seconds))
            sleeper.add_done_callback(lambda _: self._wake())
        else:
            sleeper = None
            timer = self._loop.call_later(max(seconds, 0.0), self._wake)
        try:
            await waker
        finally:
            if sleeper is None:
                timer.cancel()
            self._waker = None

    def _wake(self) -> None:
        if self._waker is not None and not self._waker.done():
            self._waker.set_result(None)

    async def _sleep_for(self, seconds: float) -> None:
        await (self._sleep or asyncio.sleep)(seconds)

    async def _transmit(self, ws: ClientConnection, frame: dict[str, Any]) -> None:
        # A timeout scope rather than wait_for, which on Python 3.11 wraps the send in a task of
        # its own: two more loop steps before every frame leaves.
        async with asyncio.timeout(self._send_timeout):
            await ws.send(json.dumps(frame, ensure_ascii=False))
        self._last_upstream = self._clock()
        payload = frame["Payload"]
        logger.debug("channel %s sent %s req=%s seq=%s", self.session_id, payload["Command"], payload["ReqId"],
                     payload["Data"].get("Seq"))

    async def _read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            event = parse_event(raw)
            if self._on_event is None:
                self._events.put_nowait(event)
            else:
                try:
                    self._on_event(event)
                except Exception:
                    logger.exception("channel %s: handling a downstream event failed", self.session_id)
            if isinstance(event, DriveFailed) and event.code in STOP_CODES:
                logger.warning("channel %s ends: %s (code %s)", self.session_id, event.message, event.code)
                self.close(TcadhError(event.code, event.message, retryable=False))
                return

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self._changed()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()
