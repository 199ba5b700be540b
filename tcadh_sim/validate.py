"""Field checks for JSON payloads; each failure is a 100001 naming the field."""

from __future__ import annotations

from typing import Any

from .errors import INVALID_PARAMETER, ApiError


def bad(field: str, problem: str) -> ApiError:
    return ApiError(INVALID_PARAMETER, f"{field}: {problem}")


def parse_envelope(body: Any) -> dict[str, Any]:
    """Return the Payload of a `{"Header":{}, "Payload":{}}` body.

    A missing Header is accepted (PROTOCOL.md §5, 2026-12): published third-party clients send
    only a Payload on every call and get Code 0 from the gateway. A Header that is present must
    still be a JSON object."""
    if not isinstance(body, dict):
        raise bad("body", "expected a JSON object with Header and Payload")
    if "Header" in body and not isinstance(body["Header"], dict):
        raise bad("Header", "must be a JSON object (may be empty) when given")
    payload = body.get("Payload")
    if not isinstance(payload, dict):
        raise bad("Payload", "required JSON object")
    return payload


def _where(obj: str, key: str) -> str:
    return f"{obj}.{key}"


def req_str(data: dict[str, Any], key: str, obj: str = "Payload") -> str:
    value = data.get(key)
    if value is None:
        raise bad(_where(obj, key), "required")
    if not isinstance(value, str):
        raise bad(_where(obj, key), "expected a string")
    if not value:
        raise bad(_where(obj, key), "must not be empty")
    return value


def opt_str(data: dict[str, Any], key: str, obj: str = "Payload", default: str = "") -> str:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise bad(_where(obj, key), "expected a string")
    return value


def opt_bool(data: dict[str, Any], key: str, obj: str = "Payload", default: bool = False) -> bool:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad(_where(obj, key), "expected true or false")
    return value


def opt_int(data: dict[str, Any], key: str, obj: str = "Payload") -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad(_where(obj, key), "expected an integer")
    return value


def req_int(data: dict[str, Any], key: str, obj: str = "Payload") -> int:
    value = opt_int(data, key, obj)
    if value is None:
        raise bad(_where(obj, key), "required")
    return value


def opt_number(data: dict[str, Any], key: str, obj: str = "Payload") -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad(_where(obj, key), "expected a number")
    return float(value)


def opt_object(data: dict[str, Any], key: str, obj: str = "Payload") -> dict[str, Any] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad(_where(obj, key), "expected a JSON object")
    return value


def opt_list(data: dict[str, Any], key: str, obj: str = "Payload") -> list[Any] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise bad(_where(obj, key), "expected a JSON array")
    return value
