"""Pictures kept in the encoder's own pixel format (YUV 4:2:0), so a frame is a few array copies.

Everything drawn with Pillow is converted here once; per frame only the regions that changed are
copied into the canvas, and the canvas goes to the encoder without any colour conversion.
"""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np
from PIL import Image

# BT.601, limited range: what x264 signals by default and what players assume for SD video.
_RGB_TO_YCBCR = np.array(
    [
        [65.481, 128.553, 24.966],
        [-37.797, -74.203, 112.0],
        [112.0, -93.786, -18.214],
    ],
    dtype=np.float32,
) / 255.0


@dataclass(frozen=True)
class Yuv420:
    """An image as separate Y, U and V planes; U and V are half size in both directions."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray

    @property
    def width(self) -> int:
        return self.y.shape[1]

    @property
    def height(self) -> int:
        return self.y.shape[0]


def to_yuv420(image: Image.Image) -> Yuv420:
    """Convert a Pillow image with even width and height."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    h, w, _ = rgb.shape
    if w % 2 or h % 2:
        raise ValueError(f"YUV 4:2:0 needs even dimensions, got {w}x{h}")
    y = rgb @ _RGB_TO_YCBCR[0] + 16.0
    # Chroma of the 2x2 block average equals the average of the chroma (the transform is linear).
    block = rgb.reshape(h // 2, 2, w // 2, 2, 3).mean(axis=(1, 3))
    u = block @ _RGB_TO_YCBCR[1] + 128.0
    v = block @ _RGB_TO_YCBCR[2] + 128.0
    return Yuv420(*(np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in (y, u, v)))


class Canvas:
    """One frame buffer laid out exactly as av.VideoFrame.from_ndarray expects for yuv420p."""

    def __init__(self, background: Yuv420) -> None:
        w, h = background.width, background.height
        self._flat = np.empty(w * h * 3 // 2, dtype=np.uint8)
        self._y = self._flat[: w * h].reshape(h, w)
        self._u = self._flat[w * h : w * h * 5 // 4].reshape(h // 2, w // 2)
        self._v = self._flat[w * h * 5 // 4 :].reshape(h // 2, w // 2)
        self._as_frame_array = self._flat.reshape(h * 3 // 2, w)
        self.blit(background, 0, 0)

    def blit(self, image: Yuv420, x: int, y: int) -> None:
        """Copy image with its top-left corner at (x, y); both must be even to keep chroma aligned."""
        if x % 2 or y % 2:
            raise ValueError(f"blit position must be even, got ({x}, {y})")
        self._y[y : y + image.height, x : x + image.width] = image.y
        cx, cy = x // 2, y // 2
        self._u[cy : cy + image.u.shape[0], cx : cx + image.u.shape[1]] = image.u
        self._v[cy : cy + image.v.shape[0], cx : cx + image.v.shape[1]] = image.v

    def to_frame(self) -> av.VideoFrame:
        return av.VideoFrame.from_ndarray(self._as_frame_array, format="yuv420p")
