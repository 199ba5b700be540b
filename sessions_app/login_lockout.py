"""What a locked-out login sees: the login page again, saying why and for how long (django-axes
calls this instead of its bare lockout page)."""

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render


def lockout_response(request, original_response=None, credentials=None):
    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    form = AuthenticationForm(request, initial={"username": request.POST.get("username", "")})
    return render(request, "registration/login.html", {
        "form": form, "locked_out_minutes": minutes, "next": request.POST.get("next", ""),
    }, status=429)
