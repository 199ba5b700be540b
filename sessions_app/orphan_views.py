"""Form posts of the dashboard's orphan rows: adopt a cloud session found by the reconciler, or close it."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST
from django.utils.translation import gettext as _

from . import services, sweeps
from .models import LiveSession
from .sentences import sentence
from .views import driver_required


def _orphan_action(request, pk: int, action, success: str):
    session = get_object_or_404(LiveSession.objects.select_related("account"), pk=pk)
    try:
        action(user=request.user, session=session)
    except services.ServiceError as exc:
        messages.error(request, sentence(exc))
    else:
        messages.success(request, success)
    return redirect("dashboard")


@require_POST
@driver_required
def orphan_adopt(request, pk: int):
    return _orphan_action(request, pk, sweeps.orphan_adopt, _("Session adopted: it is yours now."))


@require_POST
@driver_required
def orphan_close(request, pk: int):
    return _orphan_action(request, pk, sweeps.orphan_close, _("Orphan session closed."))
