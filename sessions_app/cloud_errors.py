"""The console's own words for the cloud's error codes (PROTOCOL.md §6) and the client's local codes."""

from django.utils.translation import gettext, gettext_lazy as _

from tcadh.errors import CHANNEL_CLOSED, HTTP_ERROR, INVALID_RESPONSE, NETWORK_ERROR, TIMEOUT_ERROR, TcadhError

MEANINGS = {
    NETWORK_ERROR: _("the cloud could not be reached"),
    TIMEOUT_ERROR: _("the cloud did not answer in time"),
    HTTP_ERROR: _("the cloud answered with an HTTP error"),
    INVALID_RESPONSE: _("the cloud's answer could not be read"),
    CHANNEL_CLOSED: _("the command channel is closed"),
    -101000: _("internal error in the cloud"),
    -101001: _("not enough rendering capacity in the cloud"),
    -101002: _("the cloud could not download the image"),
    -111001: _("the stream parameters could not be updated"),
    -111002: _("the connection dropped"),
    -111003: _("the avatar model failed to load"),
    -111004: _("the stream took too long to create"),
    -111005: _("driving the avatar with text or audio failed"),
    100001: _("a request parameter is invalid"),
    100005: _("this appkey may not do that (wrong project or asset, or bad credentials)"),
    100008: _("the concurrency limit is reached"),
    100012: _("too many requests; slow down"),
    100014: _("the concurrency quota is used up or expired"),
    100015: _("the avatar has expired"),
    110013: _("the session is already closed"),
    110014: _("the session is not ready"),
    110015: _("the command came at the wrong time and was not processed"),
    110016: _("the session was never started"),
    110018: _("the session does not exist"),
    110021: _("the TRTC service is in arrears or out of minutes"),
    110022: _("another stream with the same UserId replaced this session"),
}


def cloud_refusal(exc: TcadhError) -> str:
    """What to tell the operator about a failed call, in the active language; the code stays for support."""
    meaning = MEANINGS.get(exc.code)
    if meaning is None:
        return gettext("the cloud refused: %(message)s (code %(code)s)") % {
            "message": exc.message or gettext("no message"), "code": exc.code}
    return gettext("the cloud refused: %(meaning)s (code %(code)s)") % {"meaning": meaning, "code": exc.code}
