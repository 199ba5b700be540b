"""Keep play addresses useful in logs without leaking the credentials inside them."""
from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit


def redact_play_addr(url: str) -> str:
    """Scheme, host and path survive; every query value and any userinfo become ``***``.

    All values are hidden, not a known list: TRTC (userSig, privateMapKey), CSS (txSecret)
    and future parameters all carry secrets in the query.
    """
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    if parts.username or parts.password:
        host = f"***@{host}"
    redacted = f"{parts.scheme}://{host}{parts.path}" if parts.scheme else f"{host}{parts.path}"
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if pairs:
        redacted += "?" + "&".join(f"{name}=***" for name, _ in pairs)
    return redacted
