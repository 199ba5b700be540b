"""Blocking HTTP client of the session-management and HTTP drive endpoints (PROTOCOL §5, §10)."""
from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

from . import frames
from .channel import CommandChannel
from .errors import HTTP_ERROR, INVALID_RESPONSE, NETWORK_ERROR, TIMEOUT_ERROR, TcadhError
from .models import CreatedSession, ListedSession, SessionState, TrtcSign
from .redact import redact_play_addr
from .signing import signed_query

logger = logging.getLogger("tcadh")

SESSION_MANAGER = "/v2/ivh/sessionmanager/sessionmanagerservice/"
COMMAND_PATH = "/v2/ivh/interactdriver/interactdriverservice/command"
CHANNEL_PATH = "/v2/ws/ivh/interactdriver/interactdriverservice/commandchannel"

PROTOCOLS = frozenset({"rtmp", "trtc", "webrtc"})
DRIVER_TYPES = frozenset({1, 3})
STREAM_MAX_INTERVAL_MS = (2000, 6000)
HTTP_TEXT_MAX_CHARS = 4000

_CONTENT_TYPE = "application/json;charset=utf-8"


class TcadhClient:
    """One account's credentials against one gateway origin.

    Read-only calls (stat, list) are retried on retryable failures; anything that changes
    state or drives the avatar is sent once, because repeating it could create a second
    billed session or speak twice.
    """

    def __init__(
        self,
        base_url: str,
        appkey: str,
        accesstoken: str,
        *,
        timeout: float | tuple[float, float] = (3.05, 10.0),
        http: requests.Session | None = None,
        read_retries: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        scheme = urlsplit(base_url).scheme
        if scheme not in ("http", "https"):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.appkey = appkey
        self._accesstoken = accesstoken
        self._timeout = timeout
        self._http = http or requests.Session()
        self._read_retries = read_retries
        self._backoff = backoff
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"TcadhClient(base_url={self.base_url!r}, appkey={self.appkey!r})"

    # -- sessions ---------------------------------------------------------------------------

    def create_session(
        self,
        *,
        project_id: str,
        user_id: str,
        protocol: str = "webrtc",
        driver_type: int = 1,
        stream_max_interval: int | None = None,
        protocol_option: Mapping[str, Any] | None = None,
        extra_info: Mapping[str, Any] | None = None,
    ) -> CreatedSession:
        payload: dict[str, Any] = {"VirtualmanProjectId": project_id}
        payload.update(_session_options(user_id, protocol, driver_type, stream_max_interval, protocol_option, extra_info))
        return self._created(SESSION_MANAGER + "createsession", payload)

    def create_session_by_asset(
        self,
        *,
        asset_key: str,
        user_id: str,
        protocol: str = "webrtc",
        driver_type: int = 1,
        stream_max_interval: int | None = None,
        protocol_option: Mapping[str, Any] | None = None,
        extra_info: Mapping[str, Any] | None = None,
        speech_param: Mapping[str, Any] | None = None,
        backgrounds: list[Mapping[str, Any]] | None = None,
        foregrounds: list[Mapping[str, Any]] | None = None,
        anchor_param: Mapping[str, Any] | None = None,
    ) -> CreatedSession:
        payload: dict[str, Any] = {"AssetVirtualmanKey": asset_key}
        payload.update(_session_options(user_id, protocol, driver_type, stream_max_interval, protocol_option, extra_info))
        optional = {"SpeechParam": speech_param, "Backgrounds": backgrounds, "Foregrounds": foregrounds, "AnchorParam": anchor_param}
        payload.update({key: value for key, value in optional.items() if value is not None})
        return self._created(SESSION_MANAGER + "createsessionbyasset", payload)

    def stat_session(self, session_id: str) -> SessionState:
        payload = self._post(SESSION_MANAGER + "statsession", {"SessionId": session_id}, idempotent=True)
        return _parsed(SessionState.from_payload, payload)

    def start_session(self, session_id: str) -> None:
        self._post(SESSION_MANAGER + "startsession", {"SessionId": session_id}, idempotent=False)

    def close_session(self, session_id: str) -> None:
        self._post(SESSION_MANAGER + "closesession", {"SessionId": session_id}, idempotent=False)

    def list_sessions_of_uin(self) -> list[ListedSession]:
        return self._listed("listsessionofuin", {})

    def list_sessions_of_project(self, project_id: str) -> list[ListedSession]:
        return self._listed("listsessionofprojectid", {"VirtualmanProjectId": project_id})

    def list_sessions_of_asset(self, asset_key: str) -> list[ListedSession]:
        return self._listed("listsessionofassetvk", {"AssetVirtualmanKey": asset_key})

    def update_session_config(
        self,
        session_id: str,
        *,
        position: float,
        position_vertical: float,
        zoom: float,
        background_url: str | None = None,
    ) -> None:
        if not -0.5 <= position <= 0.5:
            raise ValueError(f"position must be within -0.5..0.5, got {position}")
        if not -0.5 <= position_vertical <= 0.25:
            raise ValueError(f"position_vertical must be within -0.5..0.25, got {position_vertical}")
        if zoom <= 0:
            raise ValueError(f"zoom must be positive, got {zoom}")
        space: dict[str, Any] = {"ImagePosition": position, "ImagePositionVertical": position_vertical, "ImageZoom": zoom}
        if background_url is not None:
            space["BackgroundUrl"] = background_url
        self._post(SESSION_MANAGER + "updatesessionconfig", {"SessionId": session_id, "SpaceParam": space}, idempotent=False)

    def get_trtc_sign(
        self, session_id: str, *, user_id: str, room_id: int | None = None, str_room_id: str | None = None
    ) -> TrtcSign:
        if room_id is None and not str_room_id:
            raise ValueError("get_trtc_sign needs room_id or str_room_id")
        payload: dict[str, Any] = {"SessionId": session_id, "UserId": user_id}
        if room_id is not None:
            payload["RoomId"] = room_id
        if str_room_id:
            payload["StrRoomId"] = str_room_id
        return _parsed(TrtcSign.from_payload, self._post(SESSION_MANAGER + "gettrtcsign", payload, idempotent=False))

    # -- driving ----------------------------------------------------------------------------

    def send_text(self, session_id: str, text: str, *, interrupt: bool = False, use_bot: bool = False) -> str:
        """One-shot SEND_TEXT over HTTP; returns the ReqId. No downstream status comes back."""
        if len(text) > HTTP_TEXT_MAX_CHARS:
            raise ValueError(f"text is {len(text)} characters; the HTTP command allows at most {HTTP_TEXT_MAX_CHARS}")
        req_id = frames.new_req_id()
        payload = {"SessionId": session_id, "Command": frames.SEND_TEXT, "Data": frames.text_data(text, interrupt=interrupt, use_bot=use_bot)}
        self._post(COMMAND_PATH, payload, idempotent=False, req_id=req_id)
        return req_id

    def channel_url(self, session_id: str) -> str:
        """A freshly signed command-channel URL; sign again for every (re)connection."""
        parts = urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        query = signed_query(self.appkey, self._accesstoken, {"requestid": session_id})
        return f"{scheme}://{parts.netloc}{parts.path}{CHANNEL_PATH}?{query}"

    async def open_channel(self, session_id: str, **kw: Any) -> CommandChannel:
        """A connected ``CommandChannel`` (close it with ``aclose()`` or ``async with``); keyword
        arguments go to its constructor."""
        channel = CommandChannel(lambda: self.channel_url(session_id), session_id, **kw)
        try:
            await channel.connect()
        except BaseException:
            await channel.aclose()
            raise
        return channel

    # -- transport --------------------------------------------------------------------------

    def _created(self, path: str, payload: dict[str, Any]) -> CreatedSession:
        req_id = frames.new_req_id()
        answer = self._post(path, payload, idempotent=False, req_id=req_id)
        created = _parsed(lambda p: CreatedSession.from_payload(p, req_id), answer)
        logger.info(
            "session %s created status=%s play=%s",
            created.session_id, created.status.name, redact_play_addr(created.play_stream_addr),
        )
        return created

    def _listed(self, endpoint: str, payload: dict[str, Any]) -> list[ListedSession]:
        answer = self._post(SESSION_MANAGER + endpoint, payload, idempotent=True)
        sessions = answer.get("Sessions") or []
        if not isinstance(sessions, list):
            raise TcadhError(INVALID_RESPONSE, "Sessions is not a list")
        return [_parsed(ListedSession.from_payload, item) for item in sessions]

    def _post(self, path: str, payload: Mapping[str, Any], *, idempotent: bool, req_id: str | None = None) -> dict[str, Any]:
        """POST one envelope and return its ``Payload``; raise ``TcadhError`` unless Header.Code is 0."""
        attempt = 0
        while True:
            try:
                return self._post_once(path, payload, req_id or uuid.uuid4().hex)
            except TcadhError as err:
                if not (idempotent and err.retryable and attempt < self._read_retries):
                    raise
                delay = self._backoff * 2 ** attempt
                attempt += 1
                logger.warning("POST %s failed with %s; retry %d in %.2fs", path, err.code, attempt, delay)
                self._sleep(delay)

    def _post_once(self, path: str, payload: Mapping[str, Any], req_id: str) -> dict[str, Any]:
        # Signed per attempt: the timestamp must stay within the server's 5-minute window.
        url = f"{self.base_url}{path}?{signed_query(self.appkey, self._accesstoken)}"
        body = json.dumps({"Header": {}, "Payload": {"ReqId": req_id, **payload}}, ensure_ascii=False).encode("utf-8")
        started = time.monotonic()
        try:
            response = self._http.post(url, data=body, headers={"Content-Type": _CONTENT_TYPE}, timeout=self._timeout)
        except requests.Timeout:
            # `from None`: the original exception's text carries the signed URL.
            raise self._failed(path, started, TcadhError(TIMEOUT_ERROR, f"timed out calling {path}", retryable=True)) from None
        except requests.RequestException as exc:
            err = TcadhError(NETWORK_ERROR, f"{type(exc).__name__} calling {path}", retryable=True)
            raise self._failed(path, started, err) from None
        status = response.status_code
        if status != 200:
            err = TcadhError(HTTP_ERROR, f"HTTP {status} from {path}", retryable=status >= 500 or status == 429, http_status=status)
            raise self._failed(path, started, err)
        try:
            answer = response.json()
        except ValueError:
            raise self._failed(path, started, TcadhError(INVALID_RESPONSE, f"non-JSON body from {path}", http_status=status)) from None
        header = answer.get("Header") if isinstance(answer, dict) else None
        if not isinstance(header, dict) or not isinstance(header.get("Code"), int):
            raise self._failed(path, started, TcadhError(INVALID_RESPONSE, f"no Header.Code in the answer from {path}", http_status=status))
        request_id = str(header.get("RequestID") or "")
        if header["Code"] != 0:
            err = TcadhError(header["Code"], str(header.get("Message") or ""), request_id, http_status=status)
            raise self._failed(path, started, err)
        logger.info("POST %s code=0 request=%s reqid=%s %.0fms", path, request_id, req_id, _ms(started))
        result = answer.get("Payload")
        return result if isinstance(result, dict) else {}

    @staticmethod
    def _failed(path: str, started: float, err: TcadhError) -> TcadhError:
        logger.warning("POST %s code=%s request=%s %.0fms: %s", path, err.code, err.request_id or "-", _ms(started), err.message)
        return err


def _session_options(
    user_id: str,
    protocol: str,
    driver_type: int,
    stream_max_interval: int | None,
    protocol_option: Mapping[str, Any] | None,
    extra_info: Mapping[str, Any] | None,
) -> dict[str, Any]:
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {sorted(PROTOCOLS)}, got {protocol!r}")
    if driver_type not in DRIVER_TYPES:
        raise ValueError(f"driver_type must be 1 (text) or 3 (audio and text), got {driver_type!r}")
    low, high = STREAM_MAX_INTERVAL_MS
    if stream_max_interval is not None and not low <= stream_max_interval <= high:
        raise ValueError(f"stream_max_interval must be {low}..{high} ms, got {stream_max_interval}")
    if not user_id:
        raise ValueError("user_id must not be empty")
    options: dict[str, Any] = {"UserId": user_id, "Protocol": protocol, "DriverType": driver_type}
    if stream_max_interval is not None:
        options["StreamMaxInterval"] = stream_max_interval
    if protocol_option is not None:
        options["ProtocolOption"] = dict(protocol_option)
    if extra_info is not None:
        options["ExtraInfo"] = dict(extra_info)
    return options


def _parsed(build: Callable[[dict[str, Any]], Any], payload: Any) -> Any:
    if not isinstance(payload, dict):
        raise TcadhError(INVALID_RESPONSE, "expected a JSON object in the answer")
    try:
        return build(payload)
    except (TypeError, ValueError) as exc:
        raise TcadhError(INVALID_RESPONSE, f"unexpected field type in the answer: {exc}") from None


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000
