"""The /_sim/ control API: inspection, calls, faults, forced close, reset."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest
import requests
import websocket

from .conftest import make_config
from .helpers import PROJECT, SESSION_API, eventually, is_status, signed_query


def test_control_is_404_when_disabled(server_factory):
    server = server_factory()
    off = server_factory(dataclasses.replace(make_config(), control_enabled=False))
    assert off.control("GET", "sessions").status_code == 404
    assert off.control("POST", "reset").status_code == 404
    assert server.control("GET", "sessions").status_code == 200


def test_sessions_and_received_frames(srv, client):
    session_id = client.started_session()
    socket = client.connect(session_id)
    request = socket.text("inspect me")
    socket.until(is_status("TextOver", request))
    socket.ws.send("junk")
    socket.error()
    listed = srv.control("GET", "sessions").json()["sessions"]
    assert [s["session_id"] for s in listed] == [session_id] and listed[0]["channel_open"] is True
    detail = srv.control("GET", f"sessions/{session_id}").json()
    frames = detail["frames"]
    assert [f["command"] for f in frames] == ["SEND_TEXT", None]
    assert frames[0]["req_id"] == request and frames[0]["code"] == 0 and frames[1]["code"] == 100001
    assert frames[0]["t"] <= frames[1]["t"]
    assert [e["SpeakStatus"] for e in detail["sent"] if e.get("Type") == 3] == ["TextStart", "TextOver"]
    assert srv.control("GET", "sessions/m1").status_code == 404


def test_calls_counts_and_since(srv, client):
    client.create()
    mark = srv.control("GET", "calls").json()["now"]
    client.call("statsession", SessionId="m000000000000000000")
    client.call("listsessionofuin")
    answer = srv.control("GET", "calls", params={"since": mark}).json()
    assert answer["counts"] == {"statsession": 1, "listsessionofuin": 1}
    assert [c["code"] for c in answer["calls"]] == [110018, 0]
    assert srv.control("GET", "calls").json()["counts"]["createsession"] == 1
    srv.control("POST", "reset")
    assert srv.control("GET", "calls").json()["calls"] == []


def _arm(srv, **fault) -> None:
    response = srv.control("POST", "faults", json=fault)
    assert response.status_code == 200, response.text


def test_code_fault_for_n_calls(srv, client):
    _arm(srv, endpoint="statsession", code=-101000, count=2)
    session_id = client.create()
    assert [client.code("statsession", SessionId=session_id) for _ in range(3)] == [-101000, -101000, 0]
    assert srv.control("GET", "faults").json()["faults"] == []


def test_http_status_malformed_and_delay_faults(srv, client):
    _arm(srv, endpoint="listsessionofuin", http_status=502)
    _arm(srv, endpoint="listsessionofuin", malformed=True)
    _arm(srv, endpoint="listsessionofuin", delay_seconds=0.3)
    path = SESSION_API + "listsessionofuin"
    body = {"Header": {}, "Payload": {"ReqId": "r"}}
    assert client.post_raw(path, body).status_code == 502
    malformed = client.post_raw(path, body)
    with pytest.raises(ValueError):
        json.loads(malformed.text)
    start = time.monotonic()
    assert client.post_raw(path, body).json()["Header"]["Code"] == 0
    assert time.monotonic() - start >= 0.3
    codes = [(c["http_status"], c["code"]) for c in srv.control("GET", "calls").json()["calls"]]
    assert codes == [(502, 0), (200, 0), (200, 0)]


def test_fail_preparing_fault(srv, client):
    _arm(srv, endpoint="createsession", fail_preparing=True)
    payload = client.ok("createsession", VirtualmanProjectId=PROJECT, UserId="f", Protocol="rtmp", DriverType=1)
    assert payload["SessionStatus"] == 3
    stat = eventually(lambda: (s := client.ok("statsession", SessionId=payload["SessionId"]))["SessionStatus"] == 4
                      and s)
    assert stat["ErrorCode"] == -111004
    assert client.ok("listsessionofuin")["Sessions"] == []


def test_commandchannel_faults(srv, client):
    session_id = client.started_session()
    _arm(srv, endpoint="commandchannel", code=110014)
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        client.connect(session_id)
    assert json.loads(info.value.resp_body)["Header"]["Code"] == 110014
    _arm(srv, endpoint="commandchannel", http_status=503)
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        client.connect(session_id)
    assert info.value.status_code == 503
    socket = client.connect(session_id)
    _arm(srv, endpoint="commandchannel", drop_websocket=True)
    socket.send("SEND_HEARTBEAT", {"Text": "PING"})
    assert socket.closed()
    again = client.connect(session_id)
    request = again.text("back again")
    again.until(is_status("TextOver", request))


def test_forced_close_with_close_type(srv, client):
    session_id = client.started_session()
    socket = client.connect(session_id)
    response = srv.control("POST", f"sessions/{session_id}/close", json={"close_type": 5})
    assert response.status_code == 200 and response.json()["close_type"] == 5
    assert socket.error()["Header"]["Code"] == 110022
    assert socket.closed()
    assert client.ok("statsession", SessionId=session_id)["CloseType"] == 5
    assert srv.control("POST", f"sessions/{session_id}/close", json={}).status_code == 409
    other = client.create()
    assert srv.control("POST", f"sessions/{other}/close", json={"close_type": 9}).status_code == 400
    srv.control("POST", f"sessions/{other}/close")
    assert client.ok("statsession", SessionId=other)["CloseType"] == 3


@pytest.mark.parametrize(
    "fault",
    [
        {"endpoint": "nope", "code": 1},
        {"endpoint": "statsession"},
        {"endpoint": "statsession", "code": 0},
        {"endpoint": "statsession", "drop_websocket": True},
        {"endpoint": "statsession", "fail_preparing": True},
        {"endpoint": "statsession", "code": 1, "count": 0},
        {"endpoint": "statsession", "code": 1, "surprise": 1},
    ],
)
def test_bad_fault_bodies(srv, fault):
    response = srv.control("POST", "faults", json=fault)
    assert response.status_code == 400 and response.json()["error"]


def test_reset_closes_everything(srv, client):
    session_id = client.started_session()
    socket = client.connect(session_id)
    _arm(srv, endpoint="statsession", code=1)
    assert srv.control("POST", "reset").json() == {"reset": True}
    assert socket.closed()
    assert srv.control("GET", "sessions").json()["sessions"] == []
    assert srv.control("GET", "faults").json()["faults"] == []
    assert requests.get(srv.base_url + "/healthz", timeout=5).json()["ok"] is True


def test_disarming_faults_leaves_sessions_alone(srv, client):
    session_id = client.create()
    _arm(srv, endpoint="statsession", code=-101000, count=5)
    _arm(srv, endpoint="closesession", http_status=502)
    assert srv.control("DELETE", "faults").json() == {"faults": []}
    assert client.code("statsession", SessionId=session_id) == 0
    assert [s["session_id"] for s in srv.control("GET", "sessions").json()["sessions"]] == [session_id]


def test_a_caller_that_stops_waiting_for_a_late_answer_does_not_undo_the_call(srv, client):
    _arm(srv, endpoint="createsession", delay_seconds=0.5)
    body = {"Header": {}, "Payload": {"ReqId": "late", "VirtualmanProjectId": PROJECT, "UserId": "late",
                                      "Protocol": "rtmp", "DriverType": 1}}
    with pytest.raises(requests.Timeout):
        requests.post(f"{client.base_url}{SESSION_API}createsession?{signed_query(client.appkey, client.accesstoken)}",
                      data=json.dumps(body), headers={"Content-Type": "application/json;charset=utf-8"},
                      timeout=0.2)
    # The cloud had the whole request: it creates the session though nobody hears the answer.
    listed = eventually(lambda: srv.control("GET", "sessions").json()["sessions"], timeout=5)
    assert [s["user_id"] for s in listed] == ["late"]
