"""Presenting a demo (presenter and audience on one session) and an unattended kiosk."""

import re

import requests
from playwright.sync_api import expect

from .conftest import PACKET_BASE64_CHARS, base64_chars, log_in, screenshot, wait_for_final_audio

CUES = ["Welcome to the demo of our digital human.",
        "It speaks each cue when the presenter presses Space.",
        "Thank you for watching!"]
WITH_BREAK = CUES[1].replace("presenter", '<break time="200ms"/>presenter')
SCRIPT_TEXT = (f"> Smile and wait for the room to settle.\n{CUES[0]}\n\n"
               f"> Point at the screen.\n{WITH_BREAK}\n\n"
               f"{CUES[2]}\n")

# Records every caption the audience sees, in order, from the moment it is installed.
RECORD_CAPTIONS_JS = """() => {
  window.seenCaptions = [];
  const region = document.getElementById('captions');
  new MutationObserver(() => {
    const text = region.textContent.trim();
    if (text && window.seenCaptions[window.seenCaptions.length - 1] !== text) window.seenCaptions.push(text);
  }).observe(region, { childList: true, characterData: true, subtree: true });
}"""


def wait_playing(page, timeout: int = 30_000) -> None:
    page.wait_for_function("() => document.querySelector('video').currentTime > 0.5", timeout=timeout)
    first = page.locator("video").evaluate("v => v.currentTime")
    page.wait_for_function(f"() => document.querySelector('video').currentTime > {first} + 0.5", timeout=timeout)


def import_script(page, console, name: str, text: str) -> int:
    page.goto(f"{console.url}/present/scripts/import/")
    page.get_by_label("Script name").fill(name)
    page.get_by_label("Or paste the text").fill(text)
    page.get_by_role("button", name="Import").click()
    page.wait_for_url(re.compile(r"/present/scripts/\d+/$"))
    return int(re.search(r"/scripts/(\d+)/", page.url).group(1))


def start_session(page, console, driver_type: str = "1") -> str:
    page.goto(f"{console.url}/sessions/new/")
    page.get_by_label("Project").select_option(index=1)
    page.get_by_label("Protocol").select_option("rtmp")
    page.get_by_label("Driver type").select_option(driver_type)
    page.get_by_role("button", name="Create session").click()
    expect(page.get_by_role("status")).to_have_text("started", timeout=30_000)
    return page.url


def test_presenter_drives_the_audience_view(console, page):
    log_in(page, console)
    import_script(page, console, "Launch demo", SCRIPT_TEXT)
    expect(page.get_by_role("textbox", name="Text").nth(1)).to_have_value(WITH_BREAK)
    expect(page.get_by_text(f"{len(WITH_BREAK.encode())} / 4000 bytes")).to_be_visible()
    screenshot(page, "script-editor")
    session_url = start_session(page, console)

    page.get_by_role("link", name="Present").click()
    page.get_by_role("link", name="Launch demo").click()
    expect(page.get_by_role("button", name="Next cue")).to_be_visible()
    session_pk = re.search(r"/sessions/(\d+)/", page.url).group(1)

    audience = page.context.new_page()
    audience.goto(f"{console.url}/present/sessions/{session_pk}/audience/")
    wait_playing(audience)
    audience.evaluate(RECORD_CAPTIONS_JS)
    captions = audience.get_by_role("status")
    transcript = page.get_by_role("log", name="Transcript")

    for number, cue in enumerate(CUES, start=1):
        page.keyboard.press("Space")
        expect(page.locator("#cue-list li.current")).to_contain_text(cue.split()[0])
        expect(captions).to_have_text(cue, timeout=15_000)
        if number == 2:
            screenshot(audience, "audience")
            screenshot(page, "presenter")
        entry = transcript.locator("li").nth(number - 1)
        expect(entry).to_contain_text(cue.split(" cue")[0])
        expect(entry).to_contain_text("done", timeout=15_000)

    assert audience.evaluate("window.seenCaptions") == CUES
    expect(transcript.locator("li")).to_have_count(3)

    # ← goes back without speaking; the transcript of the session page shows the three in order.
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#cue-list li.current")).to_contain_text(CUES[1].split()[0])
    page.goto(session_url)
    spoken = page.get_by_role("log", name="Transcript").locator("li .text").all_inner_texts()
    assert [re.sub(r"<[^>]+>", "", text) for text in spoken] == CUES
    audience.close()
    page.get_by_role("button", name="Close session").click()
    expect(page.locator("#session-status")).to_have_text("closed", timeout=15_000)


def test_the_presenter_speaks_through_the_microphone(console, page):
    log_in(page, console)
    import_script(page, console, "Questions", "Any questions?\n")
    session_url = start_session(page, console, driver_type="3")
    session_id = page.locator("h1 code").inner_text()
    page.get_by_role("link", name="Present").click()
    page.get_by_role("link", name="Questions").click()
    microphone = page.get_by_role("button", name="Microphone")
    expect(microphone).to_be_enabled()
    # The cues are drawn by the page's script, after it listens to the keyboard.
    expect(page.get_by_role("button", name="Speak cue 1: Any questions?")).to_be_visible()

    page.keyboard.press("m")
    expect(microphone).to_have_attribute("aria-pressed", "true")
    page.wait_for_timeout(1500)
    page.keyboard.press("m")
    expect(microphone).to_have_attribute("aria-pressed", "false")

    frames = wait_for_final_audio(console, session_id)
    data, final = frames[:-1], frames[-1]
    assert len(data) >= 5, f"only {len(data)} packets for 1.5 s"
    assert all(f["code"] == 0 for f in frames) and len({f["req_id"] for f in frames}) == 1
    assert all(base64_chars(f) == PACKET_BASE64_CHARS for f in data[:-1])
    assert final["data"]["IsFinal"]
    entry = page.get_by_role("log", name="Transcript").locator("li", has_text="(microphone)")
    expect(entry).to_contain_text("done", timeout=15_000)

    # The demo account allows two live sessions, and the browser tests share one console.
    page.goto(session_url)
    page.get_by_role("button", name="Close session").click()
    expect(page.locator("#session-status")).to_have_text("closed", timeout=15_000)


def test_kiosk_runs_its_own_session_and_recovers(console, page):
    log_in(page, console)
    import_script(page, console, "Booth greeting", "Hello and welcome to our booth!\n")
    page.goto(f"{console.url}/present/kiosks/new/")
    page.get_by_label("Kiosk name").fill("Hall A booth")
    page.get_by_label("Address (slug)").fill("hall-a")
    page.get_by_label("Project").select_option(index=1)
    page.get_by_label("Attract script").select_option(label="Booth greeting")
    page.get_by_role("button", name="Save kiosk").click()
    expect(page.get_by_role("link", name="Hall A booth", exact=True)).to_be_visible()

    kiosk = page.context.new_page()
    kiosk.goto(f"{console.url}/present/kiosk/hall-a/")
    root = kiosk.locator("#kiosk")
    expect(root).to_have_attribute("data-status", "started", timeout=30_000)
    wait_playing(kiosk)
    expect(kiosk.get_by_role("status")).to_have_text("Hello and welcome to our booth!", timeout=20_000)
    first_pk, first_cloud = root.get_attribute("data-session"), root.get_attribute("data-cloud-session")

    # The cloud drops the session: the kiosk notices, makes a new one, and plays it.
    requests.post(f"{console.sim_url}/_sim/sessions/{first_cloud}/close", json={"close_type": 3},
                  timeout=5).raise_for_status()
    expect(root).not_to_have_attribute("data-session", first_pk, timeout=45_000)
    expect(root).to_have_attribute("data-status", "started", timeout=30_000)
    wait_playing(kiosk)
    second_pk = root.get_attribute("data-session")
    expect(kiosk.get_by_role("status")).to_have_text("Hello and welcome to our booth!", timeout=20_000)
    screenshot(kiosk, "kiosk")

    page.goto(f"{console.url}/sessions/{first_pk}/")
    expect(page.get_by_role("status")).to_have_text("closed")

    # Closing the kiosk page closes its session.
    kiosk.close(run_before_unload=True)
    page.goto(f"{console.url}/sessions/{second_pk}/")
    expect(page.get_by_role("status")).to_have_text("closed", timeout=60_000)
    page.reload()
    expect(page.get_by_role("list", name="Session history")).to_contain_text("kiosk hall-a")
