"""Each ready session is served as HLS too: a live playlist and fragmented-MP4 segments cut from
the very stream the FLV viewers get."""

from __future__ import annotations

import io
import re

import av
import requests

from tcadh_sim.media import hub as hub_module

from .helpers import eventually


def _playlist(srv, session_id: str, **headers: str) -> requests.Response:
    return requests.get(f"{srv.base_url}/live/{session_id}.m3u8", headers=headers, timeout=20)


def _segments(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_playlist_and_segments_play_h264_and_aac(srv, client):
    session_id = client.create()
    response = _playlist(srv, session_id, Origin="http://page.example")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/vnd.apple.mpegurl")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    text = response.text
    assert text.startswith("#EXTM3U") and "#EXT-X-ENDLIST" not in text
    assert "#EXT-X-TARGETDURATION:1" in text
    segment = _segments(text)[-1]
    assert segment.startswith(f"{session_id}/") and segment.endswith(".m4s")
    init = re.search(r'#EXT-X-MAP:URI="([^"]+)"', text).group(1)
    assert init.startswith(f"{session_id}/")
    parts = [requests.get(f"{srv.base_url}/live/{name}", timeout=10) for name in (init, segment)]
    assert all(p.status_code == 200 and p.headers["Content-Type"] == "video/mp4" for p in parts)
    container = av.open(io.BytesIO(parts[0].content + parts[1].content), format="mp4")
    kinds = {s.type: s.codec_context.name for s in container.streams}
    assert kinds == {"video": "h264", "audio": "aac"}
    frames = [f for f in container.decode(video=0)]
    assert len(frames) >= 10 and (frames[0].width, frames[0].height) == (640, 360)


def test_hls_and_flv_share_one_encoder(srv, client):
    session_id = client.create()
    flv = requests.get(f"{srv.base_url}/live/{session_id}.flv", stream=True, timeout=10)
    try:
        body = flv.iter_content(1024)  # kept: dropping the iterator would close the stream
        next(body)
        assert _playlist(srv, session_id).status_code == 200
        stats = srv.hub.inner.stats(session_id)
        assert stats.encoder_runs == 1 and stats.viewers == 1 and stats.hls_written
    finally:
        flv.close()


def test_flv_viewers_alone_write_no_hls(srv, client):
    session_id = client.create()
    flv = requests.get(f"{srv.base_url}/live/{session_id}.flv", stream=True, timeout=10)
    try:
        body = flv.iter_content(1024)
        received = 0
        while received < 100_000:  # a few seconds of stream, several keyframes
            received += len(next(body))
        stats = srv.hub.inner.stats(session_id)
        assert stats.encoding and not stats.hls_written
    finally:
        flv.close()


def test_playlist_is_live_and_moves_on(srv, client):
    session_id = client.create()
    first = _segments(_playlist(srv, session_id).text)
    moved = eventually(lambda: _segments(_playlist(srv, session_id).text)[-1] != first[-1], timeout=10)
    assert moved


def test_unknown_closed_and_foreign_names_are_404(srv, client):
    assert _playlist(srv, "m000").status_code == 404
    session_id = client.create()
    assert _playlist(srv, session_id).status_code == 200
    for name in ("index.m3u8", "../../etc/passwd", "r1-99999999999.m4s", "r9-init.mp4", "r1-1.ts"):
        assert requests.get(f"{srv.base_url}/live/{session_id}/{name}", timeout=10).status_code == 404
    client.ok("closesession", SessionId=session_id)
    assert _playlist(srv, session_id).status_code == 404


def test_encoder_stops_when_no_hls_player_asks_any_more(srv, client, monkeypatch):
    monkeypatch.setattr(hub_module, "HLS_LEASE_SECONDS", 0.5)
    session_id = client.create()
    assert _playlist(srv, session_id).status_code == 200
    assert srv.hub.inner.stats(session_id).encoding
    eventually(lambda: not srv.hub.inner.stats(session_id).encoding, timeout=5)
