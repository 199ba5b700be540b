"""Calls that real clients make and the documented happy path does not (PROTOCOL.md §5, §10.8,
§10.12): the Web SDK's start-up and legacy endpoints, clients that send no Header."""

from __future__ import annotations

import dataclasses

from tcadh_sim.config import DEMO_ACCOUNT, load_config

from .conftest import make_config
from .helpers import PROJECT, SESSION_API, new_req_id

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
