"""The chat box: browser commands checked and turned into command-channel frames, and the
downstream events turned into SessionEvents and Utterance states.

Browser messages (JSON objects on the session socket):

    {"type": "say", "text": "...", "use_bot": false}
    {"type": "stream", "action": "start" | "chunk" | "end", "text": "..."}
    {"type": "audio", "pcm": "<base64 of 16 kHz s16le mono>", "final": false}
    {"type": "interrupt"}

Invalid input is answered with {"type": "error", "message": ...} and nothing goes upstream.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Union

from channels.db import database_sync_to_async
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from tcadh.frames import (
    AUDIO_PACKET_BYTES,
    STREAM_PACKET_MAX_BYTES,
    TEXT_MAX_BYTES,
    AudioUtterance,
    DriveFailed,
    Event,
    LlmText,
    MalformedFrame,
    SpeakStatus,
    StreamTextUtterance,
    last_clause_end,
    new_req_id,
    text_frame,
)

from . import drive_rights, services
from .models import LiveSession, SessionEvent, Utterance
from .relay import Relay, RelayClosed, RelayFull, read, recorder, relays
from .selectors import event_summary, utterance_summary

logger = logging.getLogger(__name__)

STREAM_CHUNK_MAX_CHARS = 8000
# Without punctuation this much text is streamed as it comes (plain mode) instead of waiting for a clause.
PLAIN_AFTER_BYTES = STREAM_PACKET_MAX_BYTES
AUDIO_FLUSH_SECONDS = 1.0
SPEAKING = {"TextStart", "AudioStart"}
OVER = {"TextOver", "AudioOver"}
OPEN_STATES = (Utterance.State.QUEUED, Utterance.State.SPEAKING)
State = Utterance.State


class ChatError(Exception):
    """Input the relay will not send; the message says what is wrong, for the person typing."""


# -- commands --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Say:
    text: str
    use_bot: bool


@dataclass(frozen=True)
class StreamPart:
    action: str
    text: str


@dataclass(frozen=True)
class AudioChunk:
    pcm: bytes
    final: bool


@dataclass(frozen=True)
class Interrupt:
    pass


Command = Union[Say, StreamPart, AudioChunk, Interrupt]


def _text_field(content: dict, name: str = "text", *, required: bool = True) -> str:
    """A text field that can go upstream as it is: a string of whole characters, no NUL."""
    value = content.get(name, None if required else "")
    if not isinstance(value, str):
        raise ChatError(f"'{name}' must be a string")
    if "\x00" in value:
        # The cloud would take it, but PostgreSQL refuses it in the Utterance row written after.
        raise ChatError(f"'{name}' contains a NUL character; remove it and send again")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # JSON may carry half of a UTF-16 surrogate pair ("\ud83d" alone); no UTF-8 frame can.
        raise ChatError(f"'{name}' contains half of a character (a lone UTF-16 surrogate); "
                        "send whole characters") from None
    return value


def command_parse(content: dict[str, Any]) -> Command:
    """Check one browser message's shape and sizes; no database, no session state."""
    kind = content.get("type")
    if kind == "say":
        text = _text_field(content).strip()
        if not text:
            raise ChatError("'text' is empty: type something to say")
        size = len(text.encode("utf-8"))
        if size > TEXT_MAX_BYTES:
            raise ChatError(f"'text' is {size} bytes in UTF-8; at most {TEXT_MAX_BYTES} can be said at once "
                            "(use Stream for longer text)")
        use_bot = content.get("use_bot", False)
        if not isinstance(use_bot, bool):
            raise ChatError("'use_bot' must be true or false")
        return Say(text, use_bot)
    if kind == "stream":
        action = content.get("action")
        if action not in ("start", "chunk", "end"):
            raise ChatError("'action' must be start, chunk or end")
        text = _text_field(content, required=action == "chunk")
        if len(text) > STREAM_CHUNK_MAX_CHARS:
            raise ChatError(f"'text' has {len(text)} characters; send at most {STREAM_CHUNK_MAX_CHARS} per chunk")
        return StreamPart(action, text)
    if kind == "audio":
        encoded = content.get("pcm", "")
        if not isinstance(encoded, str):
            raise ChatError("'pcm' must be a Base64 string")
        final = content.get("final", False)
        if not isinstance(final, bool):
            raise ChatError("'final' must be true or false")
        if len(encoded) > (AUDIO_PACKET_BYTES // 3 + 1) * 4 + 4:
            raise ChatError(f"'pcm' chunk is larger than {AUDIO_PACKET_BYTES} bytes (160 ms)")
        try:
            pcm = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ChatError("'pcm' is not valid Base64") from None
        if len(pcm) > AUDIO_PACKET_BYTES:
            raise ChatError(f"'pcm' chunk is {len(pcm)} bytes; at most {AUDIO_PACKET_BYTES} (160 ms)")
        if len(pcm) % 2:
            raise ChatError("'pcm' chunk has an odd number of bytes; 16-bit samples need an even length")
        if not pcm and not final:
            raise ChatError("'pcm' is empty; send audio or set 'final'")
        return AudioChunk(pcm, final)
    if kind == "interrupt":
        return Interrupt()
    raise ChatError("'type' must be say, stream, audio or interrupt")


# -- per-tab and per-session drive state ----------------------------------------------------


@dataclass
class Drive:
    """One utterance sent through a relay and not over yet."""

    kind: str
    req_id: str
    # The utterance as pages last heard of it (`selectors.utterance_summary`, kept in memory).
    summary: dict[str, Any]
    builder: StreamTextUtterance | AudioUtterance | None = None
    ended: bool = False  # final packet queued, or interrupted
    interrupted: bool = False
    unflushed_bytes: int = 0
    flushed_at: float = field(default_factory=time.monotonic)


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


# -- database services (sync) ---------------------------------------------------------------
#
# The writes run on the relay's recorder thread, after pages were told (see `_on_event`), so they
# publish nothing themselves; what only the database knows comes back as summaries to publish.


def session_drivable(*, session_pk: int) -> LiveSession:
    """The session if it can be driven right now, or a ChatError saying why not."""
    # Project and asset come along for the drive's audit entry, which is written from this object.
    session = LiveSession.objects.select_related("account", "project", "asset").filter(pk=session_pk).first()
    if session is None:
        raise ChatError("this session no longer exists")
    if session.status != LiveSession.Status.STARTED:
        hint = "; start it first" if session.status == LiveSession.Status.READY else ""
        raise ChatError(f"the session is {session.status}{hint}")
    return session


def utterance_open(*, session: LiveSession, user, kind: str, req_id: str, text: str = "", audio_bytes: int = 0,
                   state: str = State.QUEUED, error: str = "") -> Utterance:
    with transaction.atomic():
        utterance = Utterance.objects.create(session=session, req_id=req_id, kind=kind, text=text,
                                             audio_bytes=audio_bytes, created_by=user, state=state, error=error[:500])
        services.session_touch(session=session)
        services.audit_record(actor=user, action=f"drive_{kind}", session=session,
                              detail=text[:200] or f"{audio_bytes} bytes of audio")
    return utterance


def utterance_grow(*, session: LiveSession, req_id: str, text: str = "", audio_bytes: int = 0) -> None:
    with transaction.atomic():
        Utterance.objects.filter(session=session, req_id=req_id).update(text=Concat(F("text"), Value(text)),
                                                         audio_bytes=F("audio_bytes") + audio_bytes)
        services.session_touch(session=session)


def _advance_allowed(to: str) -> tuple[str, ...]:
    return (State.QUEUED,) if to == State.SPEAKING else OPEN_STATES


def utterance_advance(*, session_pk: int, req_ids: list[str], to: str, error: str = "") -> list[dict]:
    """Move open utterances on; ended ones keep their state (an interrupted one stays interrupted).
    The summaries of the utterances that moved."""
    with transaction.atomic():
        rows = list(Utterance.objects.select_for_update(of=("self",)).select_related("created_by")
                    .filter(session_id=session_pk, req_id__in=req_ids, state__in=_advance_allowed(to)))
        for utterance in rows:
            utterance.state = to
            utterance.error = error[:500]
            utterance.save(update_fields=["state", "error", "updated_at"])
    return [utterance_summary(utterance) for utterance in rows]


def utterances_end_open(*, session_pk: int, reason: str) -> list[dict]:
    """The channel is gone for good: nothing still queued or speaking will hear back."""
    req_ids = list(Utterance.objects.filter(session_id=session_pk, state__in=OPEN_STATES)
                   .values_list("req_id", flat=True))
    return utterance_advance(session_pk=session_pk, req_ids=req_ids, to=State.INTERRUPTED, error=reason)


@dataclass(frozen=True)
class Outcome:
    """What a downstream event means: its SessionEvent and where its utterance moves, if anywhere."""

    kind: str
    message: str
    data: dict[str, Any]
    to: str | None = None
    error: str = ""


def downstream_outcome(event: Event) -> Outcome | None:
    """Type 3 / 4 / 9 / error frames are kept; anything else is not the chat's business."""
    if isinstance(event, SpeakStatus):
        data = {"req_id": event.req_id, "type": 3, "speak_status": event.status, "seq": event.seq}
        if event.final_type is not None:
            data["final_type"] = event.final_type
        clause = f" (clause {event.seq})" if event.seq else ""
        to, error = None, ""
        if event.status in SPEAKING:
            to = State.SPEAKING
        elif event.status in OVER:
            to = State.DONE
        elif event.status == "Error":
            to, error = State.FAILED, "the avatar could not speak it"
        return Outcome(SessionEvent.Kind.SPEAK, f"avatar {event.status}{clause}", data, to, error)
    if isinstance(event, LlmText):
        return Outcome(SessionEvent.Kind.LLM, event.text,
                       {"req_id": event.req_id, "type": 4, "seq": event.seq, "final": event.final})
    if isinstance(event, DriveFailed):
        what = "unreadable frame from the cloud" if isinstance(event, MalformedFrame) else "the cloud refused"
        message = f"{what}: {event.message or 'no message'} (code {event.code})"
        return Outcome(SessionEvent.Kind.ERROR, message, {"req_id": event.req_id, "code": event.code},
                       State.FAILED if event.req_id else None, message)
    return None


@dataclass
class Recorded:
    """What `downstream_record` wrote that pages still need: the event, once it has its id (errors
    only), and the utterances that moved (only those of drives this relay does not know)."""

    event: dict | None = None
    utterances: list[dict] = field(default_factory=list)


def downstream_record(*, session_pk: int, req_id: str, outcome: Outcome, speak_status: str = "",
                      summaries: bool = True) -> Recorded:
    """Save a downstream event as a SessionEvent and move its utterance on. `summaries`: whether pages
    still need to hear where the utterance moved (they already heard it of a drive of the relay)."""
    recorded = Recorded()
    with transaction.atomic():
        event = SessionEvent.objects.create(session_id=session_pk, kind=outcome.kind,
                                            message=outcome.message[:1000], data=outcome.data)
        if outcome.kind == SessionEvent.Kind.ERROR:
            recorded.event = event_summary(event)
        if speak_status:
            LiveSession.objects.filter(pk=session_pk).update(speak_status=speak_status[:32])
        if not (outcome.to and req_id):
            return recorded
        if summaries:
            recorded.utterances = utterance_advance(session_pk=session_pk, req_ids=[req_id], to=outcome.to,
                                                    error=outcome.error)
            return recorded
        # The same move as utterance_advance in one statement: this runs for every status of every drive.
        Utterance.objects.filter(session_id=session_pk, req_id=req_id, state__in=_advance_allowed(outcome.to)).update(
            state=outcome.to, error=outcome.error[:500], updated_at=timezone.now())
    return recorded


def seen_keys(*, session_pk: int, limit: int = 200) -> list[tuple]:
    """Events already recorded, so a cloud replay after the relay reopens is not shown twice."""
    keys = []
    events = SessionEvent.objects.filter(session_id=session_pk, kind__in=[SessionEvent.Kind.SPEAK,
                                                                            SessionEvent.Kind.LLM])
    for data in events.order_by("-id").values_list("data", flat=True)[:limit]:
        if data.get("type") == 3:
            keys.append((data.get("req_id", ""), 3, data.get("speak_status", ""), data.get("seq", 0)))
        elif data.get("type") == 4:
            keys.append((data.get("req_id", ""), 4, "", data.get("seq", 0)))
    return keys[::-1]


# -- what pages are told --------------------------------------------------------------------


def _utterance_message(summary: dict) -> dict:
    return {"type": "utterance.update", "utterance": dict(summary)}


def _publish_summaries(relay: Relay, future: asyncio.Future) -> None:
    if not future.cancelled() and future.exception() is None:
        for summary in future.result():
            relay.publish(_utterance_message(summary))


def _show_state(relay: Relay, drive: Drive, to: str, error: str = "") -> None:
    """Tell pages the drive's new state, by the same rule `utterance_advance` applies to its row."""
    if drive.summary["state"] in _advance_allowed(to):
        drive.summary.update(state=to, error=error[:500])
        relay.publish(_utterance_message(drive.summary))


def _show_growth(relay: Relay, drive: Drive, *, text: str = "", audio_bytes: int = 0) -> None:
    drive.summary["text"] += text
    drive.summary["audio_bytes"] += audio_bytes
    if text:
        relay.publish(_utterance_message(drive.summary))


# -- relay glue (async) ---------------------------------------------------------------------


def _publish_recorded(relay: Relay, future: asyncio.Future) -> None:
    if future.cancelled() or future.exception() is not None:
        return
    recorded = future.result()
    if recorded.event is not None:
        relay.publish({"type": "session.event", "event": recorded.event})
    for summary in recorded.utterances:
        relay.publish(_utterance_message(summary))


def _on_event(relay: Relay, event: Event) -> None:
    """Tell pages at once and leave the rows to the recorder, which writes them in arrival order."""
    outcome = downstream_outcome(event)
    if outcome is None:
        return
    req_id = getattr(event, "req_id", "")
    speak_status = event.status if isinstance(event, SpeakStatus) else ""
    drive = relay.drives.get(req_id) if req_id else None
    if outcome.kind != SessionEvent.Kind.ERROR:
        # The avatar's statuses and words are on the round trip: pages hear of them before the row
        # is written, so the message has no id (pages know them by ReqId). An error is rare and
        # goes into the session's history, which knows events by id: it is told once written.
        relay.publish({"type": "session.event", "event": {
            "id": None, "kind": outcome.kind, "message": outcome.message[:1000], "data": outcome.data,
            "at": timezone.now().isoformat()}})
    if drive is not None and outcome.to:
        _show_state(relay, drive, outcome.to, outcome.error)
    written = recorder().record(partial(downstream_record, session_pk=relay.session_pk, req_id=req_id,
                                        outcome=outcome, speak_status=speak_status, summaries=drive is None))
    # What only the database knows is told once written: an error's id, and the state of an
    # utterance that is no drive of this relay (sent before the console restarted, or already over).
    written.add_done_callback(partial(_publish_recorded, relay))
    ends = isinstance(event, DriveFailed) or (isinstance(event, SpeakStatus) and event.status in OVER | {"Error"})
    if ends and req_id:
        relay.drives.pop(req_id, None)


async def _on_stop(relay: Relay, reason: str) -> None:
    relays.forget(relay)
    ended = recorder().record(partial(utterances_end_open, session_pk=relay.session_pk,
                                      reason=f"command channel closed: {reason}"))
    await asyncio.wait({ended})
    _publish_summaries(relay, ended)


async def relay_open(session: LiveSession) -> Relay:
    return await relays.open(session, on_event=_on_event, on_stop=_on_stop,
                             seen=lambda: database_sync_to_async(seen_keys)(session_pk=session.pk))


async def _drivable(*, user, session_pk: int) -> tuple[LiveSession, Relay]:
    """The per-message check: the session this user may drive now, and its relay.

    The user's right is remembered (`drive_rights`). An open relay means a started session (it
    stops the moment the session's status moves on), so only without one does the database say
    whether the session can be driven, on a reader thread that never queues behind any writes."""
    if not await drive_rights.may_drive(user):
        raise ChatError("you may watch this session but not drive it (operators and admins drive)")
    relay = relays.get(session_pk)
    if relay is not None:
        return relay.session, relay
    session = await read(partial(session_drivable, session_pk=session_pk))
    return session, await relay_open(session)


async def tab_join(*, user, session_pk: int, tab: str) -> dict | None:
    """A page opened the session: keep its relay open and, for a driver, open it now."""
    relays.tab_join(session_pk, tab)
    try:
        _, relay = await _drivable(user=user, session_pk=session_pk)
    except ChatError:
        relay = relays.get(session_pk)
    return {"type": "relay", **relay.snapshot()} if relay else None


async def tab_leave(*, session_pk: int, tab: str) -> None:
    relays.tab_leave(session_pk, tab)


# -- the command handlers -------------------------------------------------------------------
#
# Nothing here waits for a write: frames go upstream as soon as the message is checked, and the
# rows are queued on the recorder first, so a drive's Utterance exists before anything the avatar
# sends back about it is recorded.


async def chat_receive(*, user, session_pk: int, tab: TabState, content: dict[str, Any]) -> dict | None:
    """Handle one browser message; the reply for that browser only (an error), or None."""
    try:
        session, relay = await _drivable(user=user, session_pk=session_pk)
        try:
            command = command_parse(content)
        except ChatError as exc:
            # The page's own script never sends these: a warning, for whoever watches the logs.
            logger.warning("session %s: a browser message was refused: %s", session_pk, exc)
            raise
        if isinstance(command, AudioChunk) and session.driver_type != LiveSession.DriverType.AUDIO:
            raise ChatError("audio needs a session created with driver type 3 (audio and text)")
        if isinstance(command, Say):
            _say(relay, session, user, command)
        elif isinstance(command, StreamPart):
            _stream(relay, session, user, tab, command)
        elif isinstance(command, AudioChunk):
            _audio(relay, session, user, tab, command)
        else:
            _interrupt(relay, session, user, tab)
    except ChatError as exc:
        return {"type": "error", "message": str(exc)}
    except (RelayFull, RelayClosed) as exc:
        return {"type": "error", "message": str(exc)}
    return None


def _start_drive(relay: Relay, session: LiveSession, user, kind: str, frames: list[dict], *, req_id: str,
                 text: str = "", audio_bytes: int = 0, builder=None) -> Drive:
    """Send a new utterance's first frames, then tell pages of it and queue its row.

    The frames go first so the writer is woken before anything else this message schedules; the
    row is still queued on the recorder before anything the avatar can say back about it."""
    summary = utterance_summary(Utterance(req_id=req_id, kind=kind, text=text, audio_bytes=audio_bytes,
                                          created_by=user, created_at=timezone.now()))
    drive = Drive(kind, req_id, summary, builder)
    relay.drives[req_id] = drive
    try:
        relay.send(frames)
    except (RelayFull, RelayClosed) as exc:
        relay.drives.pop(req_id, None)
        summary.update(state=State.FAILED, error=str(exc)[:500])
        raise
    finally:
        relay.publish(_utterance_message(summary))
        recorder().record(partial(utterance_open, session=session, user=user, kind=kind, req_id=req_id, text=text,
                                  audio_bytes=audio_bytes, state=summary["state"], error=summary["error"]))
    return drive


def _send_or_fail(relay: Relay, session: LiveSession, drive: Drive, frames: list[dict]) -> None:
    try:
        relay.send(frames)
    except (RelayFull, RelayClosed) as exc:
        relay.drives.pop(drive.req_id, None)
        recorder().record(partial(utterance_advance, session_pk=session.pk, req_ids=[drive.req_id],
                                  to=State.FAILED, error=str(exc)))
        _show_state(relay, drive, State.FAILED, str(exc))
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
            raise ChatError("a stream is already open in this tab; end it first")
        tab.stream = OpenStream()
    elif tab.stream is None:
        raise ChatError(f"no stream is open; send action start before {command.action}")
    stream = tab.stream
    if stream.drive is not None and stream.drive.ended:
        tab.stream = None
        raise ChatError("this stream was interrupted; start a new one")
    final = command.action == "end"
    stream.buffer += command.text
    ready = _stream_cut(stream, final=final)
    if final:
        tab.stream = None
        if stream.drive is None and not ready.strip():
            raise ChatError("the stream is empty; nothing was sent")
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
            _show_growth(relay, drive, text=ready)
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
        raise ChatError("this audio was interrupted; release the microphone and start again")
    if drive is None and not command.pcm:
        raise ChatError("no audio is being sent; there is nothing to finish")
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
        _show_growth(relay, drive, audio_bytes=added)


def _interrupt(relay: Relay, session: LiveSession, user, tab: TabState) -> None:
    targets = [drive for drive in relay.drives.values() if not drive.interrupted]
    relay.withdraw({drive.req_id for drive in targets})
    frames: list[dict] = []
    text_stop = not targets
    for drive in targets:
        drive.interrupted = True
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

    def record() -> None:
        with transaction.atomic():
            utterance_advance(session_pk=session.pk, req_ids=[d.req_id for d in targets], to=State.INTERRUPTED,
                              error="interrupted")
            services.session_touch(session=session)
            services.audit_record(actor=user, action="interrupt", session=session,
                                  detail=", ".join(d.req_id for d in targets)[:500])

    recorder().record(record)
    for drive in targets:
        _show_state(relay, drive, State.INTERRUPTED, "interrupted")
    relay.send(frames, urgent=True)
