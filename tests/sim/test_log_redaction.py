"""The simulator's log output, as `python -m tcadh_sim` writes it, never holds a signature."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.parse

import requests
import websocket

from tcadh_sim.config import DEMO_ACCOUNT
from tcadh_sim.log_redaction import redact
from tests.conftest import ROOT, free_port, wait_for_port

from .helpers import CHANNEL, PROJECT, SESSION_API, new_req_id, signed_query


def _signature(query: str) -> str:
    return dict(urllib.parse.parse_qsl(query))["signature"]


def test_handshake_and_calls_leave_no_signature_in_the_log(tmp_path):
    config = tmp_path / "sim.toml"
    config.write_text("[timing]\nprepare_seconds = 0\n")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tcadh_sim", "--port", str(port), "--config", str(config), "--log-level", "debug"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    used: list[str] = []
    try:
        wait_for_port(port, proc=proc)
        base = f"http://127.0.0.1:{port}"

        def call(endpoint: str, **payload: str) -> dict:
            query = signed_query(DEMO_ACCOUNT.appkey, DEMO_ACCOUNT.accesstoken)
            used.append(_signature(query))
            body = {"Header": {}, "Payload": {"ReqId": new_req_id(), **payload}}
            return requests.post(f"{base}{SESSION_API}{endpoint}?{query}", json=body, timeout=10).json()["Payload"]

        session_id = call("createsession", VirtualmanProjectId=PROJECT, UserId="log", Protocol="webrtc",
                          DriverType=1)["SessionId"]
        call("startsession", SessionId=session_id)
        query = signed_query(DEMO_ACCOUNT.appkey, DEMO_ACCOUNT.accesstoken, {"requestid": session_id})
        used.append(_signature(query))
        websocket.create_connection(f"ws://127.0.0.1:{port}{CHANNEL}?{query}", timeout=5).close()
        # A refused handshake is logged too (with its 403).
        wrong = signed_query(DEMO_ACCOUNT.appkey, "not-the-token", {"requestid": session_id})
        used.append(_signature(wrong))
        try:
            websocket.create_connection(f"ws://127.0.0.1:{port}{CHANNEL}?{wrong}", timeout=5).close()
        except websocket.WebSocketBadStatusException:
            pass
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=20)
    assert "WebSocket" in output and "403" in output, output  # the handshake lines were logged
    assert not re.search(r"signature=(?!\*\*\*)", output), output
    for signature in used:
        assert signature not in output and urllib.parse.quote(signature, safe="") not in output


def test_redact_keeps_the_rest_of_the_line():
    line = '127.0.0.1:5 - "WebSocket /c?appkey=a&requestid=m1&timestamp=1&signature=ab%2Bc%3D" [accepted]'
    assert redact(line) == '127.0.0.1:5 - "WebSocket /c?appkey=a&requestid=m1&timestamp=1&signature=***" [accepted]'
    assert redact("x?Signature=abc&y=1") == "x?Signature=***&y=1"
