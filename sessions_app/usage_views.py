"""The Usage page and its CSV: session-minutes for admins and auditors."""

from datetime import date, datetime

from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from . import budgets, roles, usage
from .usage_chart import daily_chart
from .views import role_required

auditor_required = role_required(roles.can_audit)


def _month(request) -> tuple[date, str]:
    """The month asked for (?month=YYYY-MM), else this one; with a message for a bad value."""
    today = timezone.localdate()
    raw = request.GET.get("month", "")
    if not raw:
        return today.replace(day=1), ""
    try:
        month = datetime.strptime(raw, "%Y-%m").date()
        if not 1970 <= month.year <= 9998:
            raise ValueError(raw)
        return month, ""
    except ValueError:
        return today.replace(day=1), (_("“%(value)s” is not a month like %(example)s; showing this month.")
                                       % {"value": raw[:20], "example": f"{today:%Y-%m}"})


@require_GET
@auditor_required
def usage_page(request):
    month, problem = _month(request)
    since, until = usage.month_bounds(month)
    now = timezone.now()
    report = usage.usage_report(since=since, until=until, now=now)
    this_month, next_month = usage.month_bounds(timezone.localdate(now))
    return render(request, "usage/usage.html", {
        "month": month, "month_value": f"{month:%Y-%m}", "problem": problem, "report": report,
        "chart": daily_chart(first=month, days=(until - since).days, lines=report.by_day),
        "month_to_date": usage.month_to_date(now=now, report=report),
        "saved": usage.minutes_saved(since=this_month, until=next_month),
        "caps": budgets.budgets_today(now=now),
        "counterfactual_minutes": int(usage.CLOUD_NO_INTERACTION_CLOSE.total_seconds() // 60),
    })


@require_GET
@auditor_required
def usage_export(request):
    month, _problem = _month(request)
    since, until = usage.month_bounds(month)
    response = StreamingHttpResponse(usage.usage_csv(since=since, until=until), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="usage-{month:%Y-%m}.csv"'
    return response
