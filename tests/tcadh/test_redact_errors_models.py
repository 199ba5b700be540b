import pytest

from tcadh.errors import NETWORK_ERROR, TcadhError
from tcadh.models import CreatedSession, ListedSession, SessionState, SessionStatus, TrtcSign
from tcadh.redact import redact_play_addr

TRTC = "trtc://1234567?appId=1400000000&userSig=SIG-SECRET&privateMapKey=PMK-SECRET&virtualManUserId=u1"


@pytest.mark.parametrize(("url", "expected"), [
    ("rtmp://live.qq.com/live/m789", "rtmp://live.qq.com/live/m789"),
    ("webrtc://liveplay.ivh.qq.com/live/m7?min_delay_ms=100", "webrtc://liveplay.ivh.qq.com/live/m7?min_delay_ms=***"),
    (TRTC, "trtc://1234567?appId=***&userSig=***&privateMapKey=***&virtualManUserId=***"),
    ("rtmp://user:pw@push.example:1935/app/s?txSecret=abc&txTime=1", "rtmp://***@push.example:1935/app/s?txSecret=***&txTime=***"),
    ("", ""),
])
def test_redact_play_addr(url, expected):
    assert redact_play_addr(url) == expected


def test_error_str_and_retryable_defaults():
    err = TcadhError(-101000, "internal", "req-9", http_status=200)
    assert str(err) == "error -101000: internal (request req-9)"
    assert err.retryable and err.http_status == 200
    assert not TcadhError(110018, "no session").retryable
    assert TcadhError(NETWORK_ERROR, "reset", retryable=True).retryable
    assert str(TcadhError(100001, "bad")) == "error 100001: bad (request -)"


def test_reprs_hide_play_address_secrets_and_trtc_signatures():
    values = [
        CreatedSession("m1", SessionStatus.READY, TRTC, "r"),
        SessionState(SessionStatus.READY, TRTC),
        ListedSession("m1", "u1", SessionStatus.READY, TRTC),
        TrtcSign("SIG-SECRET", "PMK-SECRET"),
    ]
    for value in values:
        text = repr(value)
        assert "SIG-SECRET" not in text and "PMK-SECRET" not in text
    assert "trtc://1234567?appId=***" in repr(values[0])
    assert values[0].play_stream_addr == TRTC  # only the repr hides it


def test_session_state_from_payload():
    state = SessionState.from_payload({"SessionStatus": 2, "IsSessionStarted": True, "CloseType": 5, "SpeakStatus": "TextOver"})
    assert state == SessionState(SessionStatus.CLOSED, "", "TextOver", True, 0, "", 5)


def test_unknown_status_is_an_invalid_response():
    with pytest.raises(TcadhError) as info:
        SessionStatus.parse(7)
    assert info.value.code == -4
