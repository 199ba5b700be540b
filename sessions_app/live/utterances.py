"""Utterances and the avatar's events about them: the state rule, and the rows the chat writes.

Everything here is sync and runs on the recorder's thread (`database`), after pages were told;
so nothing here publishes. What only the database knows comes back as summaries to publish.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from tcadh.frames import DriveFailed, Event, LlmText, MalformedFrame, SpeakStatus

from .. import services
from ..models import AuditEntry, LiveSession, SessionEvent, Utterance
from ..selectors import event_summary, utterance_summary
from .limits import OVER_STATUSES, SPEAKING_STATUSES

State = Utterance.State
OPEN_STATES = (State.QUEUED, State.SPEAKING)


def moves_from(to: str) -> tuple[str, ...]:
    """The utterance state rule: the states an utterance may move to `to` from. Only a queued one
    starts speaking; ended ones keep their state (an interrupted one stays interrupted)."""
    return (State.QUEUED,) if to == State.SPEAKING else OPEN_STATES


def replay_key(*, req_id: str, type: int, status: str = "", seq: int = 0) -> tuple:
    """Identity of an event the cloud may push again after a reconnect (PROTOCOL §11.1)."""
    return (req_id, type, status, seq)


def event_replay_key(event: Event) -> tuple | None:
    if isinstance(event, SpeakStatus):
        return replay_key(req_id=event.req_id, type=3, status=event.status, seq=event.seq)
    if isinstance(event, LlmText):
        return replay_key(req_id=event.req_id, type=4, seq=event.seq)
    return None


def seen_keys(*, session_pk: int, limit: int = 200) -> list[tuple]:
    """Events already recorded, so a cloud replay after the relay reopens is not shown twice."""
    events = SessionEvent.objects.filter(session_id=session_pk, kind__in=[SessionEvent.Kind.SPEAK,
                                                                            SessionEvent.Kind.LLM])
    keys = [replay_key(req_id=data.get("req_id", ""), type=data["type"], status=data.get("speak_status", ""),
                       seq=data.get("seq", 0))
            for data in events.order_by("-id").values_list("data", flat=True)[:limit]
            if data.get("type") in (3, 4)]
    return keys[::-1]


# -- a drive's rows ------------------------------------------------------------------------

DRIVE_ACTIONS = {Utterance.Kind.TEXT: AuditEntry.Action.DRIVE_TEXT, Utterance.Kind.STREAM: AuditEntry.Action.DRIVE_STREAM,
                 Utterance.Kind.AUDIO: AuditEntry.Action.DRIVE_AUDIO}


def utterance_open(*, session: LiveSession, user, kind: str, req_id: str, text: str = "", audio_bytes: int = 0,
                   state: str = State.QUEUED, error: str = "", created_at=None) -> Utterance:
    """`created_at`: when the console received it, which is what its timings count from."""
    with transaction.atomic():
        utterance = Utterance.objects.create(session=session, req_id=req_id, kind=kind, text=text,
                                             audio_bytes=audio_bytes, created_by=user, state=state, error=error[:500],
                                             created_at=created_at or timezone.now())
        services.session_touch(session=session)
        services.audit_record(actor=user, action=DRIVE_ACTIONS[kind], session=session,
                              detail=text[:200] or f"{audio_bytes} bytes of audio")
    return utterance


def utterance_grow(*, session: LiveSession, req_id: str, text: str = "", audio_bytes: int = 0) -> None:
    with transaction.atomic():
        Utterance.objects.filter(session=session, req_id=req_id).update(text=Concat(F("text"), Value(text)),
                                                                         audio_bytes=F("audio_bytes") + audio_bytes)
        services.session_touch(session=session)


def utterance_advance(*, session_pk: int, req_ids: list[str], to: str, error: str = "",
                      timings: dict[str, dict[str, int]] | None = None) -> list[dict]:
    """Move open utterances on by `moves_from`; the summaries of those that moved. `timings`: by
    ReqId, what each reached so far (`Utterance.TIMINGS`), written with the move."""
    timings = timings or {}
    with transaction.atomic():
        rows = list(Utterance.objects.select_for_update(of=("self",)).select_related("created_by")
                    .filter(session_id=session_pk, req_id__in=req_ids, state__in=moves_from(to)))
        for utterance in rows:
            utterance.state = to
            utterance.error = error[:500]
            reached = timings.get(utterance.req_id, {})
            for name, ms in reached.items():
                setattr(utterance, name, ms)
            utterance.save(update_fields=["state", "error", "updated_at", *reached])
    return [utterance_summary(utterance) for utterance in rows]


def utterances_interrupt(*, session: LiveSession, user, timings: dict[str, dict[str, int]]) -> None:
    """Interrupt the drives of `timings` (by ReqId, what each reached)."""
    req_ids = list(timings)
    with transaction.atomic():
        utterance_advance(session_pk=session.pk, req_ids=req_ids, to=State.INTERRUPTED, error="interrupted",
                          timings=timings)
        services.session_touch(session=session)
        services.audit_record(actor=user, action=AuditEntry.Action.INTERRUPT, session=session, detail=", ".join(req_ids)[:500])


def utterances_end_open(*, session_pk: int, reason: str) -> list[dict]:
    """The channel is gone for good: nothing still queued or speaking will hear back."""
    req_ids = list(Utterance.objects.filter(session_id=session_pk, state__in=OPEN_STATES)
                   .values_list("req_id", flat=True))
    return utterance_advance(session_pk=session_pk, req_ids=req_ids, to=State.INTERRUPTED, error=reason)


# -- the avatar's events -------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What a downstream event means: its SessionEvent and where its utterance moves, if anywhere."""

    kind: str
    message: str
    data: dict[str, Any]
    to: str | None = None
    error: str = ""
    # When it arrived, which its row keeps (it is written a moment later).
    at: datetime = field(default_factory=timezone.now)

    def unsaved_event(self) -> SessionEvent:
        """The SessionEvent as pages are told of it before it is written (no id yet)."""
        return SessionEvent(kind=self.kind, message=self.message[:1000], data=self.data, created_at=self.at)


def downstream_outcome(event: Event) -> Outcome | None:
    """Type 3 / 4 / 9 / error frames are kept; anything else (new types included) is not the chat's."""
    if isinstance(event, SpeakStatus):
        data = {"req_id": event.req_id, "type": 3, "speak_status": event.status, "seq": event.seq}
        if event.final_type is not None:
            data["final_type"] = event.final_type
        clause = f" (clause {event.seq})" if event.seq else ""
        to, error = None, ""
        if event.status in SPEAKING_STATUSES:
            to = State.SPEAKING
        elif event.status in OVER_STATUSES:
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


def ends_drive(event: Event) -> bool:
    return isinstance(event, DriveFailed) or (isinstance(event, SpeakStatus)
                                              and event.status in OVER_STATUSES | {"Error"})


@dataclass
class Recorded:
    """What `downstream_record` wrote that pages still need: the event, once it has its id (errors
    only), and the utterances that moved (only those of drives this relay does not know)."""

    event: dict | None = None
    utterances: list[dict] = field(default_factory=list)


def downstream_record(*, session_pk: int, req_id: str, outcome: Outcome, speak_status: str = "",
                      summaries: bool = True, timings: dict[str, int] | None = None) -> Recorded:
    """Save a downstream event as a SessionEvent and move its utterance on. `summaries`: whether pages
    still need to hear where the utterance moved (they already heard it of a drive of the relay).
    `timings`: what the utterance reached so far (`Utterance.TIMINGS`), written with its move."""
    timings = timings or {}
    recorded = Recorded()
    with transaction.atomic():
        event = SessionEvent.objects.create(session_id=session_pk, kind=outcome.kind,
                                            message=outcome.message[:1000], data=outcome.data, created_at=outcome.at)
        if outcome.kind == SessionEvent.Kind.ERROR:
            recorded.event = event_summary(event)
        if speak_status:
            LiveSession.objects.filter(pk=session_pk).update(speak_status=speak_status[:32])
        if not (outcome.to and req_id):
            return recorded
        if summaries:
            recorded.utterances = utterance_advance(session_pk=session_pk, req_ids=[req_id], to=outcome.to,
                                                    error=outcome.error, timings={req_id: timings})
            return recorded
        # The same move as utterance_advance in one statement: this runs for every status of every drive.
        Utterance.objects.filter(session_id=session_pk, req_id=req_id, state__in=moves_from(outcome.to)).update(
            state=outcome.to, error=outcome.error[:500], updated_at=timezone.now(), **timings)
    return recorded
