"""SSML well-formedness in SEND_TEXT and clause-mode streams (PROTOCOL.md §12), checked loosely."""

from __future__ import annotations

import time

import pytest

from tcadh_sim.ssml import ssml_problem

from .helpers import COMMAND_API, is_status, new_req_id

WELL_FORMED = [
    "plain text",
    '<speak>你好<break time="300ms"/>世界</speak>',
    'Hello <insert-action type="waving_hand"/> there',
    '<phoneme alphabet="py" ph="zhong4">重</phoneme>要 <word>OpenAI</word>',
    "1 < 2 and <3 for you",
    "<break strength='weak' />",
]
MALFORMED = [
    ("<word>open", "<word> is never closed"),
    ("text</word>", "closes no open tag"),
    ("<word><phoneme ph=\"a1\">x</word></phoneme>", "was expected"),
    ('<break time="300ms"', "not closed with '>'"),
    ("<break time=300ms/>", "not quoted"),
    ('<break time="300ms/>', "not closed"),
    ("<break time/>", "has no value"),
    ("hi <speak>x</speak>", "outermost"),
    ("</ word>", "starts no closing tag"),
]


@pytest.mark.parametrize("text", WELL_FORMED)
def test_well_formed(text):
    assert ssml_problem(text) is None


@pytest.mark.parametrize("text,problem", MALFORMED)
def test_malformed_names_the_problem(text, problem):
    assert problem in (ssml_problem(text) or "")


def test_long_runs_are_checked_in_one_pass():
    start = time.monotonic()
    assert ssml_problem("<" + " " * 100_000) is None
    assert ssml_problem("<a" + " " * 100_000) is not None
    assert ssml_problem("<a " + 'b="c" ' * 20_000) is not None
    assert time.monotonic() - start < 2  # a quadratic scan of these would take minutes


def test_send_text_with_malformed_ssml_is_refused_and_nothing_is_said(client, srv):
    socket = client.connect(client.started_session())
    socket.text('Hello <break time="300ms">there')
    error = socket.error()
    assert error["Header"]["Code"] == 100001
    assert error["Header"]["Message"].startswith("Data.Text: SSML is not well-formed")
    assert srv.hub.named("say") == []
    request = socket.text('Hello <break time="300ms"/>there')
    socket.until(is_status("TextOver", request))


def test_http_command_checks_ssml_too(client):
    session_id = client.started_session()
    body = client.call("command", SessionId=session_id, Command="SEND_TEXT", Data={"Text": "<word>open"})
    assert body["Header"]["Code"] == 100001 and "well-formed" in body["Header"]["Message"]
    assert client.post_raw(COMMAND_API, {"Payload": {"ReqId": new_req_id(), "SessionId": session_id,
                                                     "Command": "SEND_TEXT", "Data": {"Text": "ok"}}}).json()[
        "Header"]["Code"] == 0


def test_clause_mode_is_checked_and_non_clause_fragments_are_not(client):
    socket = client.connect(client.started_session())
    clause = new_req_id()
    socket.send("SEND_STREAMTEXT", {"Text": "A clause with <word>an open tag.", "Seq": 1, "IsSentence": True}, clause)
    assert socket.error()["Header"]["Message"].startswith("Data.Text: SSML is not well-formed")
    fragments = new_req_id()
    socket.send("SEND_STREAMTEXT", {"Text": "A fragment <insert-action", "Seq": 1}, fragments)
    socket.send("SEND_STREAMTEXT", {"Text": ' type="support"/> ends.', "Seq": 2, "IsFinal": True}, fragments)
    frames = socket.until(is_status("TextOver", fragments))
    assert all(f["Header"]["Code"] == 0 for f in frames)


def test_the_check_can_be_switched_off(server_factory):
    client = server_factory(behaviour={"ssml_well_formed": "ignore"}).client()
    socket = client.connect(client.started_session())
    request = socket.text("<word>open")
    assert all(f["Header"]["Code"] == 0 for f in socket.until(is_status("TextOver", request)))
