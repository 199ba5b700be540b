"""kombu's filesystem transport, for `make run`'s Celery broker, with messages that appear whole.

kombu creates a message file under its final name and only then writes it, and a worker polling
the folder takes files without their lock: one taken in between is empty, and the JSON error kills
the worker (kombu issue #1551; `make run` then stops everything). Here a message is written under a
name no queue matches and renamed into place when complete, which is atomic on one filesystem.
"""

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        # The same name as kombu's: a millisecond prefix keeps the folder's sort order first in, first out.
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        path = os.path.join(self.data_folder_out, name)
        writing = f"{path}.part"
        try:
            with open(writing, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(writing, path)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {path!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
