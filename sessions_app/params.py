"""Strict parsing of what arrives in paths, query strings, form posts and JSON bodies: ids,
datetimes, rows chosen by id, JSON objects and text that must have a UTF-8 form.

`str.isdigit()` and `int()` accept much more than an id: "²" is a digit to the first and "٣" a
number to the second, and a Python int has no ceiling while the database's has. Everything here
takes ASCII digits only and stays inside what the database and `datetime` arithmetic can hold, so
a bad parameter is a 400 (or a 404 in a path), never a 500.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

from django import forms
from django.utils import timezone

# The database's bigint: every primary key and foreign key of the console fits in it.
ID_MAX = 2**63 - 1
_ID = re.compile(r"[0-9]{1,19}")

# Far enough from datetime.min and datetime.max that a filter can be shifted by the pages' ranges
# (a day, a month) and converted between time zones without leaving what datetime can hold.
DATETIME_MIN = datetime(1970, 1, 1)
DATETIME_MAX = datetime(9000, 1, 1)
_DATETIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?)?")


class BadParameter(ValueError):
    """A parameter that is not what it must be; its message says what was expected."""


def parse_id(raw: str, *, name: str) -> int:
    """An id: 1 to 19 ASCII digits within the signed 64-bit range."""
    if not isinstance(raw, str) or not _ID.fullmatch(raw) or int(raw) > ID_MAX:
        raise BadParameter(f"{name} must be an id (digits only)")
    return int(raw)


def parse_optional_id(raw: str | None, *, name: str) -> int | None:
    """None when the parameter is absent or empty, an id otherwise."""
    return None if raw in (None, "") else parse_id(raw, name=name)


def parse_datetime(raw: str, *, name: str) -> datetime:
    """`YYYY-MM-DD`, `YYYY-MM-DDTHH:MM` or `YYYY-MM-DDTHH:MM:SS` in ASCII digits, read in the current
    time zone, between DATETIME_MIN and DATETIME_MAX."""
    found = _DATETIME.fullmatch(raw.strip()) if isinstance(raw, str) else None
    if not found:
        raise BadParameter(f"{name} must be a date and time like 2026-01-31T09:30")
    try:
        naive = datetime(*(int(part) for part in found.groups(default="0")))
    except ValueError:
        raise BadParameter(f"{name} is not a date that exists") from None
    if not DATETIME_MIN <= naive <= DATETIME_MAX:
        raise BadParameter(f"{name} must be between {DATETIME_MIN:%Y} and {DATETIME_MAX:%Y}")
    return timezone.make_aware(naive)


class IdConverter:
    """The `<id:pk>` path converter: an id no database lookup chokes on; anything else is a 404."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        # A ValueError here makes the URL not match, which Django answers with 404.
        return parse_id(value, name="id")

    def to_url(self, value: int) -> str:
        return str(value)


class DateTimeParamField(forms.DateTimeField):
    """A form's date-and-time filter, parsed by `parse_datetime` rather than the locale's formats."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, datetime):
            return value
        try:
            return parse_datetime(value, name=str(self.label or "the date"))
        except BadParameter as exc:
            raise forms.ValidationError(f"{str(exc)[:1].upper()}{str(exc)[1:]}.", code="invalid") from None


def parse_json_object(body: bytes) -> dict:
    """A request body that must be a JSON object. Nesting too deep for the parser, a body that is
    not UTF-8 and JSON that is not an object are bad parameters like any other."""
    try:
        value = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        raise BadParameter("the body must be a JSON object") from None
    if not isinstance(value, dict):
        raise BadParameter("the body must be a JSON object")
    return value


def is_unicode_text(value: str) -> bool:
    """False for a string holding a lone UTF-16 surrogate (JSON lets "\\ud800" through): it has no
    UTF-8 form, so nothing can store, send or measure it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class IdChoiceField(forms.ModelChoiceField):
    """A choice of row by id, the id read by `parse_id`: "٣" is not row 3."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if not isinstance(value, self.queryset.model):
            try:
                parse_id(str(value), name="the choice")
            except BadParameter:
                raise forms.ValidationError(self.error_messages["invalid_choice"], code="invalid_choice",
                                            params={"value": value}) from None
        return super().to_python(value)
