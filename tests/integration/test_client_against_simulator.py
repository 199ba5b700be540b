"""The client and the simulator agree on the wire: the conformance check between the two halves."""

import io
import json
import math
import re
import struct
import time
import wave

import pytest
from django.core.management import call_command

from tcadh.client import TcadhClient
from tcadh.errors import TcadhError
from tcadh.frames import SpeakStatus
from tcadh.models import SessionStatus


@pytest.fixture
def client(sim):
    return TcadhClient(sim.base_url, sim.demo["appkey"], sim.demo["accesstoken"])


def ready_session(client, sim, **kwargs):
    created = client.create_session(project_id=sim.demo["projects"][0], user_id=f"it-{time.monotonic_ns()}",
                                    protocol="rtmp", **kwargs)
    deadline = time.monotonic() + 10
    while client.stat_session(created.session_id).status != SessionStatus.READY:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return created.session_id


async def statuses_until(channel, req_id, last, timeout=15):
    seen = []
    async for event in channel.events(timeout=timeout):
        if isinstance(event, SpeakStatus) and event.req_id == req_id:
            seen.append(event.status)
            if event.status == last:
                return seen
    raise AssertionError(f"no {last} for {req_id}; saw {seen}")


async def test_lifecycle_and_text_over_the_channel(client, sim):
    sid = ready_session(client, sim)
    assert client.stat_session(sid).is_started is False
    client.start_session(sid)
    listed = {s.session_id: s for s in client.list_sessions_of_uin()}
    assert listed[sid].is_started is True
    assert sid in {s.session_id for s in client.list_sessions_of_project(sim.demo["projects"][0])}

    async with await client.open_channel(sid) as channel:
        req_id = await channel.send_text("你好，欢迎。Hello and welcome.")
        assert (await statuses_until(channel, req_id, "TextOver"))[-2:] == ["TextStart", "TextOver"]
        stream_id = await channel.stream_text(["第一句话已经说完了。", "Second sentence is here."], clause=True)
        assert "TextOver" in await statuses_until(channel, stream_id, "TextOver")

    client.close_session(sid)
    state = client.stat_session(sid)
    assert state.status == SessionStatus.CLOSED and state.is_started is True


async def test_audio_is_paced_within_the_real_time_window(client, sim):
    sid = ready_session(client, sim, driver_type=3)
    client.start_session(sid)
    tone = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / 16000))) for n in range(16000 * 2))
    async with await client.open_channel(sid) as channel:
        req_id = await channel.send_audio(tone)
        assert (await statuses_until(channel, req_id, "AudioOver"))[-1] == "AudioOver"
    frames = [f for f in sim.control("GET", f"sessions/{sid}")["frames"] if f["command"] == "SEND_AUDIO"]
    assert all(f["code"] == 0 for f in frames)
    assert [f["seq"] for f in frames] == list(range(1, len(frames) + 1))
    assert frames[-1]["data"]["IsFinal"] is True and frames[-1]["data"]["Audio"] == "<0 base64 chars>"
    base64_chars = [int(re.search(r"\d+", f["data"]["Audio"]).group()) for f in frames[:-1]]
    packets = [len(tone[i:i + 5120]) for i in range(0, len(tone), 5120)]
    assert base64_chars == [4 * math.ceil(n / 3) for n in packets]
    gaps = [b["t"] - a["t"] for a, b in zip(frames[6:-1], frames[7:-1])]
    assert gaps and 0.10 <= sorted(gaps)[len(gaps) // 2] <= 0.17


def test_cloud_errors_arrive_as_typed_errors(client, sim):
    sid = ready_session(client, sim)
    with pytest.raises(TcadhError) as err:
        client.send_text(sid, "not started yet")
    assert err.value.code in {110014, 110016} and err.value.request_id
    wrong = TcadhClient(sim.base_url, sim.demo["appkey"], "0" * 32)
    with pytest.raises(TcadhError) as err:
        wrong.list_sessions_of_uin()
    assert err.value.code == 100005


def test_stat_retries_a_transient_fault(client, sim):
    sid = ready_session(client, sim)
    sim.control("POST", "faults", json={"endpoint": "statsession", "http_status": 500, "count": 1})
    assert client.stat_session(sid).status == SessionStatus.READY


def run_command(sim, *args) -> str:
    out = io.StringIO()
    call_command("tcadh", "--base-url", sim.base_url, "--appkey", sim.demo["appkey"],
                 "--accesstoken", sim.demo["accesstoken"], *args, stdout=out)
    return out.getvalue()


def test_the_tcadh_command_runs_the_whole_lifecycle(sim, tmp_path):
    created = json.loads(run_command(sim, "create", "--project", sim.demo["projects"][0], "--user-id", "cli-1",
                                     "--driver-type", "3"))
    sid = created["session_id"]
    deadline = time.monotonic() + 10
    while json.loads(run_command(sim, "stat", sid))["status"] != "ready":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    run_command(sim, "start", sid)
    lines = [json.loads(line) for line in run_command(sim, "chat", sid, "Hello from the terminal", "--wait").splitlines()]
    assert any(line.get("status") == "TextOver" for line in lines)

    wav = tmp_path / "hello.wav"
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\x10\x00" * 16000)
    lines = [json.loads(line) for line in run_command(sim, "audio", sid, str(wav), "--wait").splitlines()]
    assert any(line.get("status") == "AudioOver" for line in lines)

    run_command(sim, "close", sid)
    assert json.loads(run_command(sim, "stat", sid))["status"] == "closed"
