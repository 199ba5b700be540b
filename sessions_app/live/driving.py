"""A tab's commands turned into frames on its session's relay, and the rows that record them.

Nothing here waits for a write: frames go upstream as soon as the message is checked, and the
rows are queued on the recorder first, so a drive's Utterance exists before anything the avatar
sends back about it is recorded. Pages are told of each drive as it is sent (`page_messages`).
A refusal is told to its tab in the language active while the tab's message is handled; what
rows and every page get of it is in English (`words`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_noop

from tcadh.frames import (STREAM_PACKET_MAX_BYTES, AudioUtterance, StreamTextUtterance, last_clause_end, new_req_id,
                          text_frame)

from .. import services
from ..models import LiveSession, Utterance
from ..selectors import utterance_summary
from . import drive_rights, page_messages
from .commands import AudioChunk, ChatError, Say, StreamPart, command_parse
from .database import read, recorder
from .downstream import relay_open
from .drives import Drive, drives_of, mark, show_growth, show_state, timings
from .limits import PLAIN_AFTER_BYTES
from .relay import Relay, RelayClosed, RelayFull, relays
from .utterances import State, utterance_advance, utterance_grow, utterance_open, utterances_interrupt

logger = logging.getLogger(__name__)

AUDIO_FLUSH_SECONDS = 1.0


@dataclass
class OpenStream:
    buffer: str = ""
    clause: bool | None = None
    drive: Drive | None = None


@dataclass
class TabState:
    """What one browser tab has open: at most one stream and one audio utterance."""

    stream: OpenStream | None = None
    audio: Drive | None = None


def _session_for_drive(*, session_pk: int) -> LiveSession:
    """The session if it can be driven right now, or a ChatError saying why not."""
    # Project and asset come along for the drive's audit entry, which is written from this object.
    session = LiveSession.objects.select_related("account", "project", "asset").filter(pk=session_pk).first()
    if session is None:
        raise ChatError(gettext_noop("this session no longer exists"))
    refusal = session.drive_refusal()
    if refusal:
        raise ChatError(refusal)  # already in the active language
    return session


async def _drivable(*, user, session_pk: int) -> tuple[LiveSession, Relay]:
    """The per-message check: the session this user may drive now, and its relay.

    The user's right is remembered (`drive_rights`). An open relay means a started session (it
    stops the moment the session's status moves on), so only without one does the database say
    whether the session can be driven, on a reader thread that never queues behind any writes."""
    if not await drive_rights.may_drive(user):
        raise ChatError(gettext_noop("you may watch this session but not drive it (operators and admins drive)"))
    relay = relays.get(session_pk)
    if relay is not None:
        return relay.session, relay
    session = await read(partial(_session_for_drive, session_pk=session_pk))
    return session, await relay_open(session)


async def tab_join(*, user, session_pk: int, tab: str) -> dict | None:
    """A page opened the session: keep its relay open and, for a driver, open it now."""
    relays.tab_join(session_pk, tab)
    try:
        _, relay = await _drivable(user=user, session_pk=session_pk)
    except ChatError:
        relay = relays.get(session_pk)
    return page_messages.for_page(page_messages.relay(relay.snapshot())) if relay else None


async def chat_receive(*, user, session_pk: int, tab: TabState, content: dict[str, Any]) -> dict | None:
    """Handle one browser message; the reply for that browser only (an error), or None."""
    try:
        session, relay = await _drivable(user=user, session_pk=session_pk)
        try:
            command = command_parse(content)
        except ChatError as exc:
            # The page's own script never sends these: a warning, for whoever watches the logs.
            logger.warning("session %s: a browser message was refused: %s", session_pk, exc.english)
            raise
        if isinstance(command, AudioChunk) and session.driver_type != LiveSession.DriverType.AUDIO:
            raise ChatError(gettext_noop("audio needs a session created with driver type 3 (audio and text)"))
        if isinstance(command, Say):
            _say(relay, session, user, command)
        elif isinstance(command, StreamPart):
            _stream(relay, session, user, tab, command)
        elif isinstance(command, AudioChunk):
            _audio(relay, session, user, tab, command)
        else:
            _interrupt(relay, session, user, tab)
    except (ChatError, RelayFull, RelayClosed) as exc:
        return page_messages.error(str(exc))
    return None


def _start_drive(relay: Relay, session: LiveSession, user, kind: str, frames: list[dict], *, req_id: str,
                 text: str = "", audio_bytes: int = 0, builder=None) -> Drive:
    """Send a new utterance's first frames, then tell pages of it and queue its row.

    The frames go first so the writer is woken before anything else this message schedules; the
    row is still queued on the recorder before anything the avatar can say back about it."""
    received_at = timezone.now()
    summary = utterance_summary(Utterance(req_id=req_id, kind=kind, text=text, audio_bytes=audio_bytes,
                                          created_by=user, created_at=received_at))
    drive = Drive(kind, req_id, summary, builder, sent_at=received_at.timestamp())
    drives_of(relay)[req_id] = drive
    try:
        written = relay.send(frames)
    except (RelayFull, RelayClosed) as exc:
        drives_of(relay).pop(req_id, None)
        summary.update(state=State.FAILED, error=exc.english[:500])
        raise
    finally:
        relay.publish(page_messages.utterance(summary))
        recorder().record(partial(utterance_open, session=session, user=user, kind=kind, req_id=req_id, text=text,
                                  audio_bytes=audio_bytes, state=summary["state"], error=summary["error"],
                                  created_at=received_at))
    written[0].add_done_callback(partial(_went_upstream, drive))
    return drive


def _went_upstream(drive: Drive, written: asyncio.Future) -> None:
    # Kept in memory: it is written with the drive's next state, which always comes later.
    if not written.cancelled() and written.exception() is None:
        mark(drive, "upstream_ms")


def _send_or_fail(relay: Relay, session: LiveSession, drive: Drive, frames: list[dict]) -> None:
    try:
        relay.send(frames)
    except (RelayFull, RelayClosed) as exc:
        drives_of(relay).pop(drive.req_id, None)
        mark(drive, "end_ms")
        recorder().record(partial(utterance_advance, session_pk=session.pk, req_ids=[drive.req_id],
                                  to=State.FAILED, error=exc.english, timings={drive.req_id: timings(drive)}))
        show_state(relay, drive, State.FAILED, exc.english)
        raise


def _say(relay: Relay, session: LiveSession, user, command: Say) -> None:
    req_id = new_req_id()
    frame = text_frame(session.cloud_session_id, command.text, use_bot=command.use_bot, req_id=req_id)
    _start_drive(relay, session, user, Utterance.Kind.TEXT, [frame], req_id=req_id, text=command.text)


def _stream_cut(stream: OpenStream, *, final: bool) -> str:
    """The part of the buffer to send now, deciding clause or plain mode on the way."""
    if stream.clause is None:
        if last_clause_end(stream.buffer):
            stream.clause = True
        elif final or len(stream.buffer.encode("utf-8")) >= PLAIN_AFTER_BYTES:
            stream.clause = False
        else:
            return ""
    if final or not stream.clause:
        cut = len(stream.buffer)
    else:
        # Clause mode sends whole clauses only; an over-long run without punctuation goes anyway.
        cut = last_clause_end(stream.buffer)
        if len(stream.buffer[cut:].encode("utf-8")) >= PLAIN_AFTER_BYTES:
            cut = len(stream.buffer)
    ready, stream.buffer = stream.buffer[:cut], stream.buffer[cut:]
    return ready


def _stream_frames(builder: StreamTextUtterance, ready: str, *, final: bool) -> list[dict]:
    if final and not builder.clause and len(ready.encode("utf-8")) <= STREAM_PACKET_MAX_BYTES:
        # Plain mode: the last piece rides on the final packet.
        return [builder.final(ready)]
    frames = builder.packets(ready) if ready else []
    if final:
        frames.append(builder.final())
    return frames


def _stream(relay: Relay, session: LiveSession, user, tab: TabState, command: StreamPart) -> None:
    if command.action == "start":
        if tab.stream is not None and not (tab.stream.drive and tab.stream.drive.ended):
            raise ChatError(gettext_noop("a stream is already open in this tab; end it first"))
        tab.stream = OpenStream()
    elif tab.stream is None:
        raise ChatError(gettext_noop("no stream is open; send action start before %(action)s"), action=command.action)
    stream = tab.stream
    if stream.drive is not None and stream.drive.ended:
        tab.stream = None
        raise ChatError(gettext_noop("this stream was interrupted; start a new one"))
    final = command.action == "end"
    stream.buffer += command.text
    ready = _stream_cut(stream, final=final)
    if final:
        tab.stream = None
        if stream.drive is None and not ready.strip():
            raise ChatError(gettext_noop("the stream is empty; nothing was sent"))
    if not ready and not final:
        return
    drive = stream.drive
    if drive is None:
        builder = StreamTextUtterance(session.cloud_session_id, clause=bool(stream.clause))
        drive = stream.drive = _start_drive(relay, session, user, Utterance.Kind.STREAM,
                                            _stream_frames(builder, ready, final=final), req_id=builder.req_id,
                                            text=ready, builder=builder)
    else:
        _send_or_fail(relay, session, drive, _stream_frames(drive.builder, ready, final=final))
        if ready:
            recorder().record(partial(utterance_grow, session=session, req_id=drive.req_id, text=ready))
            show_growth(relay, drive, text=ready)
        else:
            recorder().record(partial(services.session_touch, session=session))
    drive.ended = final


def _audio(relay: Relay, session: LiveSession, user, tab: TabState, command: AudioChunk) -> None:
    drive = tab.audio
    if drive is not None and drive.ended:
        tab.audio = None
        if command.final:
            # The microphone's last packet after an interrupt: the utterance is already over.
            return
        raise ChatError(gettext_noop("this audio was interrupted; release the microphone and start again"))
    if drive is None and not command.pcm:
        raise ChatError(gettext_noop("no audio is being sent; there is nothing to finish"))
    builder = drive.builder if drive else AudioUtterance(session.cloud_session_id)
    frames = [builder.packet(command.pcm)] if command.pcm else []
    if command.final:
        frames.append(builder.final())
    if drive is None:
        drive = tab.audio = _start_drive(relay, session, user, Utterance.Kind.AUDIO, frames, req_id=builder.req_id,
                                         audio_bytes=len(command.pcm), builder=builder)
    else:
        _send_or_fail(relay, session, drive, frames)
        drive.unflushed_bytes += len(command.pcm)
    if command.final:
        drive.ended = True
        tab.audio = None
    # Audio arrives every 160 ms: write its size and the activity about once a second, not per packet.
    if drive.unflushed_bytes and (command.final or time.monotonic() - drive.flushed_at >= AUDIO_FLUSH_SECONDS):
        added, drive.unflushed_bytes, drive.flushed_at = drive.unflushed_bytes, 0, time.monotonic()
        recorder().record(partial(utterance_grow, session=session, req_id=drive.req_id, audio_bytes=added))
        show_growth(relay, drive, audio_bytes=added)


def _interrupt(relay: Relay, session: LiveSession, user, tab: TabState) -> None:
    targets = [drive for drive in drives_of(relay).values() if not drive.interrupted]
    relay.withdraw({drive.req_id for drive in targets})
    frames: list[dict] = []
    text_stop = not targets
    for drive in targets:
        drive.interrupted = True
        mark(drive, "end_ms")
        sent = relay.was_sent(drive.req_id)
        if drive.kind == Utterance.Kind.STREAM and sent:
            frames.append(drive.builder.interrupt())
        elif drive.kind == Utterance.Kind.AUDIO and sent:
            # Audio has no interrupt flag: its final empty packet stops it (PROTOCOL §11.5).
            frames.append(drive.builder.final())
        elif drive.kind == Utterance.Kind.TEXT and sent:
            text_stop = True
        drive.ended = True
    if text_stop:
        frames.append(text_frame(session.cloud_session_id, "", interrupt=True))
    if tab.stream is not None and tab.stream.drive is None:
        # Text still waiting for a whole clause was never sent: just forget it.
        tab.stream = None

    recorder().record(partial(utterances_interrupt, session=session, user=user,
                              timings={drive.req_id: timings(drive) for drive in targets}))
    for drive in targets:
        show_state(relay, drive, State.INTERRUPTED, "interrupted")
    relay.send(frames, urgent=True)
