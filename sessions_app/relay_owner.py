"""Which console process holds a session's upstream command channel.

The cloud takes one command channel per session (PROTOCOL.md §11.1), so with several daphne
processes exactly one of them owns it. Ownership is a lease: a key naming the owner's process
channel, written only if absent and renewed by the owner while its relay lives. Redis holds it
when REDIS_URL is set; one process alone keeps it in memory.

A tab connected to another process forwards its commands over the channel layer to the owner's
process channel; the owner runs them exactly as for its own tabs and sends any reply back to the
tab. Downstream events reach every tab through the session's group, whichever process they are on.

When the owner dies its lease lapses after LEASE_SECONDS. A forwarded command that is not
acknowledged within ACK_SECONDS makes its sender take the lease over (only from that same owner)
and run the command itself, so a dead owner costs a driver one short pause, not the session.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from channels.layers import get_channel_layer
from django.conf import settings

logger = logging.getLogger(__name__)

LEASE_SECONDS = 15.0
ACK_SECONDS = 3.0
KEY = "tcadh:relay-owner:{}"

# Compare-and-act, so an owner never renews or deletes a lease another process took over.
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
_TAKE_OVER = ("if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3]) "
              "return 1 end return 0")


class MemoryLease:
    """One process: it owns every session."""

    def __init__(self) -> None:
        self._owners: dict[int, str] = {}

    async def acquire(self, session_pk: int, owner: str) -> str:
        return self._owners.setdefault(session_pk, owner)

    async def renew(self, session_pk: int, owner: str) -> bool:
        return self._owners.get(session_pk) == owner

    async def release(self, session_pk: int, owner: str) -> None:
        if self._owners.get(session_pk) == owner:
            del self._owners[session_pk]

    async def take_over(self, session_pk: int, dead: str, owner: str) -> bool:
        if self._owners.get(session_pk) in (dead, None):
            self._owners[session_pk] = owner
            return True
        return False


class RedisLease:
    def __init__(self, url: str) -> None:
        import redis.asyncio

        self._url = url
        self._clients: dict[asyncio.AbstractEventLoop, redis.asyncio.Redis] = {}

    def _redis(self):
        import redis.asyncio

        loop = asyncio.get_running_loop()
        if loop not in self._clients:
            self._clients[loop] = redis.asyncio.Redis.from_url(self._url, decode_responses=True)
        return self._clients[loop]

    async def acquire(self, session_pk: int, owner: str) -> str:
        key = KEY.format(session_pk)
        ttl = int(LEASE_SECONDS * 1000)
        if await self._redis().set(key, owner, nx=True, px=ttl):
            return owner
        current = await self._redis().get(key)
        if current is None:
            return await self.acquire(session_pk, owner)
        return current

    async def renew(self, session_pk: int, owner: str) -> bool:
        return bool(await self._redis().eval(_RENEW, 1, KEY.format(session_pk), owner, int(LEASE_SECONDS * 1000)))

    async def release(self, session_pk: int, owner: str) -> None:
        await self._redis().eval(_RELEASE, 1, KEY.format(session_pk), owner)

    async def take_over(self, session_pk: int, dead: str, owner: str) -> bool:
        taken = await self._redis().eval(_TAKE_OVER, 1, KEY.format(session_pk), dead, owner,
                                         int(LEASE_SECONDS * 1000))
        return bool(taken) or await self.acquire(session_pk, owner) == owner


class Ownership:
    """This process's side of the leases: its inbox for forwarded work and the leases it holds."""

    def __init__(self) -> None:
        self.lease = RedisLease(settings.REDIS_URL) if settings.REDIS_URL else MemoryLease()
        self._inbox: dict[asyncio.AbstractEventLoop, tuple[str, asyncio.Task]] = {}
        self._holding: dict[int, asyncio.Task] = {}
        self.handlers: dict[str, object] = {}

    @property
    def shared(self) -> bool:
        return isinstance(self.lease, RedisLease)

    async def me(self) -> str:
        """This process's channel name, with a task receiving what other processes forward."""
        loop = asyncio.get_running_loop()
        entry = self._inbox.get(loop)
        if entry is None or entry[1].done():
            layer = get_channel_layer()
            name = await layer.new_channel("relay-owner")
            entry = (name, loop.create_task(self._receive(layer, name), name="relay-owner-inbox"))
            self._inbox[loop] = entry
        return entry[0]

    async def owner_of(self, session_pk: int) -> str:
        """The process channel of the session's owner; this process when it was free."""
        return await self.lease.acquire(session_pk, await self.me())

    async def is_mine(self, session_pk: int) -> bool:
        return await self.owner_of(session_pk) == await self.me()

    async def take_over(self, session_pk: int, dead: str) -> bool:
        return await self.lease.take_over(session_pk, dead, await self.me())

    def hold(self, session_pk: int, until: asyncio.Future | asyncio.Task) -> None:
        """Renew the lease while `until` is pending (the relay), and give it up after."""
        task = self._holding.get(session_pk)
        if task is None or task.done():
            self._holding[session_pk] = asyncio.get_running_loop().create_task(self._renew(session_pk, until))

    async def _renew(self, session_pk: int, until) -> None:
        me = await self.me()
        try:
            while not until.done():
                await asyncio.wait({until}, timeout=LEASE_SECONDS / 3)
                if not until.done() and not await self.lease.renew(session_pk, me):
                    logger.warning("session %s: another process took over the command channel", session_pk)
                    return
        finally:
            await self.lease.release(session_pk, me)

    async def forward(self, owner: str, message: dict) -> None:
        await get_channel_layer().send(owner, message)

    async def _receive(self, layer, name: str) -> None:
        while True:
            message = await layer.receive(name)
            handler = self.handlers.get(message.get("type"))
            if handler is None:
                continue
            try:
                await handler(message)
            except Exception:
                logger.exception("forwarded %s failed", message.get("type"))


def new_message_id() -> str:
    return uuid.uuid4().hex


ownership = Ownership()
