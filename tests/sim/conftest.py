"""Fixtures for the simulator tests: real app, real uvicorn, short timings."""

from __future__ import annotations

import dataclasses

import pytest

from tcadh_sim.config import Behaviour, SimConfig, Timing

from .helpers import ServerThread, SimClient

# Fast speech and short spacing keep every speak-status sequence well under a second.
FAST = Behaviour(speech_latin_chars_per_second=100.0, speech_chars_per_second=40.0, text_interval_seconds=0.3,
                 updatesessionconfig_interval_seconds=0.5)


def make_config(**timing: float) -> SimConfig:
    return SimConfig(timing=Timing(**{"prepare_seconds": 0, **timing}), behaviour=FAST, control_enabled=True)


@pytest.fixture(scope="session")
def shared_server():
    server = ServerThread(make_config()).start()
    yield server
    server.stop()


@pytest.fixture
def srv(shared_server: ServerThread) -> ServerThread:
    """The shared in-thread simulator, reset to no sessions, calls or faults."""
    assert shared_server.control("POST", "reset").status_code == 200
    shared_server.hub.calls.clear()
    return shared_server


@pytest.fixture
def client(srv: ServerThread) -> SimClient:
    return srv.client()


@pytest.fixture
def server_factory():
    """Start extra simulators with their own config; all are stopped after the test."""
    started: list[ServerThread] = []

    def start(config: SimConfig | None = None, *, behaviour: dict | None = None, **timing: float) -> ServerThread:
        config = config or make_config(**timing)
        if behaviour:
            config = dataclasses.replace(config, behaviour=dataclasses.replace(config.behaviour, **behaviour))
        server = ServerThread(config).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
