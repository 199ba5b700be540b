"""Play addresses (PROTOCOL.md §8): the real shape, and HTTP twins the simulator really serves."""

from __future__ import annotations

import dataclasses
import re

import pytest
import requests

from tcadh_sim.config import ConfigError, Play, config_from_dict

from .conftest import make_config
from .helpers import PROJECT


def http_twins(play_address: str) -> list[str]:
    """The .flv and .m3u8 twins, derived as Tencent's player does (scheme to http, extension
    before any query)."""
    url = re.sub(r"^(webrtc|rtmp)://", "http://", play_address)
    base, _, query = url.partition("?")
    return [base + ext + (f"?{query}" if query else "") for ext in (".flv", ".m3u8")]


def _get(url: str, **headers: str) -> requests.Response:
    response = requests.get(url, headers=headers, stream=True, timeout=20)
    response.close()
    return response


@pytest.mark.parametrize("protocol", ["rtmp", "webrtc"])
def test_both_twins_of_the_default_address_are_served(client, srv, protocol):
    created = client.ok("createsession", VirtualmanProjectId=PROJECT, UserId=f"twins-{protocol}",
                        Protocol=protocol, DriverType=1)
    address = created["PlayStreamAddr"]
    assert address == f"{protocol}://{srv.base_url.removeprefix('http://')}/live/{created['SessionId']}"
    flv, m3u8 = (_get(url) for url in http_twins(address))
    assert flv.status_code == 200 and flv.headers["Content-Type"] == "video/x-flv"
    assert m3u8.status_code == 200 and m3u8.headers["Content-Type"].startswith("application/vnd.apple.mpegurl")


def test_play_domain_gives_port_less_addresses_whose_twins_are_served(server_factory):
    config = dataclasses.replace(make_config(), play=Play(domain="liveplay.sim.test"))
    server = server_factory(config)
    client = server.client()
    for protocol in ("rtmp", "webrtc"):
        created = client.ok("createsession", VirtualmanProjectId=PROJECT, UserId=f"domain-{protocol}",
                            Protocol=protocol, DriverType=1)
        assert created["PlayStreamAddr"] == f"{protocol}://liveplay.sim.test/live/{created['SessionId']}"
        stat = client.ok("statsession", SessionId=created["SessionId"])
        assert stat["PlayStreamAddr"] == created["PlayStreamAddr"]
    # A proxy for the play domain forwards to the simulator with the domain as Host.
    for twin in http_twins(created["PlayStreamAddr"]):
        path = twin.removeprefix("http://liveplay.sim.test")
        assert _get(server.base_url + path, Host="liveplay.sim.test").status_code == 200


@pytest.mark.parametrize("domain", ["https://liveplay.sim.test", "host/live", "a b", 5])
def test_play_domain_is_a_bare_host(domain):
    with pytest.raises(ConfigError, match="play.domain"):
        config_from_dict({"play": {"domain": domain}})

