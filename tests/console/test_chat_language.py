"""The chat socket in each viewer's language: a tab's own error replies are in the language its page
was shown in (the language cookie, then Accept-Language, then English), while what every viewer
of the session is told and what is written stays in English for each page to translate; and no
tab's language reaches another tab or the tasks the process shares."""

import asyncio
import re

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from sessions_app.budgets import Budget
from sessions_app.languages import scope_language
from sessions_app.live import database, inbox, ownership, relay
from sessions_app.live.utterances import downstream_outcome
from sessions_app.live.words import Words
from tcadh.channel import HandshakeRefused
from tcadh.errors import TcadhError
from tcadh.frames import DriveFailed, MalformedFrame, SpeakStatus

from .chat_tabs import open_tab, quick_relay, receive_until, relays_closed, utterance, utterance_state  # noqa: F401
from .helpers import create_session, shown_by_the_page, started_session

pytestmark = pytest.mark.django_db(transaction=True)

CJK = re.compile(r"[\u4e00-\u9fff]")
CHINESE_BROWSER = "zh-CN,zh;q=0.9,en;q=0.5"
ENGLISH_BROWSER = "en-US,en;q=0.9"
STREAM_END = {"type": "stream", "action": "end"}
NO_STREAM = {"en": "no stream is open; send action start before end",
             "zh": "没有正在发送的流式文本；请在 end 之前先发送 start"}
NOT_JSON = {"en": "the message is not valid JSON", "zh": "消息不是有效的 JSON"}
BACKED_UP = {"en": "the avatar's connection is backed up; wait a moment and try again",
             "zh": "数字人连接拥堵；请稍候再试"}


async def refusal(tab) -> str:
    return (await receive_until(tab, lambda m: m.get("type") == "error"))[-1]["message"]


async def test_each_tab_is_refused_in_its_own_language(sim, account, operator):
    session = await database_sync_to_async(started_session)(operator, account)
    chinese = await open_tab(operator, session, accept_language=CHINESE_BROWSER)
    english = await open_tab(operator, session, accept_language=ENGLISH_BROWSER)
    # One session, one relay, turns taken: neither tab's language reaches the other's reply.
    for tab, language in ((chinese, "zh"), (english, "en"), (chinese, "zh"), (english, "en")):
        await tab.send_json_to(STREAM_END)
        assert await refusal(tab) == NO_STREAM[language]
    # Refused by the consumer itself, before any command is read.
    for tab, language in ((english, "en"), (chinese, "zh")):
        await tab.send_to(text_data="{not json")
        assert await refusal(tab) == NOT_JSON[language]
    await chinese.disconnect()
    await english.disconnect()


async def test_a_session_that_cannot_be_driven_says_why_in_the_tabs_language(sim, account, operator):
    session = await database_sync_to_async(create_session)(operator, account)
    chinese = await open_tab(operator, session, accept_language=CHINESE_BROWSER)
    english = await open_tab(operator, session, accept_language=ENGLISH_BROWSER)
    await chinese.send_json_to({"type": "say", "text": "你好"})
    await english.send_json_to({"type": "say", "text": "Hello"})
    assert await refusal(chinese) == "会话准备中"
    assert await refusal(english) == "the session is preparing"
    await chinese.disconnect()
    await english.disconnect()


# The cookie the header's switcher sets, then the browser's languages, then English.
CHOICES = [
    ({}, CHINESE_BROWSER, "zh"),
    ({}, "zh-TW,zh;q=0.8", "zh"),
    ({}, "fr-FR,fr;q=0.9", "en"),
    ({}, "", "en"),
    ({settings.LANGUAGE_COOKIE_NAME: "zh-hans"}, ENGLISH_BROWSER, "zh"),
    ({settings.LANGUAGE_COOKIE_NAME: "en"}, CHINESE_BROWSER, "en"),
]


@pytest.mark.parametrize("cookies, accept_language, language", CHOICES)
async def test_the_socket_speaks_the_language_its_page_was_shown_in(sim, account, operator, cookies,
                                                                    accept_language, language):
    session = await database_sync_to_async(create_session)(operator, account)
    tab = await open_tab(operator, session, accept_language=accept_language, cookies=cookies)
    await tab.send_to(text_data="{not json")
    assert await refusal(tab) == NOT_JSON[language]
    await tab.disconnect()

    def page_language() -> str:
        client = Client(headers={"accept-language": accept_language} if accept_language else {})
        for name, value in cookies.items():
            client.cookies[name] = value
        return re.search(r'<html lang="([^"]+)"', client.get(reverse("login")).content.decode()).group(1)

    headers = [(b"accept-language", accept_language.encode())] if accept_language else []
    assert scope_language({"cookies": cookies, "headers": headers}) == await database_sync_to_async(page_language)()


async def test_a_refused_drive_is_in_its_tabs_language_and_in_english_for_every_page_and_its_row(
        sim, account, operator, settings):
    # Texts are spaced: with room for one frame, the second or third of three quick ones finds it full.
    settings.TCADH_RELAY_OUTBOX = 1
    settings.TCADH_RELAY_TEXT_INTERVAL_SECONDS = 60
    session = await database_sync_to_async(started_session)(operator, account)
    chinese = await open_tab(operator, session, accept_language=CHINESE_BROWSER)
    english = await open_tab(operator, session, accept_language=ENGLISH_BROWSER)
    for text in ("一", "二", "三"):
        await chinese.send_json_to({"type": "say", "text": text})
    assert await refusal(chinese) == BACKED_UP["zh"]
    failed = (await receive_until(english, utterance_state("failed")))[-1]
    assert failed["error"] == BACKED_UP["en"]
    row = await utterance(failed["req_id"], lambda row: row.state == "failed")
    assert row.error == BACKED_UP["en"]
    await chinese.disconnect()
    await english.disconnect()


class RecordingLease:
    """A lease this process always holds, noting the language each renewal runs in."""

    def __init__(self):
        self.languages = []

    async def acquire(self, session_pk, owner):
        return owner

    async def renew(self, session_pk, owner):
        self.languages.append(translation.get_language())
        return True

    async def release(self, session_pk, owner):
        return None


async def test_a_tabs_language_stays_out_of_the_tasks_the_process_shares(sim, account, operator, monkeypatch):
    """The first tab's handler starts the process's inbox and renews the session's lease: both serve
    every tab afterwards, so neither may keep that tab's language."""
    lease = RecordingLease()
    monkeypatch.setattr(ownership.ownership, "lease", lease)
    monkeypatch.setattr(ownership, "LEASE_SECONDS", 0.03)
    heard = asyncio.get_running_loop().create_future()
    monkeypatch.setitem(inbox._handlers, "test.language", lambda message: _note_language(heard))
    session = await database_sync_to_async(started_session)(operator, account)
    chinese = await open_tab(operator, session, accept_language=CHINESE_BROWSER)
    await chinese.send_json_to(STREAM_END)
    assert await refusal(chinese) == NO_STREAM["zh"]

    await inbox.send(await inbox.me(), {"type": "test.language"})
    assert await asyncio.wait_for(heard, 10) == settings.LANGUAGE_CODE
    await asyncio.wait_for(_until(lambda: lease.languages), 10)
    assert set(lease.languages) == {settings.LANGUAGE_CODE}
    await chinese.disconnect()


async def _note_language(heard: asyncio.Future) -> None:
    heard.set_result(translation.get_language())


async def _until(condition) -> None:
    while not condition():
        await asyncio.sleep(0.01)


async def test_a_reader_thread_works_in_the_language_of_the_tab_that_asked(monkeypatch):
    """Off the test database's one thread, as a file or PostgreSQL database runs: a refusal worded
    on a reader thread is in the tab's language, and the thread keeps none of it for the next."""
    monkeypatch.setattr(database, "_one_thread_only", lambda: False)
    with translation.override("zh-hans"):
        assert await database.read(translation.get_language) == "zh-hans"
    assert await database.read(translation.get_language) == settings.LANGUAGE_CODE


async def test_a_command_forwarded_to_the_owning_process_is_answered_in_the_tabs_language(operator, monkeypatch):
    forwarded = []

    async def owner_elsewhere(session_pk):
        return "the-owners-inbox"

    async def send(channel, message):
        forwarded.append(message)

    monkeypatch.setattr(ownership.ownership, "owner_elsewhere", owner_elsewhere)
    monkeypatch.setattr(inbox, "send", send)
    layer = get_channel_layer()
    tab = await layer.new_channel()
    router = ownership.TabRouter(session_pk=999_999, tab=tab, user=operator)
    with translation.override("zh-hans"):
        await router.receive({"type": "say", "text": "你好"}, reply=None)
    await router.leave()
    [message] = forwarded
    # The owner runs it with no language of its own active, as its inbox does.
    await ownership.remote_tabs.on_command(message)
    answer = await asyncio.wait_for(layer.receive(tab), 10)
    assert answer["reply"] == {"type": "error", "message": "此会话已不存在"}


def test_what_the_chat_writes_for_every_viewer_each_page_shows_in_its_language(db, tmp_path):
    """The utterance errors and transcript problems the chat stores in English, as the code words
    them, against the page's tables: every fixed word in Chinese, the cloud's own words quoted."""
    quoted = {"no such session": relay.channel_end_reason(HandshakeRefused(403, 110018, "no such session")),
              "session over": relay.channel_end_reason(TcadhError(110013, "session over")),
              "bad text": DriveFailed("r1", -111005, "bad text"), "{oops": MalformedFrame("r1", -1, "{oops")}
    words = [relay.NO_LONGER_STARTED, relay.NO_PAGE_OPEN, relay.SHUTTING_DOWN, relay.CHANNEL_CLOSED_WORDS,
             relay.BACKED_UP, ownership.TAKEN_OVER, relay.session_ended("closed"), relay.channel_end_reason(None)]
    stored = {"": [w.english for w in words] + [downstream_outcome(SpeakStatus("r1", 0, "Error")).error,
                                                 downstream_outcome(DriveFailed("r1", 100001, "")).error]}
    for said, source in quoted.items():
        stored[said] = [source.english if isinstance(source, Words) else downstream_outcome(source).error]
    texts = [(said, text) for said, group in stored.items() for text in group]
    chinese = shown_by_the_page([text for _, text in texts], CHINESE_BROWSER, tmp_path)
    for (said, english), shown in zip(texts, chinese):
        assert CJK.search(shown) and not re.search("[A-Za-z]", shown.replace(said, "") if said else shown), \
            (english, shown)
    assert shown_by_the_page([text for _, text in texts], ENGLISH_BROWSER, tmp_path) == [text for _, text in texts]


def test_the_sweeps_close_reasons_each_page_shows_in_its_language(db, tmp_path):
    """Close reasons and cap warnings the sweeps store in English, as history lines and audit
    cells show them: fixed words in Chinese, names quoted as they are."""
    day = timezone.now()
    with translation.override("en"):
        caps = [Budget(kind="operator", name="olivia", cap_minutes=30, day=day, used_seconds=1812, draining=1).words(),
                Budget(kind="account", name="olivia", cap_minutes=90, day=day, used_seconds=600, draining=0).words()]
    texts = ["not started within 120 s", "closing: not started within 120 s", "orphan not adopted within 10 minutes",
             "closing: orphan not adopted within 10 minutes", *(f"daily cap reached: {cap}" for cap in caps),
             *(f"closing: daily cap reached: {cap}" for cap in caps), f"daily cap: closing in 45 s, {caps[0]}"]
    for english, shown in zip(texts, shown_by_the_page(texts, CHINESE_BROWSER, tmp_path)):
        assert CJK.search(shown) and not re.search("[A-Za-z]", shown.replace("olivia", "")), (english, shown)
    assert shown_by_the_page(texts, ENGLISH_BROWSER, tmp_path) == texts
