"""What the session's pages are told, built in one place.

A message travels twice: as a group message on the channel layer (its `type` names the
consumer's handler) and as the frame the page's script reads. The builders below make the group
messages the chat sends; `for_page` turns any group message of the session's group, the services'
included, into its page frame:

    group message                       page frame
    session.update  {session}           {"type": "session", "session": {...}}
    session.event   {event}             {"type": "event", "event": {...}}
    utterance.update {utterance}        {"type": "utterance", req_id, kind, text, state, ...}
    relay.state     {relay}             {"type": "relay", state, heartbeat_at, reason}
    chat.batch      {messages}          {"type": "batch", "messages": [page frames]}

and, to one tab only, {"type": "error", "message": ...} and the snapshots a tab gets on connect
({"type": "session", ...}, {"type": "events", "events": [...]}).
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from ..models import SessionEvent
from ..selectors import event_summary


class Error(TypedDict):
    type: Literal["error"]
    message: str


def session(summary: dict[str, Any]) -> dict[str, Any]:
    """The session as a page may know it (`selectors.session_summary`)."""
    return {"type": "session.update", "session": summary}


def utterance(summary: dict[str, Any]) -> dict[str, Any]:
    """An utterance's new state or text (`selectors.utterance_summary`)."""
    return {"type": "utterance.update", "utterance": dict(summary)}


def event(summary: dict[str, Any]) -> dict[str, Any]:
    """A SessionEvent (`selectors.event_summary`)."""
    return {"type": "session.event", "event": summary}


def unsaved_event(session_event: SessionEvent) -> dict[str, Any]:
    """A SessionEvent pages hear of before it is written: no id yet (pages know it by ReqId)."""
    return event(event_summary(session_event))


def relay(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The command channel's state, as `Relay.snapshot` has it."""
    return {"type": "relay.state", "relay": snapshot}


def batch(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """What one event published at once, to reach the page in one frame."""
    return messages[0] if len(messages) == 1 else {"type": "chat.batch", "messages": messages}


def error(message: str) -> Error:
    return {"type": "error", "message": message}


def events(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "events", "events": summaries}


def for_page(message: dict[str, Any]) -> dict[str, Any]:
    """The page frame of a message of the session's group."""
    kind = message["type"]
    if kind == "session.update":
        return {"type": "session", "session": message["session"]}
    if kind == "session.event":
        return {"type": "event", "event": message["event"]}
    if kind == "utterance.update":
        return {"type": "utterance", **message["utterance"]}
    if kind == "relay.state":
        return {"type": "relay", **message["relay"]}
    if kind == "chat.batch":
        return {"type": "batch", "messages": [for_page(inner) for inner in message["messages"]]}
    raise ValueError(f"no page message for {kind}")
