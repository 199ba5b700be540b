"""The cloud's error codes (PROTOCOL.md §6) in plain words, with what to do about each.

The one place the console explains a cloud error: services, the audit pages and anything else
that shows one to a person call `cloud_error_words`.
"""

from tcadh.errors import TcadhError

BUY_CONCURRENCY = ("in the Digital Human console (resource management) buy or renew "
                   "session-interaction concurrency")

# code -> (what happened, what to do)
CLOUD_ERROR_WORDS: dict[int, tuple[str, str]] = {
    -101000: ("the cloud had an internal error", "try again in a moment"),
    -101001: ("the cloud has no rendering capacity free right now",
              "try again in a minute; if it keeps happening, contact Tencent Cloud support"),
    -101002: ("the cloud could not download an image (background or foreground)",
              "check that its URL is public and the file is a jpg or png under 1 MB"),
    -111001: ("the cloud could not change the stream's layout", "try again; keep the values within their ranges"),
    -111002: ("the cloud's connection to the session dropped", "create a new session"),
    -111003: ("the cloud could not load the avatar model", "create the session again, or choose another avatar"),
    -111004: ("the cloud timed out creating the stream", "create the session again"),
    -111005: ("the cloud could not drive the avatar with that text or audio", "send it again, or shorten it"),
    100001: ("the cloud rejected a parameter (format, length, type or a missing value)",
             "check the values in the form"),
    100005: ("the cloud refused this appkey for that project or asset, or the credentials",
             "check in Admin → Accounts that the project or asset belongs to this account and that the "
             "appkey and accesstoken are right"),
    100008: ("every concurrent session the account purchased is in use",
             f"close a live session on the Dashboard, or {BUY_CONCURRENCY}"),
    100012: ("requests came too fast for the cloud", "wait a moment and try again"),
    100014: ("the account has no session concurrency quota left, or it has expired", BUY_CONCURRENCY),
    100015: ("this avatar has expired",
             "renew it in the Digital Human console (asset management), or choose another avatar"),
    110013: ("the session is already closed in the cloud", "create a new session"),
    110014: ("the session is not ready yet", "wait until it is ready, then try again"),
    110015: ("the command came at the wrong moment and was not processed",
             "wait until the avatar finishes speaking, or interrupt it first"),
    110016: ("the session was never started", "start it first"),
    110018: ("the cloud does not know this session (it may have expired)", "create a new session"),
    110021: ("the TRTC application is in arrears or has no minutes left",
             "top up the TRTC account in the Tencent Cloud console, or use the RTMP or WebRTC protocol"),
    110022: ("the session was closed because another session was created with the same UserId",
             "give each session its own UserId"),
}

QUOTA_CODES = frozenset({-101001, 100008, 100014, 100015, 110021})


def cloud_error_words(code: int, message: str = "") -> str:
    """What went wrong and what to do, then the cloud's own words and code for support."""
    said = message or "no message"
    known = CLOUD_ERROR_WORDS.get(code)
    if known is None:
        return f"the cloud refused: {said} (code {code})"
    what, todo = known
    return f"{what}: {todo} (the cloud said: {said}, code {code})"


def explain(exc: TcadhError) -> str:
    return cloud_error_words(exc.code, exc.message)
