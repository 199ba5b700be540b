"""The WebSocket command channel (PROTOCOL.md §11): handshake rules, upstream frames, downstream
events, idle close, replay on reconnect."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.responses import JSONResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from .auth import AuthError, authenticate
from .commands import CHANNEL_COMMANDS, SEND_HEARTBEAT, parse_command, run_command
from .errors import (
    SESSION_CLOSED,
    SESSION_NOT_READY,
    SESSION_NOT_STARTED,
    SESSION_UNKNOWN,
    TOO_FREQUENT,
    WRONG_TIME,
    ApiError,
)
from .runtime import Simulator, envelope, summarize_data
from .state import CLOSED, READY, Session
from .validate import bad, parse_envelope

CHANNEL_PATH = "/v2/ws/ivh/interactdriver/interactdriverservice/commandchannel"
NAME = "commandchannel"

CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008
CLOSE_DROPPED = 1011


class _Close:
    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason


class Connection:
    """One accepted socket. All sends go through one writer task so frames never interleave."""

    def __init__(self, websocket: WebSocket, session: Session, sim: Simulator) -> None:
        self.websocket = websocket
        self.session = session
        self.sim = sim
        self.last_frame = sim.clock.monotonic()
        self.last_heartbeat = self.last_frame  # the channel's opening counts as one
        self._outbox: asyncio.Queue[dict[str, Any] | _Close] = asyncio.Queue()
        self._closing = False

    # -- state.Channel ----------------------------------------------------------------------

    def send_event(self, payload: dict[str, Any]) -> None:
        if not self._closing:
            self._outbox.put_nowait(envelope(0, "", payload))

    def close(self, *, error_code: int | None = None, message: str = "") -> None:
        if error_code is not None:
            self.send_error(error_code, message, "")
        self._shut(CLOSE_NORMAL, message or "session closed")

    # -- the rest ---------------------------------------------------------------------------

    def send_error(self, code: int, message: str, req_id: str) -> None:
        payload = {"SessionId": self.session.session_id, "ReqId": req_id, "ErrorCode": code, "ErrorMessage": message}
        self.session.sent.append({"Error": True, **payload})
        if not self._closing:
            self._outbox.put_nowait(envelope(code, message, payload))

    def _shut(self, code: int, reason: str) -> None:
        if not self._closing:
            self._closing = True
            self._outbox.put_nowait(_Close(code, reason))

    async def run(self) -> None:
        reader = asyncio.create_task(self._read())
        writer = asyncio.create_task(self._write())
        idle = asyncio.create_task(self._watch_idle())
        try:
            await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reader, writer, idle):
                task.cancel()
            await asyncio.gather(reader, writer, idle, return_exceptions=True)
            self._closing = True
            if self.session.channel is self:
                self.session.channel = None

    async def _write(self) -> None:
        while True:
            item = await self._outbox.get()
            if isinstance(item, _Close):
                await self.websocket.close(item.code, item.reason)
                return
            await self.websocket.send_text(json.dumps(item, ensure_ascii=False))

    async def _watch_idle(self) -> None:
        timing = self.sim.config.timing
        limit, heartbeat_limit = timing.ws_idle_close_seconds, timing.heartbeat_max_interval_seconds
        while True:
            now = self.sim.clock.monotonic()
            remaining = self.last_frame + limit - now
            if remaining <= 0:
                self._shut(CLOSE_NORMAL, f"no upstream frame for {limit:g} s")
                return
            if heartbeat_limit > 0:
                heartbeat_remaining = self.last_heartbeat + heartbeat_limit - now
                if heartbeat_remaining <= 0:
                    self._shut(CLOSE_NORMAL, f"no heartbeat for {heartbeat_limit:g} s")
                    return
                remaining = min(remaining, heartbeat_remaining)
            await asyncio.sleep(remaining)

    def _heartbeat(self) -> None:
        minimum = self.sim.config.timing.heartbeat_min_interval_seconds
        if minimum > 0 and self.last_frame - self.last_heartbeat < minimum:
            raise ApiError(TOO_FREQUENT, f"SEND_HEARTBEAT more often than once every {minimum:g} s")
        self.last_heartbeat = self.last_frame

    async def _read(self) -> None:
        while True:
            try:
                message = await self.websocket.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                return
            self.last_frame = self.sim.clock.monotonic()
            if self._closing:
                continue
            if self.sim.faults.take(NAME, drop=True) is not None:
                self._shut(CLOSE_DROPPED, "simulated connection drop")
                continue
            self._handle(message.get("text"), message.get("bytes"))

    def _handle(self, text: str | None, data: bytes | None) -> None:
        frame: dict[str, Any] = {"t": self.last_frame, "via": "ws", "command": None, "req_id": "", "code": 0}
        self.session.frames.append(frame)
        try:
            if text is None:
                frame["bytes"] = len(data or b"")
                raise bad("frame", "binary frames are not accepted; send JSON text frames")
            try:
                body = json.loads(text)
            except ValueError:
                frame["raw"] = text[:200]
                raise bad("frame", "not valid JSON") from None
            payload = parse_envelope(body)
            frame["req_id"] = payload.get("ReqId") if isinstance(payload.get("ReqId"), str) else ""
            command = parse_command(payload, CHANNEL_COMMANDS)
            frame.update(command=command.name, data=summarize_data(command.data), seq=command.data.get("Seq"))
            if command.session_id != self.session.session_id:
                raise bad("Payload.SessionId", "does not match the session of this channel")
            if command.name == SEND_HEARTBEAT:
                self._heartbeat()
            run_command(self.sim.store, self.session, command)
        except ApiError as exc:
            frame["code"] = exc.code
            frame["message"] = exc.message
            self.send_error(exc.code, exc.message, frame["req_id"])


async def _reject(websocket: WebSocket, sim: Simulator, code: int, message: str, http_status: int = 403) -> None:
    sim.record_call(NAME, code, http_status if sim.config.behaviour.ws_reject_mode == "refuse" else 101)
    if sim.config.behaviour.ws_reject_mode == "refuse":
        await websocket.send_denial_response(JSONResponse(envelope(code, message, {}), status_code=http_status))
        return
    await websocket.accept()
    await websocket.send_text(json.dumps(envelope(code, message, {}), ensure_ascii=False))
    await websocket.close(CLOSE_POLICY, message[:120])


def _session_for(sim: Simulator, query: str) -> Session:
    """The session this handshake may drive, or the ApiError explaining why not."""
    try:
        auth = authenticate(query, sim.config, sim.clock.wall(), require_requestid=True)
    except AuthError as exc:
        raise ApiError(sim.config.behaviour.auth_error_code, f"authentication failed: {exc}") from None
    session_id = auth.params["requestid"]
    session = sim.store.sessions.get(session_id)
    if session is None or session.account is not auth.account:
        raise ApiError(SESSION_UNKNOWN, f"requestid must be the SessionId of an existing session, got {session_id}")
    if session.status == CLOSED:
        raise ApiError(SESSION_CLOSED, f"session {session_id} is closed")
    if session.status != READY:
        raise ApiError(SESSION_NOT_READY, f"session {session_id} is not ready")
    if not session.started:
        raise ApiError(SESSION_NOT_STARTED, f"session {session_id} was never started (call startsession)")
    return session


async def command_channel(websocket: WebSocket) -> None:
    sim: Simulator = websocket.app.state.sim
    fault = sim.faults.take(NAME)
    if fault is not None:
        if fault.delay_seconds:
            await asyncio.sleep(fault.delay_seconds)
        if fault.http_status:
            sim.record_call(NAME, 0, fault.http_status)
            await websocket.send_denial_response(
                JSONResponse({"error": "simulated gateway failure"}, status_code=fault.http_status)
            )
            return
        if fault.malformed:
            sim.record_call(NAME, 0, 101)
            await websocket.accept()
            await websocket.send_text('{"Header": {"Code": 0, "Mess')
            await websocket.close(CLOSE_DROPPED)
            return
        if fault.code:
            await _reject(websocket, sim, fault.code, "simulated fault")
            return
    try:
        session = _session_for(sim, websocket.scope["query_string"].decode("latin-1"))
        if session.channel is not None and sim.config.behaviour.second_websocket == "reject":
            raise ApiError(WRONG_TIME, "a command channel is already open for this session")
    except ApiError as exc:
        await _reject(websocket, sim, exc.code, exc.message)
        return
    if session.channel is not None:
        previous, session.channel = session.channel, None
        previous.close(message="replaced by a newer command channel")
    await websocket.accept()
    sim.record_call(NAME, 0, 101)
    connection = Connection(websocket, session, sim)
    session.channel = connection
    for status in session.replay():
        connection.send_event(status)
    await connection.run()

