"""Script editing, the presenter and audience views, and the kiosk page with its little API.

Every view checks the role first, then calls a selector or a service. The kiosk page needs an
operator (or admin) login: it drives the avatar through the same socket as the session page.
"""

import re

from django.contrib import messages
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_POST

from sessions_app import params
from sessions_app.models import LiveSession
from sessions_app.views import driver_required, viewer_required

from . import selectors, services, ssml
from .forms import CueFormSet, ImportForm, KioskForm, ScriptForm, cue_initial, cue_specs
from .models import DemoScript, KioskConfig

PAGE_ID_MAX = 40
_PAGE_ID = re.compile(rf"[A-Za-z0-9-]{{1,{PAGE_ID_MAX}}}")


def _asset_codes(script: DemoScript | None) -> list[str]:
    return selectors.action_codes_for(script=script) or []


@require_GET
@driver_required
def script_list(request):
    return render(request, "presentations/script_list.html", {
        "scripts": selectors.scripts_list(),
        "sessions": selectors.sessions_presentable(),
    })


def _script_editor(request, script: DemoScript | None):
    form = ScriptForm(request.POST or None, instance=script)
    initial = cue_initial(script.cues.order_by("position")) if script else [{"kind": "text"}]
    formset = CueFormSet(request.POST or None, initial=None if request.POST else initial, prefix="cues")
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        data = form.cleaned_data
        try:
            if script is None:
                script = services.script_create(user=request.user, name=data["name"], cues=cue_specs(formset),
                                                project=data["project"], asset=data["asset"])
            else:
                services.script_update(user=request.user, script=script, name=data["name"], cues=cue_specs(formset),
                                       project=data["project"], asset=data["asset"])
        except services.ServiceError as exc:
            form.add_error(None, f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
        else:
            messages.success(request, f"Saved “{script.name}”.")
            return redirect("script_edit", pk=script.pk)
    codes = selectors.action_codes_for(script=script) if script else None
    problems = [[p.as_dict() for p in ssml.validate(f["text"].value() or "",
                                                    action_codes=frozenset(codes) if codes is not None else None)]
                if (f["kind"].value() or "text") == "text" else [] for f in formset.forms]
    return render(request, "presentations/script_edit.html", {
        "script": script, "form": form, "formset": formset, "cue_rows": zip(formset.forms, problems),
        "action_codes": _asset_codes(script), "asset_codes": selectors.asset_action_codes(),
        "sessions": selectors.sessions_presentable() if script else [],
        "limit": ssml.TEXT_MAX_BYTES,
    })


@driver_required
def script_new(request):
    return _script_editor(request, None)


@driver_required
def script_edit(request, pk: int):
    return _script_editor(request, get_object_or_404(DemoScript.objects.select_related("asset"), pk=pk))


@require_POST
@driver_required
def script_delete(request, pk: int):
    script = get_object_or_404(DemoScript, pk=pk)
    name = script.name
    services.script_delete(user=request.user, script=script)
    messages.success(request, f"Deleted “{name}”.")
    return redirect("script_list")


@driver_required
def script_import(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            script = services.script_import(user=request.user, name=data["name"], text=data["text"],
                                            project=data["project"], asset=data["asset"])
        except services.ServiceError as exc:
            form.add_error(None, f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
        else:
            messages.success(request, f"Imported “{script.name}” with {script.cues.count()} cues.")
            return redirect("script_edit", pk=script.pk)
    return render(request, "presentations/script_import.html", {"form": form})


@require_GET
@driver_required
def script_export(request, pk: int):
    script = get_object_or_404(DemoScript, pk=pk)
    response = HttpResponse(services.script_text_format(list(script.cues.order_by("position"))),
                            content_type="text/plain; charset=utf-8")
    filename = slugify(script.name) or f"script-{script.pk}"
    response["Content-Disposition"] = f'attachment; filename="{filename}.txt"'
    return response


@require_POST
@driver_required
def ssml_check(request):
    """The editor's live warnings: the same check the server applies when it renders a script."""
    try:
        body = params.parse_json_object(request.body)
    except params.BadParameter as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    text = body.get("text")
    codes = body.get("action_codes")
    if not isinstance(text, str) or not (codes is None or (isinstance(codes, list)
                                                          and all(isinstance(c, str) for c in codes))):
        return JsonResponse({"error": "text must be a string and action_codes a list of strings"}, status=400)
    if not all(params.is_unicode_text(value) for value in [text, *(codes or [])]):
        return JsonResponse({"error": "the text holds a broken character (a lone surrogate)"}, status=400)
    problems = ssml.validate(text, action_codes=frozenset(codes) if codes else None)
    return JsonResponse({"bytes": ssml.text_bytes(text), "limit": ssml.TEXT_MAX_BYTES,
                         "problems": [p.as_dict() for p in problems]})


def _session(pk: int) -> LiveSession:
    return get_object_or_404(LiveSession.objects.select_related("account", "project", "asset", "created_by"), pk=pk)


@require_GET
@driver_required
def presenter(request, pk: int):
    session = _session(pk)
    try:
        script_id = params.parse_optional_id(request.GET.get("script"), name="script")
    except params.BadParameter as exc:
        return HttpResponseBadRequest(f"{exc}.", content_type="text/plain; charset=utf-8")
    script = get_object_or_404(DemoScript, pk=script_id) if script_id is not None else None
    if script is None:
        return render(request, "presentations/presenter_choose.html", {
            "session": session, "scripts": selectors.scripts_list(),
        })
    return render(request, "presentations/presenter.html", {
        "session": session, "script": script,
        "stage": selectors.session_stage(session),
        "script_data": selectors.script_payload(script, session=session),
    })


@require_GET
@viewer_required
def audience(request, pk: int):
    session = _session(pk)
    return render(request, "presentations/audience.html", {"session": session,
                                                           "stage": selectors.session_stage(session)})


# -- kiosks -------------------------------------------------------------------------------------

@require_GET
@driver_required
def kiosk_list(request):
    return render(request, "presentations/kiosk_list.html", {"kiosks": selectors.kiosks_list()})


def _kiosk_editor(request, kiosk: KioskConfig | None):
    form = KioskForm(request.POST or None, instance=kiosk)
    if request.method == "POST" and form.is_valid():
        kiosk = services.kiosk_save(user=request.user, kiosk=form.save(commit=False))
        messages.success(request, f"Saved kiosk “{kiosk.name}”.")
        return redirect("kiosk_list")
    return render(request, "presentations/kiosk_edit.html", {"form": form, "kiosk": kiosk})


@driver_required
def kiosk_new(request):
    return _kiosk_editor(request, None)


@driver_required
def kiosk_edit(request, slug: str):
    return _kiosk_editor(request, get_object_or_404(KioskConfig, slug=slug))


@require_GET
@driver_required
def kiosk_page(request, slug: str):
    kiosk = get_object_or_404(KioskConfig.objects.select_related("script", "asset", "project"), slug=slug)
    return render(request, "presentations/kiosk.html", {"kiosk": kiosk, "config": {
        "slug": kiosk.slug,
        "name": kiosk.name,
        "attract_every_minutes": kiosk.attract_every_minutes,
        "cues": selectors.kiosk_attract_cues(kiosk),
    }})


def _page_id(request) -> str:
    page_id = (request.POST.get("page") or "").strip()
    # ASCII only: str.isalnum() would take "²" or "٣" too.
    if not _PAGE_ID.fullmatch(page_id):
        raise ValueError("page must be the page's id (letters, digits and dashes)")
    return page_id


def _kiosk_post(request, slug: str, act):
    kiosk = get_object_or_404(KioskConfig.objects.select_related("project__account", "asset__account"), slug=slug)
    try:
        page_id = _page_id(request)
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return act(kiosk, page_id)


@require_POST
@driver_required
def kiosk_session(request, slug: str):
    def act(kiosk, page_id):
        state = services.kiosk_open(user=request.user, kiosk=kiosk, page_id=page_id)
        return JsonResponse(selectors.kiosk_state_payload(state))

    return _kiosk_post(request, slug, act)


@require_POST
@driver_required
def kiosk_heartbeat(request, slug: str):
    def act(kiosk, page_id):
        try:
            session_pk = params.parse_id(request.POST.get("session", ""), name="session")
        except params.BadParameter as exc:
            return JsonResponse({"error": str(exc)}, status=400)
        state = services.kiosk_heartbeat(user=request.user, kiosk=kiosk, page_id=page_id, session_pk=session_pk)
        return JsonResponse(selectors.kiosk_state_payload(state))

    return _kiosk_post(request, slug, act)


@require_POST
@driver_required
def kiosk_close(request, slug: str):
    def act(kiosk, page_id):
        try:
            session_pk = params.parse_optional_id(request.POST.get("session"), name="session")
        except params.BadParameter as exc:
            return JsonResponse({"error": str(exc)}, status=400)
        closed = services.kiosk_close(user=request.user, kiosk=kiosk, page_id=page_id, session_pk=session_pk)
        return JsonResponse({"closed": closed})

    return _kiosk_post(request, slug, act)
