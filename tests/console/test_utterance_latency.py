"""Every utterance's timings, against a simulator whose avatar takes a while to start speaking:
when it went upstream, was acknowledged, started and ended, as pages are shown them and as its row
keeps them; and the percentiles the session page and the audit make of them."""

import pytest
from channels.db import database_sync_to_async

from sessions_app.latency import (Latency, bucket_expression, bucket_of, percentile, session_latency,
                                  session_recent_starts)
from sessions_app.models import Utterance
from sessions_app.accounts import account_register

from tests.conftest import Simulator

from .helpers import started_session
from .chat_tabs import open_tab, quick_relay, receive_until, relays_closed, speak, utterance, utterance_state  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

START_DELAY_MS = 400


@pytest.fixture(scope="module")
def slow_start_simulator(tmp_path_factory):
    sim = Simulator(tmp_path_factory.mktemp("slow-start"), extra_toml=(
        f'[behaviour]\ntext_start_delay_seconds = {START_DELAY_MS / 1000}\nwaiting_states = "start"\n'))
    yield sim
    sim.stop()


@pytest.fixture
def slow_account(slow_start_simulator, db):
    slow_start_simulator.control("POST", "reset")
    demo = slow_start_simulator.demo
    return account_register(name="Slow start", base_url=slow_start_simulator.base_url, appkey=demo["appkey"],
                            accesstoken=demo["accesstoken"], uin=demo["uin"], projects=demo["projects"],
                            assets=demo["assets"], concurrency_limit=demo.get("concurrency"))


def _in_order(timings: dict) -> bool:
    return timings["upstream_ms"] <= timings["ack_ms"] <= timings["start_ms"] <= timings["end_ms"]


async def test_a_spoken_text_is_timed_from_send_to_end_on_the_page_and_in_its_row(slow_account, operator):
    session = await database_sync_to_async(started_session)(operator, slow_account)
    tab = await open_tab(operator, session)
    await tab.send_json_to({"type": "say", "text": "How long did that take?"})
    seen = await receive_until(tab, utterance_state("done"))
    speaking = next(m for m in seen if utterance_state("speaking")(m))
    # The avatar waits START_DELAY_MS after acknowledging the text before it starts speaking.
    assert speaking["start_ms"] >= START_DELAY_MS
    assert speaking["end_ms"] is None
    done = seen[-1]
    assert _in_order(done) and done["start_ms"] == speaking["start_ms"]
    row = await utterance(done["req_id"], lambda row: row.end_ms is not None)
    assert {name: getattr(row, name) for name in Utterance.TIMINGS} == {name: done[name] for name in Utterance.TIMINGS}
    await tab.disconnect()


async def test_a_text_held_back_by_the_spacing_rule_counts_the_wait(slow_account, operator):
    session = await database_sync_to_async(started_session)(operator, slow_account)
    tab = await open_tab(operator, session)
    await tab.send_json_to({"type": "say", "text": "One."})
    await tab.send_json_to({"type": "say", "text": "Two."})
    seen = await receive_until(tab, lambda m: utterance_state("done")(m) and m["text"] == "Two.", timeout=20)
    second = seen[-1]
    # quick_relay spaces texts 1.05 s apart: the second went upstream no sooner than that.
    assert second["upstream_ms"] >= 1000 and second["start_ms"] >= 1000 + START_DELAY_MS
    assert _in_order(second)
    await tab.disconnect()


async def test_an_interrupted_text_keeps_its_start_and_ends_at_the_interrupt(slow_account, operator):
    session = await database_sync_to_async(started_session)(operator, slow_account)
    tab = await open_tab(operator, session)
    await tab.send_json_to({"type": "say", "text": "A rather long sentence that keeps the avatar busy for a while."})
    req_id = (await receive_until(tab, speak("TextStart")))[-1]["event"]["data"]["req_id"]
    await tab.send_json_to({"type": "interrupt"})
    interrupted = (await receive_until(tab, utterance_state("interrupted")))[-1]
    assert interrupted["start_ms"] >= START_DELAY_MS and interrupted["end_ms"] >= interrupted["start_ms"]
    row = await utterance(req_id, lambda row: row.state == "interrupted")
    assert row.start_ms == interrupted["start_ms"] and row.end_ms == interrupted["end_ms"]
    await tab.disconnect()


def test_percentiles_are_nearest_rank():
    assert percentile([], 50) is None
    assert percentile([7], 95) == 7
    ordered = list(range(1, 101))
    assert (percentile(ordered, 50), percentile(ordered, 95)) == (50, 95)
    assert Latency.of([300, 100, 200, 900]) == Latency(count=4, p50=200, p95=900)


def test_a_sessions_latency_counts_only_what_was_spoken(account, operator):
    session = started_session(operator, account)
    for req_id, start_ms in (("a", 320), ("b", None), ("c", 180), ("d", 250)):
        Utterance.objects.create(session=session, req_id=req_id, kind=Utterance.Kind.TEXT, text=req_id,
                                 start_ms=start_ms)
    assert session_latency(session=session) == Latency(count=3, p50=250, p95=320)
    assert session_recent_starts(session=session, last=2) == {"d": 250, "c": 180}


def test_the_database_buckets_latencies_as_the_code_does(account, operator):
    session = started_session(operator, account)
    edges = [0, 1, 9, 10, 11, 995, 999, 1000, 1001, 1049, 1050, 4999, 5000, 5001, 5499, 59999, 60000, 60001, 123456]
    for number, start_ms in enumerate(edges):
        Utterance.objects.create(session=session, req_id=f"e{number}", kind=Utterance.Kind.TEXT, text="", start_ms=start_ms)
    in_the_database = dict(Utterance.objects.filter(session=session).annotate(bucket=bucket_expression())
                           .values_list("start_ms", "bucket"))
    assert in_the_database == {ms: bucket_of(ms) for ms in edges}
    assert [bucket_of(ms) for ms in (0, 9, 10, 11, 1001, 5001, 60001)] == [0, 10, 10, 20, 1050, 5500, 65000]
