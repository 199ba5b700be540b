"""The whole console as `make run` starts it, in a scratch directory, and a headless Chromium.

Runs in its own pytest invocation (see the Makefile): Playwright's sync API and pytest-asyncio
do not share one process well.
"""

import base64
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.browser_support import browser, log_in_at, page, screenshot  # noqa: F401  (fixtures and helpers)
from tests.conftest import ROOT, free_port, wait_for_port

from .leftovers import close_leftovers

# The simulator as fast as the tests allow. A session prepares for 1 s: the console asks about it
# first after 1 s (lifecycle.FIRST_POLL_SECONDS), so the page still shows it preparing, and finds it
# ready at that first look. The avatar speaks twice as fast as by default: tests wait for
# utterances to end, none times one, and the longest (the keyboard test's) still lasts a minute.
SIM_CONFIG = """\
[timing]
prepare_seconds = 1

[behaviour]
speech_chars_per_second = 9.0
speech_latin_chars_per_second = 28.0

[control]
enabled = true
"""


class Console:
    # Started by this run and not yet stopped, serving or stopping (see terminate()).
    started: list["Console"] = []

    def __init__(self, tmp: Path, database: Path):
        """`database`: a migrated one (see migrated_database), copied for this console."""
        self.port, self.sim_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.sim_url = f"http://127.0.0.1:{self.sim_port}"
        config = tmp / "sim.toml"
        config.write_text(SIM_CONFIG)
        self.env = {**os.environ, "TCADH_VAR_DIR": str(tmp / "var"), "TCADH_SIM_URL": self.sim_url,
                    "DATABASE_URL": f"sqlite:///{tmp / 'console.sqlite3'}", "PYTHONUNBUFFERED": "1"}
        self.env.pop("DJANGO_SETTINGS_MODULE", None)
        shutil.copyfile(database, tmp / "console.sqlite3")
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "runconsole", "--port", str(self.port), "--simulator-config", str(config)],
            cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        Console.started.append(self)
        self.serving = True
        self.output: list[str] = []
        # Session cookies of each user's first login, by username (see log_in).
        self.logins: dict[str, list[dict]] = {}
        self.password = self._read_password()
        threading.Thread(target=self._drain, daemon=True).start()
        wait_for_port(self.port, timeout=60, proc=self.proc)
        wait_for_port(self.sim_port, timeout=60, proc=self.proc)

    def manage(self, *args: str) -> str:
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=True,
                              capture_output=True, text=True).stdout

    def _read_password(self) -> str:
        for line in self.proc.stdout:
            self.output.append(line)
            found = re.search(r"as user 'admin' with password '([^']+)'", line)
            if found:
                return found.group(1)
        raise RuntimeError("runconsole never printed the first login:\n" + "".join(self.output))

    def _drain(self) -> None:
        for line in self.proc.stdout:
            self.output.append(line)

    @classmethod
    def serving_now(cls) -> list["Console"]:
        return [console for console in cls.started if console.serving]

    def terminate(self) -> None:
        """Ask the console to stop (it takes seconds: Celery's warm shutdown); see wait()."""
        self.serving = False
        self.proc.terminate()

    def wait(self) -> None:
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        Console.started.remove(self)


@pytest.fixture(scope="session", autouse=True)
def consoles_stop_together():
    """Every console still running stops at the end, all at once rather than one after another."""
    yield
    for running in Console.serving_now():
        running.terminate()
    for running in list(Console.started):
        running.wait()


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory) -> Path:
    """An empty console database, migrated once for every console of the run."""
    tmp = tmp_path_factory.mktemp("migrated")
    env = {**os.environ, "TCADH_VAR_DIR": str(tmp / "var"), "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    return tmp / "db.sqlite3"


@pytest.fixture(scope="session")
def console(tmp_path_factory, migrated_database):
    running = Console(tmp_path_factory.mktemp("console"), migrated_database)
    yield running
    running.terminate()  # waited for by consoles_stop_together


@pytest.fixture(autouse=True)
def no_session_outlives_its_test(browser):
    """Whatever happens in a test, its contexts and sessions are closed before the next one."""
    yield
    left = close_leftovers(browser, Console.serving_now())
    if any(left.values()):
        print(f"left open by this test and closed: {left}")


def log_in(page, console, username: str = "admin", password: str | None = None) -> None:
    """Logged in as `username` in this page's context. Only the first login of a user on a console
    goes through the form (the password hasher spends about a second on each); later contexts get
    its session cookie, and fall back to the form if the console has forgotten that session."""
    saved = console.logins.get(username)
    if saved:
        page.context.add_cookies(saved)
        page.goto(f"{console.url}/")
        if page.url == f"{console.url}/":
            return
    log_in_at(page, console.url, username, password or console.password)
    console.logins[username] = [cookie for cookie in page.context.cookies(console.url)
                                if cookie["name"] in ("sessionid", "csrftoken")]


# -- what the simulator received -------------------------------------------------------------

PACKET_BASE64_CHARS = len(base64.b64encode(b"\0" * 5120))


def sim_frames(console, session_id: str, command: str) -> list[dict]:
    response = requests.get(f"{console.sim_url}/_sim/sessions/{session_id}", timeout=5)
    response.raise_for_status()
    return [f for f in response.json()["frames"] if f["command"] == command]


def wait_for_final_audio(console, session_id: str, timeout: float = 15.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frames = sim_frames(console, session_id, "SEND_AUDIO")
        if frames and frames[-1]["data"]["IsFinal"]:
            return frames
        time.sleep(0.2)
    raise AssertionError(f"no final audio packet reached the simulator: {sim_frames(console, session_id, 'SEND_AUDIO')}")


def base64_chars(frame: dict) -> int:
    # The simulator reports Audio as "<N base64 chars>".
    return int(frame["data"]["Audio"].strip("<>").split()[0])
