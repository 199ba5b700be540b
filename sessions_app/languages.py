"""The language a WebSocket's viewer reads: chosen from its handshake as LocaleMiddleware chooses a
page's (the language cookie the header's switcher sets, then Accept-Language, then LANGUAGE_CODE),
so a tab's socket speaks the language of the page that opened it."""

from django.http import HttpRequest
from django.utils import translation


def scope_language(scope: dict) -> str:
    """A supported language code (`settings.LANGUAGES`) for this connection's scope."""
    request = HttpRequest()
    # CookieMiddleware (in the router's AuthMiddlewareStack) has parsed the cookies already.
    request.COOKIES = scope.get("cookies", {})
    accept = [value.decode("latin-1") for name, value in scope.get("headers", ()) if name == b"accept-language"]
    if accept:
        request.META["HTTP_ACCEPT_LANGUAGE"] = ",".join(accept)
    # The very function LocaleMiddleware asks, on a request holding what the handshake sent.
    return translation.get_language_from_request(request)
