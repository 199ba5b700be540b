"""A production-shaped install: two daphne processes share state through PostgreSQL and Redis."""

from playwright.sync_api import expect

from tests.browser_support import log_in_at, screenshot


def test_a_session_created_on_one_process_updates_live_on_the_other(cluster, browser):
    tab_a = browser.new_context().new_page()
    tab_b = browser.new_context().new_page()
    log_in_at(tab_a, cluster.urls[0], "admin", cluster.password)
    log_in_at(tab_b, cluster.urls[1], "admin", cluster.password)

    tab_a.get_by_role("link", name="New session").first.click()
    tab_a.get_by_label("Project").select_option(index=1)
    tab_a.get_by_role("button", name="Create session").click()
    expect(tab_a.get_by_role("status")).to_have_text("preparing")
    path = tab_a.url.removeprefix(cluster.urls[0])

    tab_b.goto(cluster.urls[1] + path)
    expect(tab_b.get_by_role("status")).to_have_text("started", timeout=30_000)
    expect(tab_a.get_by_role("status")).to_have_text("started", timeout=30_000)

    tab_b.get_by_role("button", name="Close session").click()
    expect(tab_a.get_by_role("status")).to_have_text("closed", timeout=15_000)
    screenshot(tab_a, "scaleout-session")
