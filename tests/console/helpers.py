import json
import os
import subprocess
import time
import weakref

from django.test import Client
from django.urls import reverse

from sessions_app import services
from tests.conftest import ROOT
from tests.page_messages import PageReader
from sessions_app.models import LiveSession


def create_session(user, account, **overrides) -> LiveSession:
    fields = dict(account=account, project=account.projects.first(), user_id=f"test-{time.monotonic_ns()}",
                  protocol="rtmp", driver_type=1, auto_start=False)
    fields.update(overrides)
    return services.session_create(user=user, spec=services.NewSession(**fields))


def wait_ready(session: LiveSession, timeout: float = 10.0) -> LiveSession:
    """Poll like the Celery task does, without its backoff."""
    deadline = time.monotonic() + timeout
    while services.session_refresh_preparing(session=session) is services.Preparing.WAITING:
        assert time.monotonic() < deadline, "the session never became ready"
        time.sleep(0.1)
    session.refresh_from_db()
    return session


def started_session(user, account, **overrides) -> LiveSession:
    session = wait_ready(create_session(user, account, **overrides))
    services.session_start(user=user, session=session)
    session.refresh_from_db()
    return session


_readers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


async def next_message(tab, timeout: float) -> dict:
    """The next message a page's socket (a WebsocketCommunicator) received."""
    reader = _readers.setdefault(tab, PageReader(tab.receive_json_from))
    return await reader.next(timeout=timeout)


LABELS_IN_NODE = """
import vm from "node:vm";
import { readFileSync } from "node:fs";
vm.runInThisContext(readFileSync(process.env.CATALOG, "utf8"));
const { consoleWords } = await import("./static/js/labels.js");
console.log(JSON.stringify(JSON.parse(readFileSync(0, "utf8")).map(consoleWords)));
"""


def shown_by_the_page(texts: list[str], accept_language: str, tmp_path) -> list[str]:
    """The texts as a page in that language shows them (labels.js on Django's JavaScript catalog)."""
    catalog = tmp_path / "jsi18n.js"
    catalog.write_bytes(Client().get(reverse("javascript-catalog"), HTTP_ACCEPT_LANGUAGE=accept_language).content)
    result = subprocess.run(["node", "--input-type=module", "-e", LABELS_IN_NODE], cwd=ROOT, input=json.dumps(texts),
                            env={**os.environ, "CATALOG": str(catalog)}, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)
