"""Which console process holds a session's upstream command channel, and the way a tab's commands
get there.

The cloud takes one command channel per session (PROTOCOL.md §11.1), so with several daphne
processes exactly one of them owns it. Ownership is a lease in Redis: a key naming the owner's
process inbox, written only if absent and renewed by the owner while its relay lives. Without
REDIS_URL there is one web process and it owns everything: no lease, no forwarding.

A tab connected to another process forwards its commands over the channel layer to the owner's
inbox; the owner runs them exactly as for its own tabs and sends any reply back to the tab.
Downstream events reach every tab through the session's group, whichever process they are on.

When the owner dies its lease lapses after LEASE_SECONDS. A forwarded command that is not
acknowledged within ACK_SECONDS makes its sender take the lease over (only from that same owner)
and run the command itself, so a dead owner costs a driver one short pause, not the session.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import uuid

import redis.asyncio
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import translation
from django.utils.translation import gettext, gettext_noop

from . import driving, inbox, page_messages
from .relay import relays
from .words import Words

logger = logging.getLogger(__name__)

LEASE_SECONDS = 15.0
ACK_SECONDS = 3.0
KEY = "tcadh:relay-owner:{}"
TAKEN_OVER = Words(gettext_noop("another console process took the command channel over"))
# The inbox messages of this module (handlers registered in SessionsAppConfig.ready()).
TAB_MESSAGE = "relay.tab"
COMMAND_MESSAGE = "relay.command"
# What the tab's consumer gets back for a forwarded command.
REPLY_MESSAGE = "relay.reply"

# Compare-and-act, so an owner never renews or deletes a lease another process took over.
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
_TAKE_OVER = ("if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3]) "
              "return 1 end return 0")


class RedisLease:
    def __init__(self, url: str) -> None:
        self._url = url
        self._clients: dict[asyncio.AbstractEventLoop, redis.asyncio.Redis] = {}

    def _redis(self) -> redis.asyncio.Redis:
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
    """This process's side of the leases: the ones it holds, renewed while their relays live."""

    def __init__(self) -> None:
        self.lease = RedisLease(settings.REDIS_URL) if settings.REDIS_URL else None
        self._holding: dict[int, asyncio.Task] = {}

    async def owner_elsewhere(self, session_pk: int) -> str | None:
        """The inbox of the session's owner when that is another process, else None (this process
        owns it now, taking the lease if it was free)."""
        if self.lease is None or self.holding(session_pk):
            return None
        me = await inbox.me()
        owner = await self.lease.acquire(session_pk, me)
        return None if owner == me else owner

    async def take_over(self, session_pk: int, dead: str) -> bool:
        return await self.lease.take_over(session_pk, dead, await inbox.me())

    def holding(self, session_pk: int) -> bool:
        task = self._holding.get(session_pk)
        return task is not None and not task.done()

    def hold(self, session_pk: int) -> None:
        """Renew the lease while the session's relay lives, and give it up after."""
        relay = relays.get(session_pk)
        if self.lease is None or relay is None or relay.stopped or self.holding(session_pk):
            return
        # A fresh context: the lease serves the session, not the tab whose message took it.
        self._holding[session_pk] = asyncio.get_running_loop().create_task(self._renew(session_pk, relay),
                                                                           context=contextvars.Context())

    async def _renew(self, session_pk: int, relay) -> None:
        me = await inbox.me()
        until = asyncio.ensure_future(relay.wait_closed())
        try:
            while not until.done():
                await asyncio.wait({until}, timeout=LEASE_SECONDS / 3)
                if not until.done() and not await self.lease.renew(session_pk, me):
                    # Two channels for one session would keep knocking each other off.
                    logger.warning("session %s: another process took over the command channel", session_pk)
                    relay.stop(TAKEN_OVER)
                    return
        finally:
            await self.lease.release(session_pk, me)


ownership = Ownership()


class TabRouter:
    """One tab's side: run its commands here when this process owns the session, else forward."""

    def __init__(self, *, session_pk: int, tab: str, user) -> None:
        self.session_pk = session_pk
        self.tab = tab
        self.user = user
        self.state = driving.TabState()
        self.joined_owner: str | None = None
        self._pending: dict[str, asyncio.Task] = {}

    async def join(self) -> dict | None:
        owner = await ownership.owner_elsewhere(self.session_pk)
        if owner is None:
            reply = await driving.tab_join(user=self.user, session_pk=self.session_pk, tab=self.tab)
            ownership.hold(self.session_pk)
            return reply
        relays.tab_join(self.session_pk, self.tab)
        await inbox.send(owner, {"type": TAB_MESSAGE, "action": "join", "session_pk": self.session_pk,
                                 "tab": self.tab})
        self.joined_owner = owner
        return None

    async def leave(self) -> None:
        for task in self._pending.values():
            task.cancel()
        relays.tab_leave(self.session_pk, self.tab)
        if self.joined_owner:
            await inbox.send(self.joined_owner, {"type": TAB_MESSAGE, "action": "leave",
                                                 "session_pk": self.session_pk, "tab": self.tab})

    async def receive(self, content: dict, reply) -> None:
        """Handle one browser command; `reply(message)` sends to this tab."""
        owner = await ownership.owner_elsewhere(self.session_pk)
        if owner is None:
            await self._run_here(content, reply)
            return
        message_id = uuid.uuid4().hex
        # The owner answers in this tab's language, the one its consumer activated.
        await inbox.send(owner, {"type": COMMAND_MESSAGE, "id": message_id, "session_pk": self.session_pk,
                                 "tab": self.tab, "user_pk": self.user.pk, "content": content,
                                 "language": translation.get_language()})
        self._pending[message_id] = asyncio.get_running_loop().create_task(
            self._unless_acknowledged(message_id, owner, content, reply))

    def acknowledged(self, message_id: str) -> None:
        task = self._pending.pop(message_id, None)
        if task is not None:
            task.cancel()

    async def _unless_acknowledged(self, message_id: str, owner: str, content: dict, reply) -> None:
        await asyncio.sleep(ACK_SECONDS)
        self._pending.pop(message_id, None)
        logger.warning("session %s: the owning process did not answer; taking the command channel over",
                       self.session_pk)
        await ownership.take_over(self.session_pk, owner)
        self.joined_owner = None
        await self._run_here(content, reply)

    async def _run_here(self, content: dict, reply) -> None:
        answer = await driving.chat_receive(user=self.user, session_pk=self.session_pk, tab=self.state,
                                            content=content)
        ownership.hold(self.session_pk)
        if answer:
            await reply(answer)


class RemoteTabs:
    """The owner's side: state of tabs living in other processes, and their forwarded commands."""

    def __init__(self) -> None:
        self.states: dict[str, driving.TabState] = {}

    async def on_tab(self, message: dict) -> None:
        if message["action"] == "join":
            relays.tab_join(message["session_pk"], message["tab"])
        else:
            self.states.pop(message["tab"], None)
            relays.tab_leave(message["session_pk"], message["tab"])

    async def on_command(self, message: dict) -> None:
        user = await get_user_model().objects.filter(pk=message["user_pk"]).afirst()
        state = self.states.setdefault(message["tab"], driving.TabState())
        with translation.override(message["language"]):
            if user is None:
                answer = page_messages.error(gettext("your account no longer exists"))
            else:
                answer = await driving.chat_receive(user=user, session_pk=message["session_pk"], tab=state,
                                                    content=message["content"])
                ownership.hold(message["session_pk"])
        await get_channel_layer().send(message["tab"], {"type": REPLY_MESSAGE, "id": message["id"],
                                                        "reply": answer})


remote_tabs = RemoteTabs()
