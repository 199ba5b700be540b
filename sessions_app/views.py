"""Pages and form posts. Each view checks the role, then calls a selector or a service."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.utils.translation import gettext as _

from . import lifecycle, roles, selectors, services, usage
from .create_notices import create_notices
from .forms import LayoutForm, NewSessionForm
from .latency import Latency, session_recent_starts
from .live.limits import browser_limits
from .models import LiveSession
from .sentences import sentence


def role_required(check):
    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not check(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


viewer_required = role_required(roles.can_view)
driver_required = role_required(roles.can_drive)


@require_GET
@viewer_required
def dashboard(request):
    return render(request, "sessions/dashboard.html", {
        "live": selectors.sessions_live(),
        "unconfirmed": selectors.sessions_awaiting_cloud_close(),
        "recent": selectors.sessions_recent(),
        "concurrency": usage.concurrency_now(),
    })


@require_GET
@viewer_required
def dashboard_concurrency(request):
    """The dashboard's concurrency card as data: it is redrawn as sessions open and close."""
    return JsonResponse({"accounts": [held.as_json() for held in usage.concurrency_now()]})


@driver_required
def session_new(request):
    form = NewSessionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        spec = services.NewSession(
            account=data["account"], project=data["project"], asset=data["asset"],
            user_id=data["user_id"], protocol=data["protocol"], driver_type=data["driver_type"],
            stream_max_interval=data["stream_max_interval"], auto_start=data["auto_start"],
        )
        try:
            session = lifecycle.session_create(user=request.user, spec=spec)
        except services.ServiceError as exc:
            form.add_error(None, _("The session was not created: %(error)s.") % {"error": exc})
        else:
            return redirect("session_detail", pk=session.pk)
    return render(request, "sessions/new.html", {"form": form, "notices": create_notices(user=request.user)})


# The page shows the end of a long conversation (an all-day kiosk session); the download has all of it.
TRANSCRIPT_ON_PAGE = 300


@require_GET
@viewer_required
def session_detail(request, pk: int):
    session = get_object_or_404(LiveSession.objects.select_related("account", "project", "asset", "created_by"),
                                pk=pk)
    starts = session_recent_starts(session=session)
    return render(request, "sessions/detail.html", {
        "session": session,
        "summary": selectors.session_summary(session),
        "events": selectors.session_history(session=session),
        "transcript": selectors.session_transcript(session=session, last=TRANSCRIPT_ON_PAGE),
        "earlier_utterances": max(0, session.utterances.count() - TRANSCRIPT_ON_PAGE),
        "chat_limits": browser_limits(),
        "layout_form": LayoutForm(),
        "cap_warning": selectors.session_cap_warning(session),
        "start_latencies": starts,
        "start_latency": Latency.of(starts.values()),
    })


@require_GET
@viewer_required
def session_transcript(request, pk: int):
    """The whole conversation as a text file."""
    session = get_object_or_404(LiveSession, pk=pk)
    text = selectors.transcript_text(selectors.session_transcript(session=session))
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="transcript-{session.cloud_session_id}.txt"'
    return response


def _act(request, pk: int, action, success: str):
    session = get_object_or_404(LiveSession.objects.select_related("account"), pk=pk)
    try:
        action(session)
    except services.ServiceError as exc:
        messages.error(request, sentence(exc))
    else:
        messages.success(request, success)
    return redirect("session_detail", pk=pk)


@require_POST
@driver_required
def session_start(request, pk: int):
    return _act(request, pk, lambda s: services.session_start(user=request.user, session=s), _("Session started."))


@require_POST
@driver_required
def session_close(request, pk: int):
    def close(session):
        if not services.session_close(user=request.user, session=session):
            raise services.ServiceError(_("the session was already closing or closed"))

    return _act(request, pk, close, _("Session closed."))


@require_POST
@driver_required
def session_layout(request, pk: int):
    form = LayoutForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else _("Layout")
            messages.error(request, _("%(label)s: %(errors)s") % {"label": label, "errors": " ".join(errors)})
        return redirect("session_detail", pk=pk)
    config = services.SpaceConfig(**form.cleaned_data)
    return _act(request, pk, lambda s: services.session_update_config(user=request.user, session=s, config=config),
                _("Layout updated."))


@require_GET
@viewer_required
def session_player(request, pk: int):
    session = get_object_or_404(LiveSession.objects.select_related("account"), pk=pk)
    return JsonResponse({"status": session.status, "source": selectors.player_source(session)})


@require_POST
@viewer_required
def session_trtc_join(request, pk: int):
    session = get_object_or_404(LiveSession.objects.select_related("account"), pk=pk)
    source = selectors.player_source(session)
    if not source or source["kind"] != "trtc":
        return JsonResponse({"error": "this session has no TRTC room to join"}, status=400)
    viewer = f"viewer-{request.user.pk}-{session.pk}"
    try:
        sign = services.session_trtc_sign(user=request.user, session=session, viewer_user_id=viewer,
                                          room=source["room"])
    except services.ServiceError as exc:
        return JsonResponse({"error": str(exc)}, status=502)
    # The viewer's own room credential: it is what lets this browser join, and nothing more.
    return JsonResponse({"user_id": viewer, "user_sig": sign.user_sig, "private_map_key": sign.private_map_key,
                         **source})
