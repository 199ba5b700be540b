"""The limits the chat holds browser messages to, in one place: the server checks them and the
session page is rendered with them (`browser_limits`), so the page's own checks never drift."""

from tcadh.frames import AUDIO_PACKET_BYTES, STREAM_PACKET_MAX_BYTES, TEXT_MAX_BYTES

# What one `say` may carry, in UTF-8 bytes (SEND_TEXT's limit).
SAY_MAX_BYTES = TEXT_MAX_BYTES
# What one stream chunk may carry, in characters (code points).
STREAM_CHUNK_MAX_CHARS = 8000
# How the page cuts pasted text for Stream, in code points: a quarter of what a chunk may hold.
PAGE_STREAM_CHUNK_CHARS = 2000
# Without punctuation this much text is streamed as it comes (plain mode) instead of waiting for a clause.
PLAIN_AFTER_BYTES = STREAM_PACKET_MAX_BYTES
# One audio message: 160 ms of 16 kHz mono s16le.
AUDIO_CHUNK_MAX_BYTES = AUDIO_PACKET_BYTES
AUDIO_SAMPLE_RATE = 16000
AUDIO_BYTES_PER_SECOND = AUDIO_SAMPLE_RATE * 2
# The largest browser message is a stream chunk of 8000 characters, each at most six in JSON
# ("\u0001"): anything longer is refused unread.
FRAME_MAX_CHARS = 64 * 1024
# Speak statuses during which the avatar is talking, and those that end an utterance.
SPEAKING_STATUSES = frozenset({"TextStart", "AudioStart"})
OVER_STATUSES = frozenset({"TextOver", "AudioOver"})


def browser_limits() -> dict:
    """What the session page's script needs to know of the above (rendered with json_script)."""
    return {
        "say_max_bytes": SAY_MAX_BYTES,
        "stream_chunk_chars": PAGE_STREAM_CHUNK_CHARS,
        "audio_chunk_max_bytes": AUDIO_CHUNK_MAX_BYTES,
        "audio_sample_rate": AUDIO_SAMPLE_RATE,
        "audio_bytes_per_second": AUDIO_BYTES_PER_SECOND,
        "speaking_statuses": sorted(SPEAKING_STATUSES),
        "over_statuses": sorted(OVER_STATUSES),
    }
