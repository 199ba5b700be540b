"""A production-shaped install: two daphne processes share state through PostgreSQL and Redis."""

import requests
from playwright.sync_api import expect

from tests.browser_support import log_in_at, screenshot

IDLE_LIMIT_SECONDS = 8
SWEEP_EVERY_SECONDS = 2


def channel_handshakes(cluster) -> int:
    counts = requests.get(f"{cluster.sim_url}/_sim/calls", timeout=5).json()["counts"]
    return counts.get("commandchannel", 0)


def test_two_tabs_on_two_processes_share_one_session(cluster, browser):
    cluster.manage("shell", "-c", (
        "from sessions_app.models import Project; "
        f"Project.objects.update(idle_limit_seconds={IDLE_LIMIT_SECONDS}); "
        "from django_celery_beat.models import PeriodicTask, IntervalSchedule; "
        f"every, _ = IntervalSchedule.objects.get_or_create(every={SWEEP_EVERY_SECONDS}, period='seconds'); "
        "PeriodicTask.objects.filter(task='sessions_app.tasks.sweep_idle_sessions').update(interval=every); "
        "from django_celery_beat.models import PeriodicTasks; PeriodicTasks.update_changed()"
    ))
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
    # Status changes made by the worker reach both processes' pages without a reload.
    expect(tab_b.get_by_role("status")).to_have_text("started", timeout=30_000)
    expect(tab_a.get_by_role("status")).to_have_text("started", timeout=30_000)

    tab_a.get_by_role("textbox", name="Message").fill("Hello from tab A")
    tab_a.get_by_role("button", name="Send").click()
    tab_b.get_by_role("textbox", name="Message").fill("And hello from tab B")
    tab_b.get_by_role("button", name="Send").click()
    for tab in (tab_a, tab_b):
        log = tab.get_by_role("log")
        expect(log).to_contain_text("Hello from tab A", timeout=15_000)
        expect(log).to_contain_text("And hello from tab B", timeout=15_000)
        expect(log.locator("li", has_text="And hello from tab B")).to_contain_text("done", timeout=15_000)
    # Both processes drove the session, through one command channel.
    assert channel_handshakes(cluster) == 1
    screenshot(tab_b, "scaleout-tab-b")

    # Left alone, the idle sweep on the worker closes it, and both pages see that.
    expect(tab_a.get_by_role("status")).to_have_text("closed", timeout=60_000)
    expect(tab_b.get_by_role("status")).to_have_text("closed", timeout=5_000)
    sessions = requests.get(f"{cluster.sim_url}/_sim/sessions", timeout=5).json()["sessions"]
    assert [s["status"] for s in sessions] == [2]


def test_when_the_owning_process_dies_another_takes_the_channel_over(cluster, browser):
    """Runs last: it kills the first daphne process."""
    tab_a = browser.new_context().new_page()
    tab_b = browser.new_context().new_page()
    log_in_at(tab_a, cluster.urls[0], "admin", cluster.password)
    log_in_at(tab_b, cluster.urls[1], "admin", cluster.password)
    tab_a.get_by_role("link", name="New session").first.click()
    tab_a.get_by_label("Project").select_option(index=1)
    tab_a.get_by_label("User ID").fill("takeover")
    tab_a.get_by_role("button", name="Create session").click()
    expect(tab_a.get_by_role("status")).to_have_text("started", timeout=30_000)
    tab_a.get_by_role("textbox", name="Message").fill("Before the crash")
    tab_a.get_by_role("button", name="Send").click()
    expect(tab_a.get_by_role("log").locator("li", has_text="Before the crash")).to_contain_text("done",
                                                                                            timeout=15_000)
    tab_b.goto(cluster.urls[1] + tab_a.url.removeprefix(cluster.urls[0]))
    expect(tab_b.get_by_role("status")).to_have_text("started")

    cluster.procs["daphne0"].kill()
    tab_b.get_by_role("textbox", name="Message").fill("After the crash")
    tab_b.get_by_role("button", name="Send").click()
    expect(tab_b.get_by_role("log").locator("li", has_text="After the crash")).to_contain_text("done",
                                                                                           timeout=30_000)
    assert "taking the command channel over" in cluster.log("daphne1")
