"""The simulator's live HTTP-FLV stream, driven through StreamHub and decoded with PyAV.

Streams run in real time, so each test watches for a second or two; bounds on wall time are
deliberately loose, and assertions count frames and bytes instead.
"""

from __future__ import annotations

import asyncio
import io
import socket
import threading
import time
from collections.abc import AsyncIterator

import av
import numpy as np
import pytest
import uvicorn
from PIL import Image, ImageDraw
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from tcadh_sim.media import StreamHub
from tcadh_sim.media.avatar import draw_avatar
from tcadh_sim.media.captions import wrap
from tcadh_sim.media.flv_fanout import FlvFanout
from tcadh_sim.media.flv_tags import FlvTag, TagKind
from tcadh_sim.media.fonts import font_choice, load_font

FPS = 15
SESSION = "m318552187863054171"
MOUTH_BOX = draw_avatar(640, 360).mouth_box
BAND_ROWS = slice(292, 356)  # inside the caption band at 640x360


@pytest.fixture
async def hub() -> AsyncIterator[StreamHub]:
    hub = StreamHub(width=640, height=360, fps=FPS)
    hub.open(SESSION, label="Demo project")
    yield hub
    await hub.aclose()


async def read_for(body: AsyncIterator[bytes], seconds: float) -> bytes:
    """Read whole chunks until the time is up (never cancels a read, which would end the viewer)."""
    data = bytearray()
    deadline = time.monotonic() + seconds
    async for chunk in body:
        data += chunk
        if time.monotonic() >= deadline:
            break
    return bytes(data)


def decode(data: bytes) -> tuple[av.container.InputContainer, list[av.VideoFrame], list[av.AudioFrame]]:
    container = av.open(io.BytesIO(data), format="flv")
    video: list[av.VideoFrame] = []
    audio: list[av.AudioFrame] = []
    for packet in container.demux():
        for frame in packet.decode():
            (video if packet.stream.type == "video" else audio).append(frame)
    return container, video, audio


def region(frame: av.VideoFrame, rows: slice, cols: slice = slice(None)) -> np.ndarray:
    return frame.to_ndarray(format="gray")[rows, cols].astype(np.float32)


def band(frame: av.VideoFrame) -> np.ndarray:
    return region(frame, BAND_ROWS)


def changed_share(a: np.ndarray, b: np.ndarray) -> float:
    """The share of pixels whose brightness differs by more than compression noise."""
    return float((np.abs(a - b) > 40).mean())


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


def mouth(frame: av.VideoFrame) -> np.ndarray:
    left, top, right, bottom = MOUTH_BOX
    return region(frame, slice(top, bottom), slice(left, right))


def sine_pcm(seconds: float, freq: float = 440.0, amplitude: int = 16000) -> bytes:
    t = np.arange(int(16000 * seconds)) / 16000
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


def encoder_threads(session_id: str) -> int:
    return sum(1 for t in threading.enumerate() if t.name == f"flv-{session_id}" and t.is_alive())


async def wait_until(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return predicate()


async def test_stream_is_live_h264_and_aac_flv(hub: StreamHub) -> None:
    response = hub.flv_response(SESSION)
    assert response.media_type == "video/x-flv"
    body = response.body_iterator
    started = time.monotonic()
    first = await body.__anext__()
    assert time.monotonic() - started < 5.0, "first bytes should come within about a second"
    assert first.startswith(b"FLV")
    watched_from = time.monotonic()
    data = first + await read_for(body, 2.0)
    watched = time.monotonic() - watched_from
    await body.aclose()

    container, video, audio = decode(data)
    v, a = container.streams.video[0].codec_context, container.streams.audio[0].codec_context
    assert (v.name, v.width, v.height) == ("h264", 640, 360)
    assert v.profile in ("Baseline", "Constrained Baseline")
    assert (a.name, a.channels) == ("aac", 1)
    assert a.sample_rate in (16000, 44100, 48000)

    assert video[0].key_frame, "a viewer's first picture must be decodable on its own"
    assert 10 <= len(video) <= (watched + 0.5) * FPS + 2, "frames are paced in real time, not faster"
    assert len(audio) > 0
    for frames in (video, audio):
        pts = [f.time for f in frames]
        assert pts == sorted(pts) and len(set(pts)) == len(pts)
    # Both tracks cover the same stretch of time.
    assert abs(video[-1].time - audio[-1].time) < 0.5


async def test_caption_band_changes_when_the_avatar_says_something(hub: StreamHub) -> None:
    body = hub.flv_response(SESSION).body_iterator
    before = await read_for(body, 1.2)
    hub.say(SESSION, "你好, hello world", 2.0)
    after = await read_for(body, 1.2)
    await body.aclose()

    _, quiet, _ = decode(before)
    _, frames, _ = decode(before + after)
    assert changed_share(band(quiet[0]), band(quiet[-1])) < 0.001, "an empty caption band is steady"
    assert changed_share(band(frames[-1]), band(quiet[-1])) > 0.01, "the caption text appears"
    spoken = frames[len(quiet) + 2 :]
    assert max(np.abs(mouth(f) - mouth(quiet[-1])).mean() for f in spoken) > 3.0, "the mouth moves"


async def test_pushed_audio_is_heard_and_moves_the_mouth(hub: StreamHub) -> None:
    body = hub.flv_response(SESSION).body_iterator
    before = await read_for(body, 1.0)
    hub.push_audio(SESSION, sine_pcm(1.5))
    after = await read_for(body, 1.8)
    await body.aclose()

    _, quiet_video, quiet_audio = decode(before)
    _, video, audio = decode(before + after)
    silent = np.concatenate([f.to_ndarray().reshape(-1) for f in quiet_audio])
    later = np.concatenate([f.to_ndarray().reshape(-1) for f in audio[len(quiet_audio) :]])
    window = 4800
    loudest = max(rms(later[i : i + window]) for i in range(0, len(later) - window, window))
    assert rms(silent) < 0.01
    assert loudest > 0.2, f"a 440 Hz tone at half scale should be loud, got RMS {loudest:.3f}"

    spoken = video[len(quiet_video) + 2 :]
    assert max(np.abs(mouth(f) - mouth(quiet_video[-1])).mean() for f in spoken) > 3.0


async def test_viewers_share_one_encoder_and_a_late_viewer_starts_at_a_keyframe(hub: StreamHub) -> None:
    first = hub.flv_response(SESSION).body_iterator
    await read_for(first, 1.3)
    second = hub.flv_response(SESSION).body_iterator
    late_chunk = await second.__anext__()
    assert late_chunk.startswith(b"FLV"), "a late viewer gets the header before any picture"
    late = late_chunk + await read_for(second, 1.0)
    await read_for(first, 0.2)

    stats = hub.stats(SESSION)
    assert stats is not None and stats.viewers == 2 and stats.encoder_runs == 1
    assert encoder_threads(SESSION) == 1

    _, video, audio = decode(late)
    assert video[0].key_frame
    assert len(video) >= 10 and audio

    await first.aclose()
    await second.aclose()
    assert await wait_until(lambda: encoder_threads(SESSION) == 0), "the last viewer leaving stops the encoder"
    assert not hub.stats(SESSION).encoding

    again = hub.flv_response(SESSION).body_iterator
    rejoined = await read_for(again, 0.8)
    await again.aclose()
    # The new run's header alone: the stopped run's last frames before it, then a second header
    # and timestamps from zero again, stall a browser's player.
    assert rejoined.find(b"FLV\x01", 1) == -1, "a second FLV header in the stream"
    _, video, _ = decode(rejoined)
    assert video and video[0].key_frame
    assert hub.stats(SESSION).encoder_runs == 2


async def test_closing_the_session_ends_every_stream(hub: StreamHub) -> None:
    viewers = [hub.flv_response(SESSION).body_iterator for _ in range(2)]
    for body in viewers:
        await body.__anext__()

    async def drain(body: AsyncIterator[bytes]) -> int:
        return sum([len(chunk) async for chunk in body])

    drains = [asyncio.create_task(drain(body)) for body in viewers]
    await asyncio.sleep(0.5)
    hub.close(SESSION)
    await asyncio.wait_for(asyncio.gather(*drains), timeout=5.0)
    assert await wait_until(lambda: encoder_threads(SESSION) == 0)
    assert hub.flv_response(SESSION).status_code == 404


async def test_unknown_session_is_a_json_404(hub: StreamHub) -> None:
    response = hub.flv_response("no-such-session")
    assert response.status_code == 404
    assert response.media_type == "application/json"


async def test_http_viewer_that_disconnects_stops_the_encoder(hub: StreamHub) -> None:
    async def live(request: Request):
        return hub.flv_response(request.path_params["session_id"])

    app = Starlette(routes=[Route("/live/{session_id}.flv", live)])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    try:
        assert await wait_until(lambda: server.started)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET /live/{SESSION}.flv HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        await writer.drain()
        received = b""
        while len(received) < 4000:
            received += await asyncio.wait_for(reader.read(65536), timeout=5.0)
        head, _, _ = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and b"video/x-flv" in head
        assert b"FLV\x01" in received
        assert hub.stats(SESSION).encoding

        writer.close()
        await writer.wait_closed()
        assert await wait_until(lambda: not hub.stats(SESSION).encoding and encoder_threads(SESSION) == 0)
    finally:
        server.should_exit = True
        await serving


async def test_a_slow_viewer_skips_to_the_next_keyframe_without_growing() -> None:
    fanout = FlvFanout(max_viewer_buffer_bytes=1000)
    fanout.publish([FlvTag(TagKind.INIT, b"FLV-header", 0), FlvTag(TagKind.KEYFRAME, b"K1" * 100, -1)])
    slow = fanout.add_viewer()
    for _ in range(20):
        fanout.publish([FlvTag(TagKind.MEDIA, b"m" * 100, -1)])
    assert slow.skips == 1 and not slow.in_sync
    fanout.publish([FlvTag(TagKind.KEYFRAME, b"K2" * 100, -1)])
    assert await slow.next_chunk() == b"FLV-header" + b"K2" * 100, "header kept, resumes at the keyframe"


def test_captions_wrap_chinese_by_character_and_english_by_word() -> None:
    font = load_font(24)
    lines = wrap("今天天气很好，我们一起去公园散步吧。The quick brown fox jumps over the lazy dog.", font, 300)
    assert all(font.getlength(line) <= 300 for line in lines)
    assert "".join(lines).replace(" ", "") == "今天天气很好，我们一起去公园散步吧。Thequickbrownfoxjumpsoverthelazydog."
    assert not any(line.startswith(("，", "。")) for line in lines)
    assert any(line.endswith("quick") or line.startswith("brown") or " " in line for line in lines)


def test_the_caption_font_draws_chinese() -> None:
    if not font_choice().cjk:
        pytest.skip("no CJK font installed (Debian: fonts-wqy-microhei)")
    font = load_font(24)

    def glyph(char: str) -> bytes:
        image = Image.new("L", (32, 32))
        ImageDraw.Draw(image).text((4, 2), char, font=font, fill=255)
        return image.tobytes()

    # A font without these glyphs draws the same "missing" box for both.
    assert glyph("你") != glyph("好") and any(glyph("你"))
