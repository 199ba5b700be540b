"""Every HTTPS endpoint of PROTOCOL.md §10: success shapes and documented errors."""

from __future__ import annotations

import re
import time

import pytest

from tcadh_sim.config import DEMO_ACCOUNT, Account, SimConfig, Timing

from .conftest import FAST
from .helpers import ASSET, COMMAND_API, PROJECT, SESSION_API, eventually, new_req_id


def test_envelope_and_echo(client):
    req_id = new_req_id()
    body = client.call("listsessionofuin", ReqId=req_id)
    assert body["Header"]["Code"] == 0 and body["Header"]["Message"] == ""
    assert re.fullmatch(r"[0-9a-f]{32}", body["Header"]["RequestID"])
    assert body["Payload"] == {"ReqId": req_id, "Sessions": []}


@pytest.mark.parametrize(
    "body,field",
    [
        ("not json", "body"),
        ([], "body"),
        ({"Header": [], "Payload": {"ReqId": "r"}}, "Header"),
        ({"Header": None, "Payload": {"ReqId": "r"}}, "Header"),
        ({"Header": {}}, "Payload"),
        ({"Header": {}, "Payload": {}}, "Payload.ReqId"),
        ({"Header": {}, "Payload": {"ReqId": 5}}, "Payload.ReqId"),
    ],
)
def test_envelope_validation_names_the_field(client, body, field):
    response = client.post_raw(SESSION_API + "listsessionofuin", body)
    header = response.json()["Header"]
    assert header["Code"] == 100001
    assert header["Message"].startswith(field)


def test_create_ready_at_once_and_play_addresses(client, srv):
    host = srv.base_url.removeprefix("http://")
    for protocol in ("rtmp", "webrtc"):
        payload = client.ok("createsession", VirtualmanProjectId=PROJECT, UserId=f"u-{protocol}",
                            Protocol=protocol, DriverType=1)
        assert re.fullmatch(r"m\d{18}", payload["SessionId"])
        assert payload["SessionStatus"] == 1
        assert payload["PlayStreamAddr"] == f"{protocol}://{host}/live/{payload['SessionId']}"


def test_create_by_asset_and_trtc_address(client):
    payload = client.ok("createsessionbyasset", AssetVirtualmanKey=ASSET, UserId="avatar-1", Protocol="trtc",
                        DriverType=3, Backgrounds=[{"Url": "https://x/y.png"}], SpeechParam={"Speed": 1.0})
    match = re.fullmatch(r"trtc://(\d+)\?appId=(\d+)&userSig=(\w+)&privateMapKey=(\w+)&virtualManUserId=avatar-1",
                         payload["PlayStreamAddr"])
    assert match, payload["PlayStreamAddr"]


def test_trtc_string_room_and_external_app(client):
    string_room = client.ok("createsession", VirtualmanProjectId=PROJECT, UserId="a", Protocol="trtc", DriverType=1,
                            ProtocolOption={"TrtcAutoGenRoomIdType": 1})
    assert string_room["PlayStreamAddr"].startswith("trtc://sim_")
    external = client.ok("createsession", VirtualmanProjectId=PROJECT, UserId="b", Protocol="trtc", DriverType=1,
                         ProtocolOption={"TrtcUseExternalApp": True, "TrtcAppId": "1400123456", "TrtcRoomId": 777,
                                         "TrtcUserSig": "sig", "TrtcPrivateMapKey": "pmk"})
    assert external["PlayStreamAddr"] == "trtc://777?appId=1400123456&userSig=sig&privateMapKey=pmk&virtualManUserId=b"


@pytest.mark.parametrize(
    "change,field",
    [
        ({"VirtualmanProjectId": None}, "Payload.VirtualmanProjectId"),
        ({"UserId": ""}, "Payload.UserId"),
        ({"Protocol": "RTMP"}, "Payload.Protocol"),
        ({"DriverType": 2}, "Payload.DriverType"),
        ({"DriverType": "1"}, "Payload.DriverType"),
        ({"StreamMaxInterval": 1000}, "Payload.StreamMaxInterval"),
        ({"StreamMaxInterval": 6001}, "Payload.StreamMaxInterval"),
        ({"SessionId": "m1"}, "Payload.SessionId"),
        ({"ProtocolOption": []}, "Payload.ProtocolOption"),
        ({"ExtraInfo": {"AlphaChannelEnable": "yes"}}, "ExtraInfo.AlphaChannelEnable"),
        ({"Protocol": "trtc", "ProtocolOption": {"TrtcUseExternalApp": True}}, "ProtocolOption.TrtcAppId"),
    ],
)
def test_create_validation(client, change, field):
    payload = {"VirtualmanProjectId": PROJECT, "UserId": "u", "Protocol": "webrtc", "DriverType": 1, **change}
    payload = {k: v for k, v in payload.items() if v is not None}
    body = client.call("createsession", **payload)
    assert body["Header"]["Code"] == 100001
    assert body["Header"]["Message"].startswith(field)


def test_create_by_asset_layer_limit(client):
    body = client.call("createsessionbyasset", AssetVirtualmanKey=ASSET, UserId="u", Protocol="rtmp", DriverType=1,
                       Backgrounds=[{}] * 3, Foregrounds=[{}] * 3)
    assert body["Header"]["Code"] == 100001


def test_foreign_project_or_asset_is_unauthorized(client):
    assert client.code("createsession", VirtualmanProjectId="other", UserId="u", Protocol="rtmp", DriverType=1) == 100005
    assert client.code("createsessionbyasset", AssetVirtualmanKey=PROJECT, UserId="u", Protocol="rtmp",
                       DriverType=1) == 100005
    assert client.code("listsessionofprojectid", VirtualmanProjectId="other") == 100005
    assert client.code("listsessionofassetvk", AssetVirtualmanKey="other") == 100005


def test_concurrency_per_appkey(client, srv):
    first = client.create()
    client.create()
    assert client.code("createsession", VirtualmanProjectId=PROJECT, UserId="third", Protocol="rtmp",
                       DriverType=1) == 100008
    client.ok("closesession", SessionId=first)
    client.create()


def test_same_user_closes_previous_with_close_type_5(client, srv):
    old = client.started_session(user_id="same")
    socket = client.connect(old)
    new = client.create(user_id="same")
    error = socket.error()
    assert error["Header"]["Code"] == 110022
    assert socket.closed()
    stat = client.ok("statsession", SessionId=old)
    assert stat["SessionStatus"] == 2 and stat["CloseType"] == 5 and stat["IsSessionStarted"] is True
    assert client.ok("statsession", SessionId=new)["SessionStatus"] == 1
    assert ("close", (old,)) in srv.hub.calls


def test_same_user_replacement_at_full_concurrency(client):
    client.create(user_id="a")
    client.create(user_id="b")
    client.create(user_id="b")  # replaces b rather than exceeding the limit


def test_preparing_then_ready(server_factory):
    server = server_factory(prepare_seconds=0.3)
    client = server.client()
    created = client.ok("createsession", VirtualmanProjectId=PROJECT, UserId="p", Protocol="webrtc", DriverType=1)
    session_id = created["SessionId"]
    assert created["SessionStatus"] == 3 and created["PlayStreamAddr"] == ""
    stat = client.ok("statsession", SessionId=session_id)
    assert stat["SessionStatus"] == 3 and stat["PlayStreamAddr"] == "" and stat["IsSessionStarted"] is False
    assert client.code("startsession", SessionId=session_id) == 110014
    listed = client.ok("listsessionofuin")["Sessions"]
    assert [s["SessionStatus"] for s in listed] == [3]
    eventually(lambda: client.ok("statsession", SessionId=session_id)["SessionStatus"] == 1)
    assert client.ok("statsession", SessionId=session_id)["PlayStreamAddr"].endswith(session_id)
    client.ok("startsession", SessionId=session_id)


def test_preparing_sessions_can_be_left_out_of_lists(server_factory):
    server = server_factory(prepare_seconds=5, behaviour={"include_preparing_in_lists": False})
    client = server.client()
    client.create()
    assert client.ok("listsessionofuin")["Sessions"] == []


def test_statsession_fields_and_sticky_started(client):
    session_id = client.create()
    stat = client.ok("statsession", SessionId=session_id)
    assert set(stat) == {"ReqId", "SessionStatus", "PlayStreamAddr", "SpeakStatus", "IsSessionStarted",
                         "ErrorCode", "ErrorMessage", "CloseType"}
    assert stat["SpeakStatus"] == "Initial" and stat["IsSessionStarted"] is False and stat["CloseType"] == 0
    client.ok("startsession", SessionId=session_id)
    client.ok("startsession", SessionId=session_id)
    client.ok("closesession", SessionId=session_id)
    stat = client.ok("statsession", SessionId=session_id)
    assert stat == {**stat, "SessionStatus": 2, "IsSessionStarted": True, "CloseType": 1, "PlayStreamAddr": ""}


def test_unknown_and_closed_session_codes(client):
    for endpoint in ("statsession", "startsession", "closesession", "updatesessionconfig", "gettrtcsign"):
        assert client.code(endpoint, SessionId="m000000000000000000", RoomId=1, UserId="x") == 110018
    session_id = client.create()
    client.ok("closesession", SessionId=session_id)
    assert client.code("startsession", SessionId=session_id) == 110013
    assert client.code("closesession", SessionId=session_id) == 0  # idempotent by default


def test_close_closed_session_can_be_an_error(server_factory):
    client = server_factory(behaviour={"close_closed_session": "error"}).client()
    session_id = client.create()
    client.ok("closesession", SessionId=session_id)
    assert client.code("closesession", SessionId=session_id) == 110013


def test_sessions_of_another_account_are_invisible(server_factory):
    other = Account(uin="2", appkey="other-key", accesstoken="other-token", projects=("p2",), assets=("a2",))
    config = SimConfig(timing=Timing(prepare_seconds=0), behaviour=FAST, accounts=(DEMO_ACCOUNT, other))
    server = server_factory(config)
    mine, theirs = server.client(), server.client("other-key", "other-token")
    session_id = mine.create()
    assert theirs.code("statsession", SessionId=session_id) == 110018
    assert theirs.ok("listsessionofuin")["Sessions"] == []
    assert [s["SessionId"] for s in mine.ok("listsessionofuin")["Sessions"]] == [session_id]


def test_list_endpoints_filter_by_project_and_asset(client):
    by_project = client.create(user_id="p")
    by_asset = client.ok("createsessionbyasset", AssetVirtualmanKey=ASSET, UserId="a", Protocol="rtmp",
                         DriverType=3)["SessionId"]
    everything = client.ok("listsessionofuin")["Sessions"]
    assert {s["SessionId"] for s in everything} == {by_project, by_asset}
    project_list = client.ok("listsessionofprojectid", VirtualmanProjectId=PROJECT)["Sessions"]
    assert [s["SessionId"] for s in project_list] == [by_project]
    entry = project_list[0]
    assert entry["CreateType"] == 0 and entry["VirtualmanProjectId"] == PROJECT and entry["AssetVirtualmanKey"] == ""
    asset_list = client.ok("listsessionofassetvk", AssetVirtualmanKey=ASSET)["Sessions"]
    assert [s["SessionId"] for s in asset_list] == [by_asset]
    assert asset_list[0]["CreateType"] == 1 and asset_list[0]["DriverType"] == 3
    client.ok("closesession", SessionId=by_asset)
    assert [s["SessionId"] for s in client.ok("listsessionofuin")["Sessions"]] == [by_project]


def test_updatesessionconfig_ranges_and_rate_limit(client):
    session_id = client.create()
    good = {"ImagePosition": 0.1, "ImagePositionVertical": -0.2, "ImageZoom": 1.0,
            "BackgroundUrl": "https://example.com/bg.png"}
    for change, field in [
        ({"ImagePosition": 0.6}, "SpaceParam.ImagePosition"),
        ({"ImagePositionVertical": 0.3}, "SpaceParam.ImagePositionVertical"),
        ({"ImageZoom": 0.1}, "SpaceParam.ImageZoom"),
        ({"ImageZoom": None}, "SpaceParam.ImageZoom"),
        ({"BackgroundUrl": "ftp://x"}, "SpaceParam.BackgroundUrl"),
    ]:
        space = {k: v for k, v in {**good, **change}.items() if v is not None}
        body = client.call("updatesessionconfig", SessionId=session_id, SpaceParam=space)
        assert body["Header"]["Code"] == 100001 and body["Header"]["Message"].startswith(field), body
    client.ok("updatesessionconfig", SessionId=session_id, SpaceParam=good)
    assert client.code("updatesessionconfig", SessionId=session_id, SpaceParam=good) == 100012
    time.sleep(0.55)
    client.ok("updatesessionconfig", SessionId=session_id, ImageParam={"ImageVerticalOffset": 3})


def test_gettrtcsign(client):
    session_id = client.ok("createsession", VirtualmanProjectId=PROJECT, UserId="avatar", Protocol="trtc",
                           DriverType=1)["SessionId"]
    address = client.ok("statsession", SessionId=session_id)["PlayStreamAddr"]
    room = int(re.match(r"trtc://(\d+)\?", address).group(1))
    signed = client.ok("gettrtcsign", SessionId=session_id, RoomId=room, UserId="viewer")
    assert signed["UserSig"] and signed["PrivateMapKey"]
    assert client.code("gettrtcsign", SessionId=session_id, RoomId=room + 1, UserId="viewer") == 100001
    assert client.code("gettrtcsign", SessionId=session_id, RoomId=room, UserId="avatar") == 100001
    assert client.code("gettrtcsign", SessionId=session_id, UserId="viewer") == 100001
    webrtc = client.create()
    assert client.code("gettrtcsign", SessionId=webrtc, RoomId=room, UserId="viewer") == 100001


def test_http_command_drives_speech(client, srv):
    session_id = client.create()
    assert client.code("command", SessionId=session_id, Command="SEND_TEXT", Data={"Text": "hi"}) == 110016
    client.ok("startsession", SessionId=session_id)
    client.ok("command", SessionId=session_id, Command="SEND_TEXT",
              Data={"Text": "hello there", "ChatCommand": "NotUseChat"})
    eventually(lambda: ("say", (session_id, "hello there", pytest.approx(0.11))) in srv.hub.calls)
    assert client.code("command", SessionId=session_id, Command="SEND_TEXT", Data={"Text": "again"}) == 100012
    time.sleep(0.35)
    client.ok("command", SessionId=session_id, Command="SEND_TEXT", Data={"Text": "again"})
    eventually(lambda: client.ok("statsession", SessionId=session_id)["SpeakStatus"] == "TextOver")


@pytest.mark.parametrize(
    "payload,field",
    [
        ({"Command": "SEND_AUDIO", "Data": {}}, "Payload.Command"),
        ({"Command": "SEND_TEXT"}, "Payload.Data"),
        ({"Command": "SEND_TEXT", "Data": {"Text": "x" * 4001}}, "Data.Text"),
        ({"Command": "SEND_TEXT", "Data": {"Text": 5}}, "Data.Text"),
        ({"Command": "SEND_TEXT", "Data": {"Text": ""}}, "Data.Text"),
        ({"Command": "SEND_TEXT", "Data": {"Text": "x", "ChatCommand": "Chat"}}, "Data.ChatCommand"),
    ],
)
def test_http_command_validation(client, payload, field):
    session_id = client.started_session()
    body = client.call("command", SessionId=session_id, **payload)
    assert body["Header"]["Code"] == 100001 and body["Header"]["Message"].startswith(field), body


def test_http_command_text_limit_is_in_characters(client):
    session_id = client.started_session()
    client.ok("command", SessionId=session_id, Command="SEND_TEXT", Data={"Text": "好" * 4000})


def test_wrong_method_and_unknown_path(srv, client):
    import requests

    assert requests.get(srv.base_url + SESSION_API + "statsession", timeout=5).status_code == 405
    assert client.post_raw(SESSION_API + "nosuchthing", {"Header": {}, "Payload": {}}).status_code == 404
    assert client.post_raw(COMMAND_API, {"Header": {}, "Payload": {"ReqId": "r"}}).json()["Header"]["Code"] == 100001
