"""Query-string authentication (PROTOCOL.md §3-4), written independently of the client library.

The query is decoded with the standard parser on purpose: a client that forgets to escape `+`
in its Base64 signature gets a space back and fails, exactly like the real gateway's
"intermittent" failures; `/` and `%2F` decode to the same character and both pass.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import parse_qsl

from .config import Account, SimConfig


class AuthError(Exception):
    """The request is not authenticated; the message says why (never echoes a secret)."""


@dataclass(frozen=True)
class AuthResult:
    account: Account
    params: dict[str, str]


def signing_text(params: dict[str, str]) -> str:
    """`name=value` pairs of every parameter except `signature`, sorted by name, raw values."""
    return "&".join(f"{name}={params[name]}" for name in sorted(params) if name != "signature")


def compute_signature(params: dict[str, str], accesstoken: str) -> str:
    digest = hmac.new(accesstoken.encode(), signing_text(params).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_signature(params: dict[str, str], accesstoken: str) -> bool:
    given = params.get("signature", "")
    return hmac.compare_digest(given.encode(), compute_signature(params, accesstoken).encode())


def authenticate(
    query_string: str,
    config: SimConfig,
    now: float,
    *,
    require_requestid: bool = False,
) -> AuthResult:
    """Check appkey, timestamp window and signature of a raw (still percent-encoded) query."""
    pairs = parse_qsl(query_string, keep_blank_values=True)
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise AuthError(f"query parameter {name!r} given more than once")
        params[name] = value
    required = ["appkey", "timestamp", "signature"] + (["requestid"] if require_requestid else [])
    missing = [name for name in required if not params.get(name)]
    if missing:
        raise AuthError(f"missing query parameter(s): {', '.join(missing)}")
    account = config.account_by_appkey(params["appkey"])
    if account is None:
        raise AuthError("unknown appkey")
    timestamp = params["timestamp"]
    if not timestamp.isdigit():
        raise AuthError("timestamp must be Unix time in whole seconds")
    window = config.timing.timestamp_window_seconds
    if abs(now - int(timestamp)) > window:
        raise AuthError(f"timestamp is more than {window:g} seconds away from server time")
    if not verify_signature(params, account.accesstoken):
        raise AuthError("signature mismatch (is the Base64 signature percent-encoded, '+' as %2B?)")
    return AuthResult(account=account, params=params)
