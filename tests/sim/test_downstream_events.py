"""Downstream events of PROTOCOL.md §11.8 beyond the basic speak statuses: Type 2 (what a
non-clause stream is parsed into), Type 5 (a bound bot's reasoning), the Waiting* states and
AudioOver FinalType 3 for an interrupted audio."""

from __future__ import annotations

import base64
import dataclasses

from tcadh_sim.config import DEMO_ACCOUNT

from .conftest import make_config
from .helpers import PROJECT, Socket, is_status, new_req_id, statuses


def _stream(socket: Socket, req_id: str, seq: int, text: str, **data) -> None:
    socket.send("SEND_STREAMTEXT", {"Text": text, "Seq": seq, **data}, req_id)


def _audio(socket: Socket, req_id: str, seq: int, pcm: bytes, **data) -> None:
    socket.send("SEND_AUDIO", {"Audio": base64.b64encode(pcm).decode(), "Seq": seq, **data}, req_id)


def test_non_clause_stream_tells_what_it_will_say_as_type_2(client):
    socket = client.connect(client.started_session())
    request = new_req_id()
    _stream(socket, request, 1, "Hello there, ")
    _stream(socket, request, 2, 'and <insert-action type="waving_hand"/>welcome.', IsFinal=True)
    frames = socket.until(is_status("TextOver", request))
    content = [f["Payload"] for f in frames if f["Payload"].get("Type") == 2]
    assert [(c["Seq"], c["Text"], c["ContentType"]) for c in content] == [
        (1, "Hello there,", 1), (2, "and welcome.", 9)]
    assert content[1]["TextPro"] == 'and <insert-action type="waving_hand"/>welcome.'
    assert all(c["ReqId"] == request and c["Uninterrupt"] is False and c["Muted"] is False for c in content)


def test_clause_mode_has_no_type_2(client):
    socket = client.connect(client.started_session())
    request = new_req_id()
    _stream(socket, request, 1, "A complete clause here.", IsSentence=True, IsFinal=True)
    frames = socket.until(is_status("TextOver", request))
    assert 2 not in [f["Payload"].get("Type") for f in frames]


def test_bound_bot_reasons_before_it_answers(server_factory):
    account = dataclasses.replace(DEMO_ACCOUNT, bot_projects=(PROJECT,))
    client = server_factory(dataclasses.replace(make_config(), accounts=(account,))).client()
    socket = client.connect(client.started_session())
    request = socket.send("SEND_TEXT", {"Text": "Why is the sky blue?"})
    frames = socket.until(is_status("TextOver", request))
    kinds = [f["Payload"]["Type"] for f in frames]
    assert kinds.index(1) < kinds.index(5) < kinds.index(4)
    reasoning = next(f["Payload"] for f in frames if f["Payload"]["Type"] == 5)
    assert reasoning["ReqId"] == request and "Why is the sky blue?" in reasoning["TextDisplay"]


def test_waiting_start_states(server_factory):
    client = server_factory(behaviour={"waiting_states": "start"}).client()
    socket = client.connect(client.started_session())
    text = socket.text("plain")
    socket.until(is_status("TextOver", text))
    assert statuses(socket.seen, text, waiting=True) == ["WaitingTextStart", "TextStart", "TextOver"]
    audio = new_req_id()
    _audio(socket, audio, 1, b"\0" * 5120)
    _audio(socket, audio, 2, b"", IsFinal=True)
    socket.until(is_status("AudioOver", audio))
    assert statuses(socket.seen, audio, waiting=True) == ["WaitingAudioStart", "AudioStart", "AudioOver"]


def test_all_waiting_states_of_a_stream_and_of_audio(server_factory):
    client = server_factory(behaviour={"waiting_states": "all"}).client()
    socket = client.connect(client.started_session())
    stream = new_req_id()
    _stream(socket, stream, 1, "Some words, ")
    socket.until(is_status("TextStart", stream))
    _stream(socket, stream, 2, "and the end.", IsFinal=True)
    socket.until(is_status("TextOver", stream))
    assert statuses(socket.seen, stream, waiting=True) == [
        "WaitingTextStart", "TextStart", "WaitingTextOver", "TextOver"]
    audio = new_req_id()
    _audio(socket, audio, 1, b"\0" * 5120)
    _audio(socket, audio, 2, b"", IsFinal=True)
    socket.until(is_status("AudioOver", audio))
    assert statuses(socket.seen, audio, waiting=True) == [
        "WaitingAudioStart", "AudioStart", "WaitingAudioOver", "AudioOver"]


def test_no_waiting_states_by_default(client):
    socket = client.connect(client.started_session())
    request = socket.text("plain")
    socket.until(is_status("TextOver", request))
    assert statuses(socket.seen, request, waiting=True) == ["TextStart", "TextOver"]


def test_interrupted_audio_ends_with_final_type_3(client):
    socket = client.connect(client.started_session())
    audio = new_req_id()
    for seq in range(1, 4):
        _audio(socket, audio, seq, b"\0" * 5120)
    socket.until(is_status("AudioStart", audio))
    _audio(socket, audio, 4, b"", IsFinal=True, Interrupt=True)
    over = socket.until(is_status("AudioOver", audio))[-1]
    assert over["Payload"]["FinalType"] == 3
    after = socket.text("text right after")
    assert all(f["Header"]["Code"] == 0 for f in socket.until(is_status("TextOver", after)))


def test_audio_interrupt_can_be_refused(server_factory):
    client = server_factory(behaviour={"audio_interrupt": "refuse"}).client()
    socket = client.connect(client.started_session())
    audio = new_req_id()
    _audio(socket, audio, 1, b"\0" * 5120)
    _audio(socket, audio, 2, b"", IsFinal=True, Interrupt=True)
    error = socket.error()
    assert error["Header"]["Code"] == 100001 and error["Header"]["Message"].startswith("Data.Interrupt")
