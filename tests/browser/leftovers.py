"""What a browser test leaves behind when it fails halfway: browser contexts still open and live
sessions. The simulator's account holds two sessions at once and every browser test shares the
console, so one session left open would fail every later test that creates one; each test's
teardown closes them (conftest.py), the console closing them through its own services.

`close_in_console` runs inside the console (manage.py shell); the rest runs in the test process.
"""

from __future__ import annotations

import json
import time

import requests

# The simulator's session statuses that hold one of the account's concurrent sessions.
SIM_LIVE = (1, 3)  # ready, preparing
CLOSE_REASON = "left open by a browser test"
CLOSE_IN_CONSOLE = "from tests.browser.leftovers import close_in_console; close_in_console()"


def live_in_simulator(console) -> list[str]:
    """The cloud session ids the console's simulator holds live."""
    response = requests.get(f"{console.sim_url}/_sim/sessions", timeout=5)
    response.raise_for_status()
    return [s["session_id"] for s in response.json()["sessions"] if s["status"] in SIM_LIVE]


def close_in_console() -> None:
    """Close every session the console holds live, and close again in the cloud every ended one
    the cloud has not confirmed closed; prints what it closed as JSON."""
    from sessions_app import services
    from sessions_app.models import LiveSession
    from tcadh.errors import TcadhError

    closed, closed_in_cloud, refused = [], [], []
    for session in LiveSession.objects.filter(status__in=LiveSession.LIVE_STATUSES).select_related("account"):
        what = (f"session {session.pk} ({session.cloud_session_id}, user id {session.user_id}, {session.status}"
                f"{', orphan' if session.is_orphan else ''}, created {session.created_at:%H:%M:%S})")
        try:
            if services.session_close(user=None, session=session, reason=CLOSE_REASON):
                closed.append(what)
        except services.ServiceError as exc:
            refused.append(f"{what}: {exc}")
    awaiting = LiveSession.objects.filter(status__in=LiveSession.ENDED_STATUSES, cloud_closed_at__isnull=True)
    for session in awaiting.select_related("account"):
        try:
            services.session_close_in_cloud(session=session)
            closed_in_cloud.append(session.cloud_session_id)
        except TcadhError as exc:
            refused.append(f"{session.cloud_session_id}: {exc}")
    print(json.dumps({"closed": closed, "closed_in_cloud": closed_in_cloud, "refused": refused}))


def close_contexts(browser) -> int:
    """Close the browser contexts a test left open: a kiosk page among them would make a new session
    as soon as its own is closed. How many there were."""
    left = list(browser.contexts)
    for context in left:
        context.close()
    return len(left)


def close_leftovers(browser, consoles, timeout: float = 15.0) -> dict:
    """Close what a test left open: its browser contexts, then every live session of each console.
    Returns what was left, for the test's report; raises if the cloud still holds a session."""
    left = {"contexts": close_contexts(browser)}
    for console in consoles:
        if not live_in_simulator(console):
            continue
        # The console decides, as for any close: the rows, the audit log and the cloud stay in step.
        output = console.manage("shell", "-c", CLOSE_IN_CONSOLE)
        left[console.url] = json.loads(output.strip().splitlines()[-1])
        deadline = time.monotonic() + timeout
        while still := live_in_simulator(console):
            if time.monotonic() > deadline:
                raise AssertionError(f"sessions still live in the simulator of {console.url} after the "
                                     f"console closed what it holds: {still}; closed: {left[console.url]}")
            time.sleep(0.2)
    return left
