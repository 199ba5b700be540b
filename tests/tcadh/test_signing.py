from urllib.parse import parse_qs

import pytest

from tcadh.signing import signature, signed_query, signing_text

A = ("e38267c0e86411ebb02aed82acb0ed99", "f68f2d10ae9e4604b76fb05cf46bccec")
B = ("example_appkey", "example_accesstoken")

VECTORS = [
    (A, {}, 1646636485, "BfWuaC9kmaicCggXc693uK+sZQ8qe88O4HVQNTdwZuo=", "BfWuaC9kmaicCggXc693uK%2BsZQ8qe88O4HVQNTdwZuo%3D"),
    (B, {}, 1717639699, "aCNWYzZdplxWVo+JsqzZc9+J9XrwWWITfX3eQpsLVno=", "aCNWYzZdplxWVo%2BJsqzZc9%2BJ9XrwWWITfX3eQpsLVno%3D"),
    (B, {"requestid": "example_requestid"}, 1717639699,
     "QVenICk0VHtHGYZKXM6IC+W1CjZC1joSr/x0gfKKYT4=", "QVenICk0VHtHGYZKXM6IC%2BW1CjZC1joSr%2Fx0gfKKYT4%3D"),
    (A, {"requestid": "m318552187863054171"}, 1646636485,
     "FeMs5o/VGz+1Dbg5Kc1VLHunFSyYhx+0HS1GMBvDhso=", "FeMs5o%2FVGz%2B1Dbg5Kc1VLHunFSyYhx%2B0HS1GMBvDhso%3D"),
]


@pytest.mark.parametrize(("creds", "extra", "ts", "raw", "encoded"), VECTORS, ids=["A", "B", "C", "D"])
def test_protocol_vectors(creds, extra, ts, raw, encoded):
    appkey, token = creds
    params = {"appkey": appkey, "timestamp": str(ts), **extra}
    assert signature(params, token) == raw
    query = signed_query(appkey, token, extra, timestamp=ts)
    assert query == f"{signing_text(params)}&signature={encoded}"


def test_signing_text_sorts_by_name_and_skips_signature():
    params = {"timestamp": "1", "requestid": "s", "appkey": "k", "Language": "en-US", "signature": "x"}
    assert signing_text(params) == "Language=en-US&appkey=k&requestid=s&timestamp=1"


def test_plus_and_slash_are_percent_encoded_and_survive_a_decoding_server():
    # Vector C's signature holds both '+' and '/'.
    query = signed_query(*B, {"requestid": "example_requestid"}, timestamp=1717639699)
    encoded = query.split("&signature=")[1]
    assert "+" not in encoded and "/" not in encoded and "=" not in encoded
    assert "%2B" in encoded and "%2F" in encoded
    assert parse_qs(query)["signature"] == ["QVenICk0VHtHGYZKXM6IC+W1CjZC1joSr/x0gfKKYT4="]


def test_default_timestamp_is_current_seconds(monkeypatch):
    monkeypatch.setattr("tcadh.signing.time.time", lambda: 1717639699.9)
    assert "timestamp=1717639699&" in signed_query(*B)
