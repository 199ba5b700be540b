"""CORS (PROTOCOL.md §5): pages on any origin call the API and fetch the streams, as Tencent's
Web SDK does, and every response carries exactly one Access-Control-Allow-Origin."""

from __future__ import annotations

import http.client
import json

from .helpers import SESSION_API, new_req_id, signed_query

ORIGIN = "http://page.example:9000"


def _raw(srv, method: str, path: str, headers: dict[str, str], body: bytes | None = None):
    """One request over http.client, so repeated response headers stay separate."""
    connection = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    header_list = response.getheaders()
    data = response.read() if method != "GET" else b""
    connection.close()
    return response.status, header_list, data


def _values(header_list, name: str) -> list[str]:
    return [value for key, value in header_list if key.lower() == name.lower()]


def test_preflight_of_an_sdk_call_is_answered(srv):
    status, header_list, _ = _raw(srv, "OPTIONS", SESSION_API + "createsession?" + signed_query("a", "b"), {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,language",
    })
    assert status == 200
    assert _values(header_list, "Access-Control-Allow-Origin") == ["*"]
    assert "POST" in _values(header_list, "Access-Control-Allow-Methods")[0]
    allowed = _values(header_list, "Access-Control-Allow-Headers")[0].lower()
    assert "content-type" in allowed and "language" in allowed


def test_api_answers_carry_one_allow_origin_success_and_error(srv, client):
    body = json.dumps({"Header": {}, "Payload": {"ReqId": new_req_id()}}).encode()
    headers = {"Origin": ORIGIN, "Content-Type": "application/json", "Language": "en-US"}
    query = signed_query(client.appkey, client.accesstoken)
    status, header_list, data = _raw(srv, "POST", SESSION_API + "listsessionofuin?" + query, headers, body)
    assert status == 200 and json.loads(data)["Header"]["Code"] == 0
    assert _values(header_list, "Access-Control-Allow-Origin") == ["*"]
    status, header_list, data = _raw(srv, "POST", SESSION_API + "listsessionofuin?appkey=x", headers, body)
    assert json.loads(data)["Header"]["Code"] != 0
    assert _values(header_list, "Access-Control-Allow-Origin") == ["*"]


def test_flv_stream_carries_exactly_one_allow_origin(srv, client):
    session_id = client.create()
    status, header_list, _ = _raw(srv, "GET", f"/live/{session_id}.flv", {"Origin": ORIGIN})
    assert status == 200
    assert _values(header_list, "Access-Control-Allow-Origin") == ["*"]
