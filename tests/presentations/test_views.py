"""Script pages, the presenter and audience views: who may open them and what they show."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from presentations import limits, services
from presentations.models import DemoScript
from presentations.services import CueSpec
from tests.console.helpers import create_session

DRIVER_PAGES = ["script_list", "script_new", "script_import", "kiosk_list", "kiosk_new"]


@pytest.fixture
def script(operator):
    return services.script_create(user=operator, name="Launch demo", cues=[
        CueSpec("text", 'Hello<break time="300ms"/> everyone', note="Wave first"),
        CueSpec("pause", pause_seconds=3),
        CueSpec("text", "<word>broken"),
    ])


def formset_data(cues: list[dict], **fields) -> dict:
    data = {"cues-TOTAL_FORMS": len(cues), "cues-INITIAL_FORMS": 0, "cues-MIN_NUM_FORMS": 0,
            "cues-MAX_NUM_FORMS": 1000, **fields}
    for index, cue in enumerate(cues):
        for key, value in cue.items():
            data[f"cues-{index}-{key}"] = value
    return data


@pytest.mark.parametrize("name", DRIVER_PAGES)
def test_pages_need_login(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


@pytest.mark.parametrize("name", DRIVER_PAGES)
def test_auditors_may_not_edit_scripts_or_kiosks(client, auditor, name):
    client.force_login(auditor)
    assert client.get(reverse(name)).status_code == 403


@pytest.mark.parametrize("name", DRIVER_PAGES)
def test_operators_see_the_pages(client, operator, name):
    client.force_login(operator)
    assert client.get(reverse(name)).status_code == 200


def test_nav_links_for_operators_only(client, operator, auditor):
    client.force_login(operator)
    page = client.get(reverse("dashboard")).content.decode()
    assert f'href="{reverse("script_list")}">Scripts<' in page and f'href="{reverse("kiosk_list")}">Kiosk<' in page
    client.force_login(auditor)
    page = client.get(reverse("dashboard")).content.decode()
    assert ">Scripts<" not in page and ">Kiosk<" not in page


def test_editor_creates_a_script_in_the_posted_order(client, operator):
    client.force_login(operator)
    response = client.post(reverse("script_new"), formset_data([
        {"kind": "text", "text": "second", "ORDER": 2},
        {"kind": "pause", "pause_seconds": "2.5", "ORDER": 3, "note": "breathe"},
        {"kind": "text", "text": "first", "ORDER": 1},
        {"kind": "text", "text": "dropped", "ORDER": 4, "DELETE": "on"},
    ], name="Ordered"))
    script = DemoScript.objects.get(name="Ordered")
    assert response.status_code == 302 and response.url == reverse("script_edit", args=[script.pk])
    assert [(c.kind, c.text, float(c.pause_seconds), c.note) for c in script.cues.all()] == [
        ("text", "first", 0.0, ""), ("text", "second", 0.0, ""), ("pause", "", 2.5, "breathe")]


def test_editor_explains_invalid_cues_and_keeps_the_input(client, operator):
    client.force_login(operator)
    response = client.post(reverse("script_new"), formset_data([
        {"kind": "pause", "ORDER": 1}, {"kind": "text", "text": "", "ORDER": 2},
    ], name="Bad"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "How long is the pause?" in page and "Write what the avatar says" in page
    assert not DemoScript.objects.exists()


def test_editor_shows_ssml_problems_of_saved_cues(client, operator, script):
    client.force_login(operator)
    page = client.get(reverse("script_edit", args=[script.pk])).content.decode()
    assert "&lt;word&gt; is never closed" in page
    assert 'value="Launch demo"' in page and "Wave first" in page


def test_editor_update_and_delete(client, operator, script):
    client.force_login(operator)
    response = client.post(reverse("script_edit", args=[script.pk]),
                           formset_data([{"kind": "text", "text": "only one", "ORDER": 1}], name="Renamed"))
    assert response.status_code == 302
    script.refresh_from_db()
    assert script.name == "Renamed" and [c.text for c in script.cues.all()] == ["only one"]
    assert client.post(reverse("script_delete", args=[script.pk])).status_code == 302
    assert not DemoScript.objects.exists()


def test_import_from_file_and_export_round_trip(client, operator):
    client.force_login(operator)
    text = "> note\nHello there\n\n[pause 2]\n\nSecond <break time=\"1s\"/> cue\n"
    upload = SimpleUploadedFile("talk.txt", text.encode("utf-8-sig"), content_type="text/plain")
    response = client.post(reverse("script_import"), {"name": "From file", "file": upload})
    script = DemoScript.objects.get(name="From file")
    assert response.status_code == 302
    exported = client.get(reverse("script_export", args=[script.pk]))
    assert exported["Content-Disposition"] == 'attachment; filename="from-file.txt"'
    assert exported.content.decode() == text


def test_import_refuses_non_utf8_and_empty(client, operator):
    client.force_login(operator)
    upload = SimpleUploadedFile("talk.txt", "héllo".encode("latin-1"))
    page = client.post(reverse("script_import"), {"name": "x", "file": upload}).content.decode()
    assert "not UTF-8" in page
    page = client.post(reverse("script_import"), {"name": "x", "text": " \n "}).content.decode()
    assert "Choose a file or paste" in page
    assert not DemoScript.objects.exists()


def test_ssml_check_endpoint(client, operator):
    client.force_login(operator)
    url = reverse("ssml_check")
    reply = client.post(url, json.dumps({"text": '<insert-action type="x"/>重', "action_codes": ["wave"]}),
                        content_type="application/json").json()
    assert reply["bytes"] == len('<insert-action type="x"/>重'.encode())
    assert reply["problems"] == [{"message": 'action "x" is not one of this avatar\'s action codes (wave)',
                                  "severity": "warning"}]
    assert client.post(url, json.dumps({"text": 3}), content_type="application/json").status_code == 400


def test_presenter_needs_a_driver_and_offers_scripts(client, sim, account, operator, auditor, script):
    session = create_session(operator, account)
    url = reverse("presenter", args=[session.pk])
    client.force_login(auditor)
    assert client.get(url).status_code == 403
    client.force_login(operator)
    page = client.get(url).content.decode()
    assert "Choose a script" in page and f"?script={script.pk}" in page


def test_presenter_view_carries_the_cues_and_the_session(client, sim, account, operator, script):
    session = create_session(operator, account)
    client.force_login(operator)
    response = client.get(reverse("presenter", args=[session.pk]) + f"?script={script.pk}")
    page = response.content.decode()
    for name in ("Next cue", "Previous cue", "Interrupt", "Microphone"):
        assert name in page
    data = response.context["script_data"]
    assert [c["spoken"] for c in data["cues"]] == ["Hello everyone", "", "broken"]
    assert data["cues"][2]["problems"][0]["message"] == "<word> is never closed"
    stage = response.context["stage"]
    assert stage["ws_path"] == f"/ws/sessions/{session.pk}/chat/"
    assert stage["idle"]["limit_seconds"] == session.project.idle_limit_seconds
    assert session.play_stream_addr not in page or not session.play_stream_addr


def test_audience_view_for_viewers_without_console_chrome(client, sim, account, operator, auditor):
    session = create_session(operator, account)
    client.force_login(auditor)
    response = client.get(reverse("audience", args=[session.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert 'role="status"' in page and 'class="topbar"' not in page and "Log out" not in page


def test_session_page_links_to_present(client, sim, account, operator):
    session = create_session(operator, account)
    client.force_login(operator)
    page = client.get(reverse("session_detail", args=[session.pk])).content.decode()
    assert f'href="{reverse("presenter", args=[session.pk])}">Present<' in page


# -- hostile and oversized input --------------------------------------------------------------------

@pytest.mark.parametrize("body", [b"[]", b"3", b'"text"', b"null", b"[" * 100_000 + b"]" * 100_000,
                                  b"\xff\xfe", b"{"])
def test_ssml_check_refuses_what_is_not_a_json_object(client, operator, body):
    client.force_login(operator)
    response = client.post(reverse("ssml_check"), body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"error": "the body must be a JSON object"}


def test_ssml_check_refuses_a_lone_surrogate(client, operator):
    client.force_login(operator)
    for body in ('{"text": "a\\ud83d"}', '{"text": "ok", "action_codes": ["\\udc00"]}'):
        response = client.post(reverse("ssml_check"), body, content_type="application/json")
        assert response.status_code == 400
        assert "lone surrogate" in response.json()["error"]


def test_ssml_check_answers_a_tag_opened_before_a_long_run_of_spaces(client, operator):
    client.force_login(operator)
    text = "<" + " " * 18_000
    reply = client.post(reverse("ssml_check"), json.dumps({"text": text}), content_type="application/json").json()
    assert reply["bytes"] == 18_001
    assert "a '<' that is not part of a tag near “<”" in [p["message"] for p in reply["problems"]]


@pytest.mark.parametrize("script_id", ["²", "٣", "1e3", " 1", str(2**63)])
def test_presenter_refuses_a_script_that_is_not_an_id(client, sim, account, operator, script, script_id):
    session = create_session(operator, account)
    client.force_login(operator)
    response = client.get(reverse("presenter", args=[session.pk]), {"script": script_id})
    assert response.status_code == 400
    assert response.content.decode() == "script must be an id (digits only)."


def test_presenter_with_an_unknown_script_in_range_is_404(client, sim, account, operator):
    session = create_session(operator, account)
    client.force_login(operator)
    assert client.get(reverse("presenter", args=[session.pk]), {"script": str(2**63 - 1)}).status_code == 404


@pytest.mark.parametrize("pk", [2**63, 10**30])
def test_ids_beyond_the_database_range_in_a_path_are_404(client, operator, pk):
    client.force_login(operator)
    for name in ("script_edit", "script_export", "presenter", "audience"):
        assert client.get(f"{reverse(name, args=[1]).replace('/1/', f'/{pk}/')}").status_code == 404, name


def test_a_pasted_import_over_the_limit_is_refused(client, operator):
    client.force_login(operator)
    text = ("A cue of twenty bytes\n\n" * (limits.SCRIPT_MAX_BYTES // 23 + 1))
    assert len(text.encode()) > limits.SCRIPT_MAX_BYTES
    page = client.post(reverse("script_import"), {"name": "Big", "text": text}).content.decode()
    assert f"The text is larger than {limits.SCRIPT_MAX_BYTES // 1024} KB." in page
    assert not DemoScript.objects.exists()


def test_an_import_with_more_cues_than_a_script_holds_is_refused(client, operator):
    client.force_login(operator)
    text = "Hi\n\n" * (limits.SCRIPT_MAX_CUES + 1)
    page = client.post(reverse("script_import"), {"name": "Many", "text": text}).content.decode()
    assert f"A script has at most {limits.SCRIPT_MAX_CUES} cues; this one has {limits.SCRIPT_MAX_CUES + 1}." in page
    assert not DemoScript.objects.exists()


def test_an_imported_file_with_a_nul_is_refused(client, operator):
    client.force_login(operator)
    upload = SimpleUploadedFile("talk.txt", b"Hello\x00there\n", content_type="text/plain")
    page = client.post(reverse("script_import"), {"name": "Nul", "file": upload}).content.decode()
    assert "The file holds a NUL character" in page
    assert not DemoScript.objects.exists()


def test_the_editor_saves_every_script_the_importer_accepts(client, operator):
    """The largest import (SCRIPT_MAX_CUES cues) opens in the editor and saves back unchanged."""
    client.force_login(operator)
    text = "".join(f"Cue number {n}\n\n" for n in range(limits.SCRIPT_MAX_CUES))
    assert client.post(reverse("script_import"), {"name": "Long", "text": text}).status_code == 302
    script = DemoScript.objects.get(name="Long")
    editor = client.get(reverse("script_edit", args=[script.pk]))
    formset = editor.context["formset"]
    data = {"name": "Long", "project": "", "asset": "", **{
        f"{formset.management_form.prefix}-{name}": value
        for name, value in formset.management_form.initial.items()}}
    for form in formset.forms:
        for name, field in form.fields.items():
            value = form[name].value()
            if name != "DELETE":
                data[form.add_prefix(name)] = "" if value is None else value
    saved = client.post(reverse("script_edit", args=[script.pk]), data)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    expected = [f"Cue number {n}" for n in range(limits.SCRIPT_MAX_CUES)]
    assert [c.text for c in script.cues.order_by("position")] == expected


def test_the_editor_saves_a_205_cue_script(client, operator):
    client.force_login(operator)
    # What the browser posts per cue: every field but the unticked Delete box.
    cues = [{"kind": "text", "text": f"Cue {n}", "pause_seconds": "", "note": "", "ORDER": n + 1} for n in range(205)]
    response = client.post(reverse("script_new"), formset_data(cues, name="Two hundred and five"))
    assert response.status_code == 302
    assert DemoScript.objects.get(name="Two hundred and five").cues.count() == 205


def test_the_editor_refuses_nul_in_a_cue(client, operator):
    client.force_login(operator)
    page = client.post(reverse("script_new"), formset_data([{"kind": "text", "text": "Hi\x00there", "ORDER": 1}],
                                                           name="Nul")).content.decode()
    assert "Null characters are not allowed." in page
    assert not DemoScript.objects.exists()
