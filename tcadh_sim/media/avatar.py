"""The avatar's artwork: one still scene plus the few mouth and eye variants that animate it.

Everything is drawn once with Pillow at twice the output size and scaled down (cheap
anti-aliasing). Variants are crops of the same scene at fixed boxes, so pasting a crop over the
scene changes only that region.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFilter

MOUTH_SHAPES = 6  # index 0 is closed; the rest open progressively wider
_SUPERSAMPLE = 2

Box = tuple[int, int, int, int]  # left, top, right, bottom (right/bottom exclusive)

_SKY_TOP = (44, 72, 112)
_SKY_BOTTOM = (18, 34, 56)
_SKIN = (246, 214, 188)
_SKIN_SHADE = (226, 186, 160)
_HAIR = (52, 38, 44)
_SHIRT = (66, 150, 160)
_COLLAR = (236, 240, 244)
_EYE_WHITE = (252, 252, 250)
_IRIS = (58, 44, 40)
_LIP = (178, 74, 82)
_MOUTH_INSIDE = (98, 30, 42)
_TONGUE = (214, 110, 118)
_BLUSH = (240, 140, 150)

Color = tuple[int, int, int] | int


@dataclass(frozen=True)
class AvatarArt:
    scene: Image.Image  # RGB, eyes open, mouth closed
    mouth_box: Box
    mouths: tuple[Image.Image, ...]  # crops at mouth_box, one per mouth shape
    eyes_box: Box
    eyes_closed: Image.Image  # crop at eyes_box


@dataclass(frozen=True)
class _Geometry:
    s: float  # pixels per design unit (the design is 360 units tall)
    cx: float
    head_cy: float
    eye_y: float
    eye_dx: float
    mouth_y: float


def draw_avatar(width: int, height: int) -> AvatarArt:
    g = _geometry(width, height)
    scene = _render(width, height, g, mouth=0, eyes_closed=False)
    # Boxes hold every variant of their feature plus a margin for the downscaling filter.
    mouth_box = _even_box(g.cx - 36 * g.s, g.mouth_y - 14 * g.s, g.cx + 36 * g.s, g.mouth_y + 32 * g.s)
    eyes_box = _even_box(
        g.cx - g.eye_dx - 24 * g.s, g.eye_y - 20 * g.s, g.cx + g.eye_dx + 24 * g.s, g.eye_y + 18 * g.s
    )
    mouths = [scene.crop(mouth_box)]
    for shape in range(1, MOUTH_SHAPES):
        mouths.append(_render(width, height, g, mouth=shape, eyes_closed=False).crop(mouth_box))
    eyes_closed = _render(width, height, g, mouth=0, eyes_closed=True).crop(eyes_box)
    return AvatarArt(scene, mouth_box, tuple(mouths), eyes_box, eyes_closed)


def _geometry(width: int, height: int) -> _Geometry:
    s = height / 360
    head_cy = 138 * s
    return _Geometry(
        s=s, cx=width / 2, head_cy=head_cy, eye_y=head_cy + 2 * s, eye_dx=30 * s, mouth_y=head_cy + 48 * s,
    )


def _even_box(left: float, top: float, right: float, bottom: float) -> Box:
    # Even edges keep every crop aligned with the 2x2 chroma blocks of YUV 4:2:0.
    return (int(left) // 2 * 2, int(top) // 2 * 2, (int(right) + 1) // 2 * 2, (int(bottom) + 1) // 2 * 2)


class _Pen:
    """Draws on the supersampled image with coordinates and widths given in output pixels."""

    def __init__(self, img: Image.Image, k: int) -> None:
        self._d = ImageDraw.Draw(img)
        self._k = k

    def _box(self, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        return tuple(v * self._k for v in box)

    def ellipse(self, box: tuple[float, float, float, float], fill: Color, outline: Color | None = None,
                width: float = 0) -> None:
        self._d.ellipse(self._box(box), fill=fill, outline=outline, width=self._width(width))

    def rectangle(self, box: tuple[float, float, float, float], fill: Color, radius: float = 0) -> None:
        self._d.rounded_rectangle(self._box(box), radius=radius * self._k, fill=fill)

    def polygon(self, points: tuple[tuple[float, float], ...], fill: Color) -> None:
        self._d.polygon([(x * self._k, y * self._k) for x, y in points], fill=fill)

    def arc(self, box: tuple[float, float, float, float], start: float, end: float, fill: Color,
            width: float) -> None:
        self._d.arc(self._box(box), start, end, fill=fill, width=self._width(width))

    def chord(self, box: tuple[float, float, float, float], start: float, end: float, fill: Color) -> None:
        self._d.chord(self._box(box), start, end, fill=fill)

    def pieslice(self, box: tuple[float, float, float, float], start: float, end: float, fill: Color) -> None:
        self._d.pieslice(self._box(box), start, end, fill=fill)

    def _width(self, width: float) -> int:
        return max(1, round(width * self._k)) if width else 0


def _render(width: int, height: int, g: _Geometry, *, mouth: int, eyes_closed: bool) -> Image.Image:
    k = _SUPERSAMPLE
    img = _background(width * k, height * k)
    pen = _Pen(img, k)
    s, cx, hy = g.s, g.cx, g.head_cy
    # Shoulders, neck and collar first; the head overlaps them.
    pen.rectangle((cx - 150 * s, hy + 104 * s, cx + 150 * s, hy + 320 * s), _SHIRT, radius=70 * s)
    pen.rectangle((cx - 22 * s, hy + 60 * s, cx + 22 * s, hy + 110 * s), _SKIN_SHADE)
    pen.polygon(((cx - 40 * s, hy + 104 * s), (cx, hy + 140 * s), (cx + 40 * s, hy + 104 * s)), _COLLAR)
    pen.polygon(((cx - 24 * s, hy + 104 * s), (cx, hy + 124 * s), (cx + 24 * s, hy + 104 * s)), _SKIN_SHADE)
    # Hair behind the head, ears, the face, then a side-parted fringe on top.
    pen.ellipse((cx - 86 * s, hy - 96 * s, cx + 86 * s, hy + 70 * s), _HAIR)
    pen.ellipse((cx - 84 * s, hy - 50 * s, cx - 62 * s, hy + 6 * s), _SKIN_SHADE)
    pen.ellipse((cx + 62 * s, hy - 50 * s, cx + 84 * s, hy + 6 * s), _SKIN_SHADE)
    pen.ellipse((cx - 70 * s, hy - 82 * s, cx + 70 * s, hy + 84 * s), _SKIN)
    pen.chord((cx - 76 * s, hy - 98 * s, cx + 76 * s, hy - 10 * s), 180, 360, _HAIR)
    pen.pieslice((cx - 10 * s, hy - 84 * s, cx + 84 * s, hy - 4 * s), 180, 270, _SKIN)
    _blush(img, g, k)
    _draw_eyes(pen, g, closed=eyes_closed)
    _draw_mouth(pen, g, shape=mouth)
    return img.resize((width, height), Image.Resampling.LANCZOS)


def _background(width: int, height: int) -> Image.Image:
    column = Image.new("RGB", (1, height))
    for y in range(height):
        t = y / max(1, height - 1)
        column.putpixel((0, y), tuple(round(a + (b - a) * t) for a, b in zip(_SKY_TOP, _SKY_BOTTOM)))
    return column.resize((width, height))


def _blush(img: Image.Image, g: _Geometry, k: int) -> None:
    """Rosy cheeks, drawn on a blurred mask so they fade into the face."""
    mask = Image.new("L", img.size, 0)
    pen = _Pen(mask, k)
    for side in (-1, 1):
        bx = g.cx + side * 44 * g.s
        pen.ellipse((bx - 14 * g.s, g.head_cy + 24 * g.s, bx + 14 * g.s, g.head_cy + 38 * g.s), 110)
    mask = mask.filter(ImageFilter.GaussianBlur(5 * g.s * k))
    img.paste(Image.new("RGB", img.size, _BLUSH), mask=mask)


def _draw_eyes(pen: _Pen, g: _Geometry, *, closed: bool) -> None:
    s = g.s
    for side in (-1, 1):
        ex, ey = g.cx + side * g.eye_dx, g.eye_y
        # Brows stay put whether the eyes are open or not.
        pen.arc((ex - 14 * s, ey - 18 * s, ex + 14 * s, ey - 4 * s), 200, 340, _HAIR, width=3 * s)
        if closed:
            pen.arc((ex - 12 * s, ey - 6 * s, ex + 12 * s, ey + 6 * s), 20, 160, _IRIS, width=2.5 * s)
            continue
        pen.ellipse((ex - 12 * s, ey - 8 * s, ex + 12 * s, ey + 8 * s), _EYE_WHITE)
        pen.ellipse((ex - 7 * s, ey - 7 * s, ex + 7 * s, ey + 7 * s), _IRIS)
        pen.ellipse((ex - 1 * s, ey - 5 * s, ex + 3 * s, ey - 1 * s), _EYE_WHITE)


def _draw_mouth(pen: _Pen, g: _Geometry, *, shape: int) -> None:
    s, cx, my = g.s, g.cx, g.mouth_y
    if shape == 0:
        pen.arc((cx - 16 * s, my - 10 * s, cx + 16 * s, my + 6 * s), 20, 160, _LIP, width=3 * s)
        return
    openness = shape / (MOUTH_SHAPES - 1)
    half_w = (20 - 6 * openness) * s
    top = my - 4 * s
    depth = (5 + 20 * openness) * s
    pen.ellipse((cx - half_w, top, cx + half_w, top + depth), _MOUTH_INSIDE, outline=_LIP, width=2.5 * s)
    if openness > 0.4:
        tongue = (cx - half_w * 0.6, top + depth * 0.55, cx + half_w * 0.6, top + depth * 1.1)
        pen.chord(tongue, 180, 360, _TONGUE)
