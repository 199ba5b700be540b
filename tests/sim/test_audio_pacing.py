"""The audio pacing rule of PROTOCOL.md §11.5: six packets as fast as the client likes, then a
real-time factor of at least 0.75 (one 160 ms packet per 120 ms or slower), else 100012."""

from __future__ import annotations

import base64
import time

from .helpers import Socket, is_status, new_req_id

PACKET = b"\0" * 5120  # 160 ms


def _audio(socket: Socket, req_id: str, seq: int, pcm: bytes, **data) -> None:
    socket.send("SEND_AUDIO", {"Audio": base64.b64encode(pcm).decode(), "Seq": seq, **data}, req_id)


def _send_and_finish(socket: Socket, count: int, interval: float) -> list[dict]:
    """`count` packets, the first six at once and the rest `interval` apart; every frame back."""
    audio = new_req_id()
    start = time.monotonic()
    for seq in range(1, count + 1):
        if seq > 6:
            time.sleep(max(0.0, start + (seq - 6) * interval - time.monotonic()))
        _audio(socket, audio, seq, PACKET)
    _audio(socket, audio, count + 1, b"", IsFinal=True)
    return socket.until(is_status("AudioOver", audio), timeout=15)


def test_bursting_past_six_packets_is_rate_limited(client, srv):
    session_id = client.started_session()
    socket = client.connect(session_id)
    frames = _send_and_finish(socket, 12, interval=0)
    codes = [f["Header"]["Code"] for f in frames if f["Header"]["Code"]]
    assert codes and set(codes) == {100012}
    pushed = srv.hub.named("push_audio")
    # The burst was played, the packets sent too fast after it were not.
    assert 6 <= len(pushed) < 12


def test_paced_audio_after_the_burst_is_taken(client, srv):
    session_id = client.started_session()
    socket = client.connect(session_id)
    frames = _send_and_finish(socket, 10, interval=0.14)
    assert all(f["Header"]["Code"] == 0 for f in frames), [f for f in frames if f["Header"]["Code"]]
    assert len(srv.hub.named("push_audio")) == 10


def test_pacing_rule_can_be_switched_off(server_factory):
    server = server_factory(behaviour={"audio_min_real_time_factor": 0.0})
    client = server.client()
    socket = client.connect(client.started_session())
    frames = _send_and_finish(socket, 12, interval=0)
    assert all(f["Header"]["Code"] == 0 for f in frames)
