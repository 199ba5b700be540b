"""What the cloud sends back: each event told to the session's pages at once, its rows left to
the recorder, which writes them in arrival order; and what a stopped channel leaves behind."""

from __future__ import annotations

import asyncio
from functools import partial

from channels.db import database_sync_to_async
from tcadh.frames import Event, SpeakStatus

from ..models import LiveSession, SessionEvent
from . import page_messages
from .database import recorder
from .drives import Drive, drives_of, mark, show_state, timings
from .relay import Relay, relays
from .utterances import State, downstream_outcome, downstream_record, ends_drive, seen_keys, utterances_end_open


def _publish_recorded(relay: Relay, future: asyncio.Future) -> None:
    if future.cancelled() or future.exception() is not None:
        return
    recorded = future.result()
    if recorded.event is not None:
        relay.publish(page_messages.event(recorded.event))
    for summary in recorded.utterances:
        relay.publish(page_messages.utterance(summary))


def _note_timings(drive: Drive, to: str | None) -> None:
    """The first thing the cloud says of a drive acknowledges it; its first start status is when
    the avatar started speaking it, and the status that ends it is when it ended."""
    mark(drive, "ack_ms")
    if to == State.SPEAKING:
        mark(drive, "start_ms")
    elif to in (State.DONE, State.FAILED):
        mark(drive, "end_ms")


def on_event(relay: Relay, event: Event) -> None:
    """Tell pages at once and leave the rows to the recorder."""
    outcome = downstream_outcome(event)
    if outcome is None:
        return
    req_id = getattr(event, "req_id", "")
    speak_status = event.status if isinstance(event, SpeakStatus) else ""
    drives = drives_of(relay)
    drive = drives.get(req_id) if req_id else None
    if outcome.kind != SessionEvent.Kind.ERROR:
        # The avatar's statuses and words are on the round trip: pages hear of them before the row
        # is written, so the message has no id (pages know them by ReqId). An error is rare and
        # goes into the session's history, which knows events by id: it is told once written.
        relay.publish(page_messages.unsaved_event(outcome.unsaved_event()))
    reached: dict[str, int] = {}
    if drive is not None:
        _note_timings(drive, outcome.to)
        reached = timings(drive)
        if outcome.to:
            show_state(relay, drive, outcome.to, outcome.error)
    written = recorder().record(partial(downstream_record, session_pk=relay.session_pk, req_id=req_id,
                                        outcome=outcome, speak_status=speak_status, summaries=drive is None,
                                        timings=reached))
    # What only the database knows is told once written: an error's id, and the state of an
    # utterance that is no drive of this relay (sent before the console restarted, or already over).
    written.add_done_callback(partial(_publish_recorded, relay))
    if ends_drive(event) and req_id:
        drives.pop(req_id, None)


async def on_stop(relay: Relay, reason: str) -> None:
    relays.forget(relay)
    ended = recorder().record(partial(utterances_end_open, session_pk=relay.session_pk,
                                      reason=f"command channel closed: {reason}"))
    await asyncio.wait({ended})
    if not ended.cancelled() and ended.exception() is None:
        for summary in ended.result():
            relay.publish(page_messages.utterance(summary))


async def relay_open(session: LiveSession) -> Relay:
    """The session's relay, opened with this module's handlers if it was not open yet."""
    return await relays.open(session, on_event=on_event, on_stop=on_stop,
                             seen=lambda: database_sync_to_async(seen_keys)(session_pk=session.pk))
