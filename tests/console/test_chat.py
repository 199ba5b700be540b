"""The chat box relay against the real simulator: browser JSON in, command-channel frames out,
speak statuses back to every tab, Utterance rows kept in step."""

import asyncio
import base64
import json
import re
import subprocess
from html import unescape

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from sessions_app.live import drive_rights
from sessions_app.live.relay import relays
from sessions_app.models import SessionEvent, Utterance

from tests.conftest import ROOT

from .chat_tabs import (TIMEOUT, eventually, open_tab, quick_relay, receive_until, relay_state,  # noqa: F401
                        relays_closed, sim_frames, sim_sent, speak, speak_events, utterance, utterance_state)
from .helpers import create_session, next_message, started_session
from .test_consumers import connect_as

pytestmark = pytest.mark.django_db(transaction=True)


async def test_text_reaches_both_tabs_and_the_utterance_ends_done(sim, account, operator):
    session = await database_sync_to_async(started_session)(operator, account)
    first, second = await open_tab(operator, session), await open_tab(operator, session)
    await receive_until(first, relay_state("connected"))

    await first.send_json_to({"type": "say", "text": "Hello there, viewers."})
    queued = (await receive_until(first, utterance_state("queued")))[-1]
    req_id = queued["req_id"]
    assert queued["text"] == "Hello there, viewers." and queued["kind"] == "text" and queued["by"] == "olivia"

    for tab in (first, second):
        seen = await receive_until(tab, speak("TextOver", req_id))
        assert any(speak("TextStart", req_id)(m) for m in seen)
        assert any(utterance_state("speaking")(m) for m in seen)
    assert any(utterance_state("done")(m) for m in await receive_until(second, utterance_state("done")))
    row = await utterance(req_id, lambda row: row.state == "done")
    assert row.state == "done" and row.created_by_id == operator.pk

    frames = await sim_frames(sim, session, "SEND_TEXT")
    assert [f["req_id"] for f in frames] == [req_id]
    assert frames[0]["code"] == 0 and frames[0]["data"]["ChatCommand"] == "NotUseChat"
    await first.disconnect()
    await second.disconnect()


@database_sync_to_async
def _history(session) -> tuple[list[tuple], list[tuple]]:
    events = [(e.data["req_id"], e.data["speak_status"]) for e in
              SessionEvent.objects.filter(session=session, kind="speak").order_by("created_at", "id")]
    rows = [(u.req_id, u.state, u.text) for u in Utterance.objects.filter(session=session)]
    return events, rows


async def test_the_history_kept_for_a_reload_matches_what_pages_were_shown_in_order(sim, account, operator):
    session = await database_sync_to_async(started_session)(operator, account)
    tab = await open_tab(operator, session)
    for text in ("First line.", "Second line."):
        await tab.send_json_to({"type": "say", "text": text})
    seen = await receive_until(tab, lambda m: m.get("type") == "utterance" and m["text"] == "Second line."
                               and m["state"] == "done", timeout=20)
    queued = [m for m in seen if utterance_state("queued")(m)]
    assert [m["text"] for m in queued] == ["First line.", "Second line."]
    statuses = [(i, m["event"]["data"]) for i, m in enumerate(seen)
                if m.get("type") == "event" and m["event"]["kind"] == "speak"]
    shown = [(data["req_id"], data["speak_status"]) for _, data in statuses]
    # A page hears of an utterance before any status of it.
    for index, data in statuses:
        assert any(utterance_state("queued")(m) and m["req_id"] == data["req_id"] for m in seen[:index])
    events, rows = await eventually(lambda: _history(session),
                                    lambda h: len(h[0]) == len(shown) and all(r[1] == "done" for r in h[1]))
    assert events == shown
    assert rows == [(m["req_id"], "done", m["text"]) for m in queued]
    await tab.disconnect()


async def _driving(operator, account):
    """A started session and an operator's tab that has just said something (the avatar is on it)."""
    session = await database_sync_to_async(started_session)(operator, account)
    tab = await open_tab(operator, session)
    await tab.send_json_to({"type": "say", "text": "While I may."})
    await receive_until(tab, speak("TextStart"))
    return session, tab


async def test_the_right_to_drive_is_checked_on_every_message(sim, account, operator):
    session, tab = await _driving(operator, account)
    await database_sync_to_async(operator.groups.clear)()
    await _assert_refused(tab, [({"type": "say", "text": "Not any more."}, "not drive")])
    frames = await sim_frames(sim, session, "SEND_TEXT")
    assert [f["data"]["Text"] for f in frames] == ["While I may."]
    await tab.disconnect()


async def test_texts_sent_quickly_are_queued_one_second_apart_not_refused(sim, account, operator):
    session = await database_sync_to_async(started_session)(operator, account)
    tab = await open_tab(operator, session)
    for text in ("One.", "Two.", "Three."):
        await tab.send_json_to({"type": "say", "text": text})
    await receive_until(tab, lambda m: m.get("type") == "utterance" and m["text"] == "Three."
                        and m["state"] == "done", timeout=20)
    frames = await sim_frames(sim, session, "SEND_TEXT")
    assert [f["data"]["Text"] for f in frames] == ["One.", "Two.", "Three."]
    assert all(f["code"] == 0 for f in frames)
    assert all(b["t"] - a["t"] >= 1.0 for a, b in zip(frames, frames[1:]))
    await tab.disconnect()


@database_sync_to_async
def bot_session(sim, operator, account, **overrides):
    project = account.projects.get(project_id=sim.demo["bot_projects"][0])
    return started_session(operator, account, project=project, **overrides)


async def test_bound_bot_answer_comes_back_as_llm_events(sim, account, operator):
    session = await bot_session(sim, operator, account)
    tab = await open_tab(operator, session)
    await tab.send_json_to({"type": "say", "text": "What can you do?", "use_bot": True})
    seen = await receive_until(tab, utterance_state("done"))
    frame = (await sim_frames(sim, session, "SEND_TEXT"))[0]
    assert frame["data"].get("ChatCommand", "") == ""
    answer = "".join(m["event"]["message"] for m in seen if m.get("type") == "event" and m["event"]["kind"] == "llm")
    assert answer == 'You asked: "What can you do?". This is the canned answer of the simulated dialogue bot.'
    await tab.disconnect()


def _page_text(html: str, element_id: str) -> str:
    """The text of one list on a page, one line per entry."""
    found = re.search(rf'<ol[^>]*id="{element_id}"[^>]*>(.*?)</ol>', html, re.S)
    assert found, element_id
    entries = re.findall(r"<li[^>]*>(.*?)</li>", found.group(1), re.S)
    return "\n".join(" ".join(unescape(re.sub(r"<[^>]+>", " ", entry)).split()) for entry in entries)


async def test_a_reload_shows_the_whole_conversation_and_the_history_keeps_to_the_session(
        sim, account, operator, client):
    session = await bot_session(sim, operator, account, driver_type=3)
    tab = await open_tab(operator, session)
    await tab.send_json_to({"type": "say", "text": "What can you do?", "use_bot": True})
    await receive_until(tab, speak("TextStart"))
    # The cloud refuses audio while text is spoken.
    await tab.send_json_to({"type": "audio", "pcm": pcm_chunks(0.16)[0]})
    seen = await receive_until(tab, lambda m: m.get("type") == "event" and m["event"]["kind"] == "error")
    refusal = seen[-1]["event"]
    # Told once written, so the page's history can know it by its id.
    assert isinstance(refusal["id"], int) and "text is being spoken" in refusal["message"]
    assert any(utterance_state("failed", "audio")(m) for m in seen)
    await receive_until(tab, utterance_state("done", "text"))
    await utterance((await _texts(session))[0], lambda row: row.state == "done")
    await speak_events(session, "TextOver")

    await database_sync_to_async(client.force_login)(operator)
    html = (await database_sync_to_async(client.get)(f"/sessions/{session.pk}/")).content.decode()
    lines = _page_text(html, "transcript").splitlines()
    assert re.fullmatch(r"olivia What can you do\? done TextStart → TextOver started speaking after \d+ ms", lines[0])
    assert lines[1:] == [
        'avatar (bot) You asked: "What can you do?". This is the canned answer of the simulated dialogue bot.',
        "olivia (audio, 0.2 s) failed",
        f"console {refusal['message']}",
    ]
    history = _page_text(html, "events")
    assert "started" in history and refusal["message"] in history and "avatar" not in history

    # A page that connects now starts from the same history.
    second = await open_tab(operator, session)
    snapshot = (await receive_until(second, lambda m: m.get("type") == "events"))[-1]["events"]
    assert refusal in snapshot and not [e for e in snapshot if e["kind"] in ("speak", "llm")]
    await tab.disconnect()
    await second.disconnect()


@database_sync_to_async
def _texts(session) -> list[str]:
    return list(Utterance.objects.filter(session=session, kind="text").values_list("req_id", flat=True))


async def test_stream_in_clause_mode_with_a_final_packet(sim, account, operator):
    session = await database_sync_to_async(started_session)(operator, account)
    tab = await open_tab(operator, session)
    await tab.send_json_to({"type": "stream", "action": "start", "text": "First sentence here. Sec"})
    await tab.send_json_to({"type": "stream", "action": "chunk", "text": "ond sentence. Third"})
    await tab.send_json_to({"type": "stream", "action": "end", "text": " and last."})
    seen = await receive_until(tab, utterance_state("done", "stream"), timeout=20)
    req_id = next(m["req_id"] for m in seen if m.get("type") == "utterance")
    assert any(speak("SentenceStart", req_id)(m) for m in seen)

    frames = await sim_frames(sim, session, "SEND_STREAMTEXT")
    assert {f["req_id"] for f in frames} == {req_id}
    assert [f["seq"] for f in frames] == list(range(1, len(frames) + 1))
    assert all(f["data"].get("IsSentence") for f in frames) and all(f["code"] == 0 for f in frames)
    assert frames[-1]["data"]["IsFinal"] and not any(f["data"]["IsFinal"] for f in frames[:-1])
    assert "".join(f["data"]["Text"] for f in frames) == "First sentence here. Second sentence. Third and last."
    whole = "First sentence here. Second sentence. Third and last."
    assert (await utterance(req_id, lambda row: row.text == whole)).text == whole
    await tab.disconnect()


async def test_stream_without_punctuation_is_plain_and_packets_stay_under_1000_bytes(sim, account, operator):
    session = await database_sync_to_async(started_session)(operator, account)
    tab = await open_tab(operator, session)
    text = "数字人" * 500  # 4500 bytes, no clause end
    await tab.send_json_to({"type": "stream", "action": "start"})
    await tab.send_json_to({"type": "stream", "action": "chunk", "text": text})
    await tab.send_json_to({"type": "stream", "action": "end"})
    req_id = (await receive_until(tab, utterance_state("speaking", "stream"), timeout=20))[-1]["req_id"]
    await tab.send_json_to({"type": "interrupt"})
    await receive_until(tab, speak("TextOver", req_id))
    frames = await sim_frames(sim, session, "SEND_STREAMTEXT")
    assert all(f["code"] == 0 for f in frames)
    assert not any(f["data"].get("IsSentence") for f in frames)
    assert all(len(f["data"]["Text"].encode()) <= 1000 for f in frames)
    assert "".join(f["data"]["Text"] for f in frames) == text
    assert frames[-1]["data"].get("Interrupt") and frames[-1]["seq"] == len(frames)
    assert (await utterance(req_id, lambda row: row.state == "interrupted")).state == "interrupted"
    await tab.disconnect()


def pcm_chunks(seconds: float) -> list[str]:
    samples = bytes(range(256)) * 20  # 5120 bytes
    count = int(seconds / 0.16)
    return [base64.b64encode(samples).decode()] * count


async def test_audio_packets_and_the_final_packet(sim, account, operator):
    session = await database_sync_to_async(started_session)(operator, account, driver_type=3)
    tab = await open_tab(operator, session)
    chunks = pcm_chunks(0.8)
    for chunk in chunks:
        await tab.send_json_to({"type": "audio", "pcm": chunk})
    await tab.send_json_to({"type": "audio", "pcm": base64.b64encode(b"\x01\x00" * 100).decode(), "final": True})
    seen = await receive_until(tab, utterance_state("done", "audio"))
    req_id = seen[-1]["req_id"]
    assert any(speak("AudioStart", req_id)(m) for m in seen)
    frames = await sim_frames(sim, session, "SEND_AUDIO")
    assert [f["seq"] for f in frames] == list(range(1, len(chunks) + 3))
    assert all(f["code"] == 0 and f["req_id"] == req_id for f in frames)
    # The simulator shows Audio as its Base64 length.
    assert frames[-1]["data"] == {"Audio": "<0 base64 chars>", "Seq": len(chunks) + 2, "IsFinal": True}
    assert not any(f["data"]["IsFinal"] for f in frames[:-1])
    over = await speak_events(session, "AudioOver")
    assert over[-1].data["final_type"] == 1
    size = 5120 * len(chunks) + 200
    assert (await utterance(req_id, lambda row: row.audio_bytes == size)).audio_bytes == size
    await tab.disconnect()


async def test_interrupting_text_sends_an_empty_interrupt(sim, account, operator):
    session = await database_sync_to_async(started_session)(operator, account)
    tab = await open_tab(operator, session)
    await tab.send_json_to({"type": "say", "text": "A rather long sentence that keeps the avatar busy for a while."})
    req_id = (await receive_until(tab, speak("TextStart")))[-1]["event"]["data"]["req_id"]
    await tab.send_json_to({"type": "interrupt"})
    seen = await receive_until(tab, speak("TextOver", req_id))
    assert any(utterance_state("interrupted")(m) for m in seen)
    frames = await sim_frames(sim, session, "SEND_TEXT")
    assert frames[-1]["data"]["Text"] == "" and frames[-1]["data"]["Interrupt"] is True
    assert frames[-1]["req_id"] != req_id and frames[-1]["code"] == 0
    assert (await utterance(req_id, lambda row: row.state == "interrupted")).state == "interrupted"
    await tab.disconnect()


async def test_interrupting_audio_sends_its_final_packet(sim, account, operator):
    session = await database_sync_to_async(started_session)(operator, account, driver_type=3)
    tab = await open_tab(operator, session)
    for chunk in pcm_chunks(0.5):
        await tab.send_json_to({"type": "audio", "pcm": chunk})
    req_id = (await receive_until(tab, speak("AudioStart")))[-1]["event"]["data"]["req_id"]
    await tab.send_json_to({"type": "interrupt"})
    await receive_until(tab, speak("AudioOver", req_id))
    frames = await sim_frames(sim, session, "SEND_AUDIO")
    assert frames[-1]["data"]["IsFinal"] and frames[-1]["data"]["Audio"] == "<0 base64 chars>"
    assert all(f["code"] == 0 for f in frames)
    assert (await utterance(req_id, lambda row: row.state == "interrupted")).state == "interrupted"
    await tab.disconnect()


async def test_reconnects_after_a_drop_without_showing_events_twice(sim, account, operator, settings):
    # The simulator cuts the socket when the next upstream frame arrives: let that be a heartbeat.
    settings.TCADH_RELAY_HEARTBEAT_SECONDS = 0.2
    session = await database_sync_to_async(started_session)(operator, account)
    tab = await open_tab(operator, session)
    await tab.send_json_to({"type": "say", "text": "Before the drop."})
    first = (await receive_until(tab, utterance_state("done")))[-1]["req_id"]
    await asyncio.to_thread(sim.control, "POST", "faults",
                            json={"endpoint": "commandchannel", "drop_websocket": True, "count": 1})
    await receive_until(tab, relay_state("reconnecting"))
    await receive_until(tab, relay_state("connected"))
    await tab.send_json_to({"type": "say", "text": "After the drop."})
    seen = await receive_until(tab, lambda m: m.get("type") == "utterance" and m["text"] == "After the drop."
                               and m["state"] == "done", timeout=20)
    second = seen[-1]["req_id"]
    assert first != second
    # The simulator replayed the first drive's statuses on reconnect; none were recorded again.
    replayed = [s for s in await sim_sent(sim, session) if s.get("ReqId") == first]
    assert len(replayed) >= 2
    for status in ("TextStart", "TextOver"):
        assert [e.data["req_id"] for e in await speak_events(session, status, 2)] == [first, second]
    assert not any(speak("TextOver", first)(m) for m in seen)
    calls = await asyncio.to_thread(sim.control, "GET", "calls")
    assert calls["counts"]["commandchannel"] == 2
    await tab.disconnect()


BAD_INPUT = [
    ({"type": "shout", "text": "hi"}, "'type'"),
    ({"text": "hi"}, "'type'"),
    ({"type": "say"}, "'text'"),
    ({"type": "say", "text": 42}, "'text'"),
    ({"type": "say", "text": "   "}, "empty"),
    ({"type": "say", "text": "好" * 1334}, "4000"),
    ({"type": "say", "text": "hi", "use_bot": "yes"}, "'use_bot'"),
    ({"type": "stream", "action": "pause", "text": "hi"}, "'action'"),
    ({"type": "stream", "action": "chunk", "text": "no stream open"}, "no stream is open"),
    ({"type": "stream", "action": "end"}, "no stream is open"),
    ({"type": "stream", "action": "start", "text": "x" * 8001}, "8000"),
    ({"type": "stream", "action": "chunk"}, "'text'"),
    ({"type": "audio", "pcm": base64.b64encode(b"\x00" * 320).decode()}, "driver type 3"),
]
BAD_AUDIO = [
    ({"type": "audio", "pcm": "not base64!"}, "Base64"),
    ({"type": "audio", "pcm": 12}, "'pcm'"),
    ({"type": "audio", "pcm": base64.b64encode(b"\x00" * 5122).decode()}, "5120"),
    ({"type": "audio", "pcm": base64.b64encode(b"\x00" * 3).decode()}, "odd"),
    ({"type": "audio", "pcm": ""}, "empty"),
    ({"type": "audio", "pcm": "", "final": True}, "nothing to finish"),
    ({"type": "audio", "pcm": "AAAA", "final": "yes"}, "'final'"),
]


async def _assert_refused(tab, cases) -> None:
    for message, fragment in cases:
        await tab.send_json_to(message)
        reply = (await receive_until(tab, lambda m: m.get("type") == "error"))[-1]
        assert fragment in reply["message"], (message, reply)


async def test_bad_input_is_answered_with_an_error_and_nothing_goes_upstream(sim, account, operator):
    text_session = await database_sync_to_async(started_session)(operator, account)
    tab = await open_tab(operator, text_session)
    await _assert_refused(tab, BAD_INPUT)
    await tab.send_json_to({"type": "stream", "action": "start", "text": "no punctuation"})
    await _assert_refused(tab, [({"type": "stream", "action": "start"}, "already open")])
    await tab.send_json_to({"type": "stream", "action": "end"})
    await receive_until(tab, utterance_state("queued", "stream"))
    await tab.disconnect()
    # Accepted before the tab closed, so it still goes out; nothing of the bad input ever does.
    frames = await eventually(lambda: sim_frames(sim, text_session),
                              lambda sent: any(f["command"] == "SEND_STREAMTEXT" for f in sent))
    assert [f["command"] for f in frames if f["command"] != "SEND_HEARTBEAT"] == ["SEND_STREAMTEXT"]

    audio_session = await database_sync_to_async(started_session)(operator, account, driver_type=3)
    tab = await open_tab(operator, audio_session)
    await _assert_refused(tab, BAD_AUDIO)
    # Still open and working after all of that.
    await tab.send_json_to({"type": "say", "text": "Still here."})
    await receive_until(tab, utterance_state("done"))
    assert [f["command"] for f in await sim_frames(sim, audio_session)] == ["SEND_TEXT"]
    await tab.disconnect()


_START = json.dumps({"type": "stream", "action": "start"})
_NESTED = "[" * 20_000 + "]" * 20_000
# Each finding: the frames a tab sends (the last one is refused) and what the error says.
HOSTILE_FRAMES = {
    "lone surrogate in say": ([r'{"type": "say", "text": "Look \ud83d"}'], "lone UTF-16 surrogate"),
    "lone surrogate in a stream": ([_START, r'{"type": "stream", "action": "chunk", "text": "half \ude00 of it"}'],
                                   "lone UTF-16 surrogate"),
    "deeply nested JSON": ([_NESTED], "nested too deeply"),
    "deeply nested text": (['{"type": "say", "text": ' + _NESTED + "}"], "nested too deeply"),
    "oversized frame": ([json.dumps({"type": "interrupt", "padding": "x" * 70_000})], "at most 65536"),
    "NUL in say": ([json.dumps({"type": "say", "text": "before\u0000after"})], "NUL"),
    "NUL in a stream": ([_START, json.dumps({"type": "stream", "action": "chunk", "text": "a\u0000b"})], "NUL"),
}


@pytest.mark.parametrize("frames, fragment", HOSTILE_FRAMES.values(), ids=HOSTILE_FRAMES.keys())
async def test_a_hostile_frame_is_answered_the_socket_stays_and_nothing_goes_upstream(
        sim, account, operator, caplog, frames, fragment):
    session = await database_sync_to_async(started_session)(operator, account)
    tab = await open_tab(operator, session)
    for frame in frames:
        await tab.send_to(text_data=frame)
    reply = (await receive_until(tab, lambda m: m.get("type") == "error"))[-1]
    assert fragment in reply["message"]
    await tab.send_json_to({"type": "say", "text": "Still here."})
    await receive_until(tab, utterance_state("done", "text"))
    upstream = [f for f in await sim_frames(sim, session) if f["command"] != "SEND_HEARTBEAT"]
    assert [(f["command"], f["code"]) for f in upstream] == [("SEND_TEXT", 0)]
    refusals = [r for r in caplog.records if r.name.startswith("sessions_app") and r.levelname == "WARNING"]
    assert any(fragment in r.getMessage() for r in refusals)
    assert not [r for r in caplog.records if r.exc_info], "bad input is a warning line, not a traceback"
    await tab.disconnect()


def test_the_chat_box_cuts_streamed_text_between_code_points():
    """The Stream button sends text in pieces; none may end inside a surrogate pair."""
    script = ("import { codePointChunks } from './static/js/code-points.js';"
              "const text = 'a' + String.fromCodePoint(0x1F600).repeat(5);"
              "console.log(JSON.stringify(codePointChunks(text, 2)));")
    result = subprocess.run(["node", "--input-type=module", "-e", script], cwd=ROOT, capture_output=True,
                            text=True, check=True)
    chunks = json.loads(result.stdout)
    assert chunks == ["a\U0001F600", "\U0001F600\U0001F600", "\U0001F600\U0001F600"]


async def test_a_session_that_is_not_started_cannot_be_driven(sim, account, operator):
    session = await database_sync_to_async(create_session)(operator, account)
    tab = await open_tab(operator, session)
    await _assert_refused(tab, [({"type": "say", "text": "hi"}, "preparing")])
    assert relays.get(session.pk) is None
    await tab.disconnect()


async def test_a_deactivated_user_stops_driving_at_once(sim, account, operator):
    _, tab = await _driving(operator, account)
    operator.is_active = False
    await database_sync_to_async(operator.save)()
    await _assert_refused(tab, [({"type": "say", "text": "Not any more."}, "not drive")])
    await tab.disconnect()


async def test_a_change_made_by_another_process_reaches_this_one(sim, account, operator):
    """Another console process (or the admin's) saved the change: only its broadcast arrives here."""
    _, tab = await _driving(operator, account)
    # A queryset delete sends no m2m signal in this process, as a change elsewhere would not.
    await database_sync_to_async(lambda: type(operator).groups.through.objects.filter(user=operator).delete())()
    await get_channel_layer().group_send(drive_rights.GROUP, {"type": drive_rights.MESSAGE_TYPE})
    assert "not drive" in await eventually(lambda: _refusal(tab), lambda message: "not drive" in message)
    await tab.disconnect()


async def _refusal(tab) -> str:
    await tab.send_json_to({"type": "say", "text": "Am I still allowed?"})
    while True:
        message = await next_message(tab, TIMEOUT)
        if message.get("type") == "error":
            return message["message"]
        if utterance_state("queued")(message) and message["text"] == "Am I still allowed?":
            return ""


async def test_auditor_watches_but_may_not_drive(sim, account, operator, auditor):
    session = await database_sync_to_async(started_session)(operator, account)
    watcher, driver = await open_tab(auditor, session), await open_tab(operator, session)
    await _assert_refused(watcher, [({"type": "say", "text": "let me talk"}, "not drive"),
                                    ({"type": "interrupt"}, "not drive")])
    await driver.send_json_to({"type": "say", "text": "Operators may."})
    seen = await receive_until(watcher, utterance_state("done"))
    assert any(speak("TextStart")(m) for m in seen)
    frames = await sim_frames(sim, session, "SEND_TEXT")
    assert [f["data"]["Text"] for f in frames] == ["Operators may."]
    await watcher.disconnect()
    await driver.disconnect()


async def test_anonymous_and_cross_origin_are_refused(sim, account, operator):
    session = await database_sync_to_async(started_session)(operator, account)
    anonymous = await connect_as(None, f"/ws/sessions/{session.pk}/chat/")
    assert not (await anonymous.connect(timeout=TIMEOUT))[0]
    foreign = await connect_as(operator, f"/ws/sessions/{session.pk}/chat/", origin=b"http://evil.example")
    assert not (await foreign.connect(timeout=TIMEOUT))[0]
    assert relays.get(session.pk) is None


async def test_closing_the_session_closes_the_relay_at_once(sim, account, operator, settings):
    settings.TCADH_RELAY_GRACE_SECONDS = 60
    session = await database_sync_to_async(started_session)(operator, account)
    tab = await open_tab(operator, session)
    await receive_until(tab, relay_state("connected"))
    relay = relays.get(session.pk)
    from sessions_app import services

    await database_sync_to_async(services.session_close)(user=operator, session=session)
    await receive_until(tab, relay_state("closed"))
    await asyncio.wait_for(relay.wait_closed(), TIMEOUT)
    assert relay.stopped
    await tab.disconnect()


async def test_one_relay_is_shared_and_closed_after_the_last_tab_leaves(sim, account, operator, settings):
    settings.TCADH_RELAY_GRACE_SECONDS = 0.2
    session = await database_sync_to_async(started_session)(operator, account)
    first, second = await open_tab(operator, session), await open_tab(operator, session)
    await receive_until(first, relay_state("connected"))
    relay = relays.get(session.pk)
    await first.disconnect()
    await asyncio.sleep(0.4)
    assert relays.get(session.pk) is relay and not relay.stopped
    await second.disconnect()
    await asyncio.wait_for(relay.wait_closed(), TIMEOUT)
    calls = await asyncio.to_thread(sim.control, "GET", "calls")
    assert calls["counts"]
    channel_opens = [c for c in calls["calls"] if c.get("endpoint") == "commandchannel"]
    assert len(channel_opens) == 1


async def test_an_avatar_status_and_the_state_it_causes_share_one_frame(sim, account, operator):
    session = await database_sync_to_async(started_session)(operator, account)
    tab = await open_tab(operator, session)
    await tab.send_json_to({"type": "say", "text": "One frame."})
    while True:
        frame = await tab.receive_json_from(timeout=TIMEOUT)
        if frame["type"] == "batch" and any(speak("TextStart")(m) for m in frame["messages"]):
            break
    assert [m["type"] for m in frame["messages"]] == ["event", "utterance"]
    assert frame["messages"][1]["state"] == "speaking" and frame["messages"][1]["text"] == "One frame."
    await tab.disconnect()
