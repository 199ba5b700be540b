"""A page served from another origin drives the simulator the way Tencent's Web SDK does: fetch
with a JSON body and a custom header (preflighted), then the session's HLS twin in hls.js. And
the console's own player turns to HLS in a browser where HTTP-FLV cannot play."""

from __future__ import annotations

import functools
import json
import re
import threading
import urllib.parse
import uuid
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import ROOT, Simulator
from tests.sim.helpers import SESSION_API, signed_query

from .conftest import log_in

PAGE_DIR = Path(__file__).with_name("cross_origin_page")
HLS_JS = ROOT / "node_modules" / "hls.js" / "dist" / "hls.min.js"
ACTION_CONFIG = "/v2/ivh/virtualmanconfig/virtualmanconfigopen/describeactionconfigcommanddetail"


class _PageFiles(SimpleHTTPRequestHandler):
    """The page and its scripts; hls.js straight from node_modules."""

    def translate_path(self, path: str) -> str:
        name = urllib.parse.urlsplit(path).path.lstrip("/") or "index.html"
        return str(HLS_JS if name == "hls.min.js" else PAGE_DIR / Path(name).name)

    def log_message(self, format: str, *args) -> None:
        pass


@pytest.fixture(scope="module")
def simulator(tmp_path_factory):
    sim = Simulator(tmp_path_factory.mktemp("sim"), prepare_seconds=0)
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def page_origin():
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_PageFiles, directory=str(PAGE_DIR)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _signed(simulator, path: str) -> str:
    demo = simulator.demo
    return f"{simulator.base_url}{path}?{signed_query(demo['appkey'], demo['accesstoken'])}"


def hls_twin(play_address: str, scheme: str = "http") -> str:
    """The .m3u8 twin of a webrtc:// address, derived as Tencent's player does."""
    url = re.sub(r"^webrtc://", f"{scheme}://", play_address)
    return url.replace("?", ".m3u8?") if "?" in url else url + ".m3u8"


def test_page_on_another_origin_calls_the_api_and_plays_hls(page, simulator, page_origin):
    assert page_origin != simulator.base_url
    page.goto(f"{page_origin}/index.html")
    project = simulator.demo["projects"][0]

    def call(path: str, payload: dict) -> dict:
        return page.evaluate("([url, payload]) => window.callGateway(url, payload)", [_signed(simulator, path), payload])

    config = call(ACTION_CONFIG, {"VirtualmanKey": project, "Type": "command", "Reply": "$$特殊场景$$"})
    assert config["Header"]["Code"] == 0 and config["Payload"]["InteractContent"] == "", config
    created = call(SESSION_API + "createsession", {
        "ReqId": uuid.uuid4().hex, "VirtualmanProjectId": project, "UserId": f"page-{uuid.uuid4().hex[:8]}",
        "Protocol": "webrtc", "DriverType": 1,
    })
    assert created["Header"]["Code"] == 0, json.dumps(created)
    session_id = created["Payload"]["SessionId"]
    stat = call(SESSION_API + "statsession", {"ReqId": uuid.uuid4().hex, "SessionId": session_id})
    assert stat["Payload"]["SessionStatus"] == 1
    play_address = stat["Payload"]["PlayStreamAddr"]
    assert play_address.startswith("webrtc://") and session_id in play_address

    page.evaluate("url => window.playHls(url)", hls_twin(play_address))
    video = page.locator("video")
    page.wait_for_function("() => document.querySelector('video').currentTime > 0.5", timeout=30_000)
    first = video.evaluate("v => v.currentTime")
    page.wait_for_function(f"() => document.querySelector('video').currentTime > {first} + 1", timeout=30_000)
    assert video.evaluate("v => [v.videoWidth, v.videoHeight]") == [640, 360]
    fatal = [e for e in page.evaluate("() => window.hlsErrors") if "NETWORK_ERROR" in e]
    assert not fatal, fatal
    call(SESSION_API + "closesession", {"ReqId": uuid.uuid4().hex, "SessionId": session_id})


# A browser where mpegts.js cannot play (it finds no live MSE playback) but hls.js can.
MPEGTS_CANNOT_PLAY = """
Object.defineProperty(window, "mpegts", { configurable: true,
  get() { return this.mpegtsShipped; },
  set(lib) {
    const features = lib.getFeatureList;
    lib.getFeatureList = () => ({ ...features(), mseLivePlayback: false });
    this.mpegtsShipped = lib;
  } });
"""
# A browser without Media Source Extensions at all, as Safari on iOS: only native HLS is left.
WITHOUT_MSE = "delete window.MediaSource; delete window.ManagedMediaSource; delete window.WebKitMediaSource;"


def _open_new_session(console, page) -> list[str]:
    """Logs in, creates a started rtmp session and returns the live-stream URLs the page fetches."""
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url) if "/live/" in request.url else None)
    log_in(page, console)
    page.get_by_role("link", name="New session").first.click()
    page.get_by_label("Project").select_option(index=1)
    page.get_by_label("Protocol").select_option("rtmp")
    page.get_by_role("button", name="Create session").click()
    expect(page.get_by_role("status")).to_have_text("started", timeout=30_000)
    return fetched


def close_session(page) -> None:
    # Until the console says so: a close cut short by the test's end would hold one of the
    # account's two concurrent sessions.
    page.get_by_role("button", name="Close session").click()
    expect(page.get_by_role("status")).to_have_text("closed", timeout=15_000)


def test_console_player_picks_hls_where_mpegts_cannot_play(console, page):
    page.add_init_script(MPEGTS_CANNOT_PLAY)
    fetched = _open_new_session(console, page)
    video = page.locator("video")
    page.wait_for_function("() => document.querySelector('video').currentTime > 0.5", timeout=30_000)
    first = video.evaluate("v => v.currentTime")
    page.wait_for_function(f"() => document.querySelector('video').currentTime > {first} + 1", timeout=30_000)
    assert any(url.endswith(".m3u8") for url in fetched) and not any(".flv" in url for url in fetched), fetched
    close_session(page)


def test_console_player_hands_hls_to_the_browser_without_mse(console, page):
    page.add_init_script(WITHOUT_MSE)
    _open_new_session(console, page)
    page.wait_for_function("() => (document.querySelector('video').getAttribute('src') || '').endsWith('.m3u8')",
                           timeout=30_000)
    close_session(page)
