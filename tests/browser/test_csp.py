"""The journey's pages under the Content-Security-Policy: nothing they need is blocked, the video
plays, a hostile cue is shown as text, and an injected inline handler does not run."""

import re

import pytest
from playwright.sync_api import expect

from .conftest import log_in_at, screenshot
from .test_presentations import import_script, start_session, wait_playing

XSS_CUE = 'Hello" autofocus onfocus="alert(1)" x="'

# Every violation of the policy is recorded in the page and, unless the test provoked it on an
# element marked data-expect-violation, reported on the console where the test collects it.
REPORT_VIOLATIONS_JS = """document.addEventListener('securitypolicyviolation', (e) => {
  const expected = e.target instanceof Element && e.target.hasAttribute('data-expect-violation');
  (window.cspViolations ||= []).push({ directive: e.violatedDirective, expected });
  if (!expected) {
    console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'} on ${e.documentURI}`);
  }
});"""
# Chromium's own line for each violation repeats what the listener above reports (or was expected);
# its line for a failed load does not name the address, which the response handler below records.
CHROMIUM_DUPLICATE_LINE = re.compile(r"violates the following Content Security Policy directive"
                                     r"|^Failed to load resource: the server responded with a status of")


class Problems:
    """Console errors, uncaught exceptions and dialogs of every page of a browser context."""

    def __init__(self, context):
        self.seen: list[str] = []
        context.add_init_script(REPORT_VIOLATIONS_JS)
        context.on("page", self.watch)

    def watch(self, page) -> None:
        page.on("console", lambda msg: msg.type == "error" and not CHROMIUM_DUPLICATE_LINE.search(msg.text)
                and self.seen.append(f"{page.url}: {msg.text}"))
        page.on("pageerror", lambda error: self.seen.append(f"{page.url}: uncaught {error}"))
        page.on("response", lambda response: response.status >= 400
                and self.seen.append(f"{page.url}: {response.status} for {response.url}"))
        page.on("dialog", lambda dialog: (self.seen.append(f"{page.url}: dialog {dialog.message!r}"),
                                          dialog.dismiss()))

    def take(self) -> list[str]:
        seen, self.seen = self.seen, []
        return seen


@pytest.fixture
def watched(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    problems = Problems(context)
    page = context.new_page()
    yield page, problems
    context.close()


def close_from_elsewhere(page, console, session_pk: str) -> None:
    """Closes a session with a form post of this browser's login, away from its player (a stream
    that ends under a playing page is logged by the player, which is not what this test looks at)."""
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(f"{console.url}/sessions/{session_pk}/close/", headers={"X-CSRFToken": token},
                                 max_redirects=0)
    assert response.status == 302


def test_the_journey_runs_under_the_policy(console, watched):
    page, problems = watched
    page.goto(f"{console.url}/login/")
    policy = page.evaluate("() => fetch(location.href).then((r) => r.headers.get('content-security-policy'))")
    assert "script-src 'self'" in policy
    # Through the login form, which is part of the journey (log_in would reuse an earlier login).
    log_in_at(page, console.url, "admin", console.password)
    expect(page.get_by_role("heading", name="Live sessions")).to_be_visible()
    assert problems.take() == []

    # New session → its page: the video plays and the chat box speaks.
    session_url = start_session(page, console)
    session_pk = re.search(r"/sessions/(\d+)/", session_url).group(1)
    wait_playing(page)
    expect(page.locator("#chat-connection")).to_have_text("connected", timeout=15_000)
    page.get_by_label("Message").fill("Hello from under the policy")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("log", name="Transcript")).to_contain_text("Hello from under the policy")
    # The LEB and TRTC players (no real cloud here to play from) load and start under the policy too.
    for script in ("vendor/tcplayer/tcplayer.v5.3.4.min.js", "vendor/trtc/trtc.js"):
        page.add_script_tag(url=f"{console.url}/static/{script}")
    assert page.evaluate("() => typeof TCPlayer === 'function' && typeof TRTC.create === 'function'")
    assert page.evaluate("() => { window.probe = TRTC.create(); return typeof window.probe.enterRoom; }") == "function"
    assert problems.take() == []

    # A hostile cue: an import, its editor, and the presenter show it as text.
    script_pk = import_script(page, console, "Hostile", f"{XSS_CUE}\n\nSecond cue\n")
    expect(page.get_by_role("textbox", name="Text").first).to_have_value(XSS_CUE)
    page.get_by_role("button", name="Add text cue").click()
    expect(page.get_by_role("textbox", name="Text")).to_have_count(3)
    page.goto(f"{console.url}/present/sessions/{session_pk}/presenter/?script={script_pk}")
    cue = page.get_by_role("button", name=f"Speak cue 1: {XSS_CUE}", exact=True)
    expect(cue).to_have_text(f"1 {XSS_CUE}")
    for attribute in ("onfocus", "autofocus", "x"):
        assert cue.get_attribute(attribute) is None, attribute
    assert page.locator("#cue-list [onfocus], #cue-list [autofocus]").count() == 0
    cue.focus()
    page.keyboard.press("Space")
    transcript = page.get_by_role("log", name="Transcript")
    expect(transcript).to_contain_text(XSS_CUE)
    expect(transcript.locator("li").first).to_contain_text("done", timeout=15_000)
    screenshot(page, "csp-presenter")
    assert problems.take() == []

    # An injected inline handler is refused by the policy, and reported.
    page.evaluate("""() => {
      const img = document.createElement('img');
      img.setAttribute('data-expect-violation', '');
      img.setAttribute('onerror', 'window.injectedRan = true');
      img.src = 'data:,not-an-image';
      document.body.append(img);
      const holder = document.createElement('div');
      holder.innerHTML = '<img data-expect-violation src="data:,nope" onerror="window.injectedRan = true">';
      document.body.append(holder);
    }""")
    page.wait_for_function("() => (window.cspViolations || []).filter((v) => v.expected"
                           " && v.directive === 'script-src-attr').length === 2")
    assert page.evaluate("() => window.injectedRan") is None
    assert page.evaluate("() => window.cspViolations.filter((v) => !v.expected)") == []
    assert problems.take() == []

    # The audience view plays the same session.
    page.goto(f"{console.url}/present/sessions/{session_pk}/audience/")
    wait_playing(page)
    assert problems.take() == []

    # Audit pages, the concurrency chart included; then the session is closed from there.
    page.goto(f"{console.url}/audit/")
    page.get_by_role("link", name="account (uin)").click()
    accounts = page.url
    page.get_by_role("link", name=re.compile("^Live now: ")).first.click()
    expect(page.get_by_role("table")).to_contain_text(re.compile("[0-9]"))
    page.goto(accounts)
    page.get_by_role("link", name=re.compile("^History: ")).first.click()
    expect(page.locator("#concurrency-chart svg")).to_be_visible()
    screenshot(page, "csp-audit-history")
    page.goto(f"{console.url}/audit/log/")
    expect(page.get_by_role("heading").first).to_be_visible()
    close_from_elsewhere(page, console, session_pk)
    assert problems.take() == []

    # A kiosk: its page makes a session and plays it; closing the page closes the session.
    page.goto(f"{console.url}/present/kiosks/new/")
    page.get_by_label("Kiosk name").fill("CSP booth")
    page.get_by_label("Address (slug)").fill("csp-booth")
    page.get_by_label("Project").select_option(index=1)
    page.get_by_role("button", name="Save kiosk").click()
    kiosk = page.context.new_page()
    kiosk.goto(f"{console.url}/present/kiosk/csp-booth/")
    expect(kiosk.locator("#kiosk")).to_have_attribute("data-status", "started", timeout=30_000)
    wait_playing(kiosk)
    kiosk_session = kiosk.locator("#kiosk").get_attribute("data-session")
    kiosk.close(run_before_unload=True)
    page.goto(f"{console.url}/sessions/{kiosk_session}/")
    expect(page.get_by_role("status")).to_have_text("closed", timeout=60_000)
    assert problems.take() == []
