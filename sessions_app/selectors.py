"""Read-side queries and the browser-safe shapes of rows."""

from urllib.parse import parse_qs, urlsplit, urlunsplit

from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from .models import LiveSession, SessionEvent, Utterance


def sessions_live() -> QuerySet[LiveSession]:
    return (
        LiveSession.objects.filter(status__in=LiveSession.LIVE_STATUSES + (LiveSession.Status.CLOSING,))
        .select_related("account", "project", "asset", "created_by")
        .order_by("-created_at")
    )


def sessions_awaiting_cloud_close() -> QuerySet[LiveSession]:
    """Ended here, still owed the cloud's confirmation: possibly still billed. A `closing` row
    counts once a close attempt failed (before that it is only being closed)."""
    Status = LiveSession.Status
    return (
        LiveSession.objects.filter(cloud_closed_at__isnull=True)
        .filter(Q(status__in=(Status.CLOSED, Status.FAILED)) | Q(status=Status.CLOSING, close_attempts__gt=1)
                | Q(status=Status.CLOSING, error_message__startswith="closing:"))
        .select_related("account", "project", "asset")
        .order_by("-created_at")
    )


def sessions_recent(*, limit: int = 20) -> QuerySet[LiveSession]:
    return (
        LiveSession.objects.exclude(status__in=LiveSession.LIVE_STATUSES + (LiveSession.Status.CLOSING,))
        .select_related("account", "project", "asset", "created_by")
        .order_by("-created_at")[:limit]
    )


# What the avatar says about each utterance belongs to the transcript, where it is shown beside
# the utterance; the history keeps the session's own course (status changes, notes, errors) readable.
TRANSCRIPT_KINDS = (SessionEvent.Kind.SPEAK, SessionEvent.Kind.LLM)


def session_history(*, session: LiveSession) -> QuerySet[SessionEvent]:
    return session.events.exclude(kind__in=TRANSCRIPT_KINDS).order_by("created_at", "id")


def session_utterances(*, session: LiveSession) -> QuerySet[Utterance]:
    return session.utterances.select_related("created_by").order_by("created_at", "id")


# The avatar's speak statuses shown beside an utterance, as the chat box shows them live.
SPEAK_TRAIL = {"TextStart", "TextOver", "AudioStart", "AudioOver", "Error"}


def session_transcript(*, session: LiveSession, last: int | None = None) -> list[dict]:
    """The conversation as the chat box showed it, for a page opened later: each utterance with the
    avatar's speak statuses, the bound bot's answers and the errors, in the order they came; with
    `last`, from the last that many utterances on.

    Entries: {"kind": "utterance", "utterance", "text", "trail": [statuses]}, {"kind": "bot",
    "req_id", "text"} and {"kind": "problem", "text"}, each with "at"."""
    utterances = session_utterances(session=session)
    if last is not None:
        utterances = list(utterances.reverse()[:last])[::-1]
    entries: list[dict] = []
    trails: dict[str, list[str]] = {}
    for utterance in utterances:
        trails[utterance.req_id] = []
        # Audio is 16 kHz 16-bit mono: 32000 bytes a second (transcript.js labels it the same way).
        text = utterance.text or f"(audio, {utterance.audio_bytes / 32000:.1f} s)"
        entries.append({"kind": "utterance", "utterance": utterance, "text": text,
                        "trail": trails[utterance.req_id], "at": utterance.created_at})
    events = session.events.filter(kind__in=TRANSCRIPT_KINDS + (SessionEvent.Kind.ERROR,))
    if last is not None and entries:
        # What the avatar said about an utterance is written after it.
        events = events.filter(created_at__gte=entries[0]["at"])
    answers: dict[str, dict] = {}
    for event in events.order_by("created_at", "id"):
        req_id = event.data.get("req_id") or ""
        if event.kind == SessionEvent.Kind.SPEAK:
            status = event.data.get("speak_status")
            if req_id in trails and status in SPEAK_TRAIL:
                trails[req_id].append(status)
        elif event.kind == SessionEvent.Kind.LLM:
            if req_id not in answers:
                answers[req_id] = {"kind": "bot", "req_id": req_id, "text": "", "at": event.created_at}
                entries.append(answers[req_id])
            answers[req_id]["text"] += event.message
        else:
            entries.append({"kind": "problem", "text": event.message, "at": event.created_at})
    # Stable: an utterance stays before the answer and the errors that followed it.
    return sorted(entries, key=lambda entry: entry["at"])


def transcript_text(entries: list[dict]) -> str:
    """The transcript as a text file: one line per entry, "[when] who: text (state, start latency)"."""
    lines = []
    for entry in entries:
        when = timezone.localtime(entry["at"]).strftime("%Y-%m-%d %H:%M:%S")
        if entry["kind"] == "utterance":
            utterance = entry["utterance"]
            who = utterance.created_by.get_username() if utterance.created_by else "console"
            trail = f" [{' → '.join(entry['trail'])}]" if entry["trail"] else ""
            started = f", started speaking after {utterance.start_ms} ms" if utterance.start_ms is not None else ""
            lines.append(f"[{when}] {who}: {entry['text']} ({utterance.state}{started}){trail}")
        elif entry["kind"] == "bot":
            lines.append(f"[{when}] avatar (bot): {entry['text']}")
        else:
            lines.append(f"[{when}] console: {entry['text']}")
    return "".join(f"{line}\n" for line in lines)


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def session_summary(session: LiveSession) -> dict:
    """What a page may know about a session: never the play address or any credential."""
    return {
        "id": session.pk,
        "session_id": session.cloud_session_id,
        "status": session.status,
        "speak_status": session.speak_status,
        "source": session.source_english,
        "account": session.account.name,
        "creator": session.created_by.get_username() if session.created_by else "",
        "protocol": session.protocol,
        "driver_type": session.driver_type,
        "is_orphan": session.is_orphan,
        "created_at": _iso(session.created_at),
        "ready_at": _iso(session.ready_at),
        "started_at": _iso(session.started_at),
        "closed_at": _iso(session.closed_at),
        "close_reason": session.close_reason,
        "error": session.error_message,
        "url": reverse("session_detail", args=[session.pk]),
    }


def event_summary(event: SessionEvent) -> dict:
    return {
        "id": event.pk,
        "kind": event.kind,
        "message": event.message,
        "data": event.data,
        "at": _iso(event.created_at),
    }


def session_cap_warning(session: LiveSession) -> dict | None:
    """The daily cap's warning to a live session about to be closed by it (`budget_sweep`), as
    its pages show it on arrival; None when none stands."""
    if session.cap_warned_at is None or session.status not in LiveSession.LIVE_STATUSES:
        return None
    event = session.events.filter(kind=SessionEvent.Kind.NOTE, data__cap_warning=True).order_by("-id").first()
    return event_summary(event) if event else None


def utterance_summary(utterance: Utterance) -> dict:
    return {
        "req_id": utterance.req_id,
        "kind": utterance.kind,
        "text": utterance.text,
        "audio_bytes": utterance.audio_bytes,
        "state": utterance.state,
        "error": utterance.error,
        "by": utterance.created_by.get_username() if utterance.created_by else "",
        "at": _iso(utterance.created_at),
        **{name: getattr(utterance, name) for name in Utterance.TIMINGS},
    }


def _http_scheme_for(session: LiveSession) -> str:
    # The gateway and the play domain are served alike: https in the cloud, http on a local one.
    return "http" if session.account.base_url.startswith("http://") else "https"


def player_source(session: LiveSession) -> dict | None:
    """How the page should play this session, without the address's credentials.

    rtmp:// and webrtc:// addresses have an HTTP-FLV twin at the same host and path plus .flv,
    which is what Tencent's players fall back to; webrtc:// on the real cloud is played with the
    LEB player first. TRTC sessions are joined as a separate viewer (see session_trtc_sign).
    """
    addr = session.play_stream_addr
    if session.status not in (LiveSession.Status.READY, LiveSession.Status.STARTED) or not addr:
        return None
    parts = urlsplit(addr)
    if parts.scheme == "trtc":
        query = parse_qs(parts.query)
        # Only the public parts: the avatar's own userSig and privateMapKey stay on the server.
        return {
            "kind": "trtc",
            "room": parts.hostname or "",
            "app_id": query.get("appId", [""])[0],
            "avatar_user_id": query.get("virtualManUserId", [""])[0],
        }
    if parts.path.endswith(".m3u8"):
        return {"kind": "hls", "url": urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))}
    flv = urlunsplit((_http_scheme_for(session), parts.netloc, parts.path + ".flv", "", ""))
    if parts.scheme == "webrtc" and _http_scheme_for(session) == "https":
        leb = urlunsplit(("webrtc", parts.netloc, parts.path, "", ""))
        return {"kind": "leb", "url": leb, "fallback": flv}
    return {"kind": "flv", "url": flv}
