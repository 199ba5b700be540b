"""What real clients send that the documented happy path does not (PROTOCOL.md §5, §10.8,
§10.12, §12): the Web SDK's start-up and legacy endpoints and its late stop, clients that send
no Header, action tags in non-clause streams."""

from __future__ import annotations

import base64
import dataclasses

from tcadh_sim.config import DEMO_ACCOUNT, load_config

from .conftest import make_config
from .helpers import ASSET, PROJECT, SESSION_API, Socket, is_status, new_req_id, statuses

ACTION_CONFIG = "/v2/ivh/virtualmanconfig/virtualmanconfigopen/describeactionconfigcommanddetail"
SDK_BODY = {"Header": {}, "Payload": {"VirtualmanKey": PROJECT, "Type": "command", "Reply": "$$特殊场景$$"}}


def test_action_config_without_req_id_answers_empty_content(client):
    body = client.post_raw(ACTION_CONFIG, SDK_BODY).json()
    assert body["Header"]["Code"] == 0, body
    assert body["Payload"] == {"InteractContent": ""}


def test_action_config_is_per_project_from_the_config(server_factory, tmp_path):
    path = tmp_path / "sim.toml"
    path.write_text(
        "[[accounts]]\nuin = '1'\nappkey = 'ak'\naccesstoken = 'tok'\nprojects = ['p1', 'p2']\n"
        "[accounts.interact_content]\np1 = '{\"options\": [\"yes\", \"no\"]}'\n"
    )
    account = load_config(path).accounts[0]
    server = server_factory(dataclasses.replace(make_config(), accounts=(account,)))
    client = server.client("ak", "tok")

    def ask(project: str) -> dict:
        payload = {**SDK_BODY["Payload"], "VirtualmanKey": project}
        return client.post_raw(ACTION_CONFIG, {"Header": {}, "Payload": payload}).json()

    assert ask("p1")["Payload"]["InteractContent"] == '{"options": ["yes", "no"]}'
    assert ask("p2")["Payload"]["InteractContent"] == ""
    assert ask(PROJECT)["Header"]["Code"] == 100005
    missing = client.post_raw(ACTION_CONFIG, {"Header": {}, "Payload": {"Type": "command"}}).json()
    assert missing["Header"]["Code"] == 100001 and missing["Header"]["Message"].startswith("Payload.VirtualmanKey")


def test_interact_content_of_an_unknown_project_is_a_config_error(tmp_path):
    path = tmp_path / "sim.toml"
    path.write_text("[[accounts]]\nuin='1'\nappkey='k'\naccesstoken='t'\nprojects=['p1']\n"
                    "[accounts.interact_content]\np9 = ''\n")
    try:
        load_config(path)
    except ValueError as exc:
        assert "accounts[0].interact_content" in str(exc)
    else:
        raise AssertionError("a project outside the account was accepted")


def test_demo_account_has_no_action_configuration():
    assert DEMO_ACCOUNT.interact_content_of(PROJECT) == ""


def test_calls_without_header_succeed(client):
    req_id = new_req_id()
    listed = client.post_raw(SESSION_API + "listsessionofuin", {"Payload": {"ReqId": req_id}}).json()
    assert listed["Header"]["Code"] == 0 and listed["Payload"] == {"ReqId": req_id, "Sessions": []}
    payload = {"ReqId": new_req_id(), "VirtualmanProjectId": PROJECT, "UserId": "no-header", "Protocol": "webrtc",
               "DriverType": 1}
    created = client.post_raw(SESSION_API + "createsession", {"Payload": payload}).json()
    assert created["Header"]["Code"] == 0 and created["Payload"]["SessionStatus"] == 1
    no_req_id = client.post_raw(ACTION_CONFIG, {"Payload": SDK_BODY["Payload"]}).json()
    assert no_req_id["Header"]["Code"] == 0


def test_header_that_is_not_an_object_is_still_refused(client):
    for header in ([], "x", 0):
        body = client.post_raw(SESSION_API + "listsessionofuin", {"Header": header, "Payload": {"ReqId": "r"}}).json()
        assert body["Header"]["Code"] == 100001 and body["Header"]["Message"].startswith("Header")


def _stream(socket: Socket, req_id: str, seq: int, text: str, **data) -> None:
    socket.send("SEND_STREAMTEXT", {"Text": text, "Seq": seq, **data}, req_id)


def _no_error_until_spoken(socket: Socket) -> None:
    """A text sent after the packet under test is spoken, and no error came in between."""
    after = socket.text("after")
    frames = socket.until(is_status("TextOver", after))
    assert all(f["Header"]["Code"] == 0 for f in frames), frames


def test_insert_action_in_non_clause_stream_is_accepted_and_not_spoken(client, srv):
    socket = client.connect(client.started_session())
    request = new_req_id()
    _stream(socket, request, 1, 'Hello <insert-action type="waving_hand"/>there.', IsFinal=True)
    frames = socket.until(is_status("TextOver", request))
    assert all(f["Header"]["Code"] == 0 for f in frames), frames
    assert [args[1] for args in srv.hub.named("say")] == ["Hello there."]


def test_non_clause_ssml_can_be_refused(server_factory):
    client = server_factory(behaviour={"non_clause_ssml": "refuse"}).client()
    socket = client.connect(client.started_session())
    _stream(socket, new_req_id(), 1, '<insert-action type="waving_hand"/>Hi.')
    error = socket.error()
    assert error["Header"]["Code"] == 100001 and error["Header"]["Message"].startswith("Data.Text")


def test_late_interrupt_of_an_ended_stream_is_a_no_op(client):
    socket = client.connect(client.started_session())
    ended, current = new_req_id(), new_req_id()
    _stream(socket, ended, 1, "Short.", IsFinal=True)
    socket.until(is_status("TextOver", ended))
    _stream(socket, current, 1, "A stream still going, ")
    socket.until(is_status("TextStart", current))
    # The Web SDK's stop() for the stream that already ended.
    _stream(socket, ended, 2, "", IsFinal=True, Interrupt=True)
    _stream(socket, current, 2, "ends here.", IsFinal=True)
    frames = socket.until(is_status("TextOver", current))
    assert all(f["Header"]["Code"] == 0 for f in frames), frames
    assert statuses(frames, ended) == []
    _no_error_until_spoken(socket)


def test_late_interrupt_can_be_an_error(server_factory):
    client = server_factory(behaviour={"late_interrupt": "error"}).client()
    socket = client.connect(client.started_session())
    ended = new_req_id()
    _stream(socket, ended, 1, "Short.", IsFinal=True)
    socket.until(is_status("TextOver", ended))
    _stream(socket, ended, 2, "", IsFinal=True, Interrupt=True)
    assert socket.error()["Header"]["Code"] == 110015


def test_late_final_packet_of_ended_audio_is_a_no_op(client):
    socket = client.connect(client.started_session())
    audio = new_req_id()
    socket.send("SEND_AUDIO", {"Audio": base64.b64encode(b"\0" * 3200).decode(), "Seq": 1, "IsFinal": True}, audio)
    socket.until(is_status("AudioOver", audio))
    socket.send("SEND_AUDIO", {"Audio": "", "Seq": 2, "IsFinal": True}, audio)
    _no_error_until_spoken(socket)


def test_legacy_listsessionofvk_lists_by_project_or_asset(client):
    by_project = client.create(user_id="vk-project")
    by_asset = client.ok("createsessionbyasset", AssetVirtualmanKey=ASSET, UserId="vk-asset", Protocol="webrtc",
                         DriverType=1)["SessionId"]
    listed = client.ok("listsessionofvk", VirtualmanKey=PROJECT)["Sessions"]
    assert [s["SessionId"] for s in listed] == [by_project]
    assert listed[0]["VirtualmanProjectId"] == PROJECT and listed[0]["CreateType"] == 0
    listed = client.ok("listsessionofvk", VirtualmanKey=ASSET)["Sessions"]
    assert [s["SessionId"] for s in listed] == [by_asset]
    assert client.code("listsessionofvk", VirtualmanKey="someone-else") == 100005
    assert client.code("listsessionofvk") == 100001
