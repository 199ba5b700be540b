"""``manage.py tcadh``: call the cloud API from a terminal and print the answer as JSON.

Credentials come from options or the TCADH_* environment; the accesstoken is never printed.
Play addresses and TRTC signatures are printed in full because the operator asked for them.
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import enum
import json
import os
import wave
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from tcadh import TcadhClient, TcadhError
from tcadh.channel import CommandChannel
from tcadh.errors import TIMEOUT_ERROR
from tcadh.frames import DriveFailed, Event, SpeakStatus

DEFAULT_BASE_URL = "https://gw.tvs.qq.com"
WAV_RATE, WAV_CHANNELS, WAV_SAMPLE_WIDTH = 16000, 1, 2


class Command(BaseCommand):
    help = "Create, inspect, drive and close TCADH interactive sessions; prints JSON."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--base-url", default=os.environ.get("TCADH_BASE_URL", DEFAULT_BASE_URL))
        parser.add_argument("--appkey", default=os.environ.get("TCADH_APPKEY", ""))
        parser.add_argument("--accesstoken", default=os.environ.get("TCADH_ACCESSTOKEN", ""),
                            help="defaults to $TCADH_ACCESSTOKEN; prefer the variable over the flag")
        commands = parser.add_subparsers(dest="subcommand", required=True)

        for name, key_option, run in (("create", "--project", self.create), ("create-by-asset", "--asset", self.create)):
            sub = commands.add_parser(name, help=f"create a session from a {key_option[2:]}")
            sub.add_argument(key_option, required=True, dest="key")
            sub.add_argument("--user-id", required=True)
            sub.add_argument("--protocol", choices=("rtmp", "trtc", "webrtc"), default="webrtc")
            sub.add_argument("--driver-type", type=int, choices=(1, 3), default=1)
            sub.add_argument("--stream-max-interval", type=int, metavar="MS")
            sub.set_defaults(run=run)

        for name, run in (("stat", self.stat), ("start", self.start), ("close", self.close)):
            sub = commands.add_parser(name, help=f"{name} a session")
            sub.add_argument("sid")
            sub.set_defaults(run=run)

        commands.add_parser("list-uin", help="live sessions of the account").set_defaults(run=self.list_uin)
        sub = commands.add_parser("list-project", help="live sessions of a project")
        sub.add_argument("project_id")
        sub.set_defaults(run=self.list_project)
        sub = commands.add_parser("list-asset", help="live sessions of an asset")
        sub.add_argument("asset_key")
        sub.set_defaults(run=self.list_asset)

        sub = commands.add_parser("say", help="speak a text through the HTTP command endpoint")
        sub.add_argument("sid")
        sub.add_argument("text")
        sub.add_argument("--interrupt", action="store_true")
        sub.set_defaults(run=self.say)

        sub = commands.add_parser("chat", help="speak a text over the command channel, printing its events")
        sub.add_argument("sid")
        sub.add_argument("text")
        sub.add_argument("--stream", action="store_true", help="send as SEND_STREAMTEXT")
        self._wait_options(sub, "TextOver")
        sub.set_defaults(run=self.chat)

        sub = commands.add_parser("audio", help="drive with a 16 kHz mono 16-bit WAV file, paced in real time")
        sub.add_argument("sid")
        sub.add_argument("wav_file")
        self._wait_options(sub, "AudioOver")
        sub.set_defaults(run=self.audio)

        sub = commands.add_parser("trtc-sign", help="TRTC UserSig/PrivateMapKey for another room member")
        sub.add_argument("sid")
        sub.add_argument("--room-id", required=True, help="numeric room id, or a string room id")
        sub.add_argument("--user-id", required=True)
        sub.set_defaults(run=self.trtc_sign)

        sub = commands.add_parser("update-config", help="move or resize the avatar, change the background")
        sub.add_argument("sid")
        sub.add_argument("--background-url")
        sub.add_argument("--position", type=float, default=0.0, help="-0.5..0.5, 0 is centred (default)")
        sub.add_argument("--position-vertical", type=float, default=0.0, help="-0.5..0.25, 0 is bottom-aligned (default)")
        sub.add_argument("--zoom", type=float, default=1.0, help="scale of the source material (default 1)")
        sub.set_defaults(run=self.update_config)

    @staticmethod
    def _wait_options(parser: argparse.ArgumentParser, status: str) -> None:
        parser.add_argument("--wait", action="store_true", help=f"print events until {status}")
        parser.add_argument("--timeout", type=float, default=60.0, help="seconds without an event before giving up")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["appkey"] or not options["accesstoken"]:
            raise CommandError("set TCADH_APPKEY and TCADH_ACCESSTOKEN (or --appkey/--accesstoken)")
        try:
            client = TcadhClient(options["base_url"], options["appkey"], options["accesstoken"])
            options["run"](client, options)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        except TcadhError as err:
            self.stderr.write(str(err))
            raise SystemExit(1) from None

    # -- subcommands --------------------------------------------------------------------------

    def create(self, client: TcadhClient, options: dict[str, Any]) -> None:
        common = {
            "user_id": options["user_id"], "protocol": options["protocol"],
            "driver_type": options["driver_type"], "stream_max_interval": options["stream_max_interval"],
        }
        if options["subcommand"] == "create":
            self.emit(client.create_session(project_id=options["key"], **common))
        else:
            self.emit(client.create_session_by_asset(asset_key=options["key"], **common))

    def stat(self, client: TcadhClient, options: dict[str, Any]) -> None:
        self.emit({"session_id": options["sid"], **_jsonable(client.stat_session(options["sid"]))})

    def start(self, client: TcadhClient, options: dict[str, Any]) -> None:
        client.start_session(options["sid"])
        self.emit({"session_id": options["sid"], "result": "started"})

    def close(self, client: TcadhClient, options: dict[str, Any]) -> None:
        client.close_session(options["sid"])
        self.emit({"session_id": options["sid"], "result": "closed"})

    def list_uin(self, client: TcadhClient, options: dict[str, Any]) -> None:
        self.emit(client.list_sessions_of_uin())

    def list_project(self, client: TcadhClient, options: dict[str, Any]) -> None:
        self.emit(client.list_sessions_of_project(options["project_id"]))

    def list_asset(self, client: TcadhClient, options: dict[str, Any]) -> None:
        self.emit(client.list_sessions_of_asset(options["asset_key"]))

    def say(self, client: TcadhClient, options: dict[str, Any]) -> None:
        req_id = client.send_text(options["sid"], options["text"], interrupt=options["interrupt"])
        self.emit({"session_id": options["sid"], "req_id": req_id})

    def chat(self, client: TcadhClient, options: dict[str, Any]) -> None:
        async def drive() -> None:
            async with await client.open_channel(options["sid"]) as channel:
                if options["stream"]:
                    req_id = await channel.stream_text([options["text"]])
                else:
                    req_id = await channel.send_text(options["text"])
                self.emit({"session_id": options["sid"], "req_id": req_id})
                await self._print_events(channel, req_id, "TextOver", options)

        asyncio.run(drive())

    def audio(self, client: TcadhClient, options: dict[str, Any]) -> None:
        pcm = _read_wav(options["wav_file"])

        async def drive() -> None:
            async with await client.open_channel(options["sid"]) as channel:
                req_id = await channel.send_audio(pcm)
                self.emit({"session_id": options["sid"], "req_id": req_id,
                           "seconds": len(pcm) / (WAV_RATE * WAV_SAMPLE_WIDTH)})
                await self._print_events(channel, req_id, "AudioOver", options)

        asyncio.run(drive())

    def trtc_sign(self, client: TcadhClient, options: dict[str, Any]) -> None:
        room = options["room_id"]
        if room.isdigit():
            sign = client.get_trtc_sign(options["sid"], user_id=options["user_id"], room_id=int(room))
        else:
            sign = client.get_trtc_sign(options["sid"], user_id=options["user_id"], str_room_id=room)
        self.emit(sign)

    def update_config(self, client: TcadhClient, options: dict[str, Any]) -> None:
        client.update_session_config(
            options["sid"], position=options["position"], position_vertical=options["position_vertical"],
            zoom=options["zoom"], background_url=options["background_url"],
        )
        self.emit({"session_id": options["sid"], "result": "updated"})

    # -- output ----------------------------------------------------------------------------

    def emit(self, value: Any) -> None:
        self.stdout.write(json.dumps(_jsonable(value), ensure_ascii=False))

    async def _print_events(self, channel: CommandChannel, req_id: str, last_status: str,
                            options: dict[str, Any]) -> None:
        """Print events; with --wait, until ``last_status`` (or a failure) for ``req_id``."""
        # Without --wait only what has already arrived is shown.
        async for event in channel.events(timeout=options["timeout"] if options["wait"] else 0):
            self.emit({"event": type(event).__name__, **_jsonable(event)})
            if isinstance(event, DriveFailed) and event.req_id in (req_id, ""):
                raise TcadhError(event.code, event.message)
            if _is_status(event, req_id, last_status):
                return
        if options["wait"]:
            raise channel.last_error or TcadhError(TIMEOUT_ERROR, f"no {last_status} within {options['timeout']:g} s of silence")


def _is_status(event: Event, req_id: str, status: str) -> bool:
    return isinstance(event, SpeakStatus) and event.req_id == req_id and event.status == status


def _read_wav(path: str) -> bytes:
    try:
        with wave.open(path, "rb") as wav:
            shape = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth())
            if shape != (WAV_RATE, WAV_CHANNELS, WAV_SAMPLE_WIDTH):
                raise CommandError(
                    f"{path}: need 16000 Hz mono 16-bit PCM, got {shape[0]} Hz, {shape[1]} channel(s), {8 * shape[2]}-bit"
                )
            return wav.readframes(wav.getnframes())
    except (OSError, EOFError, wave.Error) as exc:
        raise CommandError(f"{path}: not a readable PCM WAV file ({exc})") from None


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.name.lower()
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    return value
