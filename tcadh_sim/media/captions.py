"""Caption text: line wrapping for mixed Chinese/English, paging, and the band's picture."""

from __future__ import annotations

import re

from PIL import Image, ImageDraw

from .fonts import Font

# A Latin word (with the spaces after it) stays whole; every other character may start a line.
_TOKEN = re.compile(r"[^\s\u2e80-\uffff]+\s*|\s+|.", re.DOTALL)
# Chinese typesetting keeps closing punctuation at the end of a line, never at the start.
_NO_LINE_START = set("，。、；：！？）》」』】,.;:!?)")

BAND_COLOR = (8, 14, 24)
BAND_OPACITY = 0.62
TEXT_COLOR = (255, 255, 255)


def wrap(text: str, font: Font, max_width: float) -> list[str]:
    """Greedy wrap by pixel width; newlines in text are hard breaks."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for token in _TOKEN.findall(paragraph):
            candidate = line + token
            hanging = token in _NO_LINE_START
            if line and not hanging and font.getlength(candidate.rstrip()) > max_width:
                lines.append(line.rstrip())
                candidate = token.lstrip()
            line = candidate
            # A single word wider than the band is cut by characters.
            while not hanging and len(line.rstrip()) > 1 and font.getlength(line.rstrip()) > max_width:
                cut = _longest_fitting_prefix(line, font, max_width)
                lines.append(line[:cut])
                line = line[cut:]
        if line.strip():
            lines.append(line.rstrip())
    return lines


def paginate(lines: list[str], lines_per_page: int) -> list[str]:
    """Group wrapped lines into pages shown one after another while the text is spoken."""
    return ["\n".join(lines[i : i + lines_per_page]) for i in range(0, len(lines), lines_per_page)]


def draw_band(background: Image.Image, page: str, font: Font, line_height: int) -> Image.Image:
    """The caption band: the scene under a dark translucent strip, with the page's lines centred."""
    band = Image.blend(background.convert("RGB"), Image.new("RGB", background.size, BAND_COLOR), BAND_OPACITY)
    if not page:
        return band
    d = ImageDraw.Draw(band)
    lines = page.split("\n")
    top = (band.height - line_height * len(lines)) / 2
    for i, line in enumerate(lines):
        d.text(
            (band.width / 2, top + line_height * (i + 0.5)),
            line,
            font=font,
            fill=TEXT_COLOR,
            anchor="mm",
            stroke_width=1,
            stroke_fill=BAND_COLOR,
        )
    return band


def _longest_fitting_prefix(text: str, font: Font, max_width: float) -> int:
    cut = 1
    while cut < len(text) and font.getlength(text[: cut + 1]) <= max_width:
        cut += 1
    return cut
