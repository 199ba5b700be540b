"""CPU cost of the simulator's live avatar stream, per second of stream, for 1 and 4 sessions.

Each session has one viewer draining its HTTP-FLV body for the whole run; halfway through, every
avatar starts saying a caption and playing two seconds of pushed audio. CPU is the whole
process's (encoder threads, event loop, viewers), measured once every viewer has its first bytes.

    .venv/bin/python bench/sim_stream.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tcadh_sim.media import StreamHub  # noqa: E402

TARGET = 0.15  # CPU-seconds per stream-second, per session, at 640x360 and 15 fps


def speech_like_pcm(seconds: float) -> bytes:
    """A gliding tone in syllable-sized bursts: enough energy to open the mouth."""
    t = np.arange(int(16000 * seconds)) / 16000
    envelope = np.sin(np.pi * ((t * 4.0) % 1.0)) ** 2
    tone = np.sin(2 * np.pi * (180 + 60 * np.sin(2 * np.pi * 0.7 * t)) * t)
    return (9000 * envelope * tone).astype("<i2").tobytes()


async def run(sessions: int, seconds: float) -> tuple[float, float, float]:
    """Returns (CPU seconds per stream-second per session, kbit/s per stream, skipped viewers)."""
    hub = StreamHub(width=640, height=360, fps=15)
    ids = [f"bench-{sessions}-{i}" for i in range(sessions)]
    for session_id in ids:
        hub.open(session_id, label=f"bench session {session_id}")
    received = dict.fromkeys(ids, 0)
    first_bytes = asyncio.Event()

    async def watch(session_id: str, stop_at: asyncio.Future) -> None:
        body = hub.flv_response(session_id).body_iterator
        try:
            async for chunk in body:
                received[session_id] += len(chunk)
                if all(received.values()):
                    first_bytes.set()
                if stop_at.done():
                    break
        finally:
            await body.aclose()

    stop = asyncio.get_running_loop().create_future()
    viewers = [asyncio.create_task(watch(s, stop)) for s in ids]
    await first_bytes.wait()

    cpu_start, wall_start = time.process_time(), time.monotonic()
    bytes_start = sum(received.values())
    await asyncio.sleep(seconds / 2)
    for session_id in ids:
        hub.say(session_id, "你好，我是数字人。Hello, I am the simulator's digital human.", 3.0)
        hub.push_audio(session_id, speech_like_pcm(2.0))
    await asyncio.sleep(seconds / 2)
    cpu, wall = time.process_time() - cpu_start, time.monotonic() - wall_start
    streamed = sum(received.values()) - bytes_start

    stop.set_result(None)
    await asyncio.gather(*viewers)
    skips = sum(hub.stats(s).viewer_skips for s in ids)
    await hub.aclose()
    return cpu / (sessions * wall), streamed * 8 / 1000 / (sessions * wall), skips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="stream time per run (default 10)")
    args = parser.parse_args()
    for sessions in (1, 4):
        ratio, kbps, skips = asyncio.run(run(sessions, args.seconds))
        verdict = "OK" if ratio < TARGET else "OVER"
        print(
            f"sessions={sessions} cpu_s_per_stream_s={ratio:.3f} target<{TARGET} {verdict} "
            f"kbit_s_per_stream={kbps:.0f} viewer_skips={skips}"
        )


if __name__ == "__main__":
    main()
