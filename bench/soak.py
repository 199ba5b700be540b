"""Soak: 100 chat sockets across two daphne processes, steady traffic, nothing lost or doubled.

Starts the scale-out cluster (PostgreSQL and Redis on 127.0.0.1, two daphne processes, a worker,
beat and the simulator), starts SESSIONS sessions and opens SOCKETS_PER_SESSION page sockets to
each, alternating between the two processes. Every session then says one text every TEXT_EVERY
seconds from one of its sockets, for --seconds. Each socket must see every utterance reach
"done" exactly once; each daphne's resident memory is sampled after warm-up and at the end.

    .venv/bin/python bench/soak.py [--seconds 120] [--sessions 20] [--sockets-per-session 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import requests
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.page_messages import unbatched  # noqa: E402
from tests.cluster_support import Cluster, servers_missing  # noqa: E402

TEXT_EVERY = 1.5
WARM_UP = 20.0
SIM_ACCOUNT = """[[accounts]]
uin = "100099990000"
appkey = "50a450a450a450a450a450a450a450a4"
accesstoken = "{token}"
concurrency = 100
projects = ["50a4f00d50a4f00d50a4f00d50a4f00d"]
assets = []
"""


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))


def logged_in(base_url: str, password: str) -> requests.Session:
    http = requests.Session()
    http.get(f"{base_url}/login/", timeout=10)
    http.post(f"{base_url}/login/", data={"username": "admin", "password": password,
                                          "csrfmiddlewaretoken": http.cookies["csrftoken"]},
              headers={"Referer": f"{base_url}/login/"}, timeout=10)
    return http


def create_sessions(http: requests.Session, base_url: str, count: int) -> list[int]:
    form = http.get(f"{base_url}/sessions/new/", timeout=10).text
    account = re.search(r'<option value="(\d+)" selected', form).group(1)
    project = re.search(r'name="project"[^>]*>.*?<option value="(\d+)"', form, re.S).group(1)
    pks = []
    for n in range(count):
        response = http.post(f"{base_url}/sessions/new/", data={
            "csrfmiddlewaretoken": http.cookies["csrftoken"], "account": account, "project": project,
            "protocol": "rtmp", "driver_type": 1, "user_id": f"soak-{n}", "stream_max_interval": 2000,
            "auto_start": "on"}, headers={"Referer": f"{base_url}/sessions/new/"}, timeout=30)
        pks.append(int(re.search(r"/sessions/(\d+)/", response.url).group(1)))
    deadline = time.monotonic() + 120
    for pk in pks:
        while http.get(f"{base_url}/sessions/{pk}/player.json", timeout=10).json()["status"] != "started":
            if time.monotonic() > deadline:
                raise TimeoutError(f"session {pk} never started")
            time.sleep(0.5)
    return pks


async def socket_client(url: str, cookie: str, seen: Counter, stop: asyncio.Event, ready: asyncio.Event,
                        outbox: asyncio.Queue | None) -> None:
    async with connect(url, additional_headers={"Cookie": cookie, "Origin": url.replace("ws://", "http://")},
                       max_size=2**22) as ws:
        ready.set()

        async def send() -> None:
            while outbox is not None and not stop.is_set():
                text = await outbox.get()
                await ws.send(json.dumps({"type": "say", "text": text}))

        sender = asyncio.create_task(send())
        try:
            while not stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=1)
                except TimeoutError:
                    continue
                for message in unbatched(json.loads(raw)):
                    if message.get("type") == "utterance" and message.get("state") == "done":
                        seen[message["text"]] += 1
        finally:
            sender.cancel()


async def soak(cluster: Cluster, pks: list[int], cookies: list[str], seconds: float, per_session: int) -> dict:
    stop = asyncio.Event()
    seen_by_socket: list[Counter] = []
    sent: list[str] = []
    outboxes: dict[int, list[asyncio.Queue]] = {pk: [] for pk in pks}
    tasks, readies = [], []
    for index, pk in enumerate(pks):
        for k in range(per_session):
            proc = (index + k) % len(cluster.urls)
            url = cluster.urls[proc].replace("http://", "ws://") + f"/ws/sessions/{pk}/chat/"
            seen, ready, outbox = Counter(), asyncio.Event(), asyncio.Queue()
            seen_by_socket.append(seen)
            outboxes[pk].append(outbox)
            readies.append(ready)
            tasks.append(asyncio.create_task(socket_client(url, cookies[proc], seen, stop, ready, outbox)))
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 30)
    daphnes = [cluster.procs[f"daphne{i}"].pid for i in range(len(cluster.urls))]
    memory = {"start": [rss_kib(pid) for pid in daphnes]}
    began = time.monotonic()
    n = 0
    while time.monotonic() - began < seconds:
        for pk in pks:
            text = f"soak {pk} #{n}"
            sent.append(text)
            outboxes[pk][n % per_session].put_nowait(text)
        n += 1
        if "warm" not in memory and time.monotonic() - began >= WARM_UP:
            memory["warm"] = [rss_kib(pid) for pid in daphnes]
        await asyncio.sleep(TEXT_EVERY)
    await asyncio.sleep(10)  # the last texts are still being spoken
    memory["end"] = [rss_kib(pid) for pid in daphnes]
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    per_session_texts = {pk: {t for t in sent if t.startswith(f"soak {pk} #")} for pk in pks}
    lost = duplicated = 0
    for index, seen in enumerate(seen_by_socket):
        expected = per_session_texts[pks[index // per_session]]
        lost += len(expected - set(seen))
        duplicated += sum(1 for text in expected if seen[text] > 1)
    return {"sent": len(sent), "sockets": len(seen_by_socket), "lost": lost, "duplicated": duplicated,
            "memory": memory, "handshakes": requests.get(f"{cluster.sim_url}/_sim/calls", timeout=5)
            .json()["counts"].get("commandchannel", 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--sockets-per-session", type=int, default=5)
    args = parser.parse_args()
    missing = servers_missing()
    if missing:
        sys.exit(f"soak needs PostgreSQL and Redis on 127.0.0.1; {missing} did not answer")
    cluster = Cluster(Path(tempfile.mkdtemp(prefix="soak-")),
                      sim_toml=SIM_ACCOUNT.format(token="c0de" * 8))
    try:
        http = logged_in(cluster.urls[0], cluster.password)
        pks = create_sessions(http, cluster.urls[0], args.sessions)
        cookies = [f"sessionid={logged_in(url, cluster.password).cookies['sessionid']}" for url in cluster.urls]
        result = asyncio.run(soak(cluster, pks, cookies, args.seconds, args.sockets_per_session))
    finally:
        cluster.stop()
    memory = result["memory"]
    print(f"sockets={result['sockets']} over {len(cluster.urls)} daphne processes, sessions={len(pks)}, "
          f"texts sent={result['sent']} in {args.seconds:.0f} s")
    print(f"lost={result['lost']} duplicated={result['duplicated']} (target 0 and 0)")
    print(f"command channel handshakes={result['handshakes']} for {len(pks)} sessions (target: one each)")
    for i, (start, warm, end) in enumerate(zip(memory["start"], memory.get("warm", memory["start"]),
                                              memory["end"])):
        print(f"daphne{i} rss_kib start={start} after_warm_up={warm} end={end} "
              f"growth_after_warm_up={(end - warm) / warm:+.1%} (target: flat, within a few percent)")


if __name__ == "__main__":
    main()
