from __future__ import annotations

from collections.abc import Iterator

import pytest

from tcadh import TcadhClient

from .fake_gateway import FakeGateway


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    with FakeGateway() as gw:
        yield gw


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(gateway: FakeGateway, sleeps: list[float]) -> TcadhClient:
    return TcadhClient(gateway.base_url, gateway.appkey, gateway.accesstoken, timeout=(2.0, 5.0), sleep=sleeps.append)


class FakeClock:
    """A monotonic clock that moves only when something sleeps on it."""

    def __init__(self, oversleep: float = 0.0) -> None:
        self.now = 100.0
        self.oversleep = oversleep
        self.wakeups: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds + self.oversleep
        self.wakeups.append(self.now)
