"""The pause-video fault (POST /_sim/sessions/<id>/video): every player of the session stops
getting video, as behind a stuck upstream encoder, until it goes on again."""

from __future__ import annotations

import io
import threading

import av
import pytest
import requests

from tcadh_sim.media import hub as hub_module

from .helpers import eventually


def _pause(srv, session_id: str, paused) -> requests.Response:
    return srv.control("POST", f"sessions/{session_id}/video", json={"paused": paused})


class _Watcher:
    """An FLV viewer reading in the background; `received` grows while video arrives."""

    def __init__(self, url: str) -> None:
        self.response = requests.get(url, stream=True, timeout=10)
        self.received = 0
        self.data = bytearray()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for chunk in self.response.iter_content(4096):
                self.data += chunk
                self.received += len(chunk)
        except Exception:  # noqa: BLE001 (closing the response under the reader ends it any which way)
            pass

    def close(self) -> None:
        self.response.close()


def _decodes_video(data: bytes) -> bool:
    try:
        container = av.open(io.BytesIO(data), format="flv")
        return any(True for _ in container.decode(video=0))
    except av.FFmpegError:
        return False


def test_paused_video_reaches_no_player_until_it_goes_on(srv, client, monkeypatch):
    monkeypatch.setattr(hub_module, "_FIRST_PLAYLIST_WAIT_SECONDS", 0.5)
    session_id = client.create()
    flv = f"{srv.base_url}/live/{session_id}.flv"
    watcher = _Watcher(flv)
    try:
        eventually(lambda: watcher.received > 0, timeout=10)
        answer = _pause(srv, session_id, True)
        assert answer.status_code == 200 and answer.json() == {"session_id": session_id, "video_paused": True}

        # A player that connects now gets its response and then nothing: no picture to start from.
        late = requests.get(flv, stream=True, timeout=(5, 1.5))
        with pytest.raises(requests.ConnectionError):
            next(late.iter_content(1024))
        late.close()
        assert requests.get(f"{srv.base_url}/live/{session_id}.m3u8", timeout=10).status_code == 503
        # The open viewer stopped too: what it holds now is all it gets while paused.
        held = watcher.received
        late = requests.get(flv, stream=True, timeout=(5, 1.5))
        with pytest.raises(requests.ConnectionError):
            next(late.iter_content(1024))
        late.close()
        assert watcher.received == held

        assert _pause(srv, session_id, False).json()["video_paused"] is False
        eventually(lambda: watcher.received > held, timeout=10)
        assert requests.get(f"{srv.base_url}/live/{session_id}.m3u8", timeout=10).status_code == 200
        fresh = _Watcher(flv)
        try:
            eventually(lambda: _decodes_video(bytes(fresh.data)), timeout=10)
        finally:
            fresh.close()
    finally:
        watcher.close()
    assert srv.hub.named("pause_video") == [(session_id, True), (session_id, False)]


def test_pause_video_refuses_what_it_cannot_do(srv, client):
    session_id = client.create()
    for body in ({}, {"paused": "yes"}, {"paused": 1}, [True]):
        answer = srv.control("POST", f"sessions/{session_id}/video", json=body)
        assert answer.status_code == 400 and answer.json() == {"error": "paused: true or false"}
    assert srv.control("POST", f"sessions/{session_id}/video", data="{").status_code == 400
    assert _pause(srv, "m000", True).status_code == 404
    client.ok("closesession", SessionId=session_id)
    assert _pause(srv, session_id, True).status_code == 409
