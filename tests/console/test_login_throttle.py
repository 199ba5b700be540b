"""Login throttling (django-axes): wrong passwords lock out a username from one address for a while."""

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

pytestmark = pytest.mark.django_db


def log_in(client, password: str, username: str = "olivia", address: str = "198.51.100.7"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def lock_out(client, **kwargs) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "wrong", **kwargs)


def test_the_right_password_after_too_many_wrong_ones_is_refused(client, operator):
    assert log_in(client, "wrong").status_code == 200
    lock_out(client)
    response = log_in(client, "pw-olivia")
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed logins for this username from your address" in page
    assert f"blocked for {round(settings.AXES_COOLOFF_TIME.total_seconds() / 60)} minutes" in page
    assert 'name="password"' in page and 'value="olivia"' in page
    assert "_auth_user_id" not in client.session


def test_a_lockout_is_per_username_and_address(client, operator, auditor):
    lock_out(client)
    assert log_in(client, "pw-aaron", username="aaron").status_code == 302
    client.logout()
    assert log_in(client, "pw-olivia", address="203.0.113.9").status_code == 302


def test_a_right_password_clears_the_count(client, operator):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "wrong")
    assert log_in(client, "pw-olivia").status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "wrong")
    assert log_in(client, "pw-olivia").status_code == 302


def test_an_admin_unlocks_with_the_management_command(client, operator):
    lock_out(client)
    assert log_in(client, "pw-olivia").status_code == 429
    call_command("axes_reset_username", "olivia")
    assert not AccessAttempt.objects.exists()
    assert log_in(client, "pw-olivia").status_code == 302
