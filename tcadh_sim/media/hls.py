"""HLS output of a session's live stream: the encoder's own H.264 and AAC packets, muxed a second
time into one-second fragmented-MP4 segments and a sliding playlist, beside the FLV stream.

fMP4 rather than MPEG-TS: Safari and hls.js play both, and fMP4 is what low-latency HLS builds
on. (Chromium 156's own HLS player answers canPlayType "maybe" yet refuses this stream in either
form with DEMUXER_ERROR_COULD_NOT_PARSE; the console's player uses hls.js there.)

The segments carry the very packets the FLV viewers get (no second encode), so both show the
same picture and sound. The writing side (`HlsWriter`) runs in the encoder's worker thread; the
reading side (`HlsRun`) is what the HTTP routes look at. Latency is what plain HLS allows: one
keyframe per second, so one-second segments, and a playlist of the last few of them.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import av
from av.container import OutputContainer
from av.packet import Packet
from av.stream import Stream

PLAYLIST = "index.m3u8"
SEGMENT_SECONDS = 1
PLAYLIST_SEGMENTS = 4
_SEGMENT_NAME = re.compile(r"r\d+-(\d+\.m4s|init\.mp4)")


@dataclass(frozen=True)
class HlsRun:
    """The files of one encoder run: `<session dir>/r<run>/index.m3u8`, its init section and
    its segments."""

    directory: Path
    run: int
    session_id: str

    @property
    def init_name(self) -> str:
        return f"r{self.run}-init.mp4"

    @property
    def playlist(self) -> Path:
        return self.directory / PLAYLIST

    def segment(self, name: str) -> Path | None:
        """The segment file a player asked for, if the name is one this run writes and it exists."""
        if not _SEGMENT_NAME.fullmatch(name) or not name.startswith(f"r{self.run}-"):
            return None
        path = self.directory / name
        return path if path.is_file() else None

    def playlist_text(self) -> str | None:
        """The playlist once it lists a segment; the muxer replaces it by renaming, so a read
        never sees half a file."""
        try:
            text = self.playlist.read_text()
        except FileNotFoundError:
            return None
        if "#EXTINF" not in text:
            return None
        # The muxer gives the init section's URI without the base URL its segments get.
        return text.replace(f'URI="{self.init_name}"', f'URI="{self.session_id}/{self.init_name}"')

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


class HlsWriter:
    """Owned by the encoder thread: created once the codecs are open (the segments need their
    extradata), fed every packet after the FLV muxer had it."""

    def __init__(self, run: HlsRun, video: Stream, audio: Stream) -> None:
        run.directory.mkdir(parents=True, exist_ok=True)
        self._container: OutputContainer = av.open(
            str(run.playlist),
            "w",
            format="hls",
            options={
                "hls_time": str(SEGMENT_SECONDS),
                "hls_list_size": str(PLAYLIST_SEGMENTS),
                # temp_file: segments and playlist appear by rename, whole; no ENDLIST, it is live.
                "hls_flags": "delete_segments+independent_segments+temp_file+omit_endlist",
                "hls_segment_type": "fmp4",
                "hls_fmp4_init_filename": run.init_name,
                "hls_segment_filename": str(run.directory / f"r{run.run}-%d.m4s"),
                # Segment URIs relative to /live/<id>.m3u8 resolve to /live/<id>/<segment>.
                "hls_base_url": f"{run.session_id}/",
                # Media sequence numbers keep growing across encoder runs, so a player that
                # reloads the playlist never sees them go back.
                "hls_start_number_source": "epoch",
            },
        )
        self._streams = {video: self._container.add_stream_from_template(video),
                         audio: self._container.add_stream_from_template(audio)}

    def mux(self, packets: list[Packet]) -> None:
        for packet in packets:
            source = packet.stream
            packet.stream = self._streams[source]
            try:
                self._container.mux(packet)
            finally:
                packet.stream = source

    def close(self) -> None:
        self._container.close()
