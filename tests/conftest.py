"""Shared fixtures: the real simulator as a subprocess, and console test settings."""

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with code {proc.returncode} before listening on {port}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


class Simulator:
    """A running tcadh_sim process with its control endpoints enabled."""

    def __init__(self, tmp: Path, *, prepare_seconds: float = 0.3, extra_toml: str = ""):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = tmp / "sim.toml"
        config.write_text(
            f"[timing]\nprepare_seconds = {prepare_seconds}\n\n[control]\nenabled = true\n\n{extra_toml}"
        )
        self.demo = json.loads(subprocess.run(
            [sys.executable, "-m", "tcadh_sim", "--config", str(config), "--demo-account-json"],
            check=True, capture_output=True, text=True, cwd=ROOT).stdout)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tcadh_sim", "--host", "127.0.0.1", "--port", str(self.port),
             "--config", str(config)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, proc=self.proc)

    def control(self, method: str, path: str, **kwargs):
        response = requests.request(method, f"{self.base_url}/_sim/{path}", timeout=5, **kwargs)
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """The suite's own shared cache, never the one a running console keeps under var/."""
    from django.test import override_settings

    location = tmp_path_factory.mktemp("cache")
    with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                                               "LOCATION": str(location)}}):
        yield


@pytest.fixture(scope="session", autouse=True)
def quick_password_hashing():
    """Users are made and logged in by hundreds of tests; the production hasher spends half a CPU
    second on each password by design, which no test here is about."""
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(scope="session")
def simulator(tmp_path_factory):
    sim = Simulator(tmp_path_factory.mktemp("sim"))
    yield sim
    sim.stop()


@pytest.fixture
def sim(simulator):
    """The shared simulator, reset to an empty state for this test."""
    simulator.control("POST", "reset")
    return simulator

