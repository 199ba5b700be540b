import base64
import json

import pytest

from tcadh import frames
from tcadh.frames import (
    AUDIO_PACKET_BYTES,
    STREAM_PACKET_MAX_BYTES,
    TEXT_MAX_BYTES,
    AudioUtterance,
    DriveFailed,
    LlmText,
    MalformedFrame,
    OtherEvent,
    SpeakStatus,
    StreamTextUtterance,
    heartbeat_frame,
    last_clause_end,
    parse_event,
    split_pcm,
    text_frame,
)

SID = "m318552187863054171"


def _data(frame):
    return frame["Payload"]["Data"]


def test_text_frame_envelope_and_defaults():
    frame = text_frame(SID, "您好")
    assert set(frame) == {"Header", "Payload"} and frame["Header"] == {}
    payload = frame["Payload"]
    assert payload["SessionId"] == SID and payload["Command"] == "SEND_TEXT"
    assert len(payload["ReqId"]) == 32 and int(payload["ReqId"], 16) >= 0
    assert payload["Data"] == {"Text": "您好", "Interrupt": False, "ChatCommand": "NotUseChat"}


def test_text_frame_options_and_given_req_id():
    frame = text_frame(SID, "", interrupt=True, use_bot=True, req_id="a" * 32)
    assert frame["Payload"]["ReqId"] == "a" * 32
    assert _data(frame) == {"Text": "", "Interrupt": True}


def test_text_frame_limit_is_in_utf8_bytes():
    text_frame(SID, "a" * TEXT_MAX_BYTES)
    text_frame(SID, "中" * (TEXT_MAX_BYTES // 3))
    with pytest.raises(ValueError, match="4000"):
        text_frame(SID, "中" * (TEXT_MAX_BYTES // 3 + 1))


def test_heartbeat_frame_has_a_fresh_req_id():
    first, second = heartbeat_frame(SID), heartbeat_frame(SID)
    assert _data(first) == {"Text": "PING"} and first["Payload"]["Command"] == "SEND_HEARTBEAT"
    assert first["Payload"]["ReqId"] != second["Payload"]["ReqId"]


@pytest.mark.parametrize("char", ["a", "é", "中", "😀"])
def test_stream_packets_never_split_a_character(char):
    text = ("x" + char * 700)[:700]
    utterance = StreamTextUtterance(SID)
    packets = utterance.packets(text)
    texts = [_data(p)["Text"] for p in packets]
    assert "".join(texts) == text
    assert all(0 < len(t.encode()) <= STREAM_PACKET_MAX_BYTES for t in texts)
    # Every piece is valid on its own, so no multibyte sequence was cut.
    assert all(t.encode().decode() == t for t in texts)


def test_stream_packets_fill_up_to_the_byte_limit():
    # 333 three-byte chars fit in 999 bytes; the 334th would need 1002.
    texts = [_data(p)["Text"] for p in StreamTextUtterance(SID).packets("中" * 400)]
    assert [len(t) for t in texts] == [333, 67]


def test_stream_seq_req_id_final_and_interrupt():
    utterance = StreamTextUtterance(SID)
    packets = utterance.packets("a" * 1500) + utterance.packets("b")
    final = utterance.final("end")
    stop = utterance.interrupt()
    all_frames = packets + [final, stop]
    assert [_data(f)["Seq"] for f in all_frames] == [1, 2, 3, 4, 5]
    assert {f["Payload"]["ReqId"] for f in all_frames} == {utterance.req_id}
    assert all(f["Payload"]["Command"] == "SEND_STREAMTEXT" for f in all_frames)
    assert not any(_data(p)["IsFinal"] for p in packets)
    assert _data(final) == {"Text": "end", "Seq": 4, "IsFinal": True}
    assert _data(stop) == {"Text": "", "Seq": 5, "IsFinal": True, "Interrupt": True}


def test_stream_final_text_over_limit_is_refused():
    with pytest.raises(ValueError):
        StreamTextUtterance(SID).final("a" * (STREAM_PACKET_MAX_BYTES + 1))


def test_clause_mode_splits_at_sentence_punctuation():
    utterance = StreamTextUtterance(SID, clause=True)
    packets = utterance.packets("第一句话。第二句！！Third? fourth;\nrest")
    assert [_data(p)["Text"] for p in packets] == ["第一句话。", "第二句！！", "Third?", " fourth;\n", "rest"]
    assert all(_data(p)["IsSentence"] is True for p in packets)


def test_clause_mode_still_respects_the_byte_limit():
    packets = StreamTextUtterance(SID, clause=True).packets("长" * 500 + "。")
    assert [len(_data(p)["Text"].encode()) for p in packets] == [999, 504]


def test_last_clause_end():
    assert last_clause_end("abc. def") == 4
    assert last_clause_end("好的！") == 3
    assert last_clause_end("no end") == 0


def test_audio_packets_and_final():
    utterance = AudioUtterance(SID)
    chunks = split_pcm(bytes(range(256)) * 41)  # 10496 bytes → 5120, 5120, 256
    assert [len(c) for c in chunks] == [5120, 5120, 256]
    packets = [utterance.packet(c) for c in chunks]
    final = utterance.final()
    assert [_data(p)["Seq"] for p in packets + [final]] == [1, 2, 3, 4]
    assert b"".join(base64.b64decode(_data(p)["Audio"]) for p in packets) == b"".join(chunks)
    assert _data(final) == {"Audio": "", "Seq": 4, "IsFinal": True}
    assert {p["Payload"]["ReqId"] for p in packets + [final]} == {utterance.req_id}
    assert final["Payload"]["Command"] == "SEND_AUDIO"


@pytest.mark.parametrize("size", [0, 3, AUDIO_PACKET_BYTES + 2])
def test_audio_packet_size_rules(size):
    with pytest.raises(ValueError):
        AudioUtterance(SID).packet(b"\0" * size)


def test_split_pcm_rejects_odd_lengths():
    with pytest.raises(ValueError):
        split_pcm(b"\0" * 5)
    with pytest.raises(ValueError):
        split_pcm(b"\0" * 8, size=3)
    assert split_pcm(b"") == []


def _down(payload, code=0, message=""):
    return json.dumps({"Header": {"Code": code, "Message": message, "RequestID": "r"}, "Payload": payload})


def test_parse_speak_status():
    raw = _down({"Type": 3, "ReqId": "q", "Seq": 2, "SpeakStatus": "AudioOver", "FinalType": 1})
    assert parse_event(raw) == SpeakStatus("q", 2, "AudioOver", 1)
    assert parse_event(raw.encode()) == SpeakStatus("q", 2, "AudioOver", 1)
    assert parse_event(_down({"Type": 3, "ReqId": "q", "SpeakStatus": "TextStart"})) == SpeakStatus("q", 0, "TextStart", None)


def test_parse_llm_text_is_the_answer_not_the_question():
    event = parse_event(_down({"Type": 4, "ReqId": "q", "Seq": 3, "Text": "问题", "TextPro": "<speak>答案</speak>",
                               "TextDisplay": "答案", "Final": True}))
    assert event == LlmText("q", 3, "答案", True)
    spoken_only = parse_event(_down({"Type": 4, "ReqId": "q", "Seq": 1, "Text": "问题", "TextPro": "答"}))
    assert spoken_only == LlmText("q", 1, "答", False)


def test_parse_failures():
    assert parse_event(_down({"Type": 9, "ReqId": "q", "ErrorCode": 110015, "ErrorMsg": "wrong time"})) == DriveFailed("q", 110015, "wrong time")
    assert parse_event(_down({"Type": 0, "ReqId": "q"})).code == -111005
    assert parse_event(_down({"ReqId": "q"}, code=110022, message="replaced")) == DriveFailed("q", 110022, "replaced")
    assert parse_event(_down({"Type": 3, "ErrorCode": 110014})).code == 110014


def test_parse_other_and_malformed():
    assert parse_event(_down({"Type": 1, "Text": "hi"})) == OtherEvent(1, {"Type": 1, "Text": "hi"})
    for raw in ["{not json", "[1, 2]", b"\xff\xfe", _down({"Type": "three"})]:
        event = parse_event(raw)
        assert isinstance(event, MalformedFrame) and isinstance(event, DriveFailed)
        assert event.code == frames.INVALID_RESPONSE
