"""A channel layer kept in a SQLite file, for one machine with no Redis.

Daphne, the Celery worker and beat are separate processes; the in-memory layer would keep a
worker's status change from ever reaching a browser. This layer shares messages through a
SQLite file instead. Channels of this process are delivered directly from memory, group members
this process added included, before the file is asked for members elsewhere; only messages for
other processes go through the file, where one poller per process picks them up.
With REDIS_URL set, channels_redis replaces it and this module is not used.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from channels.exceptions import ChannelFull
from channels.layers import BaseChannelLayer

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS message (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,
    expires REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS message_channel ON message (channel, id);
CREATE TABLE IF NOT EXISTS membership (
    grp TEXT NOT NULL,
    channel TEXT NOT NULL,
    expires REAL NOT NULL,
    PRIMARY KEY (grp, channel)
);
"""


def _log_failure(future) -> None:
    if future.exception() is not None:
        logger.error("channel layer: a group message for other processes was lost", exc_info=future.exception())


class SQLiteChannelLayer(BaseChannelLayer):
    extensions = ["groups", "flush"]

    def __init__(self, path: str, expiry: int = 60, group_expiry: int = 86400,
                 capacity: int = 1000, poll_interval: float = 0.05, **kwargs):
        super().__init__(expiry=expiry, capacity=capacity, **kwargs)
        self.path = path
        self.group_expiry = group_expiry
        self.poll_interval = poll_interval
        # One thread owns the connection: sqlite3 objects must stay on their thread.
        self._db_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="channel-layer")
        self._conn: sqlite3.Connection | None = None
        self._queues: dict[str, asyncio.Queue] = {}
        # Group members this process added, with their expiry: served without a trip to the file.
        self._groups: dict[str, dict[str, float]] = {}
        self._poller: asyncio.Task | None = None

    # -- database thread -------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, timeout=20, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(SCHEMA)
            self._conn = conn
        return self._conn

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._db_thread, fn, *args)

    def _insert(self, rows: list[tuple[str, float, str]]) -> None:
        with self._db() as conn:
            conn.executemany("INSERT INTO message (channel, expires, body) VALUES (?, ?, ?)", rows)

    def _send_elsewhere(self, group: str, known: list[str], body: str, expires: float) -> None:
        cur = self._db().execute(
            "SELECT channel FROM membership WHERE grp = ? AND expires > ?", (group, time.time())
        )
        others = [row[0] for row in cur if row[0] not in known]
        if others:
            self._insert([(channel, expires, body) for channel in others])

    def _take(self, channels: list[str]) -> list[tuple[str, str]]:
        conn = self._db()
        now = time.time()
        marks = ",".join("?" * len(channels))
        with conn:
            rows = conn.execute(
                f"SELECT id, channel, body, expires FROM message WHERE channel IN ({marks}) ORDER BY id",
                channels,
            ).fetchall()
            if rows:
                conn.execute(f"DELETE FROM message WHERE id <= ? AND channel IN ({marks})",
                             [rows[-1][0], *channels])
            # Messages for channels nobody reads any more expire instead of piling up.
            conn.execute("DELETE FROM message WHERE expires < ?", (now,))
        return [(channel, body) for _, channel, body, expires in rows if expires >= now]

    def _add(self, group: str, channel: str) -> None:
        with self._db() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO membership (grp, channel, expires) VALUES (?, ?, ?)",
                (group, channel, time.time() + self.group_expiry),
            )

    def _discard(self, group: str, channel: str) -> None:
        with self._db() as conn:
            conn.execute("DELETE FROM membership WHERE grp = ? AND channel = ?", (group, channel))

    def _flush(self) -> None:
        with self._db() as conn:
            conn.execute("DELETE FROM message")
            conn.execute("DELETE FROM membership")

    # -- channel layer API -----------------------------------------------------------------

    async def new_channel(self, prefix: str = "specific") -> str:
        name = f"{prefix}.{uuid.uuid4().hex}"
        self._queues[name] = asyncio.Queue(self.capacity)
        return name

    async def send(self, channel: str, message: dict) -> None:
        assert isinstance(message, dict), "message is not a dict"
        assert self.require_valid_channel_name(channel)
        await self._deliver([channel], message)

    async def group_send(self, group: str, message: dict) -> None:
        assert self.require_valid_group_name(group)
        now = time.time()
        known = [channel for channel, expires in self._groups.get(group, {}).items() if expires > now]
        if known:
            # As in Channels' own layers, a member whose queue is full (a stuck tab) misses this
            # message; the other members still get it.
            await self._deliver(known, message, skip_full=True)
        # Members in other processes are looked up and written on the layer's one thread, in send
        # order, without holding up the sender (a page update must not wait for the file).
        self._db_thread.submit(self._send_elsewhere, group, known, json.dumps(message),
                               now + self.expiry).add_done_callback(_log_failure)

    async def _deliver(self, channels: list[str], message: dict, *, skip_full: bool = False) -> None:
        remote = []
        for channel in channels:
            queue = self._queues.get(channel)
            if queue is None:
                remote.append(channel)
                continue
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                if not skip_full:
                    raise ChannelFull(channel) from None
        if remote:
            body = json.dumps(message)
            expires = time.time() + self.expiry
            await self._run(self._insert, [(channel, expires, body) for channel in remote])

    async def receive(self, channel: str) -> dict:
        assert self.require_valid_channel_name(channel)
        queue = self._queues.setdefault(channel, asyncio.Queue(self.capacity))
        self._ensure_poller()
        try:
            return await queue.get()
        except asyncio.CancelledError:
            # A consumer that stops receiving is gone; forget its queue.
            if queue.empty():
                self._queues.pop(channel, None)
            raise

    def _ensure_poller(self) -> None:
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll())

    async def _poll(self) -> None:
        while self._queues:
            for channel, body in await self._run(self._take, list(self._queues)):
                queue = self._queues.get(channel)
                if queue is not None and not queue.full():
                    queue.put_nowait(json.loads(body))
            await asyncio.sleep(self.poll_interval)

    async def group_add(self, group: str, channel: str) -> None:
        assert self.require_valid_group_name(group)
        assert self.require_valid_channel_name(channel)
        self._groups.setdefault(group, {})[channel] = time.time() + self.group_expiry
        await self._run(self._add, group, channel)

    async def group_discard(self, group: str, channel: str) -> None:
        members = self._groups.get(group, {})
        members.pop(channel, None)
        if not members:
            self._groups.pop(group, None)
        await self._run(self._discard, group, channel)

    async def flush(self) -> None:
        self._queues.clear()
        self._groups.clear()
        await self._run(self._flush)

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
