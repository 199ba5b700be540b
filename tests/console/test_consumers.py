"""The live-update sockets: refused to strangers, fed with changes after commit."""

import pytest
from autobahn.exception import Disconnected
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from sessions_app import services
from sessions_app.consumers import SessionConsumer
from tcadh_console.asgi import application

from .helpers import create_session, wait_ready

# A handshake on a loaded machine can take longer than the communicator's default second.
CONNECT_TIMEOUT = 10

pytestmark = pytest.mark.django_db(transaction=True)


def _cookie_for(user) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def communicator(path: str, user=None, origin: bytes = b"http://127.0.0.1:8000", *, accept_language: str = "",
                 cookies: dict[str, str] | None = None):
    """A page's socket: logged in as `user`, with the browser's Accept-Language and other cookies."""
    headers = [(b"origin", origin), (b"host", b"127.0.0.1:8000")]
    cookie = [f"{name}={value}" for name, value in (cookies or {}).items()]
    if user is not None:
        cookie.append(_cookie_for(user))
    if cookie:
        headers.append((b"cookie", "; ".join(cookie).encode()))
    if accept_language:
        headers.append((b"accept-language", accept_language.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def connect_as(user, path: str, origin: bytes = b"http://127.0.0.1:8000", **browser):
    return await database_sync_to_async(communicator)(path, user, origin, **browser)


@pytest.mark.parametrize("path", ["/ws/dashboard/", "/ws/sessions/1/chat/"])
async def test_anonymous_is_refused(path):
    comm = communicator(path)
    connected, code = await comm.connect(timeout=CONNECT_TIMEOUT)
    assert not connected and code == 4403


async def test_cross_origin_is_refused(operator):
    comm = await connect_as(operator, "/ws/dashboard/",
                        origin=b"http://evil.example")
    connected, _ = await comm.connect(timeout=CONNECT_TIMEOUT)
    assert not connected


async def test_status_changes_reach_the_session_page_and_the_dashboard(sim, account, operator):
    session = await database_sync_to_async(create_session)(operator, account)
    page = await connect_as(operator, f"/ws/sessions/{session.pk}/chat/")
    dashboard = await connect_as(operator, "/ws/dashboard/")
    assert (await page.connect(timeout=CONNECT_TIMEOUT))[0] and (await dashboard.connect(timeout=CONNECT_TIMEOUT))[0]
    snapshot = await page.receive_json_from(timeout=5)
    assert snapshot["type"] == "session" and snapshot["session"]["status"] == "preparing"
    history = await page.receive_json_from(timeout=5)
    assert history["type"] == "events"
    assert [e["message"] for e in history["events"]] == [f"created from {session.source_label}, preparing"]

    await database_sync_to_async(wait_ready)(session)

    seen = []
    while not any(m.get("type") == "session" and m["session"]["status"] == "ready" for m in seen):
        seen.append(await page.receive_json_from(timeout=5))
    assert any(m["type"] == "event" and m["event"]["message"] == "ready" for m in seen)
    update = await dashboard.receive_json_from(timeout=5)
    assert update["session"]["status"] == "ready" and update["session"]["id"] == session.pk
    assert "play" not in str(update).lower()
    await page.disconnect()
    await dashboard.disconnect()


async def test_junk_frames_get_an_error_and_the_socket_stays_open(sim, account, operator):
    session = await database_sync_to_async(create_session)(operator, account)
    page = await connect_as(operator, f"/ws/sessions/{session.pk}/chat/")
    assert (await page.connect(timeout=CONNECT_TIMEOUT))[0]
    assert (await page.receive_json_from(timeout=5))["type"] == "session"
    assert (await page.receive_json_from(timeout=5))["type"] == "events"
    await page.send_to(bytes_data=b"\x00\xff\x10")
    assert "binary" in (await page.receive_json_from(timeout=5))["message"]
    await page.send_to(text_data="{not json")
    assert "not valid JSON" in (await page.receive_json_from(timeout=5))["message"]
    await page.send_to(text_data="[1, 2]")
    assert "JSON object" in (await page.receive_json_from(timeout=5))["message"]
    await database_sync_to_async(services.session_close)(user=operator, session=session)
    assert (await page.receive_json_from(timeout=5))["type"] in {"event", "session"}
    await page.disconnect()


async def test_a_broadcast_reaching_a_page_that_just_closed_is_dropped():
    """Daphne refuses a send once the page has gone; the consumer must live on to handle its
    disconnect (leaving its groups, letting the relay close)."""
    consumer = SessionConsumer()

    async def closed(message):
        raise Disconnected("Attempt to send on a closed protocol")

    consumer.base_send = closed
    await consumer.session_event({"type": "session.event", "event": {"kind": "speak", "message": "avatar TextOver", "data": {}}})
