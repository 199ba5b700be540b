"""Who may drive a session, remembered by each console process for the chat's per-message check.

Asking the database on every chat message cost a thread hop and two queries, the largest share
of what the relay added to a round trip. The answer is kept per user and forgotten as soon as
anything that decides it changes (the user, their groups, a group), in every process: the
change is broadcast to each process's inbox. Answers also lapse after `REMEMBER_SECONDS`, so a
broadcast lost in transit cannot leave a revoked user driving for long.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from functools import partial

from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from .. import broadcast, roles
from . import inbox
from .database import read

GROUP = "drive-rights"
MESSAGE_TYPE = "drive.rights.changed"
REMEMBER_SECONDS = 60.0
# Channel layers drop group members after a day; the inbox joins again well before that.
REJOIN_SECONDS = 3600.0

_known: dict[int, tuple[bool, float]] = {}
_generation = 0
_joined: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, float] = weakref.WeakKeyDictionary()


def forget() -> None:
    global _generation
    _generation += 1
    _known.clear()


async def on_changed(message: dict) -> None:
    """The inbox handler of MESSAGE_TYPE (registered in SessionsAppConfig.ready())."""
    forget()


def _check(user_pk: int) -> bool:
    user = get_user_model().objects.filter(pk=user_pk).first()
    return user is not None and roles.can_drive(user)


async def _listen() -> None:
    """Have this process's inbox in the group that hears of changes."""
    loop = asyncio.get_running_loop()
    if time.monotonic() - _joined.get(loop, -REJOIN_SECONDS) < REJOIN_SECONDS:
        return
    layer = get_channel_layer()
    if layer is not None:
        await layer.group_add(GROUP, await inbox.me())
    _joined[loop] = time.monotonic()


async def may_drive(user) -> bool:
    """`roles.can_drive` for this user as the database has it now, mostly without asking it."""
    if not (user.is_authenticated and user.pk):
        return False
    remembered = _known.get(user.pk)
    if remembered is not None and remembered[1] > time.monotonic():
        return remembered[0]
    await _listen()
    generation = _generation
    allowed = await read(partial(_check, user.pk))
    if generation == _generation:
        # Not if a change came in while asking: the answer may predate it.
        _known[user.pk] = (allowed, time.monotonic() + REMEMBER_SECONDS)
    return allowed


def _changed(**kwargs) -> None:
    if kwargs.get("raw") or kwargs.get("action", "post").startswith("pre"):
        return
    fields = kwargs.get("update_fields")
    if fields is not None and set(fields) <= {"last_login"}:
        return  # every login saves the user; what decides the right to drive did not change
    transaction.on_commit(forget)
    broadcast.send_after_commit([GROUP], {"type": MESSAGE_TYPE})


def connect_signals() -> None:
    user_model = get_user_model()
    for sender in (user_model, Group):
        post_save.connect(_changed, sender=sender, dispatch_uid=f"drive-rights-save-{sender.__name__}")
        post_delete.connect(_changed, sender=sender, dispatch_uid=f"drive-rights-delete-{sender.__name__}")
    m2m_changed.connect(_changed, sender=user_model.groups.through, dispatch_uid="drive-rights-groups")
