"""Reading what the console sends a page, for tests and benches (no Django needed)."""

from collections import deque
from collections.abc import Awaitable, Callable


def unbatched(frame: dict) -> list[dict]:
    """The messages one page frame carries (the console sends some together as a batch)."""
    return frame["messages"] if frame.get("type") == "batch" else [frame]


class PageReader:
    """A page socket's messages one at a time, even when they came batched in one frame."""

    def __init__(self, receive: Callable[..., Awaitable[dict]]) -> None:
        self._receive = receive
        self._unread: deque[dict] = deque()

    async def next(self, **receive_options) -> dict:
        if not self._unread:
            self._unread.extend(unbatched(await self._receive(**receive_options)))
        return self._unread.popleft()
