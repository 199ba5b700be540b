"""Query-string signing for the gateway (PROTOCOL §3-§4)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from urllib.parse import quote


def signing_text(params: Mapping[str, str]) -> str:
    """Sorted ``name=value`` pairs joined by ``&``, raw values, ``signature`` excluded."""
    return "&".join(f"{name}={params[name]}" for name in sorted(params) if name != "signature")


def signature(params: Mapping[str, str], accesstoken: str) -> str:
    """Standard Base64 of HMAC-SHA256(accesstoken, signing text); not URL-encoded."""
    digest = hmac.new(accesstoken.encode("utf-8"), signing_text(params).encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_query(
    appkey: str,
    accesstoken: str,
    extra: Mapping[str, str] | None = None,
    timestamp: int | None = None,
) -> str:
    """The full query string: signing text plus ``&signature=`` and the percent-encoded signature.

    ``+``, ``/`` and ``=`` must all be escaped: a server that decodes the query would read an
    unescaped ``+`` as a space and reject the signature whenever the Base64 happens to hold one.
    """
    params = {"appkey": appkey, "timestamp": str(int(time.time()) if timestamp is None else timestamp)}
    params.update(extra or {})
    return f"{signing_text(params)}&signature={quote(signature(params, accesstoken), safe='')}"
