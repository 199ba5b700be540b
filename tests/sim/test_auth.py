"""Signature checking (PROTOCOL.md §4) on HTTP calls and on the command-channel handshake."""

from __future__ import annotations

import time
import urllib.parse

import pytest
import websocket

from tcadh_sim.auth import AuthError, authenticate, compute_signature, signing_text, verify_signature
from tcadh_sim.config import Account, SimConfig

from .helpers import SESSION_API, sign, signed_query

VECTORS = [
    ("e38267c0e86411ebb02aed82acb0ed99", "f68f2d10ae9e4604b76fb05cf46bccec", {"timestamp": "1646636485"},
     "BfWuaC9kmaicCggXc693uK+sZQ8qe88O4HVQNTdwZuo="),
    ("example_appkey", "example_accesstoken", {"timestamp": "1717639699"},
     "aCNWYzZdplxWVo+JsqzZc9+J9XrwWWITfX3eQpsLVno="),
    ("example_appkey", "example_accesstoken", {"requestid": "example_requestid", "timestamp": "1717639699"},
     "QVenICk0VHtHGYZKXM6IC+W1CjZC1joSr/x0gfKKYT4="),
]


@pytest.mark.parametrize("appkey,token,extra,expected", VECTORS, ids=["A", "B", "C"])
def test_protocol_vectors(appkey, token, extra, expected):
    params = {"appkey": appkey, **extra}
    assert compute_signature(params, token) == expected
    assert verify_signature({**params, "signature": expected}, token)


@pytest.mark.parametrize("appkey,token,extra,expected", VECTORS, ids=["A", "B", "C"])
def test_vectors_through_authenticate_with_both_slash_spellings(appkey, token, extra, expected):
    config = SimConfig(accounts=(Account(uin="1", appkey=appkey, accesstoken=token),))
    now = float(extra["timestamp"])
    base = "&".join(f"{k}={v}" for k, v in {"appkey": appkey, **extra}.items())
    for encoded in (urllib.parse.quote(expected, safe=""), urllib.parse.quote(expected)):
        result = authenticate(f"{base}&signature={encoded}", config, now, require_requestid="requestid" in extra)
        assert result.account.appkey == appkey


def test_signing_text_sorts_names_and_skips_signature():
    assert signing_text({"timestamp": "1", "Language": "en-US", "appkey": "k", "signature": "x"}) == (
        "Language=en-US&appkey=k&timestamp=1"
    )


def _config() -> SimConfig:
    return SimConfig(accounts=(Account(uin="1", appkey="ak", accesstoken="tok"),))


def test_unescaped_plus_fails_like_the_real_gateway():
    # Find a timestamp whose signature contains '+', then send it without escaping.
    ts = 1_700_000_000
    while "+" not in sign({"appkey": "ak", "timestamp": str(ts)}, "tok"):
        ts += 1
    query = signed_query("ak", "tok", ts=ts, escape=False)
    with pytest.raises(AuthError, match="signature"):
        authenticate(query, _config(), float(ts))
    assert authenticate(signed_query("ak", "tok", ts=ts), _config(), float(ts)).account.uin == "1"


@pytest.mark.parametrize(
    "query_of,message",
    [
        (lambda now: signed_query("ak", "tok", ts=int(now) - 301), "timestamp"),
        (lambda now: signed_query("ak", "tok", ts=int(now) + 301), "timestamp"),
        (lambda now: signed_query("nope", "tok", ts=int(now)), "unknown appkey"),
        (lambda now: signed_query("ak", "wrong", ts=int(now)), "signature"),
        (lambda now: f"appkey=ak&timestamp={int(now)}", "missing"),
        (lambda now: signed_query("ak", "tok", ts=int(now)).replace(str(int(now)), f"{int(now)}000", 1), "timestamp"),
    ],
    ids=["stale", "future", "unknown-appkey", "wrong-token", "no-signature", "milliseconds"],
)
def test_rejections(query_of, message):
    now = 1_800_000_000.0
    with pytest.raises(AuthError, match=message):
        authenticate(query_of(now), _config(), now)


def test_inside_window_is_accepted_repeatedly():
    now = 1_800_000_000.0
    query = signed_query("ak", "tok", ts=int(now) - 299)
    for _ in range(3):
        authenticate(query, _config(), now)


def test_websocket_requires_requestid():
    now = 1_800_000_000.0
    with pytest.raises(AuthError, match="requestid"):
        authenticate(signed_query("ak", "tok", ts=int(now)), _config(), now, require_requestid=True)


def test_http_auth_failure_is_header_code(client):
    stale = signed_query(client.appkey, client.accesstoken, ts=int(time.time()) - 1000)
    response = client.post_raw(SESSION_API + "listsessionofuin", {"Header": {}, "Payload": {"ReqId": "r"}}, query=stale)
    assert response.status_code == 200
    header = response.json()["Header"]
    assert header["Code"] == 100005
    assert "timestamp" in header["Message"]
    assert len(header["RequestID"]) == 32


def test_http_unescaped_plus_fails_end_to_end(client):
    ts = int(time.time())
    while "+" not in sign({"appkey": client.appkey, "timestamp": str(ts)}, client.accesstoken):
        ts -= 1
    body = {"Header": {}, "Payload": {"ReqId": "r"}}
    bad = client.post_raw(SESSION_API + "listsessionofuin", body,
                          query=signed_query(client.appkey, client.accesstoken, ts=ts, escape=False))
    assert bad.json()["Header"]["Code"] == 100005
    good = client.post_raw(SESSION_API + "listsessionofuin", body,
                           query=signed_query(client.appkey, client.accesstoken, ts=ts))
    assert good.json()["Header"]["Code"] == 0


def test_auth_error_code_is_configurable(server_factory):
    server = server_factory(behaviour={"auth_error_code": 100001})
    client = server.client(accesstoken="0" * 32)
    assert client.code("listsessionofuin") == 100001


def test_websocket_handshake_with_bad_signature_is_refused(client):
    session_id = client.started_session()
    bad = client.ws_url(session_id, ts=int(time.time()) - 1000)
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(bad, timeout=5)
    assert info.value.status_code == 403
