import asyncio
import base64
import json
import logging
import time

import pytest
from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus
from websockets.http11 import Response

from tcadh import TcadhClient, TcadhError
from tcadh.channel import CommandChannel, HandshakeRefused, OutboxFull, handshake_error
from tcadh.errors import CHANNEL_CLOSED, HTTP_ERROR
from tcadh.frames import DriveFailed, MalformedFrame, SpeakStatus, text_frame
from tcadh.signing import signed_query

from .conftest import FakeClock
from .fake_gateway import CHANNEL_PATH


@pytest.fixture
def ws_client(gateway):
    return TcadhClient(gateway.ws_base_url, gateway.appkey, gateway.accesstoken)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def session_id(gateway):
    return gateway.add_session()


def asleep(clock):
    """The fake clock's sleep, as the channel awaits it."""
    async def sleep(seconds):
        clock.sleep(seconds)
    return sleep


@pytest.fixture
async def channel(ws_client, session_id, clock):
    async with await ws_client.open_channel(session_id, clock=clock, sleep=asleep(clock)) as ch:
        yield ch


async def _events_until(channel, status, req_id):
    seen = []
    async for event in channel.events(timeout=5):
        seen.append(event)
        if isinstance(event, SpeakStatus) and event.status == status and event.req_id == req_id:
            return seen
    raise AssertionError(f"no {status} for {req_id}; saw {seen}")


async def _list(events) -> list:
    return [event async for event in events]


async def wait_for(gateway, condition) -> bool:
    """`gateway.wait_for` off the event loop, which the channel needs meanwhile."""
    return await asyncio.to_thread(gateway.wait_for, condition)


def _data(frames):
    return [frame["Payload"]["Data"] for frame in frames]


async def test_send_text_and_receive_status(channel, gateway, session_id):
    req_id = await channel.send_text("您好，我是数智人")
    seen = await _events_until(channel, "TextOver", req_id)
    assert [e.status for e in seen] == ["TextStart", "TextOver"]
    [frame] = gateway.commands("SEND_TEXT")
    assert frame["Payload"]["ReqId"] == req_id and frame["Payload"]["SessionId"] == session_id
    assert frame["Payload"]["Data"]["Text"] == "您好，我是数智人"
    assert gateway.handshakes[0]["requestid"] == session_id


async def test_text_sends_are_spaced_by_the_injected_clock(channel, gateway, clock):
    await channel.send_text("one")
    clock.now += 0.4
    await channel.send_text("two")
    channel.interrupt()
    # A bare interrupt speaks nothing: it is not held to the spacing (PROTOCOL §11.3).
    assert clock.wakeups == [pytest.approx(101.05)]
    assert await wait_for(gateway, lambda: len(gateway.commands("SEND_TEXT")) == 3)
    assert _data(gateway.commands("SEND_TEXT"))[2] == {"Text": "", "Interrupt": True, "ChatCommand": "NotUseChat"}


async def test_send_text_limit_is_checked_before_sending(channel, gateway):
    with pytest.raises(ValueError):
        await channel.send_text("😀" * 1001)
    assert gateway.frames == []


async def test_stream_text_in_clause_mode_holds_text_until_a_clause_ends(channel, gateway):
    req_id = await channel.stream_text(["Hello ", "world. Next", " one! tail"], clause=True)
    await _events_until(channel, "TextOver", req_id)
    packets = gateway.commands("SEND_STREAMTEXT")
    assert [d["Text"] for d in _data(packets)] == ["Hello world.", " Next one!", " tail", ""]
    assert [d["Seq"] for d in _data(packets)] == [1, 2, 3, 4]
    assert [d["IsFinal"] for d in _data(packets)] == [False, False, False, True]
    assert all(d["IsSentence"] for d in _data(packets))
    assert {p["Payload"]["ReqId"] for p in packets} == {req_id}


async def test_stream_text_splits_large_chunks(channel, gateway):
    req_id = await channel.stream_text(["字" * 500, "尾"])
    await _events_until(channel, "TextOver", req_id)
    texts = [d["Text"] for d in _data(gateway.commands("SEND_STREAMTEXT"))]
    assert texts == ["字" * 333, "字" * 167, "尾", ""]


async def test_interrupting_a_stream_sends_the_interrupt_packet_and_stops(channel, gateway):
    def chunks():
        yield "first part"
        channel.interrupt()
        yield "never sent"

    await channel.stream_text(chunks())
    assert await wait_for(gateway, lambda: len(gateway.commands("SEND_STREAMTEXT")) == 2)
    assert _data(gateway.commands("SEND_STREAMTEXT")) == [
        {"Text": "first part", "Seq": 1, "IsFinal": False},
        {"Text": "", "Seq": 2, "IsFinal": True, "Interrupt": True},
    ]


def _pcm(packets: int, tail: int = 0) -> bytes:
    return bytes(i % 251 for i in range(packets * 5120 + tail))


async def test_audio_is_paced_on_a_fixed_schedule(channel, gateway, clock):
    pcm = _pcm(10, tail=640)
    req_id = await channel.send_audio(pcm)
    seen = await _events_until(channel, "AudioOver", req_id)
    assert seen[-1].final_type == 1
    packets = gateway.commands("SEND_AUDIO")
    assert b"".join(base64.b64decode(d["Audio"]) for d in _data(packets)) == pcm
    assert [d["Seq"] for d in _data(packets)] == list(range(1, 13))
    assert _data(packets)[-1] == {"Audio": "", "Seq": 12, "IsFinal": True}
    # Six packets at once, then one every 140 ms from the start: 160 ms of audio per 140 ms.
    assert clock.wakeups == pytest.approx([100 + 0.14 * k for k in range(1, 6)])


async def test_late_wakeups_do_not_accumulate(ws_client, session_id, gateway):
    late = FakeClock(oversleep=0.03)
    async with await ws_client.open_channel(session_id, clock=late, sleep=asleep(late)) as ch:
        await ch.send_audio(_pcm(9))
    assert late.wakeups == pytest.approx([100 + 0.14 * k + 0.03 for k in range(1, 4)])


async def test_live_audio_is_not_paced(channel, gateway, clock):
    await channel.send_audio(_pcm(8), live=True)
    assert clock.wakeups == []
    assert await wait_for(gateway, lambda: len(gateway.commands("SEND_AUDIO")) == 9)


async def test_interrupting_audio_ends_it_with_the_final_packet(ws_client, session_id, gateway):
    clock = FakeClock()
    holder = {}

    async def sleep(seconds):
        clock.sleep(seconds)
        if len(clock.wakeups) == 2:
            holder["interrupted"] = holder["channel"].interrupt()

    async with await ws_client.open_channel(session_id, clock=clock, sleep=sleep) as ch:
        holder["channel"] = ch
        req_id = await ch.send_audio(_pcm(20))
        assert holder["interrupted"] == req_id
        await _events_until(ch, "AudioOver", req_id)
    data = _data(gateway.commands("SEND_AUDIO"))
    assert len(data) == 8 and data[-1] == {"Audio": "", "Seq": 8, "IsFinal": True}


async def test_audio_must_be_16_bit(channel):
    with pytest.raises(ValueError):
        await channel.send_audio(b"\0" * 3)
    with pytest.raises(ValueError):
        await channel.send_audio(b"")


async def test_heartbeats_are_sent_periodically(ws_client, session_id, gateway):
    async with await ws_client.open_channel(session_id, heartbeat_interval=0.05):
        assert await wait_for(gateway, lambda: len(gateway.commands("SEND_HEARTBEAT")) >= 2)
    assert all(d == {"Text": "PING"} for d in _data(gateway.commands("SEND_HEARTBEAT")))


async def test_reconnects_with_a_freshly_signed_url(gateway, session_id):
    stamps = iter(range(int(time.time()) - 100, int(time.time())))
    port = gateway.ws_base_url.rsplit(":", 1)[1]

    def url():
        query = signed_query(gateway.appkey, gateway.accesstoken, {"requestid": session_id}, timestamp=next(stamps))
        return f"ws://127.0.0.1:{port}{CHANNEL_PATH}?{query}"

    channel = CommandChannel(url, session_id, reconnect_backoff=0.01)
    await channel.connect()
    try:
        assert await wait_for(gateway, lambda: gateway.connection_count() == 1)
        # Off the loop: the gateway's close waits for the channel's answer, which needs the loop.
        await asyncio.to_thread(gateway.drop_connections)
        assert await wait_for(gateway, lambda: channel.connections == 2 and gateway.connection_count() == 1)
        req_id = await channel.send_text("after reconnect")
        await _events_until(channel, "TextOver", req_id)
    finally:
        await channel.aclose()
    first, second = gateway.handshakes
    assert int(second["timestamp"]) == int(first["timestamp"]) + 1
    assert second["signature"] != first["signature"]


async def test_stop_code_ends_the_channel_without_reconnecting(channel, gateway, session_id):
    assert await wait_for(gateway, lambda: gateway.connection_count() == 1)
    gateway.push(json.dumps({"Header": {"Code": 110022, "Message": "replaced", "RequestID": "x"}, "Payload": {"SessionId": session_id}}))
    events = await _list(channel.events(timeout=5))
    assert events == [DriveFailed("", 110022, "replaced")]
    assert channel.closed and channel.last_error.code == 110022
    with pytest.raises(TcadhError) as info:
        await channel.send_text("too late")
    assert info.value.code == 110022
    assert len(gateway.handshakes) == 1


async def test_malformed_frames_become_events_and_the_channel_goes_on(ws_client, session_id, gateway):
    received = []
    async with await ws_client.open_channel(session_id, on_event=received.append) as ch:
        assert await wait_for(gateway, lambda: gateway.connection_count() == 1)
        gateway.push("{oops")
        req_id = await ch.send_text("still alive")
        assert await wait_for(gateway, lambda: any(getattr(e, "status", "") == "TextOver" for e in received))
    assert isinstance(received[0], MalformedFrame)
    assert [e.req_id for e in received[1:]] == [req_id, req_id]


async def test_refused_handshake_raises(ws_client, gateway):
    sid = gateway.add_session(started=False)
    with pytest.raises(TcadhError) as info:
        await ws_client.open_channel(sid)
    assert info.value.code == HTTP_ERROR and info.value.http_status == 403


async def test_closed_channel_refuses_to_send(channel):
    channel.close()
    assert await _list(channel.events(timeout=5)) == []
    with pytest.raises(TcadhError) as info:
        await channel.send_text("x")
    assert info.value.code == CHANNEL_CLOSED


async def test_channel_logs_hide_the_signature(ws_client, session_id, gateway, caplog):
    caplog.set_level(logging.DEBUG, logger="tcadh")
    async with await ws_client.open_channel(session_id) as ch:
        await ch.send_text("hi")
    assert "connected" in caplog.text
    assert gateway.accesstoken not in caplog.text and "signature" not in caplog.text and "timestamp=" not in caplog.text


async def test_an_urgent_frame_goes_ahead_of_texts_held_by_the_spacing(ws_client, session_id, gateway):
    async with await ws_client.open_channel(session_id, text_interval=0.3) as ch:
        first = text_frame(session_id, "one")
        second = text_frame(session_id, "two")
        stop = text_frame(session_id, "", interrupt=True)
        await asyncio.gather(*ch.send([first]))
        held = ch.send([second])  # within the spacing of "one": held
        await asyncio.gather(*ch.send([stop], urgent=True))
        await asyncio.gather(*held)
        # Sent is not yet received: the gateway reads the last frame on its own time.
        assert await wait_for(gateway, lambda: len(gateway.commands("SEND_TEXT")) == 3)
    assert [d["Text"] for d in _data(gateway.commands("SEND_TEXT"))] == ["one", "", "two"]


async def test_a_full_outbox_refuses_all_but_urgent_frames_and_withdrawn_ones_never_go(session_id):
    channel = CommandChannel(lambda: "ws://127.0.0.1:9/unused", session_id, outbox_limit=2)
    kept, dropped = text_frame(session_id, "kept"), text_frame(session_id, "dropped")
    channel.send([kept, dropped])
    with pytest.raises(OutboxFull):
        channel.send([text_frame(session_id, "one too many")])
    channel.send([text_frame(session_id, "", interrupt=True)], urgent=True)
    assert channel.withdraw({dropped["Payload"]["ReqId"]}) == 1
    assert channel.queued == 2 and not channel.was_sent(kept["Payload"]["ReqId"])


def test_a_refused_handshake_carries_the_clouds_code():
    body = json.dumps({"Header": {"Code": 110014, "Message": "not started"}}).encode()
    error = handshake_error(InvalidStatus(Response(403, "Forbidden", Headers(), body)))
    assert isinstance(error, HandshakeRefused) and error.code == HTTP_ERROR and error.http_status == 403
    assert (error.cloud_code, error.cloud_message, error.retryable) == (110014, "not started", False)
    assert handshake_error(InvalidStatus(Response(503, "Busy", Headers(), b"overloaded"))).retryable
