"""One upstream command channel per started session per console process, shared by every tab of
that session.

A `Relay` holds the session's `tcadh.channel.CommandChannel` (transport, pacing, heartbeat,
reconnection), drops the events the cloud replays after a reconnect, tells the session's pages in
order (`Relay.publish`) and stops as soon as the session closes, heard on its status group. What
the frames mean and what becomes of the events is decided by `driving` and `downstream`.
`RelayRegistry` keeps this process's relays and the tabs that keep each open.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone as dt_timezone
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils.translation import gettext_noop

from tcadh.channel import STOP_CODES, CommandChannel, HandshakeRefused, OutboxFull
from tcadh.errors import CHANNEL_CLOSED, TcadhError
from tcadh.frames import Event

from .. import broadcast, cloud
from ..models import LiveSession
from . import page_messages
from .database import recorder
from .utterances import event_replay_key
from .words import Refusal, Words

logger = logging.getLogger(__name__)

ENDED_STATUSES = frozenset({LiveSession.Status.CLOSING, LiveSession.Status.CLOSED, LiveSession.Status.FAILED})
_SEEN_KEPT = 512
# Why a relay stopped or refused a drive (the cloud's own reasons: `channel_end_reason`).
NO_LONGER_STARTED = Words(gettext_noop("the session is no longer started"))
NO_PAGE_OPEN = Words(gettext_noop("no page has the session open"))
SHUTTING_DOWN = Words(gettext_noop("the console is shutting down"))
CHANNEL_CLOSED_WORDS = Words(gettext_noop("the command channel is closed"))
BACKED_UP = Words(gettext_noop("the avatar's connection is backed up; wait a moment and try again"))


def session_ended(status: str) -> Words:
    return Words(gettext_noop("the session is %(status)s"), status=Words(status, context="session status"))


class RelayFull(Refusal):
    """The outbox is full: the cloud is not taking frames as fast as they come."""


class RelayClosed(Refusal):
    """The relay stopped for good (session over, or the cloud said it cannot be driven)."""


# Called on the event loop for each new downstream event; it must not block.
EventHandler = Callable[["Relay", Event], None]
StopHandler = Callable[["Relay", str], Awaitable[None]]


class Relay:
    def __init__(self, session: LiveSession, *, on_event: EventHandler, on_stop: StopHandler,
                 seen: list[tuple] = ()) -> None:
        self.session = session
        self.session_pk = session.pk
        self.cloud_session_id = session.cloud_session_id
        # Why it stopped: told to every page and written on utterances in English, and put in a
        # tab's language when that tab's drive is refused for it.
        self.stop_words: Words | None = None
        self._on_event = on_event
        self._on_stop = on_stop
        self._loop = asyncio.get_running_loop()
        self._seen: OrderedDict[tuple, None] = OrderedDict((key, None) for key in seen)
        self._grace: asyncio.TimerHandle | None = None
        self._tasks: list[asyncio.Task] = []
        self._pages: deque[dict[str, Any]] = deque()
        self._pages_task: asyncio.Task | None = None
        self.channel = CommandChannel(
            self._url, self.cloud_session_id, on_event=self._received, on_change=self._channel_changed,
            heartbeat_interval=settings.TCADH_RELAY_HEARTBEAT_SECONDS,
            text_interval=settings.TCADH_RELAY_TEXT_INTERVAL_SECONDS,
            reconnect_backoff=settings.TCADH_RELAY_BACKOFF_SECONDS,
            reconnect_backoff_max=settings.TCADH_RELAY_BACKOFF_MAX_SECONDS,
            max_reconnect_attempts=None, connect_timeout=settings.TCADH_RELAY_OPEN_TIMEOUT,
            send_timeout=settings.TCADH_RELAY_SEND_TIMEOUT_SECONDS, outbox_limit=settings.TCADH_RELAY_OUTBOX)

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
        return self.channel.closed

    @property
    def state(self) -> str:
        return self.channel.state

    @property
    def stop_reason(self) -> str:
        """Why the relay stopped, in English ("" while it runs)."""
        return self.stop_words.english if self.stop_words else ""

    def stop(self, reason: Words) -> None:
        if not self.channel.closed:
            self.stop_words = reason
            self.channel.close()

    async def wait_closed(self) -> None:
        await asyncio.gather(*self._tasks, return_exceptions=True)
        while self._pages_task is not None and not self._pages_task.done():
            await asyncio.wait({self._pages_task})

    def schedule_close(self, delay: float) -> None:
        self.cancel_close()
        give_up_at = self._loop.time() + delay + settings.TCADH_RELAY_DRAIN_SECONDS
        self._grace = self._loop.call_later(delay, self._close_when_sent, give_up_at)

    def _close_when_sent(self, give_up_at: float) -> None:
        # What a page sent still goes out: a driver may close the tab right after pressing Send.
        if self.channel.queued and self._loop.time() < give_up_at:
            self._grace = self._loop.call_later(0.1, self._close_when_sent, give_up_at)
        else:
            self.stop(NO_PAGE_OPEN)

    def cancel_close(self) -> None:
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None

    # -- upstream ----------------------------------------------------------------------------

    def send(self, frames: list[dict[str, Any]], *, urgent: bool = False) -> list[asyncio.Future]:
        """Queue frames for the cloud; `urgent` ones (interrupts) go ahead of everything queued.
        Futures that settle once each frame is written."""
        if self.stopped:
            raise RelayClosed(self.stop_words or CHANNEL_CLOSED_WORDS)
        try:
            return self.channel.send(frames, urgent=urgent)
        except OutboxFull:
            raise RelayFull(BACKED_UP) from None

    def withdraw(self, req_ids: set[str]) -> int:
        """Drop frames of these drives that were not sent yet; how many were dropped."""
        return self.channel.withdraw(req_ids)

    def was_sent(self, req_id: str) -> bool:
        return self.channel.was_sent(req_id)

    # -- the session's pages -----------------------------------------------------------------

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
            try:
                await layer.group_send(group, page_messages.batch(batch))
            except Exception:
                logger.exception("session %s: telling the pages failed", self.session_pk)

    def snapshot(self) -> dict[str, Any]:
        heartbeat_at = self.channel.heartbeat_at
        return {
            "state": self.state,
            "heartbeat_at": datetime.fromtimestamp(heartbeat_at, dt_timezone.utc).isoformat() if heartbeat_at else None,
            "reason": self.stop_reason,
        }

    def _channel_changed(self) -> None:
        self.publish(page_messages.relay(self.snapshot()))

    # -- the channel -------------------------------------------------------------------------

    async def _url(self) -> str:
        """A freshly signed URL, while the session is still started."""
        if not await LiveSession.objects.filter(pk=self.session_pk, status=LiveSession.Status.STARTED).aexists():
            self.stop_words = self.stop_words or NO_LONGER_STARTED
            raise TcadhError(CHANNEL_CLOSED, NO_LONGER_STARTED.english, retryable=False)
        return await database_sync_to_async(cloud.client_for(self.session.account).channel_url)(self.cloud_session_id)

    async def _run(self) -> None:
        try:
            await self.channel.run()
        finally:
            self.stop_words = self.stop_words or channel_end_reason(self.channel.last_error)
            await self._on_stop(self, self.stop_reason)

    def _received(self, event: Event) -> None:
        key = event_replay_key(event)
        if key is not None:
            if key in self._seen:
                return
            self._seen[key] = None
            while len(self._seen) > _SEEN_KEPT:
                self._seen.popitem(last=False)
        self._on_event(self, event)

    async def _listen(self) -> None:
        """Close at once when the session closes, even when no page is open to hear it."""
        layer = get_channel_layer()
        if layer is None:
            return
        group = broadcast.session_status_group(self.session_pk)
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        closed = asyncio.ensure_future(self.channel.until_closed())
        try:
            while not self.stopped:
                receiver = asyncio.ensure_future(layer.receive(channel))
                await asyncio.wait({receiver, closed}, return_when=asyncio.FIRST_COMPLETED)
                if not receiver.done():
                    receiver.cancel()
                    break
                message = receiver.result()
                if message.get("type") == "session.update":
                    status = message["session"].get("status")
                    if status in ENDED_STATUSES:
                        self.stop(session_ended(status))
        finally:
            closed.cancel()
            await layer.group_discard(group, channel)


def channel_end_reason(error: TcadhError | None) -> Words:
    """Why the channel ended, for the pages."""
    if isinstance(error, HandshakeRefused) and error.cloud_code in STOP_CODES:
        return Words(gettext_noop("the cloud refused the command channel: %(message)s (code %(code)s)"),
                     message=error.cloud_message, code=error.cloud_code)
    if error is not None and error.code in STOP_CODES:
        return Words(gettext_noop("the cloud ended the command channel: %(message)s (code %(code)s)"),
                     message=error.message, code=error.code)
    return Words(gettext_noop("the command channel ended"))


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
                    relay.schedule_close(settings.TCADH_RELAY_GRACE_SECONDS)
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
                relay.schedule_close(settings.TCADH_RELAY_GRACE_SECONDS)

    async def close_all(self) -> None:
        """Stop every relay of the running loop and wait for them and their writes (server shutdown,
        tests, bench)."""
        relays = [relay for relay in list(self._relays.values()) if relay.loop is asyncio.get_running_loop()]
        for relay in relays:
            relay.stop(SHUTTING_DOWN)
        await asyncio.gather(*(relay.wait_closed() for relay in relays), return_exceptions=True)
        self._relays.clear()
        await recorder().flush()


relays = RelayRegistry()
