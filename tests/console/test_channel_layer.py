"""The SQLite channel layer carries group messages between processes sharing one file."""

import asyncio

import pytest
from channels.exceptions import ChannelFull

from tcadh_console.file_layer import SQLiteChannelLayer


async def test_group_message_reaches_another_process(tmp_path):
    path = str(tmp_path / "layer.sqlite3")
    web, worker = SQLiteChannelLayer(path=path), SQLiteChannelLayer(path=path)
    channel = await web.new_channel()
    await web.group_add("session-1", channel)

    await worker.group_send("session-1", {"type": "session.update", "status": "ready"})

    message = await asyncio.wait_for(web.receive(channel), timeout=5)
    assert message == {"type": "session.update", "status": "ready"}
    await web.close()


async def test_messages_arrive_in_order_and_once(tmp_path):
    path = str(tmp_path / "layer.sqlite3")
    web, worker = SQLiteChannelLayer(path=path), SQLiteChannelLayer(path=path)
    channel = await web.new_channel()
    await web.group_add("g", channel)
    for n in range(20):
        await worker.group_send("g", {"type": "n", "n": n})
    got = [(await asyncio.wait_for(web.receive(channel), timeout=5))["n"] for _ in range(20)]
    assert got == list(range(20))
    await asyncio.sleep(0.2)
    assert web._queues[channel].empty()
    await web.close()


async def test_local_channel_is_delivered_from_memory(tmp_path):
    layer = SQLiteChannelLayer(path=str(tmp_path / "layer.sqlite3"))
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "hello"})
    assert layer._queues[channel].qsize() == 1
    assert await layer.receive(channel) == {"type": "hello"}
    await layer.close()


async def test_discarded_channel_gets_no_more_group_messages(tmp_path):
    path = str(tmp_path / "layer.sqlite3")
    web, worker = SQLiteChannelLayer(path=path), SQLiteChannelLayer(path=path)
    channel = await web.new_channel()
    await web.group_add("g", channel)
    await web.group_discard("g", channel)
    await worker.group_send("g", {"type": "late"})
    receive = asyncio.ensure_future(web.receive(channel))
    await asyncio.sleep(0.3)
    assert not receive.done()
    receive.cancel()
    await web.close()


async def test_own_group_members_get_a_message_once_and_at_once(tmp_path):
    path = str(tmp_path / "layer.sqlite3")
    web, worker = SQLiteChannelLayer(path=path), SQLiteChannelLayer(path=path)
    mine, theirs = await web.new_channel(), await worker.new_channel()
    await web.group_add("g", mine)
    await worker.group_add("g", theirs)

    send = asyncio.ensure_future(web.group_send("g", {"type": "hello"}))
    await asyncio.sleep(0)
    # Delivered before the file was asked who else is in the group.
    assert web._queues[mine].qsize() == 1
    await send
    assert await asyncio.wait_for(worker.receive(theirs), timeout=5) == {"type": "hello"}
    assert await web.receive(mine) == {"type": "hello"}
    await asyncio.sleep(0.3)
    assert web._queues[mine].empty()
    await web.close()
    await worker.close()


async def test_a_full_member_does_not_keep_the_group_message_from_the_others(tmp_path):
    path = str(tmp_path / "layer.sqlite3")
    web, worker = SQLiteChannelLayer(path=path, capacity=1), SQLiteChannelLayer(path=path)
    full, free, elsewhere = await web.new_channel(), await web.new_channel(), await worker.new_channel()
    # A stuck tab first in the group: its queue is already full.
    await web.group_add("g", full)
    await web.group_add("g", free)
    await worker.group_add("g", elsewhere)
    await web.send(full, {"type": "old"})

    await web.group_send("g", {"type": "hello"})

    assert await asyncio.wait_for(web.receive(free), timeout=5) == {"type": "hello"}
    assert await asyncio.wait_for(worker.receive(elsewhere), timeout=5) == {"type": "hello"}
    assert await web.receive(full) == {"type": "old"}
    await web.close()
    await worker.close()


async def test_a_direct_send_to_a_full_channel_still_says_so(tmp_path):
    layer = SQLiteChannelLayer(path=str(tmp_path / "layer.sqlite3"), capacity=1)
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "first"})
    with pytest.raises(ChannelFull):
        await layer.send(channel, {"type": "second"})
    await layer.close()
