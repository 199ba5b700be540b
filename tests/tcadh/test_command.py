"""``manage.py tcadh`` against the fake gateway. Needs the project's Django settings (pytest-django)."""
import io
import json
import wave

import pytest

django_settings = pytest.importorskip("django.conf").settings
if not django_settings.configured:
    pytest.skip("needs pytest-django and the project settings", allow_module_level=True)

from django.core.management import call_command  # noqa: E402
from django.core.management.base import CommandError  # noqa: E402

from .fake_gateway import PLAY_SECRET  # noqa: E402


@pytest.fixture
def run(gateway, monkeypatch):
    monkeypatch.setenv("TCADH_APPKEY", gateway.appkey)
    monkeypatch.setenv("TCADH_ACCESSTOKEN", gateway.accesstoken)

    def run(*args, base_url=gateway.base_url):
        out, err = io.StringIO(), io.StringIO()
        call_command("tcadh", "--base-url", base_url, *args, stdout=out, stderr=err)
        return [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()

    return run


def test_create_start_stat_close(run, gateway):
    [created], _ = run("create", "--project", "P", "--user-id", "u1", "--driver-type", "3", "--stream-max-interval", "4000")
    assert created["status"] == "ready" and PLAY_SECRET in created["play_stream_addr"]
    assert gateway.requests[-1].payload["StreamMaxInterval"] == 4000 and gateway.requests[-1].payload["DriverType"] == 3
    sid = created["session_id"]
    assert run("start", sid)[0] == [{"session_id": sid, "result": "started"}]
    [state], _ = run("stat", sid)
    assert state["status"] == "ready" and state["is_started"] is True
    run("close", sid)
    assert run("stat", sid)[0][0]["status"] == "closed"


def test_create_by_asset_and_lists(run, gateway):
    [created], _ = run("create-by-asset", "--asset", "K", "--user-id", "u2", "--protocol", "rtmp")
    assert gateway.requests[-1].payload["AssetVirtualmanKey"] == "K"
    [[listed]] = run("list-asset", "K")[0]
    assert listed["session_id"] == created["session_id"] and listed["status"] == "ready"
    assert run("list-project", "nothing")[0] == [[]]
    assert [s["session_id"] for s in run("list-uin")[0][0]] == [created["session_id"]]


def test_cloud_error_goes_to_stderr_with_a_non_zero_exit(gateway, monkeypatch):
    monkeypatch.setenv("TCADH_APPKEY", gateway.appkey)
    monkeypatch.setenv("TCADH_ACCESSTOKEN", gateway.accesstoken)
    err = io.StringIO()
    with pytest.raises(SystemExit) as info:
        call_command("tcadh", "--base-url", gateway.base_url, "start", "m404", stdout=io.StringIO(), stderr=err)
    assert info.value.code == 1
    assert err.getvalue().startswith("error 110018: session does not exist (request gw-110018")
    assert gateway.accesstoken not in err.getvalue()


def test_missing_credentials_and_bad_input_are_command_errors(gateway, monkeypatch):
    monkeypatch.delenv("TCADH_APPKEY", raising=False)
    monkeypatch.delenv("TCADH_ACCESSTOKEN", raising=False)
    with pytest.raises(CommandError, match="TCADH_APPKEY"):
        call_command("tcadh", "--base-url", gateway.base_url, "list-uin")
    with pytest.raises(CommandError, match="2000..6000"):
        call_command("tcadh", "--base-url", gateway.base_url, "--appkey", "a", "--accesstoken", "t",
                     "create", "--project", "P", "--user-id", "u", "--stream-max-interval", "100")
    assert gateway.requests == []


def test_say_trtc_sign_and_update_config(run, gateway):
    sid = gateway.add_session(protocol="trtc")
    [said], _ = run("say", sid, "你好", "--interrupt")
    assert gateway.requests[-1].payload["Data"]["Interrupt"] is True and said["req_id"] == gateway.requests[-1].payload["ReqId"]
    [sign], _ = run("trtc-sign", sid, "--room-id", "1200111", "--user-id", "viewer")
    assert sign == {"user_sig": f"{PLAY_SECRET}-viewer", "private_map_key": "PMK-SECRET"}
    assert gateway.requests[-1].payload["RoomId"] == 1200111
    run("trtc-sign", sid, "--room-id", "room-a", "--user-id", "viewer")
    assert gateway.requests[-1].payload["StrRoomId"] == "room-a"
    run("update-config", sid, "--zoom", "1.5", "--background-url", "https://e.x/b.png")
    assert gateway.requests[-1].payload["SpaceParam"] == {
        "ImagePosition": 0.0, "ImagePositionVertical": 0.0, "ImageZoom": 1.5, "BackgroundUrl": "https://e.x/b.png",
    }


@pytest.mark.parametrize("stream", [False, True])
def test_chat_waits_for_text_over(run, gateway, stream):
    sid = gateway.add_session()
    lines, _ = run("chat", sid, "讲个笑话", "--wait", *(["--stream"] if stream else []), base_url=gateway.ws_base_url)
    req_id = lines[0]["req_id"]
    assert lines[-1] == {"event": "SpeakStatus", "req_id": req_id, "seq": 0, "status": "TextOver", "final_type": None}
    command = "SEND_STREAMTEXT" if stream else "SEND_TEXT"
    assert gateway.commands(command)[0]["Payload"]["Data"]["Text"] == "讲个笑话"


def _wav(path, *, rate=16000, channels=1, seconds=0.5):
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"\x01\x00" * int(rate * seconds) * channels)
    return str(path)


def test_audio_sends_a_wav_file_and_waits_for_audio_over(run, gateway, tmp_path):
    sid = gateway.add_session()
    lines, _ = run("audio", sid, _wav(tmp_path / "a.wav"), "--wait", base_url=gateway.ws_base_url)
    assert lines[0]["seconds"] == 0.5 and lines[-1]["status"] == "AudioOver"
    packets = gateway.commands("SEND_AUDIO")
    assert len(packets) == 5 and packets[-1]["Payload"]["Data"]["IsFinal"] is True  # 16000 B → 4 packets + final


def test_audio_rejects_the_wrong_wav_format(run, gateway, tmp_path):
    with pytest.raises(CommandError, match="16000 Hz mono"):
        run("audio", "m1", _wav(tmp_path / "b.wav", rate=8000))
    (tmp_path / "c.wav").write_bytes(b"not a wav")
    with pytest.raises(CommandError, match="not a readable"):
        run("audio", "m1", str(tmp_path / "c.wav"))
    assert gateway.handshakes == []
