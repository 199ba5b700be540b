"""A test that fails halfway leaves its page open on live sessions; the teardown every browser test
gets (conftest.no_session_outlives_its_test, through leftovers.close_leftovers) closes them, so
the account's two concurrent sessions are free for the next test and one failure stays one."""

from playwright.sync_api import expect

from .conftest import Console, log_in
from .leftovers import close_leftovers, live_in_simulator
from .test_presentations import start_session

VIEWPORT = {"width": 1366, "height": 900}


def test_what_a_failed_test_left_open_is_closed_before_the_next(console, browser):
    # A test that stopped after starting two sessions: its page still open, the account full.
    abandoned = browser.new_context(viewport=VIEWPORT).new_page()
    log_in(abandoned, console)
    started = [start_session(abandoned, console) for _ in range(2)]
    assert len(live_in_simulator(console)) == 2
    # What the next test met before: its session refused by the cloud.
    abandoned.goto(f"{console.url}/sessions/new/")
    abandoned.get_by_label("Project").select_option(index=1)
    abandoned.get_by_role("button", name="Create session").click()
    expect(abandoned.get_by_role("alert")).to_contain_text("The session was not created")

    left = close_leftovers(browser, Console.serving_now())
    assert left["contexts"] >= 1 and len(left[console.url]["closed"]) == 2, left
    assert live_in_simulator(console) == []

    # The next test: a session of its own starts, and the console says why the others ended.
    page = browser.new_context(viewport=VIEWPORT).new_page()
    log_in(page, console)
    for session_url in started:
        page.goto(session_url)
        expect(page.get_by_role("status")).to_have_text("closed")
        expect(page.get_by_role("list", name="Session history")).to_contain_text("left open by a browser test")
    start_session(page, console)
    page.get_by_role("button", name="Close session").click()
    expect(page.get_by_role("status")).to_have_text("closed", timeout=15_000)
    page.context.close()
