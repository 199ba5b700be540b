import logging
import socket
import time
from urllib.parse import parse_qs, quote

import pytest
import requests

from tcadh import SessionStatus, TcadhClient, TcadhError
from tcadh.client import trtc_room_arguments
from tcadh.errors import HTTP_ERROR, INVALID_RESPONSE, NETWORK_ERROR
from tcadh.signing import signed_query

from .fake_gateway import PLAY_SECRET, expected_signature


def test_create_stat_start_close_round_trip(client, gateway):
    created = client.create_session(project_id="proj-1", user_id="viewer-1", driver_type=3, stream_max_interval=3000)
    assert created.status is SessionStatus.READY and created.session_id in gateway.sessions
    assert created.play_stream_addr.startswith("webrtc://") and len(created.req_id) == 32
    sent = gateway.requests[-1]
    assert sent.endpoint == "createsession" and sent.code == 0
    assert sent.payload == {
        "ReqId": created.req_id, "VirtualmanProjectId": "proj-1", "UserId": "viewer-1",
        "Protocol": "webrtc", "DriverType": 3, "StreamMaxInterval": 3000,
    }
    assert sent.headers["Content-Type"] == "application/json;charset=utf-8"

    client.start_session(created.session_id)
    state = client.stat_session(created.session_id)
    assert state.status is SessionStatus.READY and state.is_started and state.speak_status == "TextOver"
    client.close_session(created.session_id)
    assert client.stat_session(created.session_id).status is SessionStatus.CLOSED


def test_create_by_asset_sends_optional_objects(client, gateway):
    created = client.create_session_by_asset(
        asset_key="asset-9", user_id="u", protocol="rtmp", anchor_param={"SilenceActionDisabled": True},
        backgrounds=[{"Url": "https://example.com/bg.png"}], protocol_option={"TrtcUseExternalApp": False},
    )
    payload = gateway.requests[-1].payload
    assert payload["AssetVirtualmanKey"] == "asset-9" and payload["Protocol"] == "rtmp"
    assert payload["AnchorParam"] == {"SilenceActionDisabled": True}
    assert "SpeechParam" not in payload and "VirtualmanProjectId" not in payload
    assert client.list_sessions_of_asset("asset-9")[0].session_id == created.session_id


def test_every_request_is_freshly_signed_with_a_new_req_id(client, gateway):
    sid = gateway.add_session()
    client.stat_session(sid)
    client.stat_session(sid)
    first, second = gateway.requests[-2:]
    assert set(first.query) == {"appkey", "timestamp", "signature"}
    assert first.query["signature"] == expected_signature(first.query, gateway.accesstoken)
    assert first.payload["ReqId"] != second.payload["ReqId"]


def test_list_endpoints(client, gateway):
    a = client.create_session(project_id="P", user_id="u1")
    b = client.create_session_by_asset(asset_key="K", user_id="u2")
    gateway.add_session(status=2, user_id="u3", project="P")
    assert {s.session_id for s in client.list_sessions_of_uin()} == {a.session_id, b.session_id}
    [listed] = client.list_sessions_of_project("P")
    assert listed.session_id == a.session_id and listed.user_id == "u1" and listed.create_type == 0
    assert listed.virtualman_project_id == "P" and listed.driver_type == 1 and listed.status is SessionStatus.READY
    assert [s.asset_virtualman_key for s in client.list_sessions_of_asset("K")] == ["K"]


def test_business_error_carries_code_message_and_request_id(client, gateway):
    with pytest.raises(TcadhError) as info:
        client.start_session("m404")
    err = info.value
    assert err.code == 110018 and err.message == "session does not exist"
    assert err.request_id.startswith("gw-110018") and not err.retryable and err.http_status == 200


def test_start_of_a_preparing_session_is_refused(client, gateway):
    gateway.create_status = 3
    created = client.create_session(project_id="P", user_id="u")
    assert created.status is SessionStatus.PREPARING and created.play_stream_addr == ""
    with pytest.raises(TcadhError, match="110014"):
        client.start_session(created.session_id)


def test_stat_is_retried_with_exponential_backoff(client, gateway, sleeps):
    sid = gateway.add_session()
    gateway.fail_next(2, code=-101000)
    assert client.stat_session(sid).status is SessionStatus.READY
    assert [r.code for r in gateway.requests] == [-101000, -101000, 0]
    assert sleeps == [0.5, 1.0]


def test_list_is_retried_after_http_500_then_gives_up(client, gateway, sleeps):
    gateway.fail_next(4, http_status=500)
    with pytest.raises(TcadhError) as info:
        client.list_sessions_of_uin()
    assert info.value.code == HTTP_ERROR and info.value.http_status == 500 and info.value.retryable
    assert len(gateway.requests) == 4 and sleeps == [0.5, 1.0, 2.0]


def test_create_is_never_retried(client, gateway, sleeps):
    gateway.fail_next(1, code=-101001)
    with pytest.raises(TcadhError) as info:
        client.create_session(project_id="P", user_id="u")
    assert info.value.code == -101001 and info.value.retryable
    assert len(gateway.requests) == 1 and sleeps == [] and gateway.sessions == {}


def test_non_retryable_code_is_not_retried_for_reads(client, gateway, sleeps):
    gateway.fail_next(1, code=100005)
    with pytest.raises(TcadhError):
        client.stat_session(gateway.add_session())
    assert len(gateway.requests) == 1 and sleeps == []


def test_invalid_json_becomes_tcadh_error(client, gateway):
    gateway.fail_next(1, body=b"<html>gateway</html>")
    with pytest.raises(TcadhError) as info:
        client.close_session(gateway.add_session())
    assert info.value.code == INVALID_RESPONSE and not info.value.retryable


def test_network_error_hides_the_signed_url():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = TcadhClient(f"http://127.0.0.1:{port}", "ak", "tok", read_retries=0)
    with pytest.raises(TcadhError) as info:
        client.list_sessions_of_uin()
    err = info.value
    assert err.code == NETWORK_ERROR and err.retryable
    assert "signature" not in str(err) and err.__cause__ is None and err.__suppress_context__


def test_wrong_accesstoken_is_rejected_by_the_gateway(gateway):
    client = TcadhClient(gateway.base_url, gateway.appkey, "not-the-token")
    with pytest.raises(TcadhError) as info:
        client.list_sessions_of_uin()
    assert info.value.code == 100005 and info.value.message == "signature mismatch"


def test_gateway_rejects_an_unescaped_plus_and_an_old_timestamp(gateway):
    # Vector-style check that the fake really decodes the query as a server does.
    now = int(time.time())
    for ts in range(now - 200, now + 200):
        query = {"appkey": gateway.appkey, "timestamp": str(ts)}
        sig = expected_signature(query, gateway.accesstoken)
        if "+" in sig:
            break
    body = '{"Header":{},"Payload":{"ReqId":"' + "a" * 32 + '"}}'
    url = f"{gateway.base_url}/v2/ivh/sessionmanager/sessionmanagerservice/listsessionofuin"
    headers = {"Content-Type": "application/json"}
    prefix = f"{url}?appkey={gateway.appkey}&timestamp={ts}&signature="
    raw = requests.post(prefix + sig, data=body, headers=headers, timeout=5)
    assert raw.json()["Header"]["Message"] == "signature mismatch"
    # Escaping '+' is what matters; the official demo's unescaped '/' is decoded alike.
    for encoded in (quote(sig, safe=""), quote(sig)):
        assert requests.post(prefix + encoded, data=body, headers=headers, timeout=5).json()["Header"]["Code"] == 0

    stale = signed_query(gateway.appkey, gateway.accesstoken, timestamp=int(time.time()) - 301)
    raw = requests.post(f"{url}?{stale}", data=body, headers=headers, timeout=5)
    assert raw.json()["Header"]["Message"] == "timestamp outside the allowed window"


def test_local_validation(client, gateway):
    with pytest.raises(ValueError, match="protocol"):
        client.create_session(project_id="P", user_id="u", protocol="hls")
    with pytest.raises(ValueError, match="driver_type"):
        client.create_session(project_id="P", user_id="u", driver_type=2)
    with pytest.raises(ValueError, match="2000..6000"):
        client.create_session_by_asset(asset_key="K", user_id="u", stream_max_interval=1999)
    with pytest.raises(ValueError, match="4000"):
        client.send_text("m1", "a" * 4001)
    with pytest.raises(ValueError, match="room"):
        client.get_trtc_sign("m1", user_id="v")
    with pytest.raises(ValueError, match="position"):
        client.update_session_config("m1", position=0.6, position_vertical=0, zoom=1)
    assert gateway.requests == []


def test_send_text_over_http(client, gateway):
    sid = gateway.add_session()
    req_id = client.send_text(sid, "你好" * 1000, interrupt=True)
    payload = gateway.requests[-1].payload
    assert gateway.requests[-1].endpoint == "command" and gateway.requests[-1].code == 0
    assert payload["ReqId"] == req_id and payload["Command"] == "SEND_TEXT"
    assert payload["Data"] == {"Text": "你好" * 1000, "Interrupt": True, "ChatCommand": "NotUseChat"}


def test_update_config_and_trtc_sign(client, gateway):
    sid = gateway.add_session(protocol="trtc")
    client.update_session_config(sid, position=0.1, position_vertical=-0.2, zoom=1.5, background_url="https://e.x/b.png")
    assert gateway.requests[-1].payload["SpaceParam"] == {
        "ImagePosition": 0.1, "ImagePositionVertical": -0.2, "ImageZoom": 1.5, "BackgroundUrl": "https://e.x/b.png",
    }
    sign = client.get_trtc_sign(sid, user_id="viewer", room_id=1200111)
    assert sign.user_sig == f"{PLAY_SECRET}-viewer" and sign.private_map_key == "PMK-SECRET"
    assert gateway.requests[-1].payload["RoomId"] == 1200111


def test_channel_url_scheme_and_signature(gateway):
    secure = TcadhClient("https://gw.tvs.qq.com/", "ak", "tok")
    url = secure.channel_url("m318552187863054171")
    assert url.startswith("wss://gw.tvs.qq.com/v2/ws/ivh/interactdriver/interactdriverservice/commandchannel?")
    query = {k: v[0] for k, v in parse_qs(url.split("?", 1)[1]).items()}
    assert query["requestid"] == "m318552187863054171" and query["appkey"] == "ak"
    assert query["signature"] == expected_signature(query, "tok")
    assert TcadhClient(gateway.base_url, "ak", "tok").channel_url("m1").startswith("ws://127.0.0.1:")


def test_logs_and_reprs_never_show_the_accesstoken_or_user_sig(client, gateway, caplog):
    caplog.set_level(logging.DEBUG, logger="tcadh")
    created = client.create_session(project_id="P", user_id="u", protocol="trtc")
    client.stat_session(created.session_id)
    sign = client.get_trtc_sign(created.session_id, user_id="viewer", str_room_id="room")
    gateway.fail_next(1, code=-101000)
    client.list_sessions_of_uin()
    logged = caplog.text + "".join(repr(v) for v in (client, created, sign, client.stat_session(created.session_id)))
    assert "createsession" in caplog.text and "code=0" in caplog.text and "code=-101000" in caplog.text
    assert gateway.accesstoken not in logged and PLAY_SECRET not in logged and "PMK-SECRET" not in logged
    assert "signature" not in caplog.text and "timestamp=" not in caplog.text


@pytest.mark.parametrize("room, arguments", [
    ("1234", {"room_id": 1234}),
    ("4294967294", {"room_id": 4294967294}),
    ("4294967295", {"str_room_id": "4294967295"}),
    ("0123", {"str_room_id": "0123"}),
    ("²", {"str_room_id": "²"}),
    ("booth-7", {"str_room_id": "booth-7"}),
])
def test_a_trtc_room_is_a_number_room_only_when_written_as_one(room, arguments):
    assert trtc_room_arguments(room) == arguments
