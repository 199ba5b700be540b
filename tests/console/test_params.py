"""The strict parsing of ids and datetimes from paths, query strings and form posts."""

from datetime import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from sessions_app import params


@pytest.mark.parametrize("raw, value", [("0", 0), ("7", 7), ("007", 7), (str(2**63 - 1), 2**63 - 1)])
def test_ids_in_range_are_read(raw, value):
    assert params.parse_id(raw, name="session") == value


@pytest.mark.parametrize("raw", ["", "²", "٣", "１", "-1", "+1", " 1", "1 ", "1\n", "1.0", "1e3", "0x1",
                                 "1_000", str(2**63), "9" * 19, "1" * 20, None, 5])
def test_anything_else_is_a_bad_parameter(raw):
    with pytest.raises(params.BadParameter, match="session must be an id"):
        params.parse_id(raw, name="session")


def test_an_optional_id_may_be_absent():
    assert params.parse_optional_id(None, name="script") is None
    assert params.parse_optional_id("", name="script") is None
    assert params.parse_optional_id("12", name="script") == 12
    with pytest.raises(params.BadParameter):
        params.parse_optional_id("²", name="script")


def test_the_path_converter_matches_ids_only_in_range():
    converter = params.IdConverter()
    assert converter.to_python("42") == 42
    with pytest.raises(ValueError):
        converter.to_python(str(2**63))


@pytest.mark.parametrize("raw, expected", [
    ("2026-01-31", datetime(2026, 1, 31)),
    ("2026-01-31T09:30", datetime(2026, 1, 31, 9, 30)),
    ("2026-01-31 09:30:15", datetime(2026, 1, 31, 9, 30, 15)),
    ("1970-01-01T00:00", datetime(1970, 1, 1)),
])
def test_datetimes_are_read_in_the_current_time_zone(raw, expected):
    assert params.parse_datetime(raw, name="From") == timezone.make_aware(expected)


@pytest.mark.parametrize("raw, message", [
    ("0001-01-01T00:00", "between 1970 and 9000"),
    ("9999-12-31T23:59", "between 1970 and 9000"),
    ("1969-12-31T23:59", "between 1970 and 9000"),
    ("2026-02-30", "not a date that exists"),
    ("2026-01-31T24:00", "not a date that exists"),
    ("２０２６-01-31", "like 2026-01-31T09:30"),
    ("2026-1-31", "like 2026-01-31T09:30"),
    ("31/01/2026", "like 2026-01-31T09:30"),
    ("2026-01-31T09:30+08:00", "like 2026-01-31T09:30"),
])
def test_datetimes_outside_the_safe_range_or_form_are_bad(raw, message):
    with pytest.raises(params.BadParameter, match=message):
        params.parse_datetime(raw, name="From")


@pytest.mark.parametrize("body", [b"[]", b"1", b"null", b'"x"', b"{", b"\xff", b"[" * 50_000])
def test_a_body_must_be_a_json_object(body):
    with pytest.raises(params.BadParameter, match="must be a JSON object"):
        params.parse_json_object(body)


def test_lone_surrogates_are_not_text():
    assert params.is_unicode_text("ok 重 😀")
    assert not params.is_unicode_text("half \ud83d")


@pytest.mark.django_db
def test_a_row_is_chosen_by_its_ascii_id_only(django_user_model):
    user = django_user_model.objects.create_user("chosen")
    field = params.IdChoiceField(queryset=django_user_model.objects.all())
    assert field.clean(str(user.pk)) == user
    arabic_indic = "".join(chr(0x660 + int(digit)) for digit in str(user.pk))  # int() reads it as the pk
    for raw in (arabic_indic, "²", f" {user.pk}", str(2**63)):
        with pytest.raises(ValidationError, match="Select a valid choice"):
            field.clean(raw)
