"""Finding a font that draws both Chinese and Latin text for the stream's captions."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from PIL import ImageFont

log = logging.getLogger(__name__)

# (path, face index in a .ttc collection). Debian package in the comment; the Noto CJK
# collections hold JP, KR, SC, TC, HK faces in that order, and SC draws Chinese the way a
# mainland viewer expects.
CJK_FONT_CANDIDATES: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),  # fonts-wqy-microhei
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),  # fonts-wqy-zenhei
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),  # fonts-noto-cjk
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),  # fonts-droid-fallback
    ("/usr/share/fonts/truetype/droid/DroidSansFallback.ttf", 0),
    ("/System/Library/Fonts/PingFang.ttc", 0),
)
LATIN_FONT_CANDIDATES: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 0),  # fonts-dejavu-core
    ("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf", 0),
)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class FontChoice:
    path: str | None  # None: Pillow's built-in font
    index: int
    cjk: bool


_choice: FontChoice | None = None
_choice_lock = threading.Lock()


def font_choice() -> FontChoice:
    """The best font on this machine, looked up once per process (warns once if not CJK)."""
    global _choice
    with _choice_lock:
        if _choice is None:
            _choice = _find_font()
        return _choice


def load_font(size: int) -> Font:
    choice = font_choice()
    if choice.path is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(choice.path, size=size, index=choice.index)


def _find_font() -> FontChoice:
    for path, index in CJK_FONT_CANDIDATES:
        if Path(path).is_file():
            return FontChoice(path, index, cjk=True)
    for path, index in LATIN_FONT_CANDIDATES:
        if Path(path).is_file():
            log.warning(
                "no CJK font found (install Debian package fonts-wqy-microhei); "
                "Chinese captions will not be legible, using %s",
                path,
            )
            return FontChoice(path, index, cjk=False)
    log.warning(
        "no TrueType font found (install fonts-wqy-microhei); captions use Pillow's built-in font"
    )
    return FontChoice(None, 0, cjk=False)
