"""Encryption of accesstokens at rest.

Keys come from settings.TCADH_ENCRYPTION_KEYS, newest first: the first encrypts, all decrypt, so
a rotation keeps old rows readable until `manage.py rotate_accesstokens` re-encrypts them. A key
derived from SECRET_KEY comes last: it encrypts only when no key is configured (a laptop install
needs no setup) and stays readable so moving to configured keys is just another rotation.
"""

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretUnavailable(Exception):
    """The stored secret cannot be decrypted with any configured key."""


@cache
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    derived = base64.urlsafe_b64encode(hashlib.sha256(b"tcadh-accesstoken:" + secret_key.encode()).digest())
    return MultiFernet([Fernet(key.encode()) for key in keys] + [Fernet(derived)])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.TCADH_ENCRYPTION_KEYS), settings.SECRET_KEY)


def encrypt(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnavailable("the accesstoken cannot be decrypted with the configured keys") from exc


def rotate(token: str) -> str:
    """Re-encrypt with the newest key."""
    return _current().rotate(token.encode()).decode()
