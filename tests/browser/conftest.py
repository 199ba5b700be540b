"""The whole console as `make run` starts it, in a scratch directory, and a headless Chromium.

Runs in its own pytest invocation (see the Makefile): Playwright's sync API and pytest-asyncio
do not share one process well.
"""

import base64
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.browser_support import browser, log_in_at, page, screenshot  # noqa: F401  (fixtures and helpers)
from tests.conftest import ROOT, free_port, wait_for_port


class Console:
    def __init__(self, tmp: Path):
        self.port, self.sim_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.sim_url = f"http://127.0.0.1:{self.sim_port}"
        config = tmp / "sim.toml"
        config.write_text("[timing]\nprepare_seconds = 2\n\n[control]\nenabled = true\n")
        self.env = {**os.environ, "TCADH_VAR_DIR": str(tmp / "var"), "TCADH_SIM_URL": self.sim_url,
                    "DATABASE_URL": f"sqlite:///{tmp / 'console.sqlite3'}", "PYTHONUNBUFFERED": "1"}
        self.env.pop("DJANGO_SETTINGS_MODULE", None)
        self.manage("migrate", "--noinput")
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "runconsole", "--port", str(self.port), "--simulator-config", str(config)],
            cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.output: list[str] = []
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

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="session")
def console(tmp_path_factory):
    running = Console(tmp_path_factory.mktemp("console"))
    yield running
    running.stop()


def log_in(page, console, username: str = "admin", password: str | None = None) -> None:
    log_in_at(page, console.url, username, password or console.password)


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
