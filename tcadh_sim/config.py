"""Simulator configuration: frozen dataclasses with defaults, loaded from an optional TOML file.

Every behaviour PROTOCOL.md marks UNCONFIRMED is a knob in `Behaviour`, so the simulator can be
switched to whatever the real gateway turns out to do without touching code.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names the offending key."""


@dataclass(frozen=True)
class Timing:
    prepare_seconds: float = 3.0
    ws_idle_close_seconds: float = 180.0
    session_idle_close_seconds: float = 600.0
    timestamp_window_seconds: float = 300.0
    # Heartbeat interval limits (PROTOCOL.md §11.6; the docs say > 30 s and < 1 min or < 10 min,
    # real clients ping every 10 s to 120 s and all work, so both are off by default).
    # min: a SEND_HEARTBEAT sooner than this after the previous one is answered 100012.
    # max: a channel that sent no heartbeat for this long is closed, whatever else it sent.
    heartbeat_min_interval_seconds: float = 0.0
    heartbeat_max_interval_seconds: float = 0.0


@dataclass(frozen=True)
class Behaviour:
    auth_error_code: int = 100005
    close_closed_session: str = "ok"  # "ok" (idempotent) or "error" (110013)
    second_websocket: str = "replace"  # "replace" closes the old socket, "reject" refuses the new
    ws_reject_mode: str = "refuse"  # "refuse" = HTTP 403 on upgrade, "error-frame" = accept, error, close
    speech_chars_per_second: float = 4.5  # CJK characters
    speech_latin_chars_per_second: float = 14.0  # other characters incl. spaces, about 2.5 words/s
    # From taking on a text drive to its TextStart: the cloud's speech synthesis and rendering,
    # which the real service spends a few hundred ms on (not documented). 0 starts at once.
    text_start_delay_seconds: float = 0.0
    include_preparing_in_lists: bool = True
    updatesessionconfig_interval_seconds: float = 5.0
    text_interval_seconds: float = 1.0
    # SSML in non-clause SEND_STREAMTEXT: the docs say "not allowed", yet a working client sends
    # <insert-action/> there. "ignore" speaks the text without its tags, "refuse" answers 100001.
    non_clause_ssml: str = "ignore"
    # An interrupt (stream) or empty final packet (audio) for an utterance that already ended, as
    # the Web SDK's stop() sends: "ignore" makes it a no-op, "error" answers 110015.
    late_interrupt: str = "ignore"
    # SSML in SEND_TEXT and clause-mode streams: "refuse" answers 100001 for a tag that is cut
    # off, unquoted or never closed (a loose check, tag names are not), "ignore" speaks it anyway.
    ssml_well_formed: str = "refuse"
    # Which Waiting* speak states to send: "none"; "start" (WaitingTextStart / WaitingAudioStart
    # just before TextStart / AudioStart, the "optional" first step PROTOCOL.md §11.8.4 sketches);
    # "all" (also WaitingTextOver / WaitingAudioOver between the start and the end, an inference).
    # Off by default: clients built on the documented sequences see exactly those.
    waiting_states: str = "none"
    # Data.Interrupt on SEND_AUDIO: "accept" stops the audio with AudioOver FinalType 3,
    # "refuse" answers 100001 (the docs know only the IsFinal packet).
    audio_interrupt: str = "accept"
    # Audio pacing (PROTOCOL.md §11.5): after the first audio_burst_packets data packets, the
    # real-time factor (time taken to send / audio duration sent) over the last
    # audio_rtf_window_packets packets must not fall below audio_min_real_time_factor, or the packet
    # is refused with 100012 and not played (the documented rate limiting); 0 turns the rule off.
    # The slack absorbs the jitter of a client sending on a 120 ms schedule (factor 0.75 exactly).
    audio_min_real_time_factor: float = 0.75
    audio_burst_packets: int = 6
    audio_rtf_window_packets: int = 10
    audio_pacing_slack_seconds: float = 0.05


_CHOICES: dict[str, tuple[str, ...]] = {
    "close_closed_session": ("ok", "error"),
    "second_websocket": ("replace", "reject"),
    "ws_reject_mode": ("refuse", "error-frame"),
    "non_clause_ssml": ("ignore", "refuse"),
    "late_interrupt": ("ignore", "error"),
    "audio_interrupt": ("accept", "refuse"),
    "waiting_states": ("none", "start", "all"),
    "ssml_well_formed": ("refuse", "ignore"),
}


@dataclass(frozen=True)
class Play:
    # The play domain put in rtmp:// and webrtc:// addresses, as the real cloud's
    # liveplay.ivh.qq.com (PROTOCOL.md §8): a host, port-less to match the real shape, whose
    # HTTP twins (http(s)://<domain>/live/<id>.flv and .m3u8) a proxy in front of this simulator
    # serves. Empty: the host and port the API was called on, the one place a bare simulator
    # serves the twins; Tencent's LEB player refuses such an address for its port, HTTP players
    # do not. The simulator serves no RTMP or WebRTC itself.
    domain: str = ""


@dataclass(frozen=True)
class Account:
    uin: str
    appkey: str
    accesstoken: str
    concurrency: int = 2
    projects: tuple[str, ...] = ()
    assets: tuple[str, ...] = ()
    bot_projects: tuple[str, ...] = ()  # projects bound to a dialogue bot (ChatCommand "" answers)
    # (project, InteractContent) pairs: the project's action configuration, as
    # describeactionconfigcommanddetail returns it; a project left out has none ("").
    interact_content: tuple[tuple[str, str], ...] = ()

    def interact_content_of(self, project: str) -> str:
        return dict(self.interact_content).get(project, "")


# Public by design: a local stand-in needs credentials a new user can read off the screen.
DEMO_ACCOUNT = Account(
    uin="100012345678",
    appkey="a0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5",
    accesstoken="0ff1ce0ddba11c0ffee5eed5deadbeef",
    concurrency=2,
    projects=("5c298a1ba5b34b4a8fb0806fe8fb3e6a",),
    assets=("9f3e1b7c2d4a4e6f8a0b1c2d3e4f5a6b",),
    # Bound to the dialogue bot, so the chat box's "Use bound bot" can be tried on the embedded
    # default: ChatCommand "" (or none) gets the bot's answer, "NotUseChat" the text as it is.
    bot_projects=("5c298a1ba5b34b4a8fb0806fe8fb3e6a",),
)


@dataclass(frozen=True)
class SimConfig:
    timing: Timing = field(default_factory=Timing)
    behaviour: Behaviour = field(default_factory=Behaviour)
    play: Play = field(default_factory=Play)
    control_enabled: bool = False
    accounts: tuple[Account, ...] = (DEMO_ACCOUNT,)

    def account_by_appkey(self, appkey: str) -> Account | None:
        for account in self.accounts:
            if account.appkey == appkey:
                return account
        return None


def load_config(path: str | Path) -> SimConfig:
    """Read a TOML file; sections or accounts left out keep their defaults."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return config_from_dict(data)


def config_from_dict(data: dict[str, Any]) -> SimConfig:
    _reject_unknown(data, {"timing", "behaviour", "play", "control", "accounts"}, "")
    timing = _section(Timing, _table(data, "timing"), "timing")
    behaviour = _section(Behaviour, _table(data, "behaviour"), "behaviour")
    play = _play(_table(data, "play"))
    control = _table(data, "control")
    _reject_unknown(control, {"enabled"}, "control.")
    enabled = control.get("enabled", False)
    if not isinstance(enabled, bool):
        raise ConfigError("control.enabled: expected true or false")
    raw_accounts = data.get("accounts")
    if raw_accounts is None:
        accounts: tuple[Account, ...] = (DEMO_ACCOUNT,)
    else:
        if not isinstance(raw_accounts, list) or not raw_accounts:
            raise ConfigError("accounts: expected one or more [[accounts]] tables")
        accounts = tuple(_account(raw, f"accounts[{i}]") for i, raw in enumerate(raw_accounts))
        seen: set[str] = set()
        for i, account in enumerate(accounts):
            if account.appkey in seen:
                raise ConfigError(f"accounts[{i}].appkey: duplicate appkey")
            seen.add(account.appkey)
    return SimConfig(timing=timing, behaviour=behaviour, play=play, control_enabled=enabled, accounts=accounts)


def _table(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{name}: expected a table")
    return value


def _reject_unknown(table: dict[str, Any], known: set[str], prefix: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"unknown key(s): {', '.join(prefix + key for key in unknown)}")


def _section(cls: type, table: dict[str, Any], name: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    _reject_unknown(table, set(fields), f"{name}.")
    values: dict[str, Any] = {}
    for key, value in table.items():
        where = f"{name}.{key}"
        default = fields[key].default
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: expected true or false")
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{where}: expected an integer")
        elif isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"{where}: expected a non-negative number")
            if key.startswith("speech_") and value == 0:
                raise ConfigError(f"{where}: must be greater than 0")
            value = float(value)
        elif isinstance(default, str):
            if value not in _CHOICES[key]:
                raise ConfigError(f"{where}: expected one of {', '.join(_CHOICES[key])}")
        values[key] = value
    return cls(**values)


def _play(table: dict[str, Any]) -> Play:
    _reject_unknown(table, {"domain"}, "play.")
    domain = table.get("domain", "")
    if not isinstance(domain, str) or re.search(r"[/\s?#@]", domain):
        raise ConfigError("play.domain: expected a host name (optionally host:port), no scheme or path")
    return Play(domain=domain)


def _account(raw: Any, where: str) -> Account:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table")
    known = {f.name for f in dataclasses.fields(Account)}
    _reject_unknown(raw, known, f"{where}.")
    values: dict[str, Any] = {}
    for key in ("uin", "appkey", "accesstoken"):
        value = raw.get(key)
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where}.{key}: required non-empty string")
        values[key] = value
    concurrency = raw.get("concurrency", 2)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigError(f"{where}.concurrency: expected an integer >= 1")
    values["concurrency"] = concurrency
    for key in ("projects", "assets", "bot_projects"):
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"{where}.{key}: expected a list of non-empty strings")
        values[key] = tuple(value)
    stray = sorted(set(values["bot_projects"]) - set(values["projects"]))
    if stray:
        raise ConfigError(f"{where}.bot_projects: not in projects: {', '.join(stray)}")
    content = raw.get("interact_content", {})
    if not isinstance(content, dict) or not all(isinstance(v, str) for v in content.values()):
        raise ConfigError(f"{where}.interact_content: expected a table of project = \"text\"")
    stray = sorted(set(content) - set(values["projects"]))
    if stray:
        raise ConfigError(f"{where}.interact_content: not in projects: {', '.join(stray)}")
    values["interact_content"] = tuple(content.items())
    return Account(**values)
