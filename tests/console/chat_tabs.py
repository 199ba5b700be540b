"""What the chat tests share: tabs on a session's chat socket, reading what they are told, and
the relay's settings for tests (no grace, quick retries, texts spaced just above the cloud's
one-second rule). Import the fixtures into a test module to use them."""

import asyncio

import pytest
from channels.db import database_sync_to_async

from sessions_app.live.relay import relays
from sessions_app.models import SessionEvent, Utterance

from .helpers import next_message
from .test_consumers import connect_as

TIMEOUT = 10


@pytest.fixture(autouse=True)
def quick_relay(settings):
    settings.TCADH_RELAY_GRACE_SECONDS = 0
    settings.TCADH_RELAY_BACKOFF_SECONDS = 0.05
    # Keeps the text-spacing tests short while still above the simulator's 1 s rule.
    settings.TCADH_RELAY_TEXT_INTERVAL_SECONDS = 1.05


@pytest.fixture(autouse=True)
async def relays_closed():
    yield
    await relays.close_all()


async def open_tab(user, session, **browser):
    tab = await connect_as(user, f"/ws/sessions/{session.pk}/chat/", **browser)
    connected, _ = await tab.connect(timeout=TIMEOUT)
    assert connected
    return tab


async def receive_until(tab, predicate, timeout: float = TIMEOUT) -> list[dict]:
    """Messages up to and including the first one matching `predicate`."""
    seen = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        left = deadline - loop.time()
        assert left > 0, f"no matching message; got {[m.get('type') for m in seen]}: {seen[-5:]}"
        message = await next_message(tab, left)
        seen.append(message)
        if predicate(message):
            return seen


def speak(status: str, req_id: str | None = None):
    def match(message: dict) -> bool:
        if message.get("type") != "event" or message["event"]["kind"] != "speak":
            return False
        data = message["event"]["data"]
        return data["speak_status"] == status and (req_id is None or data["req_id"] == req_id)
    return match


def utterance_state(state: str, kind: str | None = None):
    return lambda m: m.get("type") == "utterance" and m["state"] == state and (kind is None or m["kind"] == kind)


def relay_state(state: str):
    return lambda m: m.get("type") == "relay" and m["state"] == state


async def sim_frames(sim, session, command: str | None = None) -> list[dict]:
    detail = await asyncio.to_thread(sim.control, "GET", f"sessions/{session.cloud_session_id}")
    return [f for f in detail["frames"] if command is None or f["command"] == command]


async def sim_sent(sim, session) -> list[dict]:
    detail = await asyncio.to_thread(sim.control, "GET", f"sessions/{session.cloud_session_id}")
    return list(detail["sent"])


async def eventually(fetch, check, timeout: float = TIMEOUT):
    """Rows are written just after pages hear of them: what `fetch` returns once `check` holds
    (or at the deadline, for the caller's assertion to report)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await fetch()
        if check(value) or loop.time() >= deadline:
            return value
        await asyncio.sleep(0.02)


@database_sync_to_async
def _utterance_row(req_id: str) -> Utterance | None:
    return Utterance.objects.filter(req_id=req_id).first()


async def utterance(req_id: str, check=lambda row: True) -> Utterance | None:
    return await eventually(lambda: _utterance_row(req_id), lambda row: row is not None and check(row))


@database_sync_to_async
def _speak_events(session, status: str) -> list[SessionEvent]:
    return [e for e in SessionEvent.objects.filter(session=session, kind="speak")
            if e.data["speak_status"] == status]


async def speak_events(session, status: str, count: int = 1) -> list[SessionEvent]:
    return await eventually(lambda: _speak_events(session, status), lambda events: len(events) >= count)
