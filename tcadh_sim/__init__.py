"""A local stand-in for the TCADH interactive gateway (see PROTOCOL.md §13)."""

from .app import create_app
from .config import DEMO_ACCOUNT, SimConfig, load_config

__all__ = ["DEMO_ACCOUNT", "SimConfig", "create_app", "load_config"]
