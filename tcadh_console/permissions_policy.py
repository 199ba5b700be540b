"""The Permissions-Policy header (Django has none of its own): which powerful browser features the
console's pages, and anything they embed, may use. Built once from settings.PERMISSIONS_POLICY."""

from django.conf import settings


def header_value(policy: dict[str, list[str]]) -> str:
    """{"microphone": ["self"], "camera": []} → 'microphone=(self), camera=()'."""
    return ", ".join(f"{feature}=({' '.join(allowed)})" for feature, allowed in policy.items())


class PermissionsPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.value = header_value(settings.PERMISSIONS_POLICY)

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", self.value)
        return response
