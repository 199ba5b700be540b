"""Test-side client of the simulator: its own signing (not tcadh/), HTTP calls, sockets, and an
in-thread uvicorn server running the real app."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
import urllib.parse
import uuid
from typing import Any, Callable

import requests
import uvicorn
import websocket

from tcadh_sim import create_app
from tcadh_sim.config import DEMO_ACCOUNT, SimConfig

SESSION_API = "/v2/ivh/sessionmanager/sessionmanagerservice/"
COMMAND_API = "/v2/ivh/interactdriver/interactdriverservice/command"
CHANNEL = "/v2/ws/ivh/interactdriver/interactdriverservice/commandchannel"
PROJECT = DEMO_ACCOUNT.projects[0]
ASSET = DEMO_ACCOUNT.assets[0]


def sign(params: dict[str, str], accesstoken: str) -> str:
    text = "&".join(f"{k}={params[k]}" for k in sorted(params))
    return base64.b64encode(hmac.new(accesstoken.encode(), text.encode(), hashlib.sha256).digest()).decode()


def signed_query(
    appkey: str, accesstoken: str, extra: dict[str, str] | None = None, ts: int | None = None, *, escape: bool = True
) -> str:
    params = {"appkey": appkey, "timestamp": str(int(time.time()) if ts is None else ts), **(extra or {})}
    signature = sign(params, accesstoken)
    encoded = urllib.parse.quote(signature, safe="") if escape else signature
    return "&".join(f"{k}={v}" for k, v in params.items()) + "&signature=" + encoded


def new_req_id() -> str:
    return uuid.uuid4().hex


class RecordingHub:
    """TEST DOUBLE for the media seam only: records what the core asks of the video hub, then
    forwards every call to the real StreamHub (or drops it when `inner` is None)."""

    def __init__(self, inner: Any = None) -> None:
        self.inner = inner
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def _note(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))

    def open(self, session_id: str, *, label: str) -> None:
        self._note("open", session_id, label)
        if self.inner is not None:
            self.inner.open(session_id, label=label)

    def close(self, session_id: str) -> None:
        self._note("close", session_id)
        if self.inner is not None:
            self.inner.close(session_id)

    def say(self, session_id: str, text: str, duration_s: float) -> None:
        self._note("say", session_id, text, duration_s)
        if self.inner is not None:
            self.inner.say(session_id, text, duration_s)

    def push_audio(self, session_id: str, pcm: bytes) -> None:
        self._note("push_audio", session_id, len(pcm))
        if self.inner is not None:
            self.inner.push_audio(session_id, pcm)

    def stop_speaking(self, session_id: str) -> None:
        self._note("stop_speaking", session_id)
        if self.inner is not None:
            self.inner.stop_speaking(session_id)

    def pause_video(self, session_id: str, *, paused: bool) -> bool:
        self._note("pause_video", session_id, paused)
        return self.inner is not None and self.inner.pause_video(session_id, paused=paused)

    def flv_response(self, session_id: str) -> Any:
        if self.inner is not None:
            return self.inner.flv_response(session_id)
        from starlette.responses import Response

        return Response(status_code=404)

    async def hls_playlist(self, session_id: str) -> Any:
        if self.inner is not None:
            return await self.inner.hls_playlist(session_id)
        from starlette.responses import Response

        return Response(status_code=404)

    def hls_segment(self, session_id: str, name: str) -> Any:
        if self.inner is not None:
            return self.inner.hls_segment(session_id, name)
        from starlette.responses import Response

        return Response(status_code=404)

    async def aclose(self) -> None:
        if self.inner is not None:
            await self.inner.aclose()

    def named(self, name: str) -> list[tuple[Any, ...]]:
        return [args for n, args in list(self.calls) if n == name]


def _real_hub() -> Any:
    try:
        from tcadh_sim.media import StreamHub
    except ImportError:
        return None
    return StreamHub(width=640, height=360, fps=15)


class ServerThread:
    """The real simulator app under uvicorn on a free 127.0.0.1 port, in a background thread."""

    def __init__(self, config: SimConfig, clock: Any = None) -> None:
        self.config = config
        self.hub = RecordingHub(_real_hub())
        self.app = create_app(config, hub=self.hub, clock=clock)
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    def start(self) -> "ServerThread":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("simulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self._sock.close()

    def client(self, appkey: str = DEMO_ACCOUNT.appkey, accesstoken: str = DEMO_ACCOUNT.accesstoken) -> "SimClient":
        return SimClient(self.base_url, appkey, accesstoken)

    def control(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, f"{self.base_url}/_sim/{path}", timeout=5, **kwargs)


class SimClient:
    def __init__(self, base_url: str, appkey: str, accesstoken: str) -> None:
        self.base_url = base_url
        self.appkey = appkey
        self.accesstoken = accesstoken

    def post_raw(self, path: str, body: Any, *, query: str | None = None) -> requests.Response:
        query = query if query is not None else signed_query(self.appkey, self.accesstoken)
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return requests.post(
            f"{self.base_url}{path}?{query}",
            data=data,
            headers={"Content-Type": "application/json;charset=utf-8"},
            timeout=10,
        )

    def call(self, endpoint: str, **payload: Any) -> dict[str, Any]:
        payload.setdefault("ReqId", new_req_id())
        path = COMMAND_API if endpoint == "command" else SESSION_API + endpoint
        response = self.post_raw(path, {"Header": {}, "Payload": payload})
        assert response.status_code == 200, response.text
        return response.json()

    def ok(self, endpoint: str, **payload: Any) -> dict[str, Any]:
        body = self.call(endpoint, **payload)
        assert body["Header"]["Code"] == 0, body
        return body["Payload"]

    def code(self, endpoint: str, **payload: Any) -> int:
        return self.call(endpoint, **payload)["Header"]["Code"]

    def create(self, user_id: str | None = None, *, protocol: str = "webrtc", driver_type: int = 3, **extra: Any) -> str:
        payload = self.ok(
            "createsession",
            VirtualmanProjectId=PROJECT,
            UserId=user_id or f"user-{uuid.uuid4().hex[:8]}",
            Protocol=protocol,
            DriverType=driver_type,
            **extra,
        )
        return payload["SessionId"]

    def started_session(self, **kwargs: Any) -> str:
        session_id = self.create(**kwargs)
        self.ok("startsession", SessionId=session_id)
        return session_id

    def ws_url(self, session_id: str, *, ts: int | None = None) -> str:
        query = signed_query(self.appkey, self.accesstoken, {"requestid": session_id}, ts)
        return f"ws://{self.base_url.removeprefix('http://')}{CHANNEL}?{query}"

    def connect(self, session_id: str) -> "Socket":
        return Socket(websocket.create_connection(self.ws_url(session_id), timeout=5), session_id)


class Socket:
    """A command-channel socket with frame helpers."""

    def __init__(self, ws: websocket.WebSocket, session_id: str) -> None:
        self.ws = ws
        self.session_id = session_id
        self.seen: list[dict[str, Any]] = []  # every frame received, in order

    def send(self, command: str, data: dict[str, Any] | None, req_id: str | None = None) -> str:
        req_id = req_id or new_req_id()
        payload: dict[str, Any] = {"ReqId": req_id, "SessionId": self.session_id, "Command": command}
        if data is not None:
            payload["Data"] = data
        self.ws.send(json.dumps({"Header": {}, "Payload": payload}))
        return req_id

    def text(self, text: str, **data: Any) -> str:
        return self.send("SEND_TEXT", {"Text": text, "ChatCommand": "NotUseChat", **data})

    def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        self.ws.settimeout(timeout)
        frame = json.loads(self.ws.recv())
        self.seen.append(frame)
        return frame

    def until(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> list[dict[str, Any]]:
        """Frames received up to and including the first one matching `predicate`."""
        frames = []
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching frame within {timeout} s; got {frames}")
            frame = self.recv(remaining)
            frames.append(frame)
            if predicate(frame):
                return frames

    def error(self, timeout: float = 5.0) -> dict[str, Any]:
        return self.until(lambda f: f["Header"]["Code"] != 0, timeout)[-1]

    def closed(self, timeout: float = 5.0) -> bool:
        """True once the server has closed the socket (frames before the close are skipped)."""
        self.ws.settimeout(timeout)
        try:
            while True:
                opcode, _ = self.ws.recv_data(control_frame=True)
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    return True
        except websocket.WebSocketConnectionClosedException:
            return True
        except websocket.WebSocketTimeoutException:
            return False

    def close(self) -> None:
        self.ws.close()


def statuses(frames: list[dict[str, Any]], req_id: str | None = None, *, waiting: bool = False) -> list[str]:
    """The speak statuses among `frames`; the Waiting* ones only with `waiting`."""
    return [
        f["Payload"]["SpeakStatus"]
        for f in frames
        if f["Header"]["Code"] == 0 and f["Payload"].get("Type") == 3 and (req_id is None or f["Payload"]["ReqId"] == req_id)
        and (waiting or not f["Payload"]["SpeakStatus"].startswith("Waiting"))
    ]


def is_status(status: str, req_id: str | None = None) -> Callable[[dict[str, Any]], bool]:
    def match(frame: dict[str, Any]) -> bool:
        payload = frame.get("Payload", {})
        return payload.get("SpeakStatus") == status and (req_id is None or payload.get("ReqId") == req_id)

    return match


def eventually(predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll until `predicate()` is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)
