"""Read-side queries and the browser shapes of scripts, cues and kiosk states."""

from __future__ import annotations

from django.db.models import Count, QuerySet
from django.urls import reverse

from sessions_app import sweeps
from sessions_app.models import Asset, LiveSession
from sessions_app.selectors import session_cap_warning, session_summary

from . import ssml
from .models import Cue, DemoScript, KioskConfig

PLAYABLE = (LiveSession.Status.READY, LiveSession.Status.STARTED)


def scripts_list() -> QuerySet[DemoScript]:
    return (DemoScript.objects.select_related("project", "asset", "created_by")
            .annotate(cue_count=Count("cues")).order_by("name", "id"))


def kiosks_list() -> QuerySet[KioskConfig]:
    return KioskConfig.objects.select_related("project", "asset", "script").order_by("name")


def sessions_presentable() -> QuerySet[LiveSession]:
    return (LiveSession.objects.filter(status__in=LiveSession.LIVE_STATUSES)
            .select_related("account", "project", "asset").order_by("-created_at"))


def action_codes_for(*, script: DemoScript | None = None, session: LiveSession | None = None) -> list[str] | None:
    """The gesture codes the avatar knows, when an asset says so; None when nothing is known."""
    for asset in (getattr(script, "asset", None), getattr(session, "asset", None)):
        if isinstance(asset, Asset) and asset.action_codes.strip():
            return ssml.action_codes_of(asset.action_codes)
    return None


def asset_action_codes() -> dict[str, list[str]]:
    """Each asset's gesture codes by id, for the editor to follow the asset chosen in its form."""
    return {str(pk): ssml.action_codes_of(raw)
            for pk, raw in Asset.objects.exclude(action_codes="").values_list("pk", "action_codes")}


def cue_problems(cue: Cue, *, action_codes: list[str] | None) -> list[ssml.Problem]:
    if cue.kind != Cue.Kind.TEXT or not cue.text:
        return []
    return ssml.validate(cue.text, action_codes=frozenset(action_codes) if action_codes is not None else None)


def cue_payload(cue: Cue, *, action_codes: list[str] | None) -> dict:
    return {
        "id": cue.pk,
        "position": cue.position,
        "kind": cue.kind,
        "text": cue.text,
        "spoken": ssml.spoken_text(cue.text),
        "pause_seconds": float(cue.pause_seconds),
        "note": cue.note,
        "problems": [p.as_dict() for p in cue_problems(cue, action_codes=action_codes)],
    }


def script_payload(script: DemoScript, *, session: LiveSession | None = None) -> dict:
    codes = action_codes_for(script=script, session=session)
    return {
        "id": script.pk,
        "name": script.name,
        "cues": [cue_payload(cue, action_codes=codes) for cue in script.cues.order_by("position", "id")],
    }


def session_idle(session: LiveSession) -> dict:
    """What the presenter's idle timer counts down from."""
    since = session.last_activity_at or session.started_at or session.created_at
    return {"limit_seconds": sweeps.idle_limit_seconds(session), "since": since.isoformat()}


def session_stage(session: LiveSession) -> dict:
    """Everything a presentation page needs to follow one session."""
    return {
        "summary": session_summary(session),
        "ws_path": f"/ws/sessions/{session.pk}/chat/",
        "player_url": reverse("session_player", args=[session.pk]),
        "trtc_url": reverse("session_trtc_join", args=[session.pk]),
        "report_url": reverse("session_player_report", args=[session.pk]),
        "idle": session_idle(session),
        "cap_warning": session_cap_warning(session),
    }


def kiosk_state_payload(state) -> dict:
    run = state.run
    return {
        "state": state.state,
        "message": state.message,
        "opens_at": state.opens_at.isoformat() if state.opens_at else None,
        "session": session_stage(run.session) if run is not None and state.state == "live" else None,
    }


def kiosk_attract_cues(kiosk: KioskConfig) -> list[dict]:
    if kiosk.script is None:
        return []
    codes = action_codes_for(script=kiosk.script) or (
        ssml.action_codes_of(kiosk.asset.action_codes) if kiosk.asset and kiosk.asset.action_codes else None)
    return [cue_payload(cue, action_codes=codes) for cue in kiosk.script.cues.order_by("position", "id")]
