"""The chat's database work, off the event loop and off the round trip.

`read` runs a query on a reader thread; `recorder()` runs writes on one thread of their own, in
the order they were handed in. Neither queues behind the one thread that every thread-sensitive
`database_sync_to_async` call of the process shares.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import connection, connections

logger = logging.getLogger(__name__)

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
    # With the caller's context carried over, as database_sync_to_async does (a plain executor call
    # leaves asgiref's thread-tagged Local behind): a refusal worded there is in the language of
    # the tab that asked.
    return await sync_to_async(_with_connection, thread_sensitive=False, executor=_READER_THREADS)(fn)


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
