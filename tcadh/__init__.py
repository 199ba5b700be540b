"""Python client of the Tencent Cloud AI Digital Human interactive API. No Django here."""
from .channel import CommandChannel
from .client import TcadhClient
from .errors import TcadhError
from .models import CreatedSession, ListedSession, SessionState, SessionStatus, TrtcSign

__all__ = [
    "CommandChannel",
    "CreatedSession",
    "ListedSession",
    "SessionState",
    "SessionStatus",
    "TcadhClient",
    "TcadhError",
    "TrtcSign",
]
