"""Latency the console's chat relay adds to a drive's round trip, for 1, 10 and 50 sessions.

Round trip = a text command leaves the client → the avatar's TextStart speak status is back at
the client. Measured side by side in one run against one simulator:

* direct:  a WebSocket client on the simulator's command channel (SEND_TEXT → Type 3 TextStart);
* console: a page-side client on the console's session socket (WebsocketCommunicator on the real
           ASGI application, logged in as an operator) → SessionConsumer → relay → simulator →
           relay → SessionEvent row → channel layer → every tab ({"type": "say"} → speak event).

Every session drives at the same time as all the others, one text every 1.2 s (the cloud allows
one per second). By default their phases are spread evenly over those 1.2 s, as independent
operators' messages are; --lockstep sends every session's text in the same instant instead, the
worst burst there is (with 50 sessions both the simulator and the console then queue 50 messages
at once, so it measures burst queueing rather than what the relay adds to a message).

The console runs with the settings `make run` gives it (SQLite, the SQLite-file channel layer),
DEBUG off as deployed. By default it runs in this process, on the bench's event loop; the
page-side clients are WebsocketCommunicators on that same loop, so their work counts against the
console, as a browser's would not. With --daphne the console is a daphne process of its own
(same settings and files) and the page-side clients are real WebSocket clients here, as browsers
are.

    .venv/bin/python bench/relay_latency.py [--rounds 8] [--sessions 1 10 50] [--lockstep] [--daphne]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# A --daphne console is this file run again with --serve: it must use the bench's database.
WORK = Path(os.environ.get("RELAY_BENCH_WORK") or tempfile.mkdtemp(prefix="relay-bench-"))
os.environ["TCADH_VAR_DIR"] = str(WORK)
os.environ["DATABASE_URL"] = f"sqlite:///{WORK / 'bench.sqlite3'}"
os.environ["DJANGO_SETTINGS_MODULE"] = "tcadh_console.settings"
# As deployed: DEBUG off (with it on, Django keeps and formats every query); plain HTTP on loopback.
os.environ.update(DEBUG="false", SECURE_SSL_REDIRECT="false", SESSION_COOKIE_SECURE="false",
                  CSRF_COOKIE_SECURE="false")

import django  # noqa: E402
from django.conf import settings  # noqa: E402

django.setup()
# The client logs every cloud call at INFO; the table is what this bench is for.
logging.getLogger("tcadh").setLevel(logging.WARNING)
settings.ALLOWED_HOSTS = ["*"]

from channels.db import database_sync_to_async  # noqa: E402
from channels.testing import WebsocketCommunicator  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from sessions_app import services  # noqa: E402
from sessions_app.accounts import account_register  # noqa: E402
from sessions_app.cloud import client_for  # noqa: E402
from sessions_app.live.relay import relays  # noqa: E402
from tcadh.frames import new_req_id, text_frame  # noqa: E402
from tcadh_console.asgi import application  # noqa: E402
from tests.conftest import free_port, wait_for_port  # noqa: E402
from tests.page_messages import PageReader  # noqa: E402

INTERVAL = 1.2
# Each session's first text is not counted: it meets threads and database connections that the
# process opens once (seen as a queue of a few hundred ms when 50 sessions start at once).
WARM_UP_ROUNDS = 1
TARGET_P99_MS = 5.0


def start_simulator(max_sessions: int) -> tuple[subprocess.Popen, str, dict]:
    port = free_port()
    demo = json.loads(subprocess.run([sys.executable, "-m", "tcadh_sim", "--demo-account-json"], check=True,
                                     capture_output=True, text=True, cwd=ROOT).stdout)
    config = WORK / "sim.toml"
    config.write_text(
        "[timing]\nprepare_seconds = 0\n\n"
        f"[[accounts]]\nuin = \"{demo['uin']}\"\nappkey = \"{demo['appkey']}\"\n"
        f"accesstoken = \"{demo['accesstoken']}\"\nconcurrency = {max_sessions}\n"
        f"projects = {json.dumps(demo['projects'])}\nassets = {json.dumps(demo['assets'])}\n")
    proc = subprocess.Popen([sys.executable, "-m", "tcadh_sim", "--host", "127.0.0.1", "--port", str(port),
                             "--config", str(config)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_for_port(port, proc=proc)
    return proc, f"http://127.0.0.1:{port}", demo


def setup_console(base_url: str, demo: dict):
    call_command("migrate", verbosity=0)
    user = User.objects.create_superuser("bench", password="bench-password")
    account = account_register(name="Bench simulator", base_url=base_url, appkey=demo["appkey"],
                               accesstoken=demo["accesstoken"], uin=demo["uin"], projects=demo["projects"],
                               assets=demo["assets"], concurrency_limit=None)
    client = Client()
    client.force_login(user)
    return user, account, f"sessionid={client.cookies['sessionid'].value}".encode()


def start_sessions(user, account, count: int) -> list:
    sessions = []
    for _ in range(count):
        session = services.session_create(user=user, spec=services.NewSession(
            account=account, project=account.projects.first(), user_id=f"bench-{new_req_id()[:12]}",
            protocol="rtmp", driver_type=1, auto_start=False))
        services.session_start(user=user, session=session)
        session.refresh_from_db()
        sessions.append(session)
    return sessions


async def direct_session(account, session, rounds: int, start: Callable[[], Awaitable[None]]) -> list[float]:
    url = await database_sync_to_async(client_for(account).channel_url)(session.cloud_session_id)
    samples = []
    async with connect(url, ping_interval=None) as ws:
        await start()
        for index in range(WARM_UP_ROUNDS + rounds):
            req_id = new_req_id()
            sent = time.perf_counter()
            await ws.send(json.dumps(text_frame(session.cloud_session_id, f"Round {index}.", req_id=req_id)))
            while True:
                payload = json.loads(await ws.recv()).get("Payload", {})
                if payload.get("ReqId") == req_id and payload.get("SpeakStatus") == "TextStart":
                    if index >= WARM_UP_ROUNDS:
                        samples.append(time.perf_counter() - sent)
                    break
            await asyncio.sleep(max(0.0, sent + INTERVAL - time.perf_counter()))
    return samples


async def page_rounds(send: Callable[[dict], Awaitable[None]], receive: Callable[[], Awaitable[dict]],
                      rounds: int, start: Callable[[], Awaitable[None]]) -> list[float]:
    """One tab's round trips: "say" sent → its TextStart speak event back on the same socket."""
    reader = PageReader(receive)
    while True:  # wait until the relay's upstream channel is open, as it is on an open page
        message = await reader.next()
        if message.get("type") == "relay" and message["state"] == "connected":
            break
    samples = []
    await start()
    for index in range(WARM_UP_ROUNDS + rounds):
        text = f"Round {index}."
        sent = time.perf_counter()
        await send({"type": "say", "text": text})
        req_id = None
        while True:
            message = await reader.next()
            if message.get("type") == "utterance" and message["state"] == "queued" and message["text"] == text:
                req_id = message["req_id"]
            if message.get("type") == "event" and message["event"]["kind"] == "speak":
                data = message["event"]["data"]
                if data["req_id"] == req_id and data["speak_status"] == "TextStart":
                    if index >= WARM_UP_ROUNDS:
                        samples.append(time.perf_counter() - sent)
                    break
        await asyncio.sleep(max(0.0, sent + INTERVAL - time.perf_counter()))
    return samples


async def console_session(cookie: bytes, session, rounds: int, start: Callable[[], Awaitable[None]]) -> list[float]:
    """A page socket on the console application in this process."""
    tab = WebsocketCommunicator(application, f"/ws/sessions/{session.pk}/chat/",
                                headers=[(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1"),
                                         (b"cookie", cookie)])
    connected, _ = await tab.connect()
    assert connected
    samples = await page_rounds(tab.send_json_to, lambda: tab.receive_json_from(timeout=10), rounds, start)
    await tab.disconnect()
    return samples


async def page_session(url: str, cookie: bytes, session, rounds: int, start: Callable[[], Awaitable[None]]) -> list[float]:
    """The same through a real WebSocket to a daphne console."""
    headers = {"Origin": "http://127.0.0.1", "Cookie": cookie.decode()}
    async with connect(f"{url}/ws/sessions/{session.pk}/chat/", additional_headers=headers,
                       ping_interval=None) as tab:
        async def send(message: dict) -> None:
            await tab.send(json.dumps(message))

        async def receive() -> dict:
            return json.loads(await asyncio.wait_for(tab.recv(), 10))

        return await page_rounds(send, receive, rounds, start)


def serve(port: int) -> None:
    from daphne.endpoints import build_endpoint_description_strings
    from daphne.server import Server

    settings.TCADH_RELAY_GRACE_SECONDS = 0
    Server(application=application, endpoints=build_endpoint_description_strings(host="127.0.0.1", port=port),
           verbosity=0).run()


def start_console() -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], cwd=ROOT,
                            env={**os.environ, "RELAY_BENCH_WORK": str(WORK)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, proc=proc)
    return proc, f"ws://127.0.0.1:{port}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Phases:
    """When each session sends its first text: only once every client is connected (opening a
    relay is not what is measured), then spread over the interval unless in lockstep."""

    def __init__(self, count: int, lockstep: bool) -> None:
        self.count, self.lockstep = count, lockstep
        self.arrived = 0
        self.all_connected = asyncio.Event()
        self.base = 0.0

    def turn(self, index: int) -> Callable[[], Awaitable[None]]:
        async def wait() -> None:
            self.arrived += 1
            if self.arrived == self.count:
                self.base = time.perf_counter() + 0.2
                self.all_connected.set()
            await self.all_connected.wait()
            offset = 0.0 if self.lockstep else INTERVAL * index / self.count
            await asyncio.sleep(max(0.0, self.base + offset - time.perf_counter()))

        return wait


async def measure(account, cookie: bytes, sessions: list, rounds: int, lockstep: bool,
                  console_url: str | None) -> tuple[list[float], list[float]]:
    phases = Phases(len(sessions), lockstep)
    starts = [phases.turn(index) for index in range(len(sessions))]
    direct = await asyncio.gather(*(direct_session(account, s, rounds, t) for s, t in zip(sessions, starts)))
    phases = Phases(len(sessions), lockstep)
    starts = [phases.turn(index) for index in range(len(sessions))]
    if console_url:
        via = await asyncio.gather(*(page_session(console_url, cookie, s, rounds, t) for s, t in zip(sessions, starts)))
    else:
        via = await asyncio.gather(*(console_session(cookie, s, rounds, t) for s, t in zip(sessions, starts)))
    await relays.close_all()
    return [x for xs in direct for x in xs], [x for xs in via for x in xs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--lockstep", action="store_true", help="every session sends in the same instant")
    parser.add_argument("--daphne", action="store_true", help="the console as a daphne process of its own")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    settings.TCADH_RELAY_GRACE_SECONDS = 0
    proc, base_url, demo = start_simulator(max(args.sessions) + 5)
    console = None
    try:
        user, account, cookie = setup_console(base_url, demo)
        console_url = None
        if args.daphne:
            console, console_url = start_console()
        arrival = "lockstep (all sessions at once)" if args.lockstep else "phases spread over the interval"
        where = "a daphne process, real WebSocket clients" if args.daphne else "in-process, WebsocketCommunicator"
        print(f"round trip text → TextStart, {args.rounds} rounds per session, {arrival}; console {where}; ms")
        print(f"{'sessions':>8} {'samples':>8} {'direct p50':>11} {'direct p99':>11} {'console p50':>12} {'console p99':>12}"
              f" {'added p50':>10} {'added p99':>10} {'ratio p50':>10} {'ratio p99':>10}")
        for count in args.sessions:
            sessions = start_sessions(user, account, count)
            direct, via = asyncio.run(measure(account, cookie, sessions, args.rounds, args.lockstep, console_url))
            d50, d99 = percentile(direct, .5) * 1e3, percentile(direct, .99) * 1e3
            c50, c99 = percentile(via, .5) * 1e3, percentile(via, .99) * 1e3
            print(f"{count:>8} {len(via):>8} {d50:>11.2f} {d99:>11.2f} {c50:>12.2f} {c99:>12.2f} {c50 - d50:>10.2f}"
                  f" {c99 - d99:>10.2f} {c50 / d50:>10.2f} {c99 / d99:>10.2f}")
            for session in sessions:
                services.session_close(user=user, session=session, reason="bench done")
        print("p99 of fewer than 100 samples is their maximum: one stall decides it")
        print(f"target: added p99 under {TARGET_P99_MS:g} ms with 50 sessions; "
              f"mean direct {statistics.mean(direct) * 1e3:.2f} ms in the last run")
    finally:
        for running in (console, proc):
            if running is not None:
                running.terminate()
                running.wait(timeout=10)


if __name__ == "__main__":
    main()
