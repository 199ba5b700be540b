"""Keeps signatures out of the simulator's log lines.

uvicorn logs every WebSocket handshake with its full path and query, and a signed query can be
replayed for as long as its timestamp is inside the 5-minute window (PROTOCOL.md §4). `make run`
merges the simulator's output into the console's, so the value never reaches a line at all.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

_SIGNATURE = re.compile(r"(signature=)[^&\s\"'#]+", re.IGNORECASE)
REDACTED = "***"


def redact(text: str) -> str:
    return _SIGNATURE.sub(rf"\g<1>{REDACTED}", text)


def _clean(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactSignatures(logging.Filter):
    """Rewrites a record's message and arguments in place; the formatters (uvicorn's access
    formatter reads the arguments one by one) see the record's usual shape."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _clean(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_clean(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _clean(arg) for key, arg in record.args.items()}
        return True


def logging_config() -> dict[str, Any]:
    """uvicorn's own logging set-up with the filter on every handler, and the simulator's own
    loggers sent through the same handler."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact_signatures": {"()": RedactSignatures}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact_signatures"]
    config["loggers"]["tcadh_sim"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config
