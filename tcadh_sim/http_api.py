"""The HTTPS endpoints of PROTOCOL.md §10: auth, envelope, validation, and one handler each."""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .auth import AuthError, authenticate
from .commands import SEND_TEXT, parse_command, run_command
from .config import Account
from .errors import SESSION_CLOSED, SESSION_NOT_READY, TOO_FREQUENT, UNAUTHORIZED, ApiError
from .faults import Fault
from .runtime import Simulator, envelope, summarize_data
from .state import CLOSE_BY_OWNER, CLOSED, READY, SHARED_TRTC_APP_ID, Session, SessionStore, Trtc
from .validate import (
    bad,
    opt_bool,
    opt_int,
    opt_list,
    opt_number,
    opt_object,
    opt_str,
    parse_envelope,
    req_int,
    req_str,
)

SESSION_PREFIX = "/v2/ivh/sessionmanager/sessionmanagerservice/"
DRIVER_PREFIX = "/v2/ivh/interactdriver/interactdriverservice/"
CONFIG_PREFIX = "/v2/ivh/virtualmanconfig/virtualmanconfigopen/"
PROTOCOLS = ("rtmp", "trtc", "webrtc")
MAX_TRTC_ROOM = 4294967294


@dataclass
class Call:
    sim: Simulator
    account: Account
    host: str  # the host (and port) play addresses name
    fault: Fault | None

    @property
    def store(self) -> SessionStore:
        return self.sim.store


Handler = Callable[[Call, dict[str, Any]], dict[str, Any]]


def _session_entry(session: Session, host: str) -> dict[str, Any]:
    by_asset = bool(session.asset_key)
    return {
        "UserId": session.user_id,
        "SessionId": session.session_id,
        "SessionStatus": session.status,
        "PlayStreamAddr": session.play_stream_addr(host),
        "DriverType": session.driver_type,
        "IsSessionStarted": session.started,
        "VirtualmanType": "small_sample_2d",
        "CreateType": 1 if by_asset else 0,
        "VirtualmanKey": session.asset_key or session.project_id,
        "AssetVirtualmanKey": session.asset_key,
        "VirtualmanProjectId": session.project_id,
    }


def _trtc(option: dict[str, Any]) -> Trtc:
    where = "ProtocolOption"
    external = opt_bool(option, "TrtcUseExternalApp", where)
    app_id = opt_str(option, "TrtcAppId", where)
    room_id = opt_int(option, "TrtcRoomId", where)
    if room_id is not None and not 1 <= room_id <= MAX_TRTC_ROOM:
        raise bad(f"{where}.TrtcRoomId", f"must be between 1 and {MAX_TRTC_ROOM}")
    str_room = opt_str(option, "TrtcStrRoomId", where)
    auto_type = opt_int(option, "TrtcAutoGenRoomIdType", where) or 0
    if auto_type not in (0, 1):
        raise bad(f"{where}.TrtcAutoGenRoomIdType", "must be 0 (numeric) or 1 (string)")
    user_sig = opt_str(option, "TrtcUserSig", where)
    private_map_key = opt_str(option, "TrtcPrivateMapKey", where)
    room = str(room_id) if room_id is not None else str_room
    if external:
        for name, value in (("TrtcAppId", app_id), ("TrtcUserSig", user_sig), ("TrtcPrivateMapKey", private_map_key)):
            if not value:
                raise bad(f"{where}.{name}", "required with TrtcUseExternalApp")
        if not room:
            raise bad(f"{where}.TrtcRoomId", "TrtcRoomId or TrtcStrRoomId required with TrtcUseExternalApp")
        return Trtc(app_id, room, user_sig, private_map_key, shared_app=False)
    if not room:
        room = f"sim_{secrets.token_hex(6)}" if auto_type == 1 else str(10_000_000 + secrets.randbelow(90_000_000))
    return Trtc(SHARED_TRTC_APP_ID, room, secrets.token_hex(48), secrets.token_hex(16), shared_app=True)


def _create(call: Call, payload: dict[str, Any], *, by_asset: bool) -> dict[str, Any]:
    if "SessionId" in payload:
        raise bad("Payload.SessionId", "assigned by the server; only private deployments may send it")
    key_field = "AssetVirtualmanKey" if by_asset else "VirtualmanProjectId"
    key = req_str(payload, key_field)
    user_id = req_str(payload, "UserId")
    protocol = req_str(payload, "Protocol")
    if protocol not in PROTOCOLS:
        raise bad("Payload.Protocol", f"must be one of {', '.join(PROTOCOLS)} (lower case)")
    driver_type = req_int(payload, "DriverType")
    if driver_type not in (1, 3):
        raise bad("Payload.DriverType", "must be 1 (text) or 3 (audio)")
    interval = opt_int(payload, "StreamMaxInterval")
    if interval is not None and not 2000 <= interval <= 6000:
        raise bad("Payload.StreamMaxInterval", "must be between 2000 and 6000 (ms)")
    opt_int(payload, "Timeout")
    extra = opt_object(payload, "ExtraInfo") or {}
    opt_bool(extra, "AlphaChannelEnable", "ExtraInfo")
    opt_bool(extra, "AlphaPadDisable", "ExtraInfo")
    opt_str(extra, "UserInfo", "ExtraInfo")
    option = opt_object(payload, "ProtocolOption") or {}
    css_url = opt_str(option, "CssCustomPushUrl", "ProtocolOption")
    if css_url and not css_url.startswith("rtmp://"):
        raise bad("ProtocolOption.CssCustomPushUrl", "must be an rtmp:// URL")
    opt_str(option, "RtmpPushAddr", "ProtocolOption")
    trtc = _trtc(option) if protocol == "trtc" else None
    if by_asset:
        opt_object(payload, "SpeechParam")
        opt_object(payload, "AnchorParam")
        layers = 0
        for name in ("Backgrounds", "Foregrounds"):
            items = opt_list(payload, name) or []
            if not all(isinstance(item, dict) for item in items):
                raise bad(f"Payload.{name}", "expected an array of JSON objects")
            layers += len(items)
        if layers > 5:
            raise bad("Payload.Backgrounds", "Backgrounds and Foregrounds together allow at most 5 layers")
    owned = call.account.assets if by_asset else call.account.projects
    if key not in owned:
        raise ApiError(UNAUTHORIZED, f"{key_field} {key} does not belong to this appkey's account")
    session = call.store.create(
        call.account,
        user_id=user_id,
        protocol=protocol,
        driver_type=driver_type,
        project_id="" if by_asset else key,
        asset_key=key if by_asset else "",
        stream_max_interval_ms=interval or 2000,
        trtc=trtc,
        fail=bool(call.fault and call.fault.fail_preparing),
    )
    return {
        "SessionId": session.session_id,
        "SessionStatus": session.status,
        "PlayStreamAddr": session.play_stream_addr(call.host),
    }


def _stat(call: Call, payload: dict[str, Any]) -> dict[str, Any]:
    session = call.store.get(call.account, req_str(payload, "SessionId"))
    return {
        "SessionStatus": session.status,
        "PlayStreamAddr": session.play_stream_addr(call.host),
        "SpeakStatus": session.speak_status,
        "IsSessionStarted": session.started,
        "ErrorCode": session.error_code,
        "ErrorMessage": session.error_message,
        "CloseType": session.close_type,
    }


def _start(call: Call, payload: dict[str, Any]) -> dict[str, Any]:
    call.store.start(call.store.get(call.account, req_str(payload, "SessionId")))
    return {}


def _close(call: Call, payload: dict[str, Any]) -> dict[str, Any]:
    session = call.store.get(call.account, req_str(payload, "SessionId"))
    if session.status == CLOSED:
        if call.sim.config.behaviour.close_closed_session == "error":
            raise ApiError(SESSION_CLOSED, f"session {session.session_id} is already closed")
        return {}
    call.store.close(session, CLOSE_BY_OWNER)
    return {}


def _list_uin(call: Call, payload: dict[str, Any]) -> dict[str, Any]:
    return {"Sessions": [_session_entry(s, call.host) for s in call.store.listed(call.account)]}


def _list_project(call: Call, payload: dict[str, Any]) -> dict[str, Any]:
    project = req_str(payload, "VirtualmanProjectId")
    if project not in call.account.projects:
        raise ApiError(UNAUTHORIZED, f"VirtualmanProjectId {project} does not belong to this appkey's account")
    listed = [s for s in call.store.listed(call.account) if s.project_id == project]
    return {"Sessions": [_session_entry(s, call.host) for s in listed]}


def _list_asset(call: Call, payload: dict[str, Any]) -> dict[str, Any]:
    asset = req_str(payload, "AssetVirtualmanKey")
    if asset not in call.account.assets:
        raise ApiError(UNAUTHORIZED, f"AssetVirtualmanKey {asset} does not belong to this appkey's account")
    listed = [s for s in call.store.listed(call.account) if s.asset_key == asset]
    return {"Sessions": [_session_entry(s, call.host) for s in listed]}


def _list_vk(call: Call, payload: dict[str, Any]) -> dict[str, Any]:
    """Legacy `listsessionofvk` (PROTOCOL.md §10.8, CODE-ONLY), still exported by the Web SDK:
    the sessions whose VirtualmanKey, a project id or an asset key, is the one asked for."""
    key = req_str(payload, "VirtualmanKey")
    if key not in call.account.projects and key not in call.account.assets:
        raise ApiError(UNAUTHORIZED, f"VirtualmanKey {key} does not belong to this appkey's account")
    entries = [_session_entry(s, call.host) for s in call.store.listed(call.account)]
    return {"Sessions": [entry for entry in entries if entry["VirtualmanKey"] == key]}


def _in_range(obj: dict[str, Any], key: str, low: float, high: float, *, required: bool) -> None:
    value = opt_number(obj, key, "SpaceParam")
    if value is None:
        if required:
            raise bad(f"SpaceParam.{key}", "required")
        return
    if not low <= value <= high:
        raise bad(f"SpaceParam.{key}", f"must be between {low:g} and {high:g}")


def _update_config(call: Call, payload: dict[str, Any]) -> dict[str, Any]:
    session = call.store.get(call.account, req_str(payload, "SessionId"))
    space = opt_object(payload, "SpaceParam")
    if space is not None:
        url = opt_str(space, "BackgroundUrl", "SpaceParam")
        if url and not url.startswith(("http://", "https://")):
            raise bad("SpaceParam.BackgroundUrl", "must be an http(s) URL of a jpg/jpeg/png picture")
        _in_range(space, "ImagePosition", -0.5, 0.5, required=True)
        _in_range(space, "ImagePositionVertical", -0.5, 0.25, required=True)
        _in_range(space, "ImageZoom", 0.25, 2.0, required=True)
    image = opt_object(payload, "ImageParam")
    if image is not None:
        opt_number(image, "ImageVerticalOffset", "ImageParam")
        opt_number(image, "ImageHorizontalOffset", "ImageParam")
    if session.status == CLOSED:
        raise ApiError(SESSION_CLOSED, f"session {session.session_id} is closed")
    if session.status != READY:
        raise ApiError(SESSION_NOT_READY, f"session {session.session_id} is not ready")
    now = call.sim.clock.monotonic()
    interval = call.sim.config.behaviour.updatesessionconfig_interval_seconds
    if session.last_config_update_at is not None and now - session.last_config_update_at < interval:
        raise ApiError(TOO_FREQUENT, f"updatesessionconfig at most once every {interval:g} s per session")
    session.last_config_update_at = now
    return {}


def _trtc_sign(call: Call, payload: dict[str, Any]) -> dict[str, Any]:
    session = call.store.get(call.account, req_str(payload, "SessionId"))
    room_id = opt_int(payload, "RoomId")
    str_room = opt_str(payload, "StrRoomId")
    if room_id is None and not str_room:
        raise bad("Payload.RoomId", "RoomId or StrRoomId required")
    user_id = req_str(payload, "UserId")
    if session.trtc is None or not session.trtc.shared_app:
        raise bad("Payload.SessionId", "gettrtcsign applies only to trtc sessions on the shared TRTC app")
    if session.status == CLOSED:
        raise ApiError(SESSION_CLOSED, f"session {session.session_id} is closed")
    if session.status != READY:
        raise ApiError(SESSION_NOT_READY, f"session {session.session_id} is not ready")
    room = str(room_id) if room_id is not None else str_room
    if room != session.trtc.room:
        raise bad("Payload.RoomId" if room_id is not None else "Payload.StrRoomId", "is not this session's room")
    if user_id == session.user_id:
        raise bad("Payload.UserId", "must differ from the session's UserId, which the avatar uses in the room")
    return {"UserSig": secrets.token_hex(48), "PrivateMapKey": secrets.token_hex(16)}


def _command(call: Call, payload: dict[str, Any]) -> dict[str, Any]:
    command = parse_command(payload, (SEND_TEXT,))
    session = call.store.get(call.account, command.session_id)
    frame: dict[str, Any] = {
        "t": call.sim.clock.monotonic(),
        "via": "http",
        "command": command.name,
        "req_id": command.req_id,
        "data": summarize_data(command.data),
        "code": 0,
    }
    session.frames.append(frame)
    try:
        run_command(call.store, session, command, over_http=True)
    except ApiError as exc:
        frame["code"] = exc.code
        raise
    return {}


def _action_config(call: Call, payload: dict[str, Any]) -> dict[str, Any]:
    """PROTOCOL.md §10.12 (CODE-ONLY): the Web SDK demo asks for the project's action
    configuration at start-up, without a ReqId, and cannot start unless Header.Code is 0 and
    Payload.InteractContent is a string ("" when the project has none)."""
    project = req_str(payload, "VirtualmanKey")
    opt_str(payload, "Type")
    opt_str(payload, "Reply")
    if project not in call.account.projects:
        raise ApiError(UNAUTHORIZED, f"VirtualmanKey {project} does not belong to this appkey's account")
    return {"InteractContent": call.account.interact_content_of(project)}


def _create_by_project(call: Call, payload: dict[str, Any]) -> dict[str, Any]:
    return _create(call, payload, by_asset=False)


def _create_by_asset(call: Call, payload: dict[str, Any]) -> dict[str, Any]:
    return _create(call, payload, by_asset=True)


ENDPOINTS: dict[str, tuple[str, Handler]] = {
    CONFIG_PREFIX + "describeactionconfigcommanddetail": ("describeactionconfigcommanddetail", _action_config),
    SESSION_PREFIX + "createsession": ("createsession", _create_by_project),
    SESSION_PREFIX + "createsessionbyasset": ("createsessionbyasset", _create_by_asset),
    SESSION_PREFIX + "statsession": ("statsession", _stat),
    SESSION_PREFIX + "startsession": ("startsession", _start),
    SESSION_PREFIX + "closesession": ("closesession", _close),
    SESSION_PREFIX + "listsessionofuin": ("listsessionofuin", _list_uin),
    SESSION_PREFIX + "listsessionofprojectid": ("listsessionofprojectid", _list_project),
    SESSION_PREFIX + "listsessionofassetvk": ("listsessionofassetvk", _list_asset),
    SESSION_PREFIX + "listsessionofvk": ("listsessionofvk", _list_vk),
    SESSION_PREFIX + "updatesessionconfig": ("updatesessionconfig", _update_config),
    SESSION_PREFIX + "gettrtcsign": ("gettrtcsign", _trtc_sign),
    DRIVER_PREFIX + "command": ("command", _command),
}
# Endpoints whose callers send no ReqId; it is echoed when given all the same.
WITHOUT_REQ_ID = {"describeactionconfigcommanddetail"}


def _endpoint(name: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        sim: Simulator = request.app.state.sim
        fault = sim.faults.take(name)
        if fault is not None:
            if fault.delay_seconds:
                # The cloud has the whole request before it is slow to answer, so a caller that
                # stops waiting does not undo the call (a late createsession still creates).
                await request.body()
                await asyncio.sleep(fault.delay_seconds)
            if fault.http_status:
                sim.record_call(name, 0, fault.http_status)
                return PlainTextResponse("simulated gateway failure", status_code=fault.http_status)
            if fault.malformed:
                sim.record_call(name, 0)
                return Response('{"Header": {"Code": 0, "Mess', media_type="application/json")
        req_id = ""
        try:
            if fault is not None and fault.code:
                raise ApiError(fault.code, "simulated fault")
            try:
                auth = authenticate(
                    request.scope["query_string"].decode("latin-1"), sim.config, sim.clock.wall()
                )
            except AuthError as exc:
                raise ApiError(sim.config.behaviour.auth_error_code, f"authentication failed: {exc}") from None
            try:
                body = json.loads(await request.body())
            except (ValueError, UnicodeDecodeError):
                raise bad("body", "not valid JSON") from None
            payload = parse_envelope(body)
            if name in WITHOUT_REQ_ID:
                req_id = opt_str(payload, "ReqId")
            else:
                req_id = req_str(payload, "ReqId")
            play_host = sim.config.play.domain or request.headers.get("host", "127.0.0.1")
            call = Call(sim, auth.account, play_host, fault)
            result = {**({"ReqId": req_id} if req_id else {}), **handler(call, payload)}
        except ApiError as exc:
            sim.record_call(name, exc.code)
            return JSONResponse(envelope(exc.code, exc.message, {"ReqId": req_id} if req_id else {}))
        sim.record_call(name, 0)
        return JSONResponse(envelope(0, "", result))

    return endpoint


def routes() -> list[Route]:
    return [Route(path, _endpoint(name, handler), methods=["POST"]) for path, (name, handler) in ENDPOINTS.items()]
