"""Sessions, their lifecycle (preparing → ready → started → closed) and per-appkey concurrency."""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

from .clock import Clock
from .config import Account, SimConfig
from .errors import (
    CONCURRENCY_EXCEEDED,
    SAME_USER_REPLACED,
    SESSION_CLOSED,
    SESSION_NOT_READY,
    SESSION_NOT_STARTED,
    SESSION_UNKNOWN,
    TOO_FREQUENT,
    ApiError,
)
from .speech import Speaker

READY, CLOSED, PREPARING, FAILED = 1, 2, 3, 4

CLOSE_BY_OWNER, CLOSE_IDLE, CLOSE_DOWNSTREAM_EXIT, CLOSE_RESTART, CLOSE_SAME_USER = 1, 2, 3, 4, 5

# The platform's shared TRTC application in the simulated cloud.
SHARED_TRTC_APP_ID = "1400000000"

REPLAYED_DRIVES = 3


class MediaHub(Protocol):
    def open(self, session_id: str, *, label: str) -> None: ...
    def close(self, session_id: str) -> None: ...
    def say(self, session_id: str, text: str, duration_s: float) -> None: ...
    def push_audio(self, session_id: str, pcm: bytes) -> None: ...
    def stop_speaking(self, session_id: str) -> None: ...


class Channel(Protocol):
    """The session's open command channel, as the session sees it."""

    def send_event(self, payload: dict[str, Any]) -> None: ...
    def close(self, *, error_code: int | None = None, message: str = "") -> None: ...


@dataclass
class Trtc:
    app_id: str
    room: str
    user_sig: str
    private_map_key: str
    shared_app: bool


@dataclass
class Drive:
    req_id: str
    statuses: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Session:
    session_id: str
    account: Account
    user_id: str
    protocol: str
    driver_type: int
    project_id: str
    asset_key: str
    stream_max_interval_ms: int
    created_at: float
    trtc: Trtc | None = None
    status: int = PREPARING
    started: bool = False
    close_type: int = 0
    error_code: int = 0
    error_message: str = ""
    speak_status: str = "Initial"
    last_activity: float = 0.0
    last_text_at: float | None = None
    last_config_update_at: float | None = None
    frames: list[dict[str, Any]] = field(default_factory=list)
    sent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=500))
    drives: deque[Drive] = field(default_factory=lambda: deque(maxlen=REPLAYED_DRIVES))
    channel: Channel | None = None
    speaker: Speaker | None = None
    hub_open: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def has_bot(self) -> bool:
        return bool(self.project_id) and self.project_id in self.account.bot_projects

    def play_stream_addr(self, host: str) -> str:
        """Valid only while ready. rtmp:// and webrtc:// name `host`, the play domain, in the real
        shape `<scheme>://<host>/live/<SessionId>` (PROTOCOL.md §8); the simulator serves no RTMP
        or WebRTC, only their HTTP twins `/live/<SessionId>.flv` and `.m3u8`, as Tencent's
        players derive them (scheme to http(s), extension before the query)."""
        if self.status != READY:
            return ""
        if self.protocol == "trtc" and self.trtc is not None:
            return (
                f"trtc://{quote(self.trtc.room, safe='')}?appId={self.trtc.app_id}"
                f"&userSig={quote(self.trtc.user_sig, safe='')}"
                f"&privateMapKey={quote(self.trtc.private_map_key, safe='')}"
                f"&virtualManUserId={quote(self.user_id, safe='')}"
            )
        return f"{self.protocol}://{host}/live/{self.session_id}"

    def require_drivable(self) -> None:
        if self.status == CLOSED:
            raise ApiError(SESSION_CLOSED, f"session {self.session_id} is closed")
        if self.status != READY:
            raise ApiError(SESSION_NOT_READY, f"session {self.session_id} is not ready")
        if not self.started:
            raise ApiError(SESSION_NOT_STARTED, f"session {self.session_id} was never started (call startsession)")

    def check_text_spacing(self, now: float, interval: float) -> None:
        if self.last_text_at is not None and now - self.last_text_at < interval:
            raise ApiError(TOO_FREQUENT, f"SEND_TEXT more often than once every {interval:g} s")

    def emit(self, payload: dict[str, Any]) -> None:
        """Record a downstream event and deliver it if a channel is open."""
        self.sent.append(payload)
        if payload.get("Type") == 3:
            self.speak_status = payload["SpeakStatus"]
            drive = next((d for d in self.drives if d.req_id == payload["ReqId"]), None)
            if drive is None:
                drive = Drive(payload["ReqId"])
                self.drives.append(drive)
            drive.statuses.append(payload)
        if self.channel is not None:
            self.channel.send_event(payload)

    def replay(self) -> list[dict[str, Any]]:
        """Speak statuses of the last drives, re-sent to a reconnecting channel."""
        return [status for drive in self.drives for status in drive.statuses]


def new_session_id() -> str:
    return f"m{secrets.randbelow(9 * 10**17) + 10**17}"


class SessionStore:
    def __init__(self, config: SimConfig, hub: MediaHub, clock: Clock) -> None:
        self.config = config
        self.hub = hub
        self.clock = clock
        self.sessions: dict[str, Session] = {}

    def live(self, account: Account) -> list[Session]:
        return [s for s in self.sessions.values() if s.account is account and s.status in (READY, PREPARING)]

    def listed(self, account: Account) -> list[Session]:
        shown = (READY, PREPARING) if self.config.behaviour.include_preparing_in_lists else (READY,)
        return [s for s in self.sessions.values() if s.account is account and s.status in shown]

    def get(self, account: Account, session_id: str) -> Session:
        session = self.sessions.get(session_id)
        if session is None or session.account is not account:
            raise ApiError(SESSION_UNKNOWN, f"session {session_id} does not exist")
        return session

    def create(
        self,
        account: Account,
        *,
        user_id: str,
        protocol: str,
        driver_type: int,
        project_id: str = "",
        asset_key: str = "",
        stream_max_interval_ms: int = 2000,
        trtc: Trtc | None = None,
        fail: bool = False,
    ) -> Session:
        """`fail` (a `fail_preparing` fault) makes the session end in status 4 instead of 1."""
        live = self.live(account)
        previous = [s for s in live if s.user_id == user_id]
        # The same-UserId session is about to be replaced, so its slot does not count.
        if len(live) - len(previous) >= account.concurrency:
            raise ApiError(CONCURRENCY_EXCEEDED, f"concurrency limit of {account.concurrency} reached for this appkey")
        for old in previous:
            self.close(old, CLOSE_SAME_USER, error=(SAME_USER_REPLACED, "a new session was created with the same UserId"))
        session_id = new_session_id()
        while session_id in self.sessions:
            session_id = new_session_id()
        now = self.clock.monotonic()
        session = Session(
            session_id=session_id,
            account=account,
            user_id=user_id,
            protocol=protocol,
            driver_type=driver_type,
            project_id=project_id,
            asset_key=asset_key,
            stream_max_interval_ms=stream_max_interval_ms,
            created_at=now,
            last_activity=now,
            trtc=trtc,
        )
        session.speaker = Speaker(
            session_id,
            self.hub,
            self.config.behaviour,
            stream_max_interval_ms / 1000,
            session.emit,
            self.clock.monotonic,
        )
        self.sessions[session_id] = session
        loop = asyncio.get_running_loop()
        if self.config.timing.prepare_seconds <= 0 and not fail:
            self._become_ready(session)
        else:
            session.tasks.append(loop.create_task(self._prepare(session, fail)))
        session.tasks.append(loop.create_task(self._watch_idle(session)))
        return session

    def start(self, session: Session) -> None:
        if session.status == CLOSED:
            raise ApiError(SESSION_CLOSED, f"session {session.session_id} is closed")
        if session.status != READY:
            raise ApiError(SESSION_NOT_READY, f"session {session.session_id} is not ready")
        session.started = True

    def touch(self, session: Session) -> None:
        """A drive or heartbeat: pushes back the idle close of the session."""
        session.last_activity = self.clock.monotonic()

    def close(self, session: Session, close_type: int, *, error: tuple[int, str] | None = None) -> None:
        if session.status == CLOSED:
            return
        session.status = CLOSED
        session.close_type = close_type
        current = asyncio.current_task()
        for task in session.tasks:
            if task is not current:
                task.cancel()
        session.tasks.clear()
        if session.speaker is not None:
            session.speaker.shutdown()
        if session.hub_open:
            self.hub.close(session.session_id)
            session.hub_open = False
        if session.channel is not None:
            channel, session.channel = session.channel, None
            if error is None:
                channel.close()
            else:
                channel.close(error_code=error[0], message=error[1])

    def reset(self) -> None:
        for session in list(self.sessions.values()):
            self.close(session, CLOSE_RESTART)
        self.sessions.clear()

    def _become_ready(self, session: Session) -> None:
        session.status = READY
        self.hub.open(session.session_id, label=session.user_id)
        session.hub_open = True

    async def _prepare(self, session: Session, fail: bool) -> None:
        await asyncio.sleep(self.config.timing.prepare_seconds)
        if session.status != PREPARING:
            return
        if fail:
            session.status = FAILED
            session.error_code = -111004
            session.error_message = "internal stream-creation timeout"
        else:
            self._become_ready(session)

    async def _watch_idle(self, session: Session) -> None:
        limit = self.config.timing.session_idle_close_seconds
        while session.status in (READY, PREPARING):
            remaining = session.last_activity + limit - self.clock.monotonic()
            if remaining <= 0:
                self.close(session, CLOSE_IDLE)
                return
            await asyncio.sleep(remaining)
