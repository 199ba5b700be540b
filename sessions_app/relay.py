"""The upstream command channel of each started session, shared by every tab of that session.

One `Relay` per session per console process. It owns an asyncio WebSocket client (nothing here
blocks the event loop), a bounded outbox drained by a writer task, a reader task that hands
de-duplicated downstream events to the chat as they arrive, and a listener on the session's
status group that closes it as soon as the session closes. Each relay has its own tasks and
queues and every send has a timeout, so a slow or dead cloud connection for one session never
holds up another.

What the frames mean and what becomes of the events is decided by `chat`; this module moves
frames, keeps the connection alive, tells the session's pages in order (`Relay.publish`) and runs
the chat's database writes off the round trip (`recorder`).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import random
import threading
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection, connections
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from tcadh.channel import STOP_CODES
from tcadh.frames import SEND_TEXT, DriveFailed, Event, LlmText, SpeakStatus, heartbeat_frame, parse_event

from . import broadcast, cloud
from .models import LiveSession

logger = logging.getLogger(__name__)

CONNECTING = "connecting"
CONNECTED = "connected"
RECONNECTING = "reconnecting"
CLOSED = "closed"

ENDED_STATUSES = frozenset({LiveSession.Status.CLOSING, LiveSession.Status.CLOSED, LiveSession.Status.FAILED})
_SEEN_KEPT = 512


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def grace_seconds() -> float:
    return _setting("TCADH_RELAY_GRACE_SECONDS", 10.0)


class RelayFull(Exception):
    """The outbox is full: the cloud is not taking frames as fast as they come."""


class RelayClosed(Exception):
    """The relay stopped for good (session over, or the cloud said it cannot be driven)."""


@dataclass
class Outgoing:
    frame: dict[str, Any]
    req_id: str
    # SEND_TEXT with text must be more than 1 s after the previous one (PROTOCOL §11.3).
    spaced: bool


def dedup_key(event: Event) -> tuple | None:
    """Identity of an event the cloud may push again after a reconnect (§11.1)."""
    if isinstance(event, SpeakStatus):
        return (event.req_id, 3, event.status, event.seq)
    if isinstance(event, LlmText):
        return (event.req_id, 4, "", event.seq)
    return None


def _cloud_code(body: bytes | None) -> tuple[int, str]:
    try:
        header = json.loads(body or b"{}").get("Header") or {}
        return int(header.get("Code") or 0), str(header.get("Message") or "")
    except (ValueError, TypeError, AttributeError):
        return 0, ""


# Called on the event loop for each new downstream event; it must not block (the chat publishes
# and queues writes for the recorder).
EventHandler = Callable[["Relay", Event], None]
StopHandler = Callable[["Relay", str], Awaitable[None]]


class Relay:
    def __init__(self, session: LiveSession, *, on_event: EventHandler, on_stop: StopHandler,
                 seen: list[tuple] = ()) -> None:
        self.session = session
        self.session_pk = session.pk
        self.cloud_session_id = session.cloud_session_id
        self.state = CONNECTING
        self.heartbeat_at: datetime | None = None
        self.stop_reason = ""
        # Drives sent through this relay that have not ended yet, by ReqId; kept by `chat`.
        self.drives: dict[str, Any] = {}
        self.sent_req_ids: OrderedDict[str, None] = OrderedDict()
        self._on_event = on_event
        self._on_stop = on_stop
        self._loop = asyncio.get_running_loop()
        self._outbox: deque[Outgoing] = deque()
        self._outbox_limit = int(_setting("TCADH_RELAY_OUTBOX", 256))
        # What the idle writer awaits: a bare future, so a queued frame wakes it in one loop step.
        self._waker: asyncio.Future | None = None
        self._stopped = asyncio.Event()
        self._seen: OrderedDict[tuple, None] = OrderedDict((key, None) for key in seen)
        self._last_upstream = self._loop.time()
        self._last_text = -1e9
        self._grace: asyncio.TimerHandle | None = None
        self._tasks: list[asyncio.Task] = []
        self._listen_channel: str | None = None
        self._pages: deque[dict[str, Any]] = deque()
        self._pages_task: asyncio.Task | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        # A fresh context: the relay outlives the tab that opened it, so it must not inherit that
        # connection's context (asgiref ties thread-sensitive database calls to it).
        self._tasks = [
            self._loop.create_task(coro, name=f"relay-{self.session_pk}-{name}", context=contextvars.Context())
            for name, coro in (("channel", self._run()), ("status", self._listen()))
        ]

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def stop(self, reason: str) -> None:
        if not self._stopped.is_set():
            self.stop_reason = reason
            self._stopped.set()
            self._wake()

    async def wait_closed(self) -> None:
        await asyncio.gather(*self._tasks, return_exceptions=True)
        while self._pages_task is not None and not self._pages_task.done():
            await asyncio.wait({self._pages_task})

    def schedule_close(self, delay: float) -> None:
        self.cancel_close()
        give_up_at = self._loop.time() + delay + _setting("TCADH_RELAY_DRAIN_SECONDS", 30)
        self._grace = self._loop.call_later(delay, self._close_when_sent, give_up_at)

    def _close_when_sent(self, give_up_at: float) -> None:
        # What a page sent still goes out: a driver may close the tab right after pressing Send.
        if self._outbox and self._loop.time() < give_up_at:
            self._grace = self._loop.call_later(0.1, self._close_when_sent, give_up_at)
        else:
            self.stop("no page has the session open")

    def cancel_close(self) -> None:
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None

    # -- upstream ----------------------------------------------------------------------------

    def send(self, frames: list[dict[str, Any]], *, urgent: bool = False) -> None:
        """Queue frames for the cloud; `urgent` ones (interrupts) go ahead of everything queued."""
        if self.stopped:
            raise RelayClosed(self.stop_reason or "the command channel is closed")
        if not urgent and len(self._outbox) + len(frames) > self._outbox_limit:
            raise RelayFull("the avatar's connection is backed up; wait a moment and try again")
        items = [Outgoing(f, f["Payload"]["ReqId"], _spaced(f)) for f in frames]
        if urgent:
            self._outbox.extendleft(reversed(items))
        else:
            self._outbox.extend(items)
        self._wake()

    def withdraw(self, req_ids: set[str]) -> int:
        """Drop frames of these drives that were not sent yet; how many were dropped."""
        kept = [item for item in self._outbox if item.req_id not in req_ids]
        dropped = len(self._outbox) - len(kept)
        self._outbox = deque(kept)
        return dropped

    def was_sent(self, req_id: str) -> bool:
        return req_id in self.sent_req_ids

    def publish(self, message: dict[str, Any]) -> None:
        """Send a message to the session's group without waiting; messages go out in publish order.

        Every broadcast of the chat for this session goes through here, from whichever task, so
        a page always hears of an utterance before the avatar's statuses for it.
        """
        self._pages.append(message)
        if self._pages_task is None or self._pages_task.done():
            self._pages_task = self._loop.create_task(self._tell_pages(), name=f"relay-{self.session_pk}-pages",
                                                      context=contextvars.Context())

    async def _tell_pages(self) -> None:
        layer = get_channel_layer()
        group = broadcast.session_group(self.session_pk)
        while self._pages:
            # What one event published at once (its SessionEvent and its utterance's new state)
            # travels as one group message: half the channel-layer work on every avatar status.
            batch = list(self._pages)
            self._pages.clear()
            if layer is None:
                continue
            message = batch[0] if len(batch) == 1 else {"type": "chat.batch", "messages": batch}
            try:
                await layer.group_send(group, message)
            except Exception:
                logger.exception("session %s: telling the pages failed", self.session_pk)

    def snapshot(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "heartbeat_at": self.heartbeat_at.isoformat() if self.heartbeat_at else None,
            "reason": self.stop_reason,
        }

    # -- tasks -------------------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        try:
            while not self.stopped:
                if not await self._still_started():
                    self.stop("the session is no longer started")
                    break
                try:
                    url = await database_sync_to_async(cloud.client_for(self.session.account).channel_url)(
                        self.cloud_session_id)
                    # Frames are small JSON commands: per-message deflate would only cost CPU on both ends.
                    async with connect(url, open_timeout=_setting("TCADH_RELAY_OPEN_TIMEOUT", 10),
                                       ping_interval=None, close_timeout=2, max_size=2**22,
                                       compression=None) as ws:
                        attempt = 0
                        await self._set_state(CONNECTED)
                        await self._pump(ws)
                except InvalidStatus as exc:
                    code, message = _cloud_code(exc.response.body)
                    if code in STOP_CODES:
                        self.stop(f"the cloud refused the command channel: {message} (code {code})")
                    else:
                        logger.warning("command channel of session %s refused: %s", self.session_pk, exc)
                except (OSError, TimeoutError, ConnectionClosed, InvalidHandshake) as exc:
                    logger.info("command channel of session %s dropped: %r", self.session_pk, exc)
                if self.stopped:
                    break
                await self._set_state(RECONNECTING)
                attempt += 1
                base = _setting("TCADH_RELAY_BACKOFF_SECONDS", 0.5)
                delay = min(_setting("TCADH_RELAY_BACKOFF_MAX_SECONDS", 15), base * 2 ** (attempt - 1))
                await _wait_event(self._stopped, delay * random.uniform(0.8, 1.2))
        finally:
            self.stop(self.stop_reason or "closed")
            await self._set_state(CLOSED)
            await self._on_stop(self, self.stop_reason)

    async def _still_started(self) -> bool:
        return await LiveSession.objects.filter(pk=self.session_pk, status=LiveSession.Status.STARTED).aexists()

    async def _pump(self, ws: ClientConnection) -> None:
        tasks = {asyncio.create_task(self._read(ws)), asyncio.create_task(self._write(ws)),
                 asyncio.create_task(self._stopped.wait())}
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
        while not self.stopped:
            heartbeat = _setting("TCADH_RELAY_HEARTBEAT_SECONDS", 40)
            spacing = _setting("TCADH_RELAY_TEXT_INTERVAL_SECONDS", 1.1)
            now = self._loop.time()
            item = self._outbox[0] if self._outbox else None
            if item is None:
                idle_left = self._last_upstream + heartbeat - now
                if idle_left <= 0:
                    await self._transmit(ws, heartbeat_frame(self.cloud_session_id))
                    self.heartbeat_at = datetime.now(dt_timezone.utc)
                    await self._publish()
                    continue
                await self._sleep_until_woken(idle_left)
                continue
            if item.spaced and self._last_text + spacing > now:
                # Hold the text (queue, don't reject); an interrupt may reorder the queue meanwhile.
                await self._sleep_until_woken(self._last_text + spacing - now)
                continue
            await self._transmit(ws, item.frame)
            if self._outbox and self._outbox[0] is item:
                self._outbox.popleft()
            if item.spaced:
                self._last_text = self._loop.time()
            self.sent_req_ids[item.req_id] = None
            while len(self.sent_req_ids) > _SEEN_KEPT:
                self.sent_req_ids.popitem(last=False)

    async def _sleep_until_woken(self, seconds: float) -> None:
        waker = self._waker = self._loop.create_future()
        timer = self._loop.call_later(max(seconds, 0.0), self._wake)
        try:
            await waker
        finally:
            timer.cancel()
            self._waker = None

    def _wake(self) -> None:
        if self._waker is not None and not self._waker.done():
            self._waker.set_result(None)

    async def _transmit(self, ws: ClientConnection, frame: dict[str, Any]) -> None:
        # A timeout scope rather than wait_for, which on Python 3.11 wraps the send in a task of
        # its own: two more loop steps before every frame leaves.
        async with asyncio.timeout(_setting("TCADH_RELAY_SEND_TIMEOUT_SECONDS", 5)):
            await ws.send(json.dumps(frame, ensure_ascii=False))
        self._last_upstream = self._loop.time()

    async def _read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            event = parse_event(raw)
            key = dedup_key(event)
            if key is not None:
                if key in self._seen:
                    continue
                self._seen[key] = None
                while len(self._seen) > _SEEN_KEPT:
                    self._seen.popitem(last=False)
            try:
                self._on_event(self, event)
            except Exception:
                logger.exception("session %s: handling a downstream event failed", self.session_pk)
            if isinstance(event, DriveFailed) and event.code in STOP_CODES:
                self.stop(f"the cloud ended the command channel: {event.message} (code {event.code})")
                return

    async def _listen(self) -> None:
        """Close at once when the session closes, even when no page is open to hear it."""
        layer = get_channel_layer()
        if layer is None:
            return
        group = broadcast.session_status_group(self.session_pk)
        self._listen_channel = await layer.new_channel()
        await layer.group_add(group, self._listen_channel)
        try:
            while not self.stopped:
                receiver = asyncio.ensure_future(layer.receive(self._listen_channel))
                stopper = asyncio.ensure_future(self._stopped.wait())
                await asyncio.wait({receiver, stopper}, return_when=asyncio.FIRST_COMPLETED)
                stopper.cancel()
                if not receiver.done():
                    receiver.cancel()
                    break
                message = receiver.result()
                if message.get("type") == "session.update":
                    status = message["session"].get("status")
                    if status in ENDED_STATUSES:
                        self.stop(f"the session is {status}")
        finally:
            await layer.group_discard(group, self._listen_channel)

    async def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            await self._publish()

    async def _publish(self) -> None:
        layer = get_channel_layer()
        if layer is not None:
            await layer.group_send(broadcast.session_group(self.session_pk),
                                   {"type": "relay.state", "relay": self.snapshot()})


async def _wait_event(event: asyncio.Event, timeout: float) -> None:
    """Wait for `event` at most `timeout` seconds. Unlike wait_for on Python 3.11, a cancellation
    arriving as the event fires is never swallowed, so a stopping relay cannot hang."""
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiter}, timeout=max(timeout, 0.0))
    finally:
        waiter.cancel()


def _spaced(frame: dict[str, Any]) -> bool:
    payload = frame["Payload"]
    return payload["Command"] == SEND_TEXT and bool(payload["Data"].get("Text"))


class RelayRegistry:
    """The relays of this process and the tabs that keep each open."""

    def __init__(self) -> None:
        self._relays: dict[int, Relay] = {}
        self._tabs: dict[int, set[str]] = {}
        self._opening: dict[int, asyncio.Lock] = {}

    def get(self, session_pk: int) -> Relay | None:
        relay = self._relays.get(session_pk)
        if relay is None:
            return None
        if relay.stopped or relay.loop is not asyncio.get_running_loop():
            # A relay of a finished event loop (tests, a restarted server) cannot be reused.
            self._relays.pop(session_pk, None)
            return None
        return relay

    async def open(self, session: LiveSession, *, on_event: EventHandler, on_stop: StopHandler,
                   seen: Callable[[], Awaitable[list[tuple]]]) -> Relay:
        lock = self._opening.setdefault(session.pk, asyncio.Lock())
        async with lock:
            relay = self.get(session.pk)
            if relay is None:
                relay = Relay(session, on_event=on_event, on_stop=on_stop, seen=await seen())
                self._relays[session.pk] = relay
                relay.start()
                if not self._tabs.get(session.pk):
                    relay.schedule_close(grace_seconds())
            return relay

    def forget(self, relay: Relay) -> None:
        if self._relays.get(relay.session_pk) is relay:
            del self._relays[relay.session_pk]

    def tab_join(self, session_pk: int, tab: str) -> None:
        self._tabs.setdefault(session_pk, set()).add(tab)
        relay = self.get(session_pk)
        if relay is not None:
            relay.cancel_close()

    def tab_leave(self, session_pk: int, tab: str) -> None:
        tabs = self._tabs.get(session_pk, set())
        tabs.discard(tab)
        if not tabs:
            self._tabs.pop(session_pk, None)
            relay = self.get(session_pk)
            if relay is not None:
                relay.schedule_close(grace_seconds())

    async def close_all(self) -> None:
        """Stop every relay of the running loop and wait for them and their writes (server shutdown,
        tests, bench)."""
        relays = [relay for relay in list(self._relays.values()) if relay.loop is asyncio.get_running_loop()]
        for relay in relays:
            relay.stop("the console is shutting down")
        await asyncio.gather(*(relay.wait_closed() for relay in relays), return_exceptions=True)
        self._relays.clear()
        await recorder().flush()


relays = RelayRegistry()


# -- the recorder ---------------------------------------------------------------------------

_RECORDER_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="relay-recorder")
_READER_THREADS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="relay-reader")
_IDLE_CHECK_SECONDS = 30.0
_thread_state = threading.local()


def _connections_ready() -> None:
    """Keep this thread's database connection from one call to the next.

    The recorder and the readers are no requests, and opening a connection per message cost more
    than the queries. One that failed, or sat idle long enough for the server to have dropped it,
    is checked first and replaced if it no longer answers.
    """
    now = time.monotonic()
    idle = now - getattr(_thread_state, "used_at", now)
    _thread_state.used_at = now
    for conn in connections.all(initialized_only=True):
        if conn.connection is None or not (conn.errors_occurred or idle > _IDLE_CHECK_SECONDS):
            continue
        if conn.is_usable():
            conn.errors_occurred = False
        else:
            conn.close()


def _with_connection(fn: Callable[[], Any]) -> Any:
    _connections_ready()
    return fn()


def _one_thread_only() -> bool:
    """Shared-cache in-memory SQLite (the test database) fails a statement on a table another
    connection is writing instead of waiting for it: there every query keeps to the one shared
    thread, in the same order."""
    return connection.vendor == "sqlite" and connection.is_in_memory_db()


async def read(fn: Callable[[], Any]) -> Any:
    """Run a query on a reader thread: it never queues behind writes, nor behind the one thread that
    every thread-sensitive `database_sync_to_async` call of the process shares."""
    if _one_thread_only():
        return await database_sync_to_async(fn)()
    return await asyncio.get_running_loop().run_in_executor(_READER_THREADS, _with_connection, fn)


class _Batch:
    """Jobs for the recorder's thread; each future is settled on the loop as soon as its job ran,
    so the first of a long batch is not held back by the rest."""

    def __init__(self, loop: asyncio.AbstractEventLoop, jobs: list[tuple[Callable[[], Any], asyncio.Future]]):
        self._loop = loop
        self._jobs = jobs

    def __call__(self) -> None:
        _connections_ready()
        for job, future in self._jobs:
            try:
                outcome = (True, job())
            except Exception as exc:  # noqa: BLE001 - it belongs to the job's future; the rest still run
                outcome = (False, exc)
            self._loop.call_soon_threadsafe(_settle, future, outcome)


def _settle(future: asyncio.Future, outcome: tuple[bool, Any]) -> None:
    if future.done():
        return
    ok, value = outcome
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


def _log_failure(future: asyncio.Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("recording chat activity failed", exc_info=future.exception())


class Recorder:
    """The chat's database work, run on a thread of its own in exactly the order it was handed in.

    Pages hear of an event from the event loop as it arrives and its rows follow here, so no round
    trip waits for the database, nor for the one thread that every thread-sensitive
    `database_sync_to_async` call of the process shares. A single writer keeps the rows in arrival
    order (a drive's Utterance before its events, whatever batch they land in) and spares SQLite
    competing writers. Whatever queued up while one batch ran goes over as the next, in one hop.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._jobs: deque[tuple[Callable[[], Any], asyncio.Future]] = deque()
        self._drainer: asyncio.Task | None = None

    def submit(self, job: Callable[[], Any]) -> asyncio.Future:
        """Queue `job` (sync, runs on the recorder's thread); the future has its result."""
        future = self._loop.create_future()
        self._jobs.append((job, future))
        if self._drainer is None or self._drainer.done():
            # A fresh context: the drainer serves every tab and relay, not the one that started it.
            self._drainer = self._loop.create_task(self._drain(), name="relay-recorder",
                                                   context=contextvars.Context())
        return future

    def record(self, job: Callable[[], Any]) -> asyncio.Future:
        """Queue a write nobody waits for; a failure is logged."""
        future = self.submit(job)
        future.add_done_callback(_log_failure)
        return future

    async def flush(self) -> None:
        """Wait until everything queued so far is written."""
        while self._drainer is not None and not self._drainer.done():
            await asyncio.wait({self._drainer})

    async def _drain(self) -> None:
        while self._jobs:
            batch = list(self._jobs)
            self._jobs.clear()
            run = _Batch(self._loop, batch)
            if _one_thread_only():
                await database_sync_to_async(run)()
            else:
                await self._loop.run_in_executor(_RECORDER_THREAD, run)


_recorders: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Recorder] = weakref.WeakKeyDictionary()


def recorder() -> Recorder:
    """The recorder of the running event loop."""
    loop = asyncio.get_running_loop()
    found = _recorders.get(loop)
    if found is None:
        found = _recorders[loop] = Recorder(loop)
    return found
