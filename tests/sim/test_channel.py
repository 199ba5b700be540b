"""The command channel (PROTOCOL.md §11): handshake, validation, speak-status sequences, ordering."""

from __future__ import annotations

import base64
import json
import time

import pytest
import websocket

from tcadh_sim.config import DEMO_ACCOUNT, SimConfig, Timing, Account

from .conftest import FAST
from .helpers import PROJECT, Socket, eventually, is_status, new_req_id, statuses


def _refused(client, session_id) -> dict:
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(client.ws_url(session_id), timeout=5)
    assert info.value.status_code == 403
    return json.loads(info.value.resp_body)


def test_handshake_preconditions(client, server_factory):
    assert _refused(client, "m000000000000000000")["Header"]["Code"] == 110018
    session_id = client.create()
    assert _refused(client, session_id)["Header"]["Code"] == 110016
    client.ok("startsession", SessionId=session_id)
    client.connect(session_id).close()
    client.ok("closesession", SessionId=session_id)
    assert _refused(client, session_id)["Header"]["Code"] == 110013
    preparing = server_factory(prepare_seconds=5).client()
    assert _refused(preparing, preparing.create())["Header"]["Code"] == 110014


def test_handshake_error_frame_mode(server_factory):
    client = server_factory(behaviour={"ws_reject_mode": "error-frame"}).client()
    session_id = client.create()
    socket = Socket(websocket.create_connection(client.ws_url(session_id), timeout=5), session_id)
    assert socket.recv()["Header"]["Code"] == 110016
    assert socket.closed()


def test_second_socket_replaces_the_first(client):
    session_id = client.started_session()
    first = client.connect(session_id)
    second = client.connect(session_id)
    assert first.closed()
    request = second.text("still here")
    assert statuses(second.until(is_status("TextOver", request)), request) == ["TextStart", "TextOver"]


def test_second_socket_can_be_rejected(server_factory):
    client = server_factory(behaviour={"second_websocket": "reject"}).client()
    session_id = client.started_session()
    first = client.connect(session_id)
    assert _refused(client, session_id)["Header"]["Code"] == 110015
    first.send("SEND_HEARTBEAT", {"Text": "PING"})
    assert not first.closed(timeout=0.3)


def test_send_text_sequence_and_hub(client, srv):
    session_id = client.started_session()
    socket = client.connect(session_id)
    request = socket.text("hello <break time=\"100ms\"/>world")
    frames = socket.until(is_status("TextOver", request))
    assert statuses(frames, waiting=True) == ["TextStart", "TextOver"]
    payload = next(f["Payload"] for f in frames if is_status("TextStart")(f))
    assert payload == {"Type": 3, "SessionId": session_id, "ReqId": request, "Seq": 0, "SpeakStatus": "TextStart"}
    assert ("say", (session_id, "hello world", pytest.approx(0.11))) in srv.hub.calls
    assert client.ok("statsession", SessionId=session_id)["SpeakStatus"] == "TextOver"


def test_new_text_interrupts_old(client, srv):
    socket = client.connect(client.started_session())
    first = socket.text("x" * 200)
    socket.until(is_status("TextStart", first))
    time.sleep(0.32)
    second = socket.text("short")
    frames = socket.until(is_status("TextOver", second))
    sequence = [(f["Payload"]["ReqId"], f["Payload"]["SpeakStatus"]) for f in frames]
    assert sequence == [(first, "TextOver"), (second, "TextStart"), (second, "TextOver")]
    assert srv.hub.named("stop_speaking")


def test_empty_interrupt_stops_speech_and_is_not_rate_limited(client):
    socket = client.connect(client.started_session())
    first = socket.text("x" * 200)
    socket.until(is_status("TextStart", first))
    socket.send("SEND_TEXT", {"Text": "", "Interrupt": True})
    assert socket.until(is_status("TextOver"))[-1]["Payload"]["ReqId"] == first


def test_text_spacing_and_size(client):
    socket = client.connect(client.started_session())
    socket.text("one")
    request = socket.text("two")
    error = socket.error()
    assert error["Header"]["Code"] == 100012 and error["Payload"]["ReqId"] == request
    assert error["Payload"]["ErrorCode"] == 100012
    time.sleep(0.32)
    socket.text("好" * 1334)  # 4002 bytes
    error = socket.error()
    assert error["Header"]["Code"] == 100001 and error["Header"]["Message"].startswith("Data.Text")


@pytest.mark.parametrize(
    "frame,field",
    [
        (None, "frame"),
        ("not json", "frame"),
        ('{"Header": {}, "Payload": {"ReqId": "r", "SessionId": "S", "Command": "SEND_VIDEO", "Data": {}}}',
         "Payload.Command"),
        ('{"Header": {}, "Payload": {"ReqId": "r", "SessionId": "S", "Command": "SEND_TEXT"}}', "Payload.Data"),
        ('{"Header": {}, "Payload": {"SessionId": "S", "Command": "SEND_TEXT", "Data": {"Text": "a"}}}',
         "Payload.ReqId"),
        ('{"Header": {}, "Payload": {"ReqId": "r", "SessionId": "m1", "Command": "SEND_HEARTBEAT"}}',
         "Payload.SessionId"),
        ('{"Header": [], "Payload": {}}', "Header"),
    ],
    ids=["binary", "not-json", "command", "data", "reqid", "other-session", "header"],
)
def test_malformed_frames_get_100001_and_socket_stays_open(client, frame, field):
    session_id = client.started_session()
    socket = client.connect(session_id)
    if frame is None:
        socket.ws.send_binary(b"\x00\x01")
    else:
        socket.ws.send(frame.replace('"S"', json.dumps(session_id)))
    error = socket.error()
    assert error["Header"]["Code"] == 100001 and error["Header"]["Message"].startswith(field), error
    request = socket.text("ok")
    assert statuses(socket.until(is_status("TextOver", request)), request) == ["TextStart", "TextOver"]


def test_header_is_optional_and_heartbeat_gets_no_reply(client):
    session_id = client.started_session()
    socket = client.connect(session_id)
    socket.ws.send(json.dumps({"Payload": {"ReqId": new_req_id(), "SessionId": session_id,
                                           "Command": "SEND_HEARTBEAT", "Data": {"Text": "PING"}}}))
    with pytest.raises(websocket.WebSocketTimeoutException):
        socket.recv(timeout=0.3)


def _stream(socket: Socket, req_id: str, seq: int, text: str, **data) -> None:
    socket.send("SEND_STREAMTEXT", {"Text": text, "Seq": seq, **data}, req_id)


def test_stream_text_rules(client, srv):
    socket = client.connect(client.started_session())
    request = new_req_id()
    _stream(socket, request, 2, "late start")
    assert socket.error()["Header"]["Message"].startswith("Data.Seq")
    _stream(socket, request, 1, "Hello, ")
    _stream(socket, request, 3, "gap")
    assert socket.error()["Header"]["Message"].startswith("Data.Seq")
    _stream(socket, request, 2, "x" * 2001)
    assert socket.error()["Header"]["Message"].startswith("Data.Text")
    _stream(socket, request, 2, "world.", IsFinal=True)
    socket.until(is_status("TextOver", request))
    assert statuses(socket.seen, request) == ["TextStart", "TextOver"]
    _stream(socket, request, 3, "after the end")
    assert socket.error()["Header"]["Code"] == 110015
    said = [args[1] for args in srv.hub.named("say")]
    assert said == ["Hello,", "world."]


def test_stream_auto_final_after_stream_max_interval(client):
    socket = client.connect(client.started_session())
    request = new_req_id()
    _stream(socket, request, 1, "no final packet follows")
    start = time.monotonic()
    frames = socket.until(is_status("TextOver", request), timeout=6)
    assert statuses(frames, request) == ["TextStart", "TextOver"]
    assert time.monotonic() - start > 1.5
    _stream(socket, request, 2, "too late")
    assert socket.error()["Header"]["Code"] == 110015


def test_clause_mode_events_and_insertion(client, srv):
    socket = client.connect(client.started_session())
    request = new_req_id()
    _stream(socket, request, 1, "First clause here.", IsSentence=True)
    _stream(socket, request, 2, "Second clause here.", IsSentence=True)
    _stream(socket, request, 3, "Inserted clause.", IsSentence=True, IsInsertSentence=True)
    _stream(socket, request, 4, "Last clause.", IsSentence=True, IsFinal=True)
    frames = socket.until(is_status("TextOver", request))
    events = [(f["Payload"]["SpeakStatus"], f["Payload"]["Seq"]) for f in frames if f["Payload"].get("Type") == 3]
    assert events[0] == ("TextStart", 0) and events[-1] == ("TextOver", 0)
    assert events[1:4] == [("SentenceStart", 1), ("SentenceNext", 1), ("SentenceOver", 1)]
    played = [seq for status, seq in events if status == "SentenceStart"]
    assert played == [1, 3, 2, 4]
    assert [args[1] for args in srv.hub.named("say")] == [
        "First clause here.", "Inserted clause.", "Second clause here.", "Last clause."]
    _stream(socket, new_req_id(), 1, "Not a clause.", IsInsertSentence=True)
    assert socket.error()["Header"]["Message"].startswith("Data.IsInsertSentence")


def test_new_stream_interrupts_and_stream_interrupt_packet(client):
    socket = client.connect(client.started_session())
    first, second = new_req_id(), new_req_id()
    _stream(socket, first, 1, "y" * 200)
    socket.until(is_status("TextStart", first))
    _stream(socket, second, 1, "z" * 200)
    frames = socket.until(is_status("TextStart", second))
    assert statuses(frames, first) == ["TextOver"]
    _stream(socket, second, 2, "", IsFinal=True, Interrupt=True)
    socket.until(is_status("TextOver", second))


def _pcm(seconds: float, amplitude: int = 8000) -> bytes:
    return (amplitude.to_bytes(2, "little", signed=True) + (-amplitude).to_bytes(2, "little", signed=True)) * int(
        seconds * 8000)


def _audio(socket: Socket, req_id: str, seq: int, pcm: bytes, final: bool = False) -> None:
    socket.send("SEND_AUDIO", {"Audio": base64.b64encode(pcm).decode(), "Seq": seq, "IsFinal": final}, req_id)


def test_audio_sequence_and_hub(client, srv):
    session_id = client.started_session()
    socket = client.connect(session_id)
    request = new_req_id()
    _audio(socket, request, 1, _pcm(0.16))
    _audio(socket, request, 2, _pcm(0.1))
    _audio(socket, request, 3, b"", final=True)
    frames = socket.until(is_status("AudioOver", request))
    assert statuses(frames, request) == ["AudioStart", "AudioOver"]
    assert frames[-1]["Payload"]["FinalType"] == 1
    assert srv.hub.named("push_audio") == [(session_id, 5120), (session_id, 3200)]


@pytest.mark.parametrize(
    "audio,message",
    [("!!!not base64", "not valid Base64"), (base64.b64encode(b"abc").decode(), "even"),
     (base64.b64encode(b"\x00" * 5122).decode(), "5120")],
)
def test_audio_packet_validation(client, audio, message):
    socket = client.connect(client.started_session())
    socket.send("SEND_AUDIO", {"Audio": audio, "Seq": 1})
    error = socket.error()
    assert error["Header"]["Code"] == 100001 and message in error["Header"]["Message"]


def test_audio_needs_driver_type_3(client):
    socket = client.connect(client.started_session(driver_type=1))
    socket.send("SEND_AUDIO", {"Audio": "", "Seq": 1, "IsFinal": True})
    assert socket.error()["Header"]["Code"] == 110015


def test_ordering_rules_between_text_and_audio(client):
    socket = client.connect(client.started_session())
    text = socket.text("x" * 100)
    socket.until(is_status("TextStart", text))
    _audio(socket, new_req_id(), 1, _pcm(0.1))
    assert socket.error()["Header"]["Code"] == 110015  # rule 1: interrupt text first
    socket.send("SEND_TEXT", {"Text": "", "Interrupt": True})
    socket.until(is_status("TextOver", text))
    audio = new_req_id()
    _audio(socket, audio, 1, _pcm(0.16))
    _audio(socket, new_req_id(), 1, _pcm(0.1))
    assert socket.error()["Header"]["Code"] == 110015  # rule 3: no new audio before AudioOver
    time.sleep(0.32)
    socket.text("text during audio")
    assert socket.error()["Header"]["Code"] == 110015  # rule 3: no text before AudioOver
    _audio(socket, audio, 2, b"", final=True)
    socket.until(is_status("AudioOver", audio))
    _audio(socket, audio, 3, _pcm(0.1))
    assert socket.error()["Header"]["Code"] == 110015
    after = socket.text("now text is fine")
    socket.until(is_status("TextOver", after))


def test_audio_auto_final_type_2(client):
    socket = client.connect(client.started_session(StreamMaxInterval=2000))
    request = new_req_id()
    _audio(socket, request, 1, _pcm(0.16))
    frame = socket.until(is_status("AudioOver", request), timeout=6)[-1]
    assert frame["Payload"]["FinalType"] == 2


def test_replay_of_last_three_drives_on_reconnect(client):
    session_id = client.started_session()
    socket = client.connect(session_id)
    requests_sent = []
    for word in ("one", "two", "three", "four"):
        requests_sent.append(socket.text(word))
        socket.until(is_status("TextOver", requests_sent[-1]))
        time.sleep(0.31)
    socket.close()
    again = client.connect(session_id)
    replayed = [again.recv() for _ in range(6)]
    assert [(f["Payload"]["ReqId"], f["Payload"]["SpeakStatus"]) for f in replayed] == [
        (r, s) for r in requests_sent[1:] for s in ("TextStart", "TextOver")]
    with pytest.raises(websocket.WebSocketTimeoutException):
        again.recv(timeout=0.2)


def test_closing_the_session_closes_the_socket(client, srv):
    session_id = client.started_session()
    socket = client.connect(session_id)
    client.ok("closesession", SessionId=session_id)
    assert socket.closed()
    assert ("close", (session_id,)) in srv.hub.calls


def test_bound_bot_answers_and_speaks(server_factory):
    account = Account(uin=DEMO_ACCOUNT.uin, appkey=DEMO_ACCOUNT.appkey, accesstoken=DEMO_ACCOUNT.accesstoken,
                      projects=DEMO_ACCOUNT.projects, assets=DEMO_ACCOUNT.assets, bot_projects=(PROJECT,))
    server = server_factory(SimConfig(timing=Timing(prepare_seconds=0), behaviour=FAST, accounts=(account,)))
    client = server.client()
    session_id = client.started_session()
    socket = client.connect(session_id)
    request = socket.send("SEND_TEXT", {"Text": "What is the weather?"})
    frames = socket.until(is_status("TextOver", request))
    kinds = [f["Payload"]["Type"] for f in frames]
    assert kinds == [1, 5, 4, 4, 3, 3]
    assert frames[0]["Payload"]["Text"] == "What is the weather?"
    chunks = [f["Payload"] for f in frames if f["Payload"]["Type"] == 4]
    assert [c["Seq"] for c in chunks] == [1, 2] and [c["Final"] for c in chunks] == [False, True]
    assert "What is the weather?" in chunks[0]["TextDisplay"]
    spoken = server.hub.named("say")[-1][1]
    assert spoken.startswith('You asked: "What is the weather?"')
    time.sleep(0.31)
    verbatim = socket.text("Say exactly this.")
    frames = socket.until(is_status("TextOver", verbatim))
    assert [f["Payload"]["Type"] for f in frames] == [3, 3]
    eventually(lambda: server.hub.named("say")[-1][1] == "Say exactly this.")


def _heartbeat(socket: Socket) -> None:
    socket.send("SEND_HEARTBEAT", {"Text": "PING"})


def test_frequent_heartbeats_are_accepted_by_default(client):
    socket = client.connect(client.started_session())
    for _ in range(5):
        _heartbeat(socket)
    with pytest.raises(websocket.WebSocketTimeoutException):
        socket.recv(timeout=0.3)


def test_heartbeat_interval_limits(server_factory):
    client = server_factory(heartbeat_min_interval_seconds=0.3, heartbeat_max_interval_seconds=0.8).client()
    socket = client.connect(client.started_session())
    _heartbeat(socket)
    assert socket.error()["Header"]["Code"] == 100012  # right after the channel opened
    time.sleep(0.35)
    _heartbeat(socket)
    with pytest.raises(websocket.WebSocketTimeoutException):
        socket.recv(timeout=0.1)
    # Drive traffic does not stand in for the heartbeat: the channel closes without one.
    request = socket.text("still talking")
    socket.until(is_status("TextOver", request))
    assert socket.closed(timeout=3)
