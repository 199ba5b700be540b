"""`/_sim/` inspection and fault-injection endpoints, mounted only when [control] enabled."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .errors import SAME_USER_REPLACED, ApiError
from .faults import parse_fault
from .runtime import Simulator
from .state import CLOSE_DOWNSTREAM_EXIT, CLOSE_SAME_USER, CLOSED, Session


def _sim(request: Request) -> Simulator:
    return request.app.state.sim


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _summary(session: Session) -> dict[str, Any]:
    return {
        "session_id": session.session_id,
        "uin": session.account.uin,
        "appkey": session.account.appkey,
        "user_id": session.user_id,
        "protocol": session.protocol,
        "driver_type": session.driver_type,
        "project_id": session.project_id,
        "asset_key": session.asset_key,
        "status": session.status,
        "started": session.started,
        "close_type": session.close_type,
        "speak_status": session.speak_status,
        "channel_open": session.channel is not None,
        "created_at": session.created_at,
        "last_activity": session.last_activity,
    }


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(400, "body is not valid JSON") from None


async def list_sessions(request: Request) -> JSONResponse:
    return JSONResponse({"sessions": [_summary(s) for s in _sim(request).store.sessions.values()]})


async def session_detail(request: Request) -> JSONResponse:
    session = _sim(request).store.sessions.get(request.path_params["session_id"])
    if session is None:
        return _error(404, "unknown session")
    return JSONResponse({**_summary(session), "frames": session.frames, "sent": list(session.sent)})


async def close_session(request: Request) -> JSONResponse:
    sim = _sim(request)
    session = sim.store.sessions.get(request.path_params["session_id"])
    if session is None:
        return _error(404, "unknown session")
    try:
        body = await _json_body(request)
    except ApiError as exc:
        return _error(400, exc.message)
    close_type = body.get("close_type", CLOSE_DOWNSTREAM_EXIT) if isinstance(body, dict) else None
    if isinstance(close_type, bool) or not isinstance(close_type, int) or not 1 <= close_type <= 5:
        return _error(400, "close_type: integer 1-5")
    if session.status == CLOSED:
        return _error(409, "session already closed")
    error = (SAME_USER_REPLACED, "a new session was created with the same UserId") if close_type == CLOSE_SAME_USER else None
    sim.store.close(session, close_type, error=error)
    return JSONResponse(_summary(session))


async def pause_video(request: Request) -> JSONResponse:
    """{"paused": true} stops the session's video for every player, {"paused": false} goes on."""
    sim = _sim(request)
    session_id = request.path_params["session_id"]
    if session_id not in sim.store.sessions:
        return _error(404, "unknown session")
    try:
        body = await _json_body(request)
    except ApiError as exc:
        return _error(400, exc.message)
    paused = body.get("paused") if isinstance(body, dict) else None
    if not isinstance(paused, bool):
        return _error(400, "paused: true or false")
    if not sim.hub.pause_video(session_id, paused=paused):
        return _error(409, "the session has no video stream (not ready, or closed)")
    return JSONResponse({"session_id": session_id, "video_paused": paused})


async def calls(request: Request) -> JSONResponse:
    sim = _sim(request)
    raw = request.query_params.get("since")
    try:
        since = float(raw) if raw is not None else None
    except ValueError:
        return _error(400, "since: a number (the 'now' of an earlier answer)")
    entries = sim.calls.since(since)
    return JSONResponse({"now": sim.clock.monotonic(), "counts": sim.calls.counts(entries), "calls": entries})


async def faults(request: Request) -> JSONResponse:
    sim = _sim(request)
    if request.method == "GET":
        return JSONResponse({"faults": sim.faults.describe()})
    if request.method == "DELETE":
        # Ends a fault storm without a reset: the sessions it left behind stay for inspection.
        sim.faults.clear()
        return JSONResponse({"faults": []})
    try:
        fault = parse_fault(await _json_body(request))
    except ApiError as exc:
        return _error(400, exc.message)
    sim.faults.arm(fault)
    return JSONResponse({"armed": fault.describe(), "faults": sim.faults.describe()})


async def reset(request: Request) -> JSONResponse:
    sim = _sim(request)
    sim.store.reset()
    sim.faults.clear()
    sim.calls.clear()
    return JSONResponse({"reset": True})


def routes() -> list[Route]:
    return [
        Route("/_sim/sessions", list_sessions, methods=["GET"]),
        Route("/_sim/sessions/{session_id}", session_detail, methods=["GET"]),
        Route("/_sim/sessions/{session_id}/close", close_session, methods=["POST"]),
        Route("/_sim/sessions/{session_id}/video", pause_video, methods=["POST"]),
        Route("/_sim/calls", calls, methods=["GET"]),
        Route("/_sim/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_sim/reset", reset, methods=["POST"]),
    ]
