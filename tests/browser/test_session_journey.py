"""An operator's first minutes: log in, create a session, watch it, talk to it, close it."""

import re

from playwright.sync_api import expect

from .conftest import log_in, screenshot

# Samples the middle of the playing video into a canvas: a live avatar is not one flat colour.
FRAME_VARIETY_JS = """(video) => {
  const canvas = document.createElement('canvas');
  canvas.width = 160; canvas.height = 90;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(video, 0, 0, 160, 90);
  const data = ctx.getImageData(0, 0, 160, 90).data;
  const seen = new Set();
  for (let i = 0; i < data.length; i += 16) seen.add((data[i] >> 4) << 8 | (data[i + 1] >> 4) << 4 | data[i + 2] >> 4);
  return seen.size;
}"""


def in_use(board) -> int:
    """The dashboard's "in use now" figure of the simulator's account."""
    row = board.get_by_role("table", name="Concurrency by account").get_by_role("row", name=re.compile("^Simulator"))
    return int(row.get_by_role("cell").first.inner_text().split()[0])


def test_create_watch_say_close(console, page):
    log_in(page, console)
    screenshot(page, "dashboard-empty")
    board = page.context.new_page()
    board.goto(console.url)
    held = in_use(board)
    page.get_by_role("link", name="New session").first.click()
    page.get_by_label("Project").select_option(index=1)
    page.get_by_label("Protocol").select_option("rtmp")
    page.get_by_role("button", name="Create session").click()

    status = page.get_by_role("status")
    expect(status).to_have_text("preparing")
    # Marks this page load: if the page reloaded, the mark would be gone.
    page.evaluate("() => { window.sameLoad = true; }")
    # With auto-start, "ready" may last only a moment; the history shows every step as it came.
    expect(status).to_have_text("started", timeout=30_000)
    # The dashboard open in another tab counts the new session without a reload.
    board.wait_for_function("(held) => parseInt(document.querySelector('#concurrency tbody td').textContent) > held",
                            arg=held, timeout=15_000)
    assert in_use(board) == held + 1
    board.close()
    history = page.get_by_role("list", name="Session history")
    expect(history).to_contain_text("ready")
    expect(history).to_contain_text("started")
    assert page.evaluate("() => window.sameLoad === true")

    video = page.locator("video")
    page.wait_for_function("() => document.querySelector('video').currentTime > 0.5", timeout=20_000)
    first = video.evaluate("v => v.currentTime")
    page.wait_for_function(f"() => document.querySelector('video').currentTime > {first} + 1", timeout=20_000)
    assert video.evaluate(FRAME_VARIETY_JS) > 8

    page.get_by_role("textbox", name="Message").fill("你好, welcome to the demo")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("log")).to_contain_text("你好, welcome to the demo")
    said = page.get_by_role("log").get_by_role("listitem").filter(has_text="你好, welcome to the demo")
    spoken = re.compile(r"started speaking after \d+ ms")
    expect(said).to_contain_text(spoken, timeout=15_000)
    summary = page.locator("#start-latency")
    expect(summary).to_have_text(re.compile(r"Started speaking after (\d+) ms \(median\), \1 ms \(p95\), of 1 utterance\."))
    screenshot(page, "session-started")
    # What the page was told live is what it is rendered with after a reload.
    shown = said.locator(".latency").text_content()
    page.reload()
    expect(said.locator(".latency")).to_have_text(shown)
    expect(summary).to_contain_text("of 1 utterance.")

    session_url = page.url
    page.get_by_role("button", name="Close session").click()
    expect(page.get_by_role("status")).to_have_text("closed", timeout=15_000)

    page.get_by_role("link", name="Dashboard").click()
    row = page.locator("#recent-sessions tr", has=page.locator(f"a[href='{re.sub(r'^https?://[^/]+', '', session_url)}']"))
    expect(row.get_by_text("closed")).to_be_visible()
    screenshot(page, "dashboard")
