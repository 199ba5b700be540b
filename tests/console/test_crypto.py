"""Accesstokens at rest: encrypted, and a key rotation keeps every account usable."""

import io

from cryptography.fernet import Fernet
from django.core.management import call_command

from sessions_app import crypto
from sessions_app.accounts import account_register


def test_rotation_from_the_derived_key_to_configured_keys(db, settings):
    settings.TCADH_ENCRYPTION_KEYS = []
    account = account_register(name="A", base_url="https://gw.tvs.qq.com", appkey="ak", accesstoken="secret-token")
    before = account.accesstoken_encrypted

    new_key = Fernet.generate_key().decode()
    settings.TCADH_ENCRYPTION_KEYS = [new_key]
    call_command("rotate_accesstokens", stdout=io.StringIO())
    account.refresh_from_db()
    assert account.accesstoken_encrypted != before
    assert Fernet(new_key.encode()).decrypt(account.accesstoken_encrypted.encode()) == b"secret-token"

    newer = Fernet.generate_key().decode()
    settings.TCADH_ENCRYPTION_KEYS = [newer, new_key]
    assert account.accesstoken == "secret-token"
    call_command("rotate_accesstokens", stdout=io.StringIO())
    settings.TCADH_ENCRYPTION_KEYS = [newer]
    account.refresh_from_db()
    assert account.accesstoken == "secret-token"


def test_a_token_under_an_unknown_key_is_reported_not_leaked(db, settings):
    settings.TCADH_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    token = crypto.encrypt("secret-token")
    settings.TCADH_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    settings.SECRET_KEY = "another secret key entirely"
    try:
        crypto.decrypt(token)
    except crypto.SecretUnavailable as exc:
        assert "secret-token" not in str(exc)
    else:
        raise AssertionError("decrypting with the wrong key must fail")
