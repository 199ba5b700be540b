"""One session's picture: static layers prepared once, then per frame only changed regions copied.

Per frame there is no Pillow drawing at all: mouth and eye variants are pre-converted crops, the
caption band is drawn when its page changes, and the clock when its second changes.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

import av
from PIL import Image, ImageDraw

from .avatar import MOUTH_SHAPES, AvatarArt, Box, draw_avatar
from .canvas import Canvas, Yuv420, to_yuv420
from .captions import draw_band, paginate, wrap
from .fonts import Font, load_font
from .speech import SpeechFrame

_CAPTION_LINES = 2
_BLINK_FRAMES_S = 0.13
_BLINK_GAP_S = (2.5, 5.5)
_CORNER_FILL = (0, 0, 0)
_CORNER_OPACITY = 0.45
_TAG_TEXT = (255, 255, 255)
_TAG_TEXT_DIM = (190, 205, 220)


class _SharedArt:
    """The avatar artwork and its YUV variants, identical for every session of one size."""

    def __init__(self, width: int, height: int) -> None:
        self.art: AvatarArt = draw_avatar(width, height)
        self.mouths = tuple(to_yuv420(m) for m in self.art.mouths)
        self.eyes_open = to_yuv420(self.art.scene.crop(self.art.eyes_box))
        self.eyes_closed = to_yuv420(self.art.eyes_closed)


_art_cache: dict[tuple[int, int], _SharedArt] = {}
_art_lock = threading.Lock()


def _shared_art(width: int, height: int) -> _SharedArt:
    with _art_lock:
        if (width, height) not in _art_cache:
            _art_cache[width, height] = _SharedArt(width, height)
        return _art_cache[width, height]


class Scene:
    def __init__(self, width: int, height: int, fps: int, *, session_id: str, label: str) -> None:
        if width % 2 or height % 2:
            raise ValueError("width and height must be even for YUV 4:2:0")
        self._fps = fps
        self._shared = _shared_art(width, height)
        scale = height / 360
        self._caption_font = load_font(round(24 * scale))
        self._caption_line_height = round(32 * scale)
        self._caption_width = width - round(48 * scale)
        self._corner_font = load_font(round(15 * scale))
        self._margin = _even(10 * scale)

        band_height = _even(self._caption_line_height * _CAPTION_LINES + 16 * scale)
        self._band_box: Box = (0, height - band_height, width, height)

        scene = self._shared.art.scene.copy()
        self._draw_session_tag(scene, session_id, label, max_width=width // 2)
        self._scene = scene  # without the band: the caption and clock are drawn over crops of it
        self._clock_box = self._corner_box(width)
        first = scene.copy()
        first.paste(self._band(""), self._band_box[:2])
        self._canvas = Canvas(to_yuv420(first))

        self._pages_for = ""
        self._pages: list[str] = [""]
        self._band_cache: dict[str, Yuv420] = {}
        self._shown: dict[str, object] = {"mouth": 0, "eyes_closed": False, "page": "", "clock": ""}

        self._rng = random.Random(session_id)
        self._next_blink = self._blink_gap()

    def compose(self, frame_index: int, speech: SpeechFrame, clock: str) -> av.VideoFrame:
        self._show("mouth", round(speech.mouth * (MOUTH_SHAPES - 1)), self._put_mouth)
        self._show("eyes_closed", self._blinking(frame_index), self._put_eyes)
        self._show("page", self._page(speech), self._put_caption)
        self._show("clock", clock, self._put_clock)
        return self._canvas.to_frame()

    def _show(self, region: str, value: object, put: Callable[[Any], None]) -> None:
        if self._shown[region] != value:
            put(value)
            self._shown[region] = value

    def _put_mouth(self, shape: int) -> None:
        self._canvas.blit(self._shared.mouths[shape], *self._shared.art.mouth_box[:2])

    def _put_eyes(self, closed: bool) -> None:
        patch = self._shared.eyes_closed if closed else self._shared.eyes_open
        self._canvas.blit(patch, *self._shared.art.eyes_box[:2])

    def _put_caption(self, page: str) -> None:
        if page not in self._band_cache:
            self._band_cache[page] = to_yuv420(self._band(page))
        self._canvas.blit(self._band_cache[page], *self._band_box[:2])

    def _band(self, page: str) -> Image.Image:
        return draw_band(self._scene.crop(self._band_box), page, self._caption_font, self._caption_line_height)

    def _put_clock(self, text: str) -> None:
        img = self._scene.crop(self._clock_box)
        _corner_plate(img)
        ImageDraw.Draw(img).text(
            (img.width / 2, img.height / 2), text, font=self._corner_font, fill=_TAG_TEXT, anchor="mm"
        )
        self._canvas.blit(to_yuv420(img), *self._clock_box[:2])

    def _page(self, speech: SpeechFrame) -> str:
        if speech.caption != self._pages_for:
            self._pages_for = speech.caption
            lines = wrap(speech.caption, self._caption_font, self._caption_width)
            self._pages = paginate(lines, _CAPTION_LINES) or [""]
            # Only the current caption's pages are worth keeping.
            self._band_cache = {p: y for p, y in self._band_cache.items() if p == ""}
        return self._pages[min(int(speech.progress * len(self._pages)), len(self._pages) - 1)]

    def _blinking(self, frame_index: int) -> bool:
        blink_frames = max(1, round(_BLINK_FRAMES_S * self._fps))
        if frame_index >= self._next_blink + blink_frames:
            self._next_blink = frame_index + self._blink_gap()
        return self._next_blink <= frame_index < self._next_blink + blink_frames

    def _blink_gap(self) -> int:
        return round(self._rng.uniform(*_BLINK_GAP_S) * self._fps)

    def _corner_box(self, width: int) -> Box:
        left, top, right, bottom = self._corner_font.getbbox("00:00:00")
        w, h = _even(right - left + 2 * self._margin), _even(bottom - top + self._margin)
        return (width - w - self._margin, self._margin, width - self._margin, self._margin + h)

    def _draw_session_tag(self, scene: Image.Image, session_id: str, label: str, *, max_width: int) -> None:
        lines = [_fit(label, self._corner_font, max_width), _fit(session_id, self._corner_font, max_width)]
        lines = [line for line in lines if line]
        if not lines:
            return
        line_h = round(self._corner_font.size * 1.35)
        width = max(round(self._corner_font.getlength(line)) for line in lines) + 2 * self._margin
        height = line_h * len(lines) + self._margin
        box = (self._margin, self._margin, self._margin + width, self._margin + height)
        plate = scene.crop(box)
        _corner_plate(plate)
        d = ImageDraw.Draw(plate)
        for i, line in enumerate(lines):
            d.text(
                (self._margin, self._margin // 2 + line_h * (i + 0.5)),
                line,
                font=self._corner_font,
                fill=_TAG_TEXT if i == 0 else _TAG_TEXT_DIM,
                anchor="lm",
            )
        scene.paste(plate, box[:2])


def _corner_plate(img: Image.Image) -> None:
    img.paste(Image.blend(img, Image.new("RGB", img.size, _CORNER_FILL), _CORNER_OPACITY))


def _fit(text: str, font: Font, max_width: int) -> str:
    if font.getlength(text) <= max_width:
        return text
    while text and font.getlength(text + "…") > max_width:
        text = text[:-1]
    return text + "…"


def _even(value: float) -> int:
    return int(round(value)) // 2 * 2
