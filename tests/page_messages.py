"""Reading what the console sends a page, for tests and benches (no Django needed)."""


def unbatched(frame: dict) -> list[dict]:
    """The messages one page frame carries (the console sends some together as a batch)."""
    return frame["messages"] if frame.get("type") == "batch" else [frame]
