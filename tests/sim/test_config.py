"""Configuration defaults, the TOML loader's validation, and the command-line entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tcadh_sim.__main__ import _banner
from tcadh_sim.config import DEMO_ACCOUNT, ConfigError, SimConfig, load_config

ROOT = Path(__file__).resolve().parents[2]

GOOD = """
[timing]
prepare_seconds = 0
ws_idle_close_seconds = 60
session_idle_close_seconds = 120
timestamp_window_seconds = 300

[behaviour]
auth_error_code = 100001
close_closed_session = "error"
second_websocket = "reject"
ws_reject_mode = "error-frame"
speech_chars_per_second = 5
include_preparing_in_lists = false

[control]
enabled = true

[[accounts]]
uin = "100000000001"
appkey = "ak1"
accesstoken = "tok1"
concurrency = 3
projects = ["p1", "p2"]
assets = ["a1"]
bot_projects = ["p2"]
"""


def test_defaults():
    config = SimConfig()
    assert config.timing.prepare_seconds == 3 and config.timing.ws_idle_close_seconds == 180
    assert config.timing.session_idle_close_seconds == 600 and config.timing.timestamp_window_seconds == 300
    assert config.behaviour.auth_error_code == 100005 and config.behaviour.second_websocket == "replace"
    assert config.control_enabled is False
    assert config.accounts == (DEMO_ACCOUNT,)
    assert len(DEMO_ACCOUNT.accesstoken) == 32 and int(DEMO_ACCOUNT.accesstoken, 16) >= 0
    assert DEMO_ACCOUNT.concurrency == 2


def test_load_full_file(tmp_path):
    path = tmp_path / "sim.toml"
    path.write_text(GOOD)
    config = load_config(path)
    assert config.timing.prepare_seconds == 0.0 and config.behaviour.speech_chars_per_second == 5.0
    assert config.behaviour.ws_reject_mode == "error-frame" and config.control_enabled
    account = config.accounts[0]
    assert account.projects == ("p1", "p2") and account.bot_projects == ("p2",) and account.concurrency == 3


@pytest.mark.parametrize(
    "text,named",
    [
        ("[timing]\nprepare_secs = 1\n", "timing.prepare_secs"),
        ("[timing]\nprepare_seconds = -1\n", "timing.prepare_seconds"),
        ("[timing]\nprepare_seconds = 'soon'\n", "timing.prepare_seconds"),
        ("[behaviour]\nsecond_websocket = 'both'\n", "behaviour.second_websocket"),
        ("[behaviour]\nauth_error_code = 1.5\n", "behaviour.auth_error_code"),
        ("[behaviour]\nspeech_chars_per_second = 0\n", "behaviour.speech_chars_per_second"),
        ("[control]\nenabled = 'yes'\n", "control.enabled"),
        ("[control]\nport = 1\n", "control.port"),
        ("[extra]\n", "extra"),
        ("[[accounts]]\nuin = '1'\nappkey = 'k'\n", "accounts[0].accesstoken"),
        ("[[accounts]]\nuin='1'\nappkey='k'\naccesstoken='t'\nconcurrency=0\n", "accounts[0].concurrency"),
        ("[[accounts]]\nuin='1'\nappkey='k'\naccesstoken='t'\nbot_projects=['x']\n", "accounts[0].bot_projects"),
        ("[[accounts]]\nuin='1'\nappkey='k'\naccesstoken='t'\ncolour='red'\n", "accounts[0].colour"),
        ("[[accounts]]\nuin='1'\nappkey='k'\naccesstoken='t'\n[[accounts]]\nuin='2'\nappkey='k'\naccesstoken='u'\n",
         "accounts[1].appkey"),
        ("timing = [", "TOML"),
    ],
)
def test_bad_files_name_the_key(tmp_path, text, named):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=named.replace("[", r"\[").replace("]", r"\]")):
        load_config(path)


def test_demo_account_json_flag():
    result = subprocess.run([sys.executable, "-m", "tcadh_sim", "--demo-account-json", "--port", "8123"],
                            capture_output=True, text=True, cwd=ROOT, timeout=30, check=True)
    data = json.loads(result.stdout)
    assert data == {
        "base_url": "http://127.0.0.1:8123",
        "appkey": DEMO_ACCOUNT.appkey,
        "accesstoken": DEMO_ACCOUNT.accesstoken,
        "uin": DEMO_ACCOUNT.uin,
        "concurrency": DEMO_ACCOUNT.concurrency,
        "projects": list(DEMO_ACCOUNT.projects),
        "bot_projects": list(DEMO_ACCOUNT.bot_projects),
        "assets": list(DEMO_ACCOUNT.assets),
    }
    assert data["bot_projects"] == data["projects"]


def test_bad_config_exits_with_message(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[timing]\nnope = 1\n")
    result = subprocess.run([sys.executable, "-m", "tcadh_sim", "--config", str(path)],
                            capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert result.returncode == 2 and "timing.nope" in result.stderr


def test_banner_shows_only_the_demo_secret(tmp_path):
    demo = _banner(SimConfig(), "http://127.0.0.1:8001", built_in=True)
    for value in (DEMO_ACCOUNT.appkey, DEMO_ACCOUNT.accesstoken, DEMO_ACCOUNT.uin, DEMO_ACCOUNT.projects[0],
                  DEMO_ACCOUNT.assets[0]):
        assert value in demo
    path = tmp_path / "sim.toml"
    path.write_text(GOOD)
    configured = _banner(load_config(path), "http://127.0.0.1:8001", built_in=False)
    assert "ak1" in configured and "tok1" not in configured
