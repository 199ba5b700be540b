"""Idle closing of the socket and of the session, with short [timing] values."""

from __future__ import annotations

import time

from .helpers import eventually


def test_socket_closes_after_ws_idle_and_upstream_frames_keep_it_open(server_factory):
    client = server_factory(ws_idle_close_seconds=0.5, session_idle_close_seconds=30).client()
    session_id = client.started_session()
    kept = client.connect(session_id)
    for _ in range(5):
        time.sleep(0.2)
        kept.ws.send("garbage counts as upstream traffic")
    assert kept.error()["Header"]["Code"] == 100001
    assert kept.closed(timeout=3)
    assert client.ok("statsession", SessionId=session_id)["SessionStatus"] == 1  # only the socket went
    client.connect(session_id).close()


def test_session_closes_after_idle_with_close_type_2(server_factory):
    server = server_factory(session_idle_close_seconds=0.6, ws_idle_close_seconds=30)
    client = server.client()
    idle = client.create()
    kept = client.started_session()
    socket = client.connect(kept)
    for _ in range(6):
        time.sleep(0.2)
        socket.send("SEND_HEARTBEAT", {"Text": "PING"})
    stat = client.ok("statsession", SessionId=idle)
    assert stat["SessionStatus"] == 2 and stat["CloseType"] == 2
    assert client.ok("statsession", SessionId=kept)["SessionStatus"] == 1
    assert eventually(lambda: client.ok("statsession", SessionId=kept)["CloseType"] == 2, timeout=3)
    assert socket.closed()
    assert ("close", (idle,)) in server.hub.calls


def test_invalid_frames_do_not_keep_the_session_alive(server_factory):
    client = server_factory(session_idle_close_seconds=0.5, ws_idle_close_seconds=30).client()
    session_id = client.started_session()
    socket = client.connect(session_id)
    for _ in range(4):
        time.sleep(0.2)
        socket.ws.send("not json")
    assert eventually(lambda: client.ok("statsession", SessionId=session_id)["CloseType"] == 2, timeout=3)
