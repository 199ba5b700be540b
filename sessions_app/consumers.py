"""WebSocket consumers: live updates of the dashboard and of one session's page."""

import logging
from contextlib import nullcontext
from functools import cached_property

from autobahn.exception import Disconnected
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import translation
from django.utils.translation import gettext

from . import broadcast, roles, selectors
from .languages import scope_language
from .live import page_messages
from .live.commands import ChatError, frame_read
from .live.ownership import TabRouter
from .models import LiveSession

logger = logging.getLogger(__name__)

CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
# Sent on connect so a page catches up with what happened between its render and its socket.
RECENT_EVENTS = 100


class JsonConsumer(AsyncJsonWebsocketConsumer):
    """Answers frames that are not JSON objects with an error instead of dropping the socket, and
    says whatever it says to its page in that page's language."""

    # Only these handlers use the async ORM, whose connections live on the one thread shared by
    # every thread-sensitive sync call of the process.
    ORM_MESSAGES = frozenset({"websocket.connect", "websocket.disconnect"})
    # What the page itself sends, answered in its language. The group's messages carry words made
    # already (in English, or by the owning process in this tab's language): no activation, which
    # costs about 17 µs a message, on every broadcast to every tab.
    PAGE_MESSAGES = frozenset({"websocket.connect", "websocket.receive"})

    @cached_property
    def language(self) -> str:
        return scope_language(self.scope)

    async def dispatch(self, message):
        """Channels closes stale database connections on that shared thread before every message:
        a thread hop queued behind all the process's sync work, on each chat message and each
        broadcast. The other handlers touch no database, or do it on threads that keep their own
        connections fresh (`relay.read`, the recorder, `database_sync_to_async`).

        The page's own messages are handled with the viewer's language active. Django keeps the
        active language in a context variable and each connection runs in an asyncio task of its
        own, so another tab's handler never sees it; the shared tasks (relay, recorder, inbox,
        lease) start from an empty context, and what they write or tell every page is in English
        (`live.words`)."""
        with translation.override(self.language) if message["type"] in self.PAGE_MESSAGES else nullcontext():
            if message["type"] in self.ORM_MESSAGES:
                await super().dispatch(message)
                return
            handler = getattr(self, get_handler_name(message), None)
            if handler is None:
                raise ValueError(f"No handler for message type {message['type']}")
            await handler(message)

    async def send_json(self, content, close=False):
        """A broadcast may reach a page that has just closed, before its disconnect is handled.
        Daphne then refuses the send; that must not end the consumer, or its disconnect (which
        leaves the groups and lets the relay close) would never run."""
        try:
            await super().send_json(content, close)
        except (Disconnected, OSError):
            logger.debug("a page closed before a message reached it")

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        try:
            content = frame_read(text_data)
        except ChatError as exc:
            logger.warning("%s: a frame was refused: %s", type(self).__name__, exc.english)
            await self.send_json(page_messages.error(str(exc)))
            return
        try:
            await self.receive_json(content, **kwargs)
        except Exception:
            # A fault of ours, not of the page: the traceback is logged and the socket lives on.
            logger.exception("%s: handling a message failed", type(self).__name__)
            await self.send_json(page_messages.error(gettext("the console could not handle that message")))


class DashboardConsumer(JsonConsumer):
    async def connect(self):
        if not await database_sync_to_async(roles.can_view)(self.scope["user"]):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.channel_layer.group_add(broadcast.DASHBOARD_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(broadcast.DASHBOARD_GROUP, self.channel_name)

    async def session_update(self, message):
        await self.send_json(page_messages.for_page(message))


class SessionConsumer(JsonConsumer):
    """The session page's socket: status changes and events of one session."""

    group = None

    async def connect(self):
        user = self.scope["user"]
        pk = self.scope["url_route"]["kwargs"]["pk"]
        if not await database_sync_to_async(roles.can_view)(user):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        if not await LiveSession.objects.filter(pk=pk).aexists():
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.session_pk = pk
        self.group = broadcast.session_group(pk)
        self.router = TabRouter(session_pk=pk, tab=self.channel_name, user=user)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        # A page that reconnects may have missed changes: start it from the current state.
        await self.send_json(page_messages.for_page(page_messages.session(await self._summary())))
        await self.send_json(page_messages.events(await self._recent_events()))
        relay_state = await self.router.join()
        if relay_state:
            await self.send_json(relay_state)

    @database_sync_to_async
    def _summary(self) -> dict:
        session = LiveSession.objects.select_related("account", "project", "asset", "created_by").get(
            pk=self.session_pk)
        return selectors.session_summary(session)

    @database_sync_to_async
    def _recent_events(self) -> list[dict]:
        session = LiveSession(pk=self.session_pk)
        recent = selectors.session_history(session=session).order_by("-created_at", "-id")[:RECENT_EVENTS]
        return [selectors.event_summary(event) for event in reversed(recent)]

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await self.router.leave()

    async def receive_json(self, content, **kwargs):
        await self.router.receive(content, self.send_json)

    async def relay_reply(self, message):
        """The owning process ran a command forwarded from this tab."""
        self.router.acknowledged(message["id"])
        if message["reply"]:
            await self.send_json(message["reply"])

    async def _to_page(self, message):
        await self.send_json(page_messages.for_page(message))

    # A chat batch is what the relay published together (an event and the state it moved an
    # utterance to): it reaches the page in one frame.
    session_update = session_event = utterance_update = relay_state = chat_batch = _to_page

