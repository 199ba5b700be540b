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
        s=s, cx=width / 2, head_cy=head_cy, eye_y=head_cy + 2 * s, eye_dx=30 * s, mouth_y=head_cy + 48 * s
    )


def _even_box(left: float, top: float, right: float, bottom: float) -> Box:
    # Even edges keep every crop aligned with the 2x2 chroma blocks of YUV 4:2:0.
    return (int(left) // 2 * 2, int(top) // 2 * 2, (int(right) + 1) // 2 * 2, (int(bottom) + 1) // 2 * 2)


def _render(width: int, height: int, g: _Geometry, *, mouth: int, eyes_closed: bool) -> Image.Image:
    k = _SUPERSAMPLE
    img = _background(width * k, height * k)
    d = ImageDraw.Draw(img)

    def box(x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
        return (x0 * k, y0 * k, x1 * k, y1 * k)

    s, cx, hy = g.s, g.cx, g.head_cy
    # Shoulders and neck first, the head overlaps them.
    d.rounded_rectangle(box(cx - 150 * s, hy + 104 * s, cx + 150 * s, hy + 320 * s), radius=70 * s * k, fill=_SHIRT)
    d.rectangle(box(cx - 22 * s, hy + 60 * s, cx + 22 * s, hy + 110 * s), fill=_SKIN_SHADE)
    d.polygon(
        [(p[0] * k, p[1] * k) for p in ((cx - 40 * s, hy + 104 * s), (cx, hy + 140 * s), (cx + 40 * s, hy + 104 * s))],
        fill=_COLLAR,
    )
    d.polygon(
        [(p[0] * k, p[1] * k) for p in ((cx - 24 * s, hy + 104 * s), (cx, hy + 124 * s), (cx + 24 * s, hy + 104 * s))],
        fill=_SKIN_SHADE,
    )
    # Hair behind the head, the face, then a fringe on top.
    d.ellipse(box(cx - 86 * s, hy - 96 * s, cx + 86 * s, hy + 70 * s), fill=_HAIR)
    d.ellipse(box(cx - 84 * s, hy - 50 * s, cx - 62 * s, hy + 6 * s), fill=_SKIN_SHADE)  # ears
    d.ellipse(box(cx + 62 * s, hy - 50 * s, cx + 84 * s, hy + 6 * s), fill=_SKIN_SHADE)
    d.ellipse(box(cx - 70 * s, hy - 82 * s, cx + 70 * s, hy + 84 * s), fill=_SKIN)
    d.chord(box(cx - 76 * s, hy - 98 * s, cx + 76 * s, hy - 10 * s), 180, 360, fill=_HAIR)
    d.pieslice(box(cx - 10 * s, hy - 84 * s, cx + 84 * s, hy - 4 * s), 180, 270, fill=_SKIN)
    # Cheeks, softened by a blur on their own layer.
    blush = Image.new("L", img.size, 0)
    bd = ImageDraw.Draw(blush)
    for side in (-1, 1):
        bx = cx + side * 44 * s
        bd.ellipse(box(bx - 14 * s, hy + 24 * s, bx + 14 * s, hy + 38 * s), fill=110)
    blush = blush.filter(ImageFilter.GaussianBlur(5 * s * k))
    img.paste(Image.new("RGB", img.size, (240, 140, 150)), mask=blush)

    _draw_eyes(d, g, k, closed=eyes_closed)
    _draw_mouth(d, g, k, shape=mouth)
    return img.resize((width, height), Image.Resampling.LANCZOS)


def _background(width: int, height: int) -> Image.Image:
    top, bottom = _SKY_TOP, _SKY_BOTTOM
    column = Image.new("RGB", (1, height))
    for y in range(height):
        t = y / max(1, height - 1)
        column.putpixel((0, y), tuple(round(a + (b - a) * t) for a, b in zip(top, bottom)))
    return column.resize((width, height))


def _draw_eyes(d: ImageDraw.ImageDraw, g: _Geometry, k: int, *, closed: bool) -> None:
    s = g.s
    for side in (-1, 1):
        ex, ey = g.cx + side * g.eye_dx, g.eye_y
        # Brows stay put whether the eyes are open or not.
        d.arc(
            ((ex - 14 * s) * k, (ey - 18 * s) * k, (ex + 14 * s) * k, (ey - 4 * s) * k),
            200,
            340,
            fill=_HAIR,
            width=max(1, round(3 * s * k)),
        )
        if closed:
            d.arc(
                ((ex - 12 * s) * k, (ey - 6 * s) * k, (ex + 12 * s) * k, (ey + 6 * s) * k),
                20,
                160,
                fill=_IRIS,
                width=max(1, round(2.5 * s * k)),
            )
            continue
        d.ellipse(((ex - 12 * s) * k, (ey - 8 * s) * k, (ex + 12 * s) * k, (ey + 8 * s) * k), fill=_EYE_WHITE)
        d.ellipse(((ex - 7 * s) * k, (ey - 7 * s) * k, (ex + 7 * s) * k, (ey + 7 * s) * k), fill=_IRIS)
        d.ellipse(((ex - 1 * s) * k, (ey - 5 * s) * k, (ex + 3 * s) * k, (ey - 1 * s) * k), fill=_EYE_WHITE)


def _draw_mouth(d: ImageDraw.ImageDraw, g: _Geometry, k: int, *, shape: int) -> None:
    s, cx, my = g.s, g.cx, g.mouth_y
    if shape == 0:
        d.arc(
            ((cx - 16 * s) * k, (my - 10 * s) * k, (cx + 16 * s) * k, (my + 6 * s) * k),
            20,
            160,
            fill=_LIP,
            width=max(1, round(3 * s * k)),
        )
        return
    openness = shape / (MOUTH_SHAPES - 1)
    half_w = (20 - 6 * openness) * s
    depth = (5 + 20 * openness) * s
    outline = ((cx - half_w) * k, (my - 4 * s) * k, (cx + half_w) * k, (my - 4 * s + depth) * k)
    d.ellipse(outline, fill=_MOUTH_INSIDE, outline=_LIP, width=max(1, round(2.5 * s * k)))
    if openness > 0.4:
        d.chord(
            ((cx - half_w * 0.6) * k, (my - 4 * s + depth * 0.55) * k, (cx + half_w * 0.6) * k, (my - 4 * s + depth * 1.1) * k),
            180,
            360,
            fill=_TONGUE,
        )
