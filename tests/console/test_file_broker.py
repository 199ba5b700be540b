"""`make run`'s Celery broker: a worker polling the queue folder never takes a half-written message."""

import os
from queue import Empty

import pytest
from kombu import Connection

from tcadh_console import file_broker


@pytest.fixture
def channel(tmp_path):
    queue = tmp_path / "queue"
    queue.mkdir()
    options = {"data_folder_in": str(queue), "data_folder_out": str(queue), "control_folder": str(tmp_path),
               "processed_folder": str(tmp_path), "store_processed": False}
    with Connection("filesystem://", transport=file_broker.Transport, transport_options=options) as connection:
        yield connection.default_channel


def test_a_message_is_taken_only_once_it_is_whole(channel, monkeypatch):
    polled = []
    rename = os.replace

    def poll_then_rename(source, target):
        # A worker polls while the message is written: it must see nothing yet.
        with pytest.raises(Empty):
            channel._get("celery")
        polled.append(os.path.getsize(source))
        rename(source, target)

    monkeypatch.setattr(file_broker.os, "replace", poll_then_rename)
    channel._put("celery", {"body": "x" * 5000})
    assert polled == [len('{"body": ""}') + 5000]
    assert channel._get("celery") == {"body": "x" * 5000}
    assert os.listdir(channel.data_folder_in) == []
