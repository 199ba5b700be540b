"""The player recovers and says what it is doing: a stream stalled on purpose (the simulator's
pause-video fault) is noticed, shown and recovered without a reload and the stall is recorded; a
browser that refuses sound gets muted playback and one "Tap for sound" button; a browser without
Media Source Extensions is given the HLS twin."""

import re

import pytest
import requests
from playwright.sync_api import expect

from tests.browser_support import CHROMIUM, CHROMIUM_ARGS

from .conftest import log_in, screenshot
from .test_presentations import start_session, wait_playing

REPORT = re.compile(r"/sessions/\d+/player-report/$")


def pause_video(console, cloud_session_id: str, paused: bool) -> None:
    requests.post(f"{console.sim_url}/_sim/sessions/{cloud_session_id}/video", json={"paused": paused},
                  timeout=5).raise_for_status()


# Records every text the player's note shows, in order, from the moment it is installed.
RECORD_NOTES_JS = """() => {
  window.notes = [];
  const note = document.getElementById('player-note');
  new MutationObserver(() => window.notes.push(note.textContent)).observe(note, { childList: true, characterData: true, subtree: true });
}"""


def close_session(page, session_url: str) -> None:
    """The simulator's account holds two sessions at once: each test gives back what it took."""
    page.goto(session_url)
    page.get_by_role("button", name="Close session").click()
    expect(page.locator("#session-status")).to_have_text("closed", timeout=15_000)


def is_report(event: str):
    return lambda request: bool(REPORT.search(request.url)) and f'"event":"{event}"' in (request.post_data or "")


def test_a_paused_stream_is_noticed_shown_recovered_and_recorded(console, page):
    log_in(page, console)
    with page.expect_request(is_report("first_frame"), timeout=60_000) as first_frame:
        session_url = start_session(page, console)
        wait_playing(page)
    assert '"after":"start"' in first_frame.value.post_data
    page.evaluate("() => { window.sameLoad = true; }")
    cloud_session_id = page.locator("h1 code").inner_text()
    player, note = page.locator("#player"), page.locator("#player-note")
    expect(note).to_have_attribute("aria-live", "polite")
    audience = page.context.new_page()
    audience.goto(re.sub(r"/sessions/(\d+)/$", r"/present/sessions/\1/audience/", session_url))
    wait_playing(audience)
    audience.evaluate("() => { window.sameLoad = true; }")
    audience.evaluate(RECORD_NOTES_JS)
    stage_note = audience.locator("#player-note")

    with (page.expect_request(is_report("stall"), timeout=60_000) as stall,
          audience.expect_request(is_report("stall"), timeout=60_000) as audience_stall):
        pause_video(console, cloud_session_id, True)
        expect(note).to_have_text("Reconnecting video…", timeout=15_000)
        expect(player).to_have_attribute("data-video", "reconnecting")
        expect(stage_note).to_have_text("Reconnecting video…", timeout=15_000)
        screenshot(page, "player-reconnecting")
        screenshot(audience, "audience-reconnecting")
        pause_video(console, cloud_session_id, False)
        expect(note).to_have_text("Video recovered.", timeout=45_000)
        # The audience's note may have said it and moved on already.
        audience.wait_for_function("() => window.notes.includes('Video recovered.')", timeout=45_000)
    screenshot(page, "player-recovered")
    assert stall.value.response().ok and audience_stall.value.response().ok
    expect(player).to_have_attribute("data-video", "playing")
    for viewer in (page, audience):
        wait_playing(viewer)
        assert viewer.evaluate("() => window.sameLoad === true")
    audience.close()

    # Stored with the session: the page opened afresh and the account's audit history show it.
    page.goto(session_url)
    figures = page.locator("#player-figures")
    expect(figures).to_contain_text(re.compile(r"2 stalls, \d+(\.\d)? m?s without video"))
    expect(figures).to_contain_text(re.compile(r"first frame after \d"))
    page.goto(f"{console.url}/audit/accounts/")
    page.get_by_role("link", name="Simulator").first.click()
    page.get_by_role("link", name="History", exact=True).click()
    row = page.locator("#history tr", has=page.get_by_role("link", name=cloud_session_id))
    expect(row).to_contain_text("2 stalls")
    close_session(page, session_url)


@pytest.fixture(scope="module")
def strict_autoplay(browser):
    """Chromium with its default autoplay policy: no sound before the viewer touched the page."""
    args = [arg for arg in CHROMIUM_ARGS if not arg.startswith("--autoplay-policy")]
    strict = browser.browser_type.launch(executable_path=CHROMIUM, headless=True, args=args)
    yield strict
    strict.close()


def make_kiosk(page, console, slug: str) -> str:
    page.goto(f"{console.url}/present/kiosks/new/")
    page.get_by_label("Kiosk name").fill(f"Kiosk {slug}")
    page.get_by_label("Address (slug)").fill(slug)
    page.get_by_label("Project").select_option(index=1)
    page.get_by_role("button", name="Save kiosk").click()
    expect(page.get_by_role("link", name=f"Kiosk {slug}", exact=True)).to_be_visible()
    return f"{console.url}/present/kiosk/{slug}/"


def test_without_sound_permission_the_video_plays_muted_and_says_so(console, page, strict_autoplay):
    log_in(page, console)
    kiosk_url = make_kiosk(page, console, "quiet-hall")
    session_url = start_session(page, console)
    audience_url = re.sub(r"/sessions/(\d+)/$", r"/present/sessions/\1/audience/", session_url)
    # A fresh context with the login but no gesture on any page of it.
    context = strict_autoplay.new_context(storage_state=page.context.storage_state(),
                                          viewport={"width": 1366, "height": 900})
    try:
        for url, name in ((session_url, "session"), (audience_url, "audience")):
            viewer = context.new_page()
            # No evaluate until the player chose: Playwright evaluates as a user gesture, which
            # would be the very permission this page must do without.
            with viewer.expect_request(is_report("first_frame"), timeout=30_000):
                viewer.goto(url)
            tap = viewer.get_by_role("button", name="Tap for sound")
            expect(tap).to_be_visible()
            assert viewer.evaluate("() => document.querySelector('video').muted") is True
            wait_playing(viewer)
            screenshot(viewer, f"{name}-muted")
            tap.click()
            expect(tap).to_be_hidden()
            assert viewer.evaluate("() => document.querySelector('video').muted") is False
            assert viewer.evaluate("() => localStorage.getItem('tcadh-video-sound')") == "on"
            wait_playing(viewer)
            viewer.close()
        # Nobody is there to tap a kiosk: it plays muted, saying so, until someone does.
        kiosk = context.new_page()
        with kiosk.expect_request(is_report("first_frame"), timeout=60_000):
            kiosk.goto(kiosk_url)
        expect(kiosk.get_by_role("button", name="Tap for sound")).to_be_visible()
        assert kiosk.evaluate("() => document.querySelector('video').muted") is True
        screenshot(kiosk, "kiosk-muted")
        kiosk_session = kiosk.locator("#kiosk").get_attribute("data-session")
        kiosk.close(run_before_unload=True)
    finally:
        context.close()
    close_session(page, session_url)
    # Closing the kiosk page closes its session.
    page.goto(f"{console.url}/sessions/{kiosk_session}/")
    expect(page.locator("#session-status")).to_have_text("closed", timeout=60_000)


def test_without_media_source_extensions_the_hls_twin_is_chosen(console, page):
    log_in(page, console)
    session_url = start_session(page, console)
    viewer = page.context.new_page()
    viewer.add_init_script("delete window.MediaSource; delete window.ManagedMediaSource;")
    flv_requests = []
    viewer.on("request", lambda request: flv_requests.append(request.url) if ".flv" in request.url else None)
    with viewer.expect_request(re.compile(r"/live/[^/]+\.m3u8$"), timeout=30_000):
        viewer.goto(session_url)
    assert viewer.evaluate("() => typeof MediaSource") == "undefined"
    assert flv_requests == []
    expect(viewer.locator("video")).to_have_attribute("src", re.compile(r"\.m3u8$"))
    # It plays where the browser's own HLS player reads the stream (Safari); Chromium's refuses it,
    # and the viewer is told so rather than left with a black box.
    viewer.wait_for_function("""() => document.querySelector('video').currentTime > 0.5
        || /cannot play this video/.test(document.getElementById('player-note').textContent)""", timeout=30_000)
    viewer.close()
    close_session(page, session_url)
