"""A local stand-in for the gateway that checks what the real one checks (PROTOCOL §3-§5,
§10, §11): appkey, timestamp window, signature recomputed from the decoded query, envelope,
ReqId format and per-endpoint field names and types. It records every request and frame.

It recomputes signatures itself instead of importing ``tcadh.signing``, so a signing bug
cannot hide behind a matching bug here.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import http
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve
from websockets.http11 import Request, Response

SESSION_MANAGER = "/v2/ivh/sessionmanager/sessionmanagerservice/"
COMMAND_PATH = "/v2/ivh/interactdriver/interactdriverservice/command"
CHANNEL_PATH = "/v2/ws/ivh/interactdriver/interactdriverservice/commandchannel"
UNAUTHORIZED = 100005
INVALID_PARAMETER = 100001
TIMESTAMP_WINDOW = 300
PLAY_SECRET = "SECRET-USERSIG-0123"

_REQ_ID = re.compile(r"^[0-9a-f]{32}$")
_SESSION_OPTIONAL = {"StreamMaxInterval": int, "ProtocolOption": dict, "ExtraInfo": dict}
_CREATE = {"UserId": str, "Protocol": str, "DriverType": int}
# endpoint → (required fields, optional fields); anything else in the Payload is rejected.
ENDPOINTS: dict[str, tuple[dict[str, type], dict[str, type]]] = {
    "createsession": ({"VirtualmanProjectId": str, **_CREATE}, _SESSION_OPTIONAL),
    "createsessionbyasset": (
        {"AssetVirtualmanKey": str, **_CREATE},
        {**_SESSION_OPTIONAL, "SpeechParam": dict, "Backgrounds": list, "Foregrounds": list, "AnchorParam": dict},
    ),
    "statsession": ({"SessionId": str}, {}),
    "startsession": ({"SessionId": str}, {}),
    "closesession": ({"SessionId": str}, {}),
    "listsessionofuin": ({}, {}),
    "listsessionofprojectid": ({"VirtualmanProjectId": str}, {}),
    "listsessionofassetvk": ({"AssetVirtualmanKey": str}, {}),
    "updatesessionconfig": ({"SessionId": str}, {"SpaceParam": dict}),
    "gettrtcsign": ({"SessionId": str, "UserId": str}, {"RoomId": int, "StrRoomId": str}),
    "command": ({"SessionId": str, "Command": str, "Data": dict}, {}),
}


class Rejected(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Recorded:
    endpoint: str
    query: dict[str, str]
    headers: dict[str, str]
    payload: dict[str, Any] = field(default_factory=dict)
    code: int | None = None
    http_status: int = 200


@dataclass
class _Failure:
    remaining: int
    code: int | None
    http_status: int | None
    body: bytes | None


def _has_type(value: Any, kind: type) -> bool:
    # bool is an int subclass in Python but not an int on the wire.
    if kind is int:
        return type(value) is int
    return isinstance(value, kind)


def expected_signature(params: dict[str, str], accesstoken: str) -> str:
    text = "&".join(f"{name}={params[name]}" for name in sorted(params) if name != "signature")
    return base64.b64encode(hmac.new(accesstoken.encode(), text.encode(), hashlib.sha256).digest()).decode()


class FakeGateway:
    def __init__(self, appkey: str = "fake-appkey", accesstoken: str = "fake-accesstoken-7f3a") -> None:
        self.appkey = appkey
        self.accesstoken = accesstoken
        self.requests: list[Recorded] = []
        self.handshakes: list[dict[str, str]] = []
        self.frames: list[dict[str, Any]] = []
        self.create_status = 1
        self.sessions: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(318552187863054171)
        self._failures: list[_Failure] = []
        self._lock = threading.Lock()
        self._connections: set[ServerConnection] = set()
        self._stream_seq: dict[str, int] = {}
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._ws = serve(self._ws_handler, "127.0.0.1", 0, process_request=self._ws_check, compression=None)

    # -- control --------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    @property
    def ws_base_url(self) -> str:
        """An http:// origin whose derived ws:// URL reaches the WebSocket side."""
        return f"http://127.0.0.1:{self._ws.socket.getsockname()[1]}"

    def start(self) -> FakeGateway:
        threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        threading.Thread(target=self._ws.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._ws.shutdown()

    def fail_next(self, count: int, *, code: int | None = None, http_status: int | None = None, body: bytes | None = None) -> None:
        """The next ``count`` valid HTTP calls answer with this Header.Code, HTTP status or raw body."""
        with self._lock:
            self._failures.append(_Failure(count, code, http_status, body))

    def add_session(self, *, status: int = 1, started: bool = True, user_id: str = "u1", project: str = "p1", protocol: str = "webrtc") -> str:
        with self._lock:
            return self._new_session(project=project, asset="", user_id=user_id, protocol=protocol, driver_type=3, status=status, started=started)

    def drop_connections(self) -> None:
        for connection in list(self._connections):
            connection.close()

    def push(self, raw: str) -> None:
        for connection in list(self._connections):
            connection.send(raw)

    def connection_count(self) -> int:
        return len(self._connections)

    def commands(self, command: str) -> list[dict[str, Any]]:
        return [frame for frame in list(self.frames) if frame["Payload"]["Command"] == command]

    @staticmethod
    def wait_for(predicate: Any, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.01)
        return bool(predicate())

    def __enter__(self) -> FakeGateway:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- shared checks --------------------------------------------------------------------

    def _check_query(self, raw_query: str, *, websocket: bool) -> dict[str, str]:
        parsed = parse_qs(raw_query, keep_blank_values=True)
        query = {name: values[-1] for name, values in parsed.items()}
        required = {"appkey", "timestamp", "signature"} | ({"requestid"} if websocket else set())
        missing = required - query.keys()
        if missing:
            raise Rejected(UNAUTHORIZED, f"missing {sorted(missing)}")
        if any(len(values) != 1 for values in parsed.values()):
            raise Rejected(UNAUTHORIZED, "repeated query parameter")
        if query["appkey"] != self.appkey:
            raise Rejected(UNAUTHORIZED, "unknown appkey")
        if not query["timestamp"].isdigit() or abs(time.time() - int(query["timestamp"])) > TIMESTAMP_WINDOW:
            raise Rejected(UNAUTHORIZED, "timestamp outside the allowed window")
        if not hmac.compare_digest(query["signature"], expected_signature(query, self.accesstoken)):
            raise Rejected(UNAUTHORIZED, "signature mismatch")
        return query

    def _new_session(self, **state: Any) -> str:
        session_id = f"m{next(self._ids)}"
        play = ""
        if state["status"] == 1:
            play = f"webrtc://play.fake.local/live/{session_id}?userSig={PLAY_SECRET}&txSecret=abc123"
        self.sessions[session_id] = {**state, "play": play, "close_type": None}
        return session_id

    # -- HTTP -----------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                gateway._serve_post(self)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        return Handler

    def _serve_post(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        endpoint = url.path.removeprefix(SESSION_MANAGER) if url.path.startswith(SESSION_MANAGER) else (
            "command" if url.path == COMMAND_PATH else url.path
        )
        record = Recorded(endpoint, {}, dict(handler.headers.items()))
        with self._lock:
            self.requests.append(record)
        try:
            if endpoint not in ENDPOINTS:
                record.http_status = 404
                return _reply(handler, 404, b"not found")
            record.query = self._check_query(url.query, websocket=False)
            record.payload = self._check_body(endpoint, handler.headers.get("Content-Type", ""), body)
            failure = self._take_failure()
            if failure is not None:
                if failure.http_status is not None:
                    record.http_status = failure.http_status
                    return _reply(handler, failure.http_status, failure.body or b"upstream trouble")
                if failure.body is not None:
                    return _reply(handler, 200, failure.body)
                raise Rejected(failure.code or -101000, "injected failure")
            with self._lock:
                answer = getattr(self, f"_{endpoint}")(record.payload)
            record.code = 0
            _reply_json(handler, 0, "", {"ReqId": record.payload["ReqId"], **answer})
        except Rejected as rejected:
            record.code = rejected.code
            _reply_json(handler, rejected.code, rejected.message, {})

    def _check_body(self, endpoint: str, content_type: str, body: bytes) -> dict[str, Any]:
        if not content_type.startswith("application/json"):
            raise Rejected(INVALID_PARAMETER, "Content-Type must be application/json")
        try:
            envelope = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise Rejected(INVALID_PARAMETER, "body is not JSON") from None
        if not isinstance(envelope, dict) or set(envelope) != {"Header", "Payload"}:
            raise Rejected(INVALID_PARAMETER, "body must be {Header, Payload}")
        header, payload = envelope["Header"], envelope["Payload"]
        if not isinstance(header, dict) or not isinstance(payload, dict):
            raise Rejected(INVALID_PARAMETER, "Header and Payload must be objects")
        if not isinstance(payload.get("ReqId"), str) or not _REQ_ID.match(payload["ReqId"]):
            raise Rejected(INVALID_PARAMETER, "ReqId must be 32 lowercase hex characters")
        required, optional = ENDPOINTS[endpoint]
        for name, kind in required.items():
            if name not in payload or not _has_type(payload[name], kind):
                raise Rejected(INVALID_PARAMETER, f"{name} missing or not {kind.__name__}")
        for name, value in payload.items():
            if name == "ReqId" or name in required:
                continue
            if name not in optional or not _has_type(value, optional[name]):
                raise Rejected(INVALID_PARAMETER, f"unexpected field {name}")
        return payload

    def _take_failure(self) -> _Failure | None:
        with self._lock:
            while self._failures and self._failures[0].remaining <= 0:
                self._failures.pop(0)
            if not self._failures:
                return None
            self._failures[0].remaining -= 1
            return self._failures[0]

    def _session(self, payload: dict[str, Any]) -> dict[str, Any]:
        session = self.sessions.get(payload["SessionId"])
        if session is None:
            raise Rejected(110018, "session does not exist")
        return session

    def _create(self, payload: dict[str, Any], *, project: str, asset: str) -> dict[str, Any]:
        if payload["Protocol"] not in ("rtmp", "trtc", "webrtc") or payload["DriverType"] not in (1, 3):
            raise Rejected(INVALID_PARAMETER, "bad Protocol or DriverType")
        for session in self.sessions.values():
            if session["user_id"] == payload["UserId"] and session["status"] in (1, 3):
                session.update(status=2, close_type=5)
        session_id = self._new_session(
            project=project, asset=asset, user_id=payload["UserId"], protocol=payload["Protocol"],
            driver_type=payload["DriverType"], status=self.create_status, started=False,
        )
        return {"SessionId": session_id, "SessionStatus": self.create_status, "PlayStreamAddr": self.sessions[session_id]["play"]}

    def _createsession(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._create(payload, project=payload["VirtualmanProjectId"], asset="")

    def _createsessionbyasset(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._create(payload, project="", asset=payload["AssetVirtualmanKey"])

    def _statsession(self, payload: dict[str, Any]) -> dict[str, Any]:
        session = self._session(payload)
        answer = {
            "SessionStatus": session["status"], "PlayStreamAddr": session["play"], "SpeakStatus": "TextOver",
            "IsSessionStarted": session["started"], "ErrorCode": 0, "ErrorMessage": "",
        }
        if session["close_type"] is not None:
            answer["CloseType"] = session["close_type"]
        return answer

    def _startsession(self, payload: dict[str, Any]) -> dict[str, Any]:
        session = self._session(payload)
        if session["status"] == 2:
            raise Rejected(110013, "session already closed")
        if session["status"] != 1:
            raise Rejected(110014, "session not ready")
        session["started"] = True
        return {}

    def _closesession(self, payload: dict[str, Any]) -> dict[str, Any]:
        self._session(payload).update(status=2, close_type=1)
        return {}

    def _listed(self, keep: Any) -> dict[str, Any]:
        return {"Sessions": [
            {
                "UserId": s["user_id"], "SessionId": sid, "SessionStatus": s["status"], "PlayStreamAddr": s["play"],
                "DriverType": s["driver_type"], "IsSessionStarted": s["started"], "VirtualmanType": "small_sample_2d",
                "CreateType": 1 if s["asset"] else 0, "VirtualmanKey": s["asset"] or s["project"],
                "AssetVirtualmanKey": s["asset"], "VirtualmanProjectId": s["project"],
            }
            for sid, s in self.sessions.items()
            if s["status"] in (1, 3) and keep(s)
        ]}

    def _listsessionofuin(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._listed(lambda s: True)

    def _listsessionofprojectid(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._listed(lambda s: s["project"] == payload["VirtualmanProjectId"])

    def _listsessionofassetvk(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._listed(lambda s: s["asset"] == payload["AssetVirtualmanKey"])

    def _updatesessionconfig(self, payload: dict[str, Any]) -> dict[str, Any]:
        self._session(payload)
        space = payload.get("SpaceParam", {})
        for name in ("ImagePosition", "ImagePositionVertical", "ImageZoom"):
            if not isinstance(space.get(name), (int, float)):
                raise Rejected(INVALID_PARAMETER, f"SpaceParam.{name} missing")
        if set(space) - {"ImagePosition", "ImagePositionVertical", "ImageZoom", "BackgroundUrl"}:
            raise Rejected(INVALID_PARAMETER, "unexpected SpaceParam field")
        return {}

    def _gettrtcsign(self, payload: dict[str, Any]) -> dict[str, Any]:
        self._session(payload)
        if "RoomId" not in payload and "StrRoomId" not in payload:
            raise Rejected(INVALID_PARAMETER, "RoomId or StrRoomId required")
        return {"UserSig": f"{PLAY_SECRET}-{payload['UserId']}", "PrivateMapKey": "PMK-SECRET"}

    def _command(self, payload: dict[str, Any]) -> dict[str, Any]:
        session = self._session(payload)
        if not session["started"]:
            raise Rejected(110016, "session never started")
        data = payload["Data"]
        if payload["Command"] != "SEND_TEXT" or not isinstance(data.get("Text", ""), str) or len(data.get("Text", "")) > 4000:
            raise Rejected(INVALID_PARAMETER, "bad command")
        return {}

    # -- WebSocket ------------------------------------------------------------------------

    def _ws_check(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        try:
            if url.path != CHANNEL_PATH:
                return connection.respond(http.HTTPStatus.NOT_FOUND, "not found\n")
            query = self._check_query(url.query, websocket=True)
        except Rejected as rejected:
            return connection.respond(http.HTTPStatus.UNAUTHORIZED, f"{rejected.message}\n")
        with self._lock:
            self.handshakes.append(query)
            session = self.sessions.get(query["requestid"])
        if session is None or session["status"] != 1 or not session["started"]:
            return connection.respond(http.HTTPStatus.FORBIDDEN, "session not drivable\n")
        return None

    def _ws_handler(self, connection: ServerConnection) -> None:
        session_id = parse_qs(urlsplit(connection.request.path).query)["requestid"][0]
        self._connections.add(connection)
        try:
            for message in connection:
                reply = self._on_frame(session_id, message)
                for frame in reply:
                    connection.send(json.dumps(frame))
        except ConnectionClosed:
            pass
        finally:
            self._connections.discard(connection)

    def _on_frame(self, session_id: str, message: str | bytes) -> list[dict[str, Any]]:
        try:
            frame = json.loads(message)
            payload = frame["Payload"]
            req_id, data, command = payload["ReqId"], payload["Data"], payload["Command"]
            if set(frame) != {"Header", "Payload"} or not _REQ_ID.match(req_id) or payload["SessionId"] != session_id:
                raise ValueError("bad envelope")
            self._check_command(command, req_id, data)
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            return [_down(session_id, "", code=INVALID_PARAMETER, message=str(exc))]
        with self._lock:
            self.frames.append(frame)
        if command == "SEND_TEXT" and data.get("Text"):
            return [_speak(session_id, req_id, "TextStart"), _speak(session_id, req_id, "TextOver")]
        if command == "SEND_STREAMTEXT" and data.get("IsFinal") and not data.get("Interrupt"):
            return [_speak(session_id, req_id, "TextOver")]
        if command == "SEND_AUDIO" and data.get("IsFinal"):
            return [_speak(session_id, req_id, "AudioOver", FinalType=1)]
        return []

    def _check_command(self, command: str, req_id: str, data: dict[str, Any]) -> None:
        if command == "SEND_HEARTBEAT":
            if data != {"Text": "PING"}:
                raise ValueError("heartbeat Data must be {Text: PING}")
        elif command == "SEND_TEXT":
            if len(data.get("Text", "").encode()) > 4000:
                raise ValueError("text over 4000 bytes")
        elif command in ("SEND_STREAMTEXT", "SEND_AUDIO"):
            expected = self._stream_seq.get(req_id, 0) + 1
            if data.get("Seq") != expected:
                raise ValueError(f"Seq {data.get('Seq')} where {expected} was expected")
            self._stream_seq[req_id] = expected
            if command == "SEND_STREAMTEXT" and len(data.get("Text", "").encode()) > 1000:
                raise ValueError("stream packet over 1000 bytes")
            if command == "SEND_AUDIO":
                audio = base64.b64decode(data["Audio"], validate=True)
                if data.get("IsFinal") and audio:
                    raise ValueError("final audio packet must be empty")
                if not data.get("IsFinal") and (not audio or len(audio) > 5120 or len(audio) % 2):
                    raise ValueError("audio packet must be 2..5120 bytes, even")
        else:
            raise ValueError(f"unknown command {command}")


def _down(session_id: str, req_id: str, *, code: int = 0, message: str = "", **payload: Any) -> dict[str, Any]:
    return {
        "Header": {"Code": code, "Message": message, "RequestID": "fake-request"},
        "Payload": {"SessionId": session_id, "ReqId": req_id, **payload},
    }


def _speak(session_id: str, req_id: str, status: str, **extra: Any) -> dict[str, Any]:
    return _down(session_id, req_id, Type=3, Seq=0, SpeakStatus=status, **extra)


def _reply(handler: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
    handler.send_response(status)
    _reply_tail(handler, body)


def _reply_json(handler: BaseHTTPRequestHandler, code: int, message: str, payload: dict[str, Any]) -> None:
    body = json.dumps({"Header": {"Code": code, "Message": message, "RequestID": f"gw-{code}-{time.monotonic_ns()}"}, "Payload": payload})
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    _reply_tail(handler, body.encode())


def _reply_tail(handler: BaseHTTPRequestHandler, body: bytes) -> None:
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
