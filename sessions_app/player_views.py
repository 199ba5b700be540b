"""The players' reports about a session's video (see player_metrics)."""

from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from . import params, player_metrics
from .models import LiveSession
from .views import viewer_required


@require_POST
@viewer_required
def session_player_report(request, pk: int):
    """One report as JSON, from any page that may play the session; 400 says what was wrong."""
    session = get_object_or_404(LiveSession.objects.only("pk"), pk=pk)
    try:
        report = player_metrics.parse_player_report(params.parse_json_object(request.body))
    except params.BadParameter as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    player_metrics.player_report_record(session=session, report=report)
    return JsonResponse({"recorded": report.event})
