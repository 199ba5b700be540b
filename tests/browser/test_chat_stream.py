"""Streaming pasted text from the chat box in a real browser: text full of emoji reaches the
simulator whole, however the Stream button cuts it."""

import time

from playwright.sync_api import expect

from .conftest import log_in, sim_frames

# 2003 UTF-16 units: a cut every 2000 units would fall between the halves of the last emoji.
EMOJI_TEXT = "a" + "\U0001F600" * 1000 + "."


def wait_for_final_stream(console, session_id: str, timeout: float = 15.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frames = sim_frames(console, session_id, "SEND_STREAMTEXT")
        if frames and frames[-1]["data"].get("IsFinal"):
            return frames
        time.sleep(0.2)
    raise AssertionError(f"no final stream packet reached the simulator: {frames}")


def test_streamed_emoji_arrive_whole(console, page):
    log_in(page, console)
    page.get_by_role("link", name="New session").first.click()
    page.get_by_label("Project").select_option(index=1)
    page.get_by_label("Protocol").select_option("rtmp")
    page.get_by_role("button", name="Create session").click()
    expect(page.locator("#session-status")).to_have_text("started", timeout=30_000)
    expect(page.locator("#chat-connection")).to_have_text("connected", timeout=15_000)
    session_id = page.locator("h1 code").inner_text()

    page.get_by_role("textbox", name="Message").fill(EMOJI_TEXT)
    page.get_by_role("button", name="Stream").click()
    frames = wait_for_final_stream(console, session_id)
    assert all(f["code"] == 0 for f in frames), [f for f in frames if f["code"]]
    assert "".join(f["data"].get("Text", "") for f in frames) == EMOJI_TEXT
    expect(page.locator("#chat-error")).to_be_hidden()

    page.get_by_role("button", name="Close session").click()
    expect(page.locator("#session-status")).to_have_text("closed", timeout=15_000)
