"""The cloud's error codes (PROTOCOL.md §6) in plain words, with what to do about each, in the
viewer's language.

The one place the console explains a cloud error: services, the audit pages and anything else
that shows one to a person call `cloud_error_words`; what is stored is worded in English
(`explain_in_english`) and each page shows it in its own language with the same words
(static/js/cloud-words.js, which tests/console/test_stored_words.py holds to this table).
"""

from django.utils import translation
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy as _

from tcadh.errors import TcadhError

BUY_CONCURRENCY = _("in the Digital Human console (resource management) buy or renew "
                    "session-interaction concurrency")

# code -> (what happened, what to do)
CLOUD_ERROR_WORDS: dict[int, tuple[str, str]] = {
    -101000: (_("the cloud had an internal error"), _("try again in a moment")),
    -101001: (_("the cloud has no rendering capacity free right now"),
              _("try again in a minute; if it keeps happening, contact Tencent Cloud support")),
    -101002: (_("the cloud could not download an image (background or foreground)"),
              _("check that its URL is public and the file is a jpg or png under 1 MB")),
    -111001: (_("the cloud could not change the stream's layout"), _("try again; keep the values within their ranges")),
    -111002: (_("the cloud's connection to the session dropped"), _("create a new session")),
    -111003: (_("the cloud could not load the avatar model"), _("create the session again, or choose another avatar")),
    -111004: (_("the cloud timed out creating the stream"), _("create the session again")),
    -111005: (_("the cloud could not drive the avatar with that text or audio"), _("send it again, or shorten it")),
    100001: (_("the cloud rejected a parameter (format, length, type or a missing value)"),
             _("check the values in the form")),
    100005: (_("the cloud refused this appkey for that project or asset, or the credentials"),
             _("check in Admin → Accounts that the project or asset belongs to this account and that the "
              "appkey and accesstoken are right")),
    100008: (_("every concurrent session the account purchased is in use"),
             format_lazy(_("close a live session on the Dashboard, or {buy}"), buy=BUY_CONCURRENCY)),
    100012: (_("requests came too fast for the cloud"), _("wait a moment and try again")),
    100014: (_("the account has no session concurrency quota left, or it has expired"), BUY_CONCURRENCY),
    100015: (_("this avatar has expired"),
             _("renew it in the Digital Human console (asset management), or choose another avatar")),
    110013: (_("the session is already closed in the cloud"), _("create a new session")),
    110014: (_("the session is not ready yet"), _("wait until it is ready, then try again")),
    110015: (_("the command came at the wrong moment and was not processed"),
             _("wait until the avatar finishes speaking, or interrupt it first")),
    110016: (_("the session was never started"), _("start it first")),
    110018: (_("the cloud does not know this session (it may have expired)"), _("create a new session")),
    110021: (_("the TRTC application is in arrears or has no minutes left"),
             _("top up the TRTC account in the Tencent Cloud console, or use the RTMP or WebRTC protocol")),
    110022: (_("the session was closed because another session was created with the same UserId"),
             _("give each session its own UserId")),
}

QUOTA_CODES = frozenset({-101001, 100008, 100014, 100015, 110021})


def cloud_error_words(code: int, message: str = "") -> str:
    """What went wrong and what to do, then the cloud's own words and code for support."""
    said = message or gettext("no message")
    known = CLOUD_ERROR_WORDS.get(code)
    if known is None:
        return gettext("the cloud refused: %(said)s (code %(code)s)") % {"said": said, "code": code}
    what, todo = known
    return gettext("%(what)s: %(todo)s (the cloud said: %(said)s, code %(code)s)") % {
        "what": what, "todo": todo, "said": said, "code": code}


def explain(exc: TcadhError) -> str:
    return cloud_error_words(exc.code, exc.message)


def explain_in_english(exc: TcadhError) -> str:
    """`explain` as a row stores it, whatever language the request that caused it speaks: in
    English, which each page puts in its viewer's language (static/js/cloud-words.js)."""
    with translation.override(None):
        return explain(exc)
