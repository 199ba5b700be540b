"""Every page carries a strict Content-Security-Policy and a Permissions-Policy."""

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


@pytest.mark.parametrize("name", ["login", "dashboard", "session_new", "script_list", "audit_home"])
def test_pages_forbid_inline_script_and_eval(client, admin_user, name):
    client.force_login(admin_user)
    found = directives(client.get(reverse(name)))
    assert found["script-src"] == ["'self'"]
    assert found["script-src-attr"] == ["'none'"]
    assert found["object-src"] == ["'none'"] and found["frame-ancestors"] == ["'none'"]
    assert found["base-uri"] == ["'self'"] and found["form-action"] == ["'self'"]
    for values in found.values():
        assert "'unsafe-eval'" not in values and "*" not in values
    assert "'unsafe-inline'" not in found["script-src"] + found["default-src"]


def test_the_players_may_reach_the_stream_origin(client, admin_user):
    client.force_login(admin_user)
    found = directives(client.get(reverse("dashboard")))
    sim = settings.TCADH_SIM_URL.rstrip("/")
    ws = sim.replace("http", "ws", 1)
    assert sim in found["connect-src"] and ws in found["connect-src"]
    assert sim in found["media-src"] and "blob:" in found["media-src"]
    assert "blob:" in found["worker-src"]


def test_permissions_policy_allows_the_microphone_here_and_nothing_else(client, admin_user):
    client.force_login(admin_user)
    policy = dict(item.split("=", 1) for item in client.get(reverse("dashboard"))["Permissions-Policy"].split(", "))
    assert policy["microphone"] == "(self)"
    assert policy["camera"] == policy["geolocation"] == policy["display-capture"] == policy["usb"] == "()"
