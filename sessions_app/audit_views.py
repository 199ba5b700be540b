"""Audit pages: read-only, for auditors and admins. Each view parses its filters and calls a selector."""

from dataclasses import replace
from datetime import timedelta

from django import forms
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET
from django.utils.translation import gettext_lazy as _

from . import audit, params, roles
from .labels import STATUS_LABELS
from .latency import sessions_latency
from .models import Account, LiveSession
from .views import role_required

auditor_required = role_required(roles.can_audit)

CHART_DEFAULT_RANGE = timedelta(hours=24)
# A longer range charts its last week: the chart reads every session of its window.
CHART_MAX_RANGE = timedelta(days=7)
TOTALS_DEFAULT_RANGE = timedelta(days=30)


def _local_input() -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class SessionFilterForm(forms.Form):
    since = params.DateTimeParamField(label=_("From"), required=False, widget=_local_input())
    until = params.DateTimeParamField(label=_("Until"), required=False, widget=_local_input())
    status = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[("", _("any"))] + list(STATUS_LABELS.items()))
    close_reason = forms.CharField(label=_("Close reason"), required=False, max_length=200)
    creator = forms.CharField(label=_("Creator"), required=False, max_length=150)
    protocol = forms.ChoiceField(label=_("Protocol"), required=False,
                                 choices=[("", _("any"))] + list(LiveSession.Protocol.choices))

    def filters(self) -> audit.SessionFilters:
        data = self.cleaned_data if self.is_valid() else {}
        return audit.SessionFilters(**{name: data.get(name) or (None if name in ("since", "until") else "")
                                       for name in self.fields})


class AuditLogFilterForm(forms.Form):
    since = params.DateTimeParamField(label=_("From"), required=False, widget=_local_input())
    until = params.DateTimeParamField(label=_("Until"), required=False, widget=_local_input())
    action = forms.CharField(label=_("Action"), required=False, max_length=40)
    actor = forms.CharField(label=_("Actor"), required=False, max_length=150)
    account = params.IdChoiceField(label=_("Account"), required=False, queryset=Account.objects.all())
    ok = forms.ChoiceField(label=_("Outcome"), required=False, choices=[("", _("any")), ("1", _("succeeded")), ("0", _("failed"))])

    def filters(self) -> audit.AuditFilters:
        data = self.cleaned_data if self.is_valid() else {}
        ok = data.get("ok")
        return audit.AuditFilters(since=data.get("since"), until=data.get("until"), action=data.get("action", ""),
                                  actor=data.get("actor", ""), account=data.get("account"),
                                  ok=None if not ok else ok == "1")


def _scoped(scope: str, pk: int):
    model = audit.SCOPES[scope]
    manager = model.objects if scope == "account" else model.objects.select_related("account")
    return get_object_or_404(manager, pk=pk)


def _status(*forms_used: forms.Form) -> int:
    """400 when a filter was given and is not valid: the page then shows why, unfiltered."""
    return 400 if any(form.is_bound and not form.is_valid() for form in forms_used) else 200


def _query_without(request, *names: str) -> str:
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


@require_GET
@auditor_required
def audit_home(request):
    return render(request, "audit/home.html", {})


@require_GET
@auditor_required
def audit_groups(request, scope: str):
    form = SessionFilterForm(request.GET or None)
    now = timezone.now()
    filters = form.filters().bounded(now=now)
    if filters.since is None and filters.until is None:
        # Recent use, unless a range is asked for (the page says which range it shows).
        filters = replace(filters, since=now - TOTALS_DEFAULT_RANGE)
    return render(request, "audit/groups.html", {
        "scope": scope, "form": form, "filters": filters,
        "groups": audit.group_totals(scope=scope, filters=filters),
    }, status=_status(form))


@require_GET
@auditor_required
def audit_history(request, scope: str, pk: int):
    obj = _scoped(scope, pk)
    form = SessionFilterForm(request.GET or None)
    now = timezone.now()
    asked = form.filters()
    filters = asked.bounded(now=now)
    page = audit.sessions_page(scope=scope, obj=obj, filters=filters, cursor=request.GET.get("after"))
    latencies = sessions_latency(session_pks=[s.pk for s in page.rows])
    context = {
        "scope": scope, "obj": obj, "form": form, "tab": "history",
        "rows": [(s, round(audit.session_duration(s, now).total_seconds() / 60, 1), latencies[s.pk]) for s in page.rows],
        "next_cursor": page.next_cursor,
        "query": _query_without(request, "after"),
        "totals": audit.sessions_totals(scope=scope, obj=obj, filters=filters),
        "bounded_since": filters.since if filters.since != asked.since else None,
    }
    if scope == "account":
        until = filters.until or now
        since = max(asked.since or until - CHART_DEFAULT_RANGE, until - CHART_MAX_RANGE)
        if since < until:
            context["chart"] = audit.account_concurrency(account=obj, since=since, until=until)
    return render(request, "audit/history.html", context, status=_status(form))


@require_GET
@auditor_required
def audit_live(request, scope: str, pk: int):
    obj = _scoped(scope, pk)
    return render(request, "audit/live.html", {
        "scope": scope, "obj": obj, "tab": "live", "live": audit.live_now(scope=scope, obj=obj),
        "cache_seconds": audit.LIVE_CACHE_SECONDS,
    })


@require_GET
@auditor_required
def audit_export(request, scope: str, pk: int):
    obj = _scoped(scope, pk)
    form = SessionFilterForm(request.GET or None)
    if _status(form) != 200:
        problems = "; ".join(error for errors in form.errors.values() for error in errors)
        return HttpResponseBadRequest(problems, content_type="text/plain; charset=utf-8")
    # The rows the history page shows for the same filters.
    filters = form.filters().bounded(now=timezone.now())
    qs = audit.sessions_filtered(scope=scope, obj=obj, filters=filters)
    response = StreamingHttpResponse(audit.sessions_csv(qs), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="sessions-{scope}-{obj.pk}-{stamp}.csv"'
    return response


@require_GET
@auditor_required
def audit_log(request):
    form = AuditLogFilterForm(request.GET or None)
    page = audit.audit_entries_page(filters=form.filters(), cursor=request.GET.get("after"))
    return render(request, "audit/log.html", {
        "form": form, "log_page": True, "entries": page.rows, "next_cursor": page.next_cursor,
        "query": _query_without(request, "after"), "actions": audit.audit_actions(),
    }, status=_status(form))
