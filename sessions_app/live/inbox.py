"""This process's inbox: one channel-layer channel for messages meant for the process rather than
a tab (work forwarded by other processes, `drive_rights` changes), handed to the handler
registered for their type. Handlers are registered in `SessionsAppConfig.ready()`; this module
imports nothing of the app.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import uuid
from collections.abc import Awaitable, Callable

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

Handler = Callable[[dict], Awaitable[None]]

_handlers: dict[str, Handler] = {}
_inboxes: dict[asyncio.AbstractEventLoop, tuple[str, asyncio.Task]] = {}


def register(message_type: str, handler: Handler) -> None:
    _handlers[message_type] = handler


async def me() -> str:
    """This process's channel name, with a task receiving what other processes send it."""
    loop = asyncio.get_running_loop()
    entry = _inboxes.get(loop)
    if entry is None or entry[1].done():
        # A plain channel name, not one from new_channel(): channels_redis multiplexes all of a
        # process's "!" channels through one receiver, and a second long-lived receiver beside the
        # consumers' made it drop their messages.
        name = f"relay-owner.{uuid.uuid4().hex}"
        # A fresh context: the inbox serves the whole process, not the tab whose message started it
        # (whose language, for one, its handlers must not inherit).
        entry = (name, loop.create_task(_receive(get_channel_layer(), name), name="relay-owner-inbox",
                                        context=contextvars.Context()))
        _inboxes[loop] = entry
    return entry[0]


async def send(channel: str, message: dict) -> None:
    await get_channel_layer().send(channel, message)


async def _receive(layer, name: str) -> None:
    while True:
        message = await layer.receive(name)
        handler = _handlers.get(message.get("type"))
        if handler is None:
            continue
        try:
            await handler(message)
        except Exception:
            logger.exception("forwarded %s failed", message.get("type"))
