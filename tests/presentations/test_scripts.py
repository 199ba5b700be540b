"""Scripts: the plain-text format, and the services that keep cues in order."""

from decimal import Decimal

import pytest

from presentations import services
from presentations.models import Cue, DemoScript
from presentations.services import CueSpec
from sessions_app.models import AuditEntry

TEXT = """> Smile, wait for the room.
Welcome to the TCADH booth!
I can speak <break time="300ms"/> with pauses.

[pause 3]

> Point at the screen
<insert-action type="waving_hand"/>Look over here.

[Pause 1.5s]
> breathe

> A note with no words to say
"""


def test_import_format_one_cue_per_paragraph():
    cues = services.script_text_parse(TEXT)
    assert cues == [
        CueSpec("text", 'Welcome to the TCADH booth!\nI can speak <break time="300ms"/> with pauses.',
                Decimal("0"), "Smile, wait for the room."),
        CueSpec("pause", "", Decimal("3.0"), ""),
        CueSpec("text", '<insert-action type="waving_hand"/>Look over here.', Decimal("0"), "Point at the screen"),
        CueSpec("pause", "", Decimal("1.5"), "breathe"),
        CueSpec("text", "", Decimal("0"), "A note with no words to say"),
    ]


def test_export_then_import_gives_the_same_cues():
    cues = services.script_text_parse(TEXT)
    exported = services.script_text_format(cues)
    assert services.script_text_parse(exported) == cues
    assert "[pause 3]" in exported and "[pause 1.5]" in exported


@pytest.mark.parametrize("said", ["> not a note", "[pause 3]", "\\back slash", "two\n> lines"])
def test_text_that_looks_like_markup_round_trips(said):
    cues = [CueSpec("text", said, Decimal("0"), "")]
    assert services.script_text_parse(services.script_text_format(cues)) == cues


def test_windows_line_endings_and_blank_runs_are_tolerated():
    cues = services.script_text_parse("\ufeffOne\r\n\r\n\r\n\r\n[pause 2]\r\n\r\nTwo\r\n")
    assert [(c.kind, c.text) for c in cues] == [("text", "One"), ("pause", ""), ("text", "Two")]


@pytest.mark.parametrize("text", ["[pause 0]", "[pause 601]"])
def test_pause_lengths_are_bounded(text):
    with pytest.raises(services.ServiceError, match="paragraph 1"):
        services.script_text_parse(text)


def test_import_creates_an_audited_script(operator, db):
    script = services.script_import(user=operator, name="Booth", text=TEXT)
    assert [c.position for c in script.cues.all()] == [1, 2, 3, 4, 5]
    assert script.created_by == operator
    entry = AuditEntry.objects.get(action="script_import")
    assert entry.actor == operator and "Booth" in entry.detail and "5 cues" in entry.detail


def test_import_of_empty_text_is_refused(operator, db):
    with pytest.raises(services.ServiceError, match="no cues"):
        services.script_import(user=operator, name="Empty", text="\n\n  \n")
    assert not DemoScript.objects.exists()


def test_update_replaces_cues_in_the_given_order(operator, db):
    script = services.script_create(user=operator, name="Demo", cues=[CueSpec("text", "one"), CueSpec("text", "two")])
    services.script_update(user=operator, script=script, name="Demo 2", cues=[
        CueSpec("text", "two"), CueSpec("pause", pause_seconds=Decimal("2")), CueSpec("text", "one\n\n\nmore"),
    ])
    script.refresh_from_db()
    assert script.name == "Demo 2"
    assert [(c.position, c.kind, c.text) for c in script.cues.all()] == [
        (1, "text", "two"), (2, "pause", ""), (3, "text", "one\nmore")]


@pytest.mark.parametrize("spec, message", [
    (CueSpec("pause", pause_seconds=Decimal("0")), "a pause lasts"),
    (CueSpec("text", "  ", note=""), "needs text or a note"),
    (CueSpec("song", "la"), "unknown cue kind"),
])
def test_invalid_cues_are_refused(operator, db, spec, message):
    with pytest.raises(services.ServiceError, match=message):
        services.script_create(user=operator, name="Bad", cues=[spec])


def test_a_script_has_a_project_or_an_asset_not_both(operator, account):
    with pytest.raises(services.ServiceError, match="not both"):
        services.script_create(user=operator, name="x", cues=[CueSpec("text", "hi")],
                               project=account.projects.first(), asset=account.assets.first())
    script = services.script_create(user=operator, name="x", cues=[CueSpec("text", "hi")],
                                    asset=account.assets.first())
    assert script.account == account


def test_delete_is_audited(operator, db):
    script = services.script_create(user=operator, name="Gone", cues=[CueSpec("text", "hi")])
    services.script_delete(user=operator, script=script)
    assert not Cue.objects.exists()
    assert AuditEntry.objects.filter(action="script_delete", detail__contains="Gone").exists()


@pytest.mark.parametrize("spec", [CueSpec("text", "Hi\x00there"), CueSpec("text", "Hi", note="a\x00b")])
def test_a_cue_with_a_nul_is_refused_whichever_way_it_comes(operator, spec):
    with pytest.raises(services.ServiceError, match="NUL"):
        services.script_create(user=operator, name="Nul", cues=[spec])
    assert not DemoScript.objects.exists()
