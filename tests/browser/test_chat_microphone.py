"""The chat box in a real browser: Chromium's fake microphone held for 2 s reaches the simulator as
well-formed, real-time-paced SEND_AUDIO packets; a typed sentence shows its speaking states."""

import re
import time

from playwright.sync_api import expect

from .conftest import PACKET_BASE64_CHARS, base64_chars, log_in, screenshot, sim_frames, wait_for_final_audio

# The browser asks for permission before it opens the microphone; here it takes a second to answer.
SLOW_PERMISSION_JS = """(() => {
  const open = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  window.openedTracks = [];
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const stream = await open(constraints);
    window.openedTracks.push(...stream.getTracks());
    return stream;
  };
})();"""


def new_audio_session(page, console) -> str:
    """A started driver type 3 session, its page open and its avatar link up; its cloud session id."""
    log_in(page, console)
    page.get_by_role("link", name="New session").first.click()
    page.get_by_label("Project").select_option(index=1)
    page.get_by_label("Protocol").select_option("rtmp")
    page.get_by_label("Driver type").select_option("3")
    page.get_by_role("button", name="Create session").click()
    expect(page.locator("#session-status")).to_have_text("started", timeout=30_000)
    expect(page.locator("#chat-connection")).to_have_text("connected", timeout=15_000)
    return page.locator("h1 code").inner_text()


def press(page, button) -> None:
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()


def close_session(page) -> None:
    # The console is shared by the browser tests and the demo account allows two live sessions.
    page.get_by_role("button", name="Close session").click()
    expect(page.locator("#session-status")).to_have_text("closed", timeout=15_000)


def test_hold_the_microphone_then_type_a_sentence(console, page):
    session_id = new_audio_session(page, console)
    microphone = page.get_by_role("button", name="Microphone")
    expect(microphone).to_be_enabled()
    press(page, microphone)
    expect(microphone).to_have_attribute("aria-pressed", "true")
    page.wait_for_timeout(2000)
    page.mouse.up()
    expect(microphone).to_have_attribute("aria-pressed", "false")

    frames = wait_for_final_audio(console, session_id)
    data, final = frames[:-1], frames[-1]
    assert len(data) >= 8, f"only {len(data)} packets for a 2 s hold"
    assert all(f["code"] == 0 for f in frames), [f for f in frames if f["code"]]
    assert len({f["req_id"] for f in frames}) == 1
    assert [f["seq"] for f in frames] == list(range(1, len(frames) + 1))
    assert all(base64_chars(f) == PACKET_BASE64_CHARS for f in data[:-1])
    assert 0 <= base64_chars(data[-1]) <= PACKET_BASE64_CHARS
    assert final["data"]["IsFinal"] and base64_chars(final) == 0

    # Live capture sends each 160 ms packet as it is filled: after the first six, the packets
    # span at least 120 ms each (real-time factor 0.75), where a page sending what it buffered in
    # a burst would take next to no time. Only this lower bound over the whole span is asserted:
    # a loaded machine delays packets (so a single interval says little), never sends them before
    # they are captured, and the packet count above already says the 2 s hold was captured whole.
    paced = [b["t"] - a["t"] for a, b in zip(data[6:-1], data[7:-1])]
    print(f"audio packets: {len(data)}, intervals after the first six (s): {[round(p, 3) for p in paced]}")
    assert paced, "too few packets after the first six to judge pacing"
    span = data[-2]["t"] - data[6]["t"]
    assert span >= 0.12 * len(paced), (span, paced)

    log = page.get_by_role("log")
    audio_entry = log.locator("li", has_text="(audio")
    expect(audio_entry.locator(".badge")).to_have_text("done", timeout=15_000)
    expect(audio_entry).to_contain_text("AudioStart → AudioOver")

    message = page.get_by_role("textbox", name="Message")
    message.fill("Hello from the chat box.")
    message.press("Enter")
    entry = log.locator("li", has_text="Hello from the chat box.")
    expect(entry).to_contain_text("TextStart", timeout=10_000)
    expect(entry.locator(".badge")).to_have_text("done", timeout=15_000)
    expect(entry).to_contain_text("TextStart → TextOver")
    screenshot(page, "chat-microphone")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download transcript").click()
    text = download.value.path().read_text()
    assert re.search(r"Hello from the chat box\. \(done, started speaking after \d+ ms\)", text), text

    close_session(page)
    expect(page.locator("#chat-connection")).to_have_text("closed", timeout=15_000)


def test_released_before_the_permission_came_the_microphone_is_let_go(console, page):
    page.add_init_script(script=SLOW_PERMISSION_JS)
    session_id = new_audio_session(page, console)
    microphone = page.get_by_role("button", name="Microphone")
    press(page, microphone)
    page.wait_for_timeout(500)
    page.mouse.up()
    expect(microphone).to_have_attribute("aria-pressed", "false")
    page.wait_for_function("() => window.openedTracks.length > 0")
    page.wait_for_function("() => window.openedTracks.every((track) => track.readyState === 'ended')")
    page.wait_for_timeout(1000)
    expect(microphone).to_have_attribute("aria-pressed", "false")
    assert sim_frames(console, session_id, "SEND_AUDIO") == []
    close_session(page)


def test_the_chat_box_hears_the_socket_even_when_its_script_comes_last(console, page):
    """The page's modules arrive in any order; the chat box must not miss the socket opening."""
    def late(route):
        time.sleep(1.0)
        route.continue_()

    page.route(re.compile(r"/js/microphone\.js"), late)
    new_audio_session(page, console)  # waits for the chat box to show the avatar link connected
    expect(page.get_by_role("list", name="Session history")).to_contain_text("started")
    close_session(page)
