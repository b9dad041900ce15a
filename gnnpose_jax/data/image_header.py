"""An image's width and height from its header, read before the image is decoded.

A small file can claim a huge image (a 31 KB PNG of one colour decodes to 1.9 GB), and OpenCV
cannot say how large an image is without decoding it, so `transforms.read_image_rgb` reads the
size from the header (PNG's IHDR chunk, JPEG's SOF segment, BMP's info header) and refuses
images over the cap before decoding any pixel. Video frames are checked against the same cap
(`check_image_size`) from the size the container declares.
"""

from __future__ import annotations

import os
import struct
from typing import BinaryIO

from gnnpose_jax.errors import DataError

#: The longest side an input image or video frame may have, in pixels.
MAX_IMAGE_SIDE = 16384
#: The most pixels an input image or video frame may have (8192 x 8192; 192 MiB as RGB).
MAX_IMAGE_PIXELS = 8192 * 8192

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: JPEG start-of-frame markers (SOF0..SOF15 less DHT, JPG and DAC), which hold the size.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
#: JPEG markers without a length field: TEM, RST0..RST7, SOI.
_JPEG_STANDALONE = frozenset([0x01, *range(0xD0, 0xD8), 0xD8])
#: The most stray bytes tolerated between two JPEG segments.
_JPEG_MAX_STRAY = 1 << 16


class _Truncated(Exception):
    pass


def _read(f: BinaryIO, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise _Truncated
    return data


def _jpeg_size(f: BinaryIO) -> tuple[int, int] | None:
    """(W, H) from the first start-of-frame segment, or None if the scan starts first."""
    while True:
        skipped = 0
        while _read(f, 1) != b"\xff":  # stray bytes before a marker, as libjpeg skips them
            skipped += 1
            if skipped > _JPEG_MAX_STRAY:
                return None
        marker = _read(f, 1)[0]
        while marker == 0xFF:  # fill bytes before a marker
            marker = _read(f, 1)[0]
        if marker in _JPEG_STANDALONE:
            continue
        if marker in (0xD9, 0xDA):  # end of image or start of scan before any frame header
            return None
        (length,) = struct.unpack(">H", _read(f, 2))
        if length < 2:
            return None
        if marker in _JPEG_SOF:
            _, height, width = struct.unpack(">BHH", _read(f, 5))
            return width, height
        f.seek(length - 2, os.SEEK_CUR)


def _bmp_size(f: BinaryIO) -> tuple[int, int] | None:
    (header_size,) = struct.unpack("<I", _read(f, 4))
    if header_size == 12:  # BITMAPCOREHEADER
        width, height = struct.unpack("<HH", _read(f, 4))
    else:
        width, height = struct.unpack("<ii", _read(f, 8))
    return abs(width), abs(height)  # a negative height is a top-down bitmap


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """The (width, height) an image file's header declares.

    Raises:
      DataError: naming the path, if the file cannot be read or is not a PNG, JPEG or BMP
        file with a readable size.
    """
    size = None
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if head == _PNG_SIGNATURE:
                _, chunk, width, height = struct.unpack(">I4sII", _read(f, 16))
                size = (width, height) if chunk == b"IHDR" else None
            elif head[:2] == b"\xff\xd8":
                f.seek(2)
                size = _jpeg_size(f)
            elif head[:2] == b"BM":
                f.seek(14)
                size = _bmp_size(f)
    except OSError as e:
        raise DataError(f"{path}: cannot read the image ({e.strerror})") from None
    except _Truncated:
        size = None
    if size is None:
        raise DataError(f"{path}: cannot decode the image (expected a JPEG, PNG or BMP file "
                        "whose header gives its size)")
    return size


def check_image_size(width: int, height: int, where: str | os.PathLike) -> None:
    """Refuses an image or frame over `MAX_IMAGE_SIDE` per side or `MAX_IMAGE_PIXELS`.

    Raises:
      DataError: naming `where`, the size and the cap.
    """
    if width < 1 or height < 1:
        raise DataError(f"{where}: the image is {width}x{height} pixels (expected a positive "
                        "width and height)")
    if max(width, height) > MAX_IMAGE_SIDE or width * height > MAX_IMAGE_PIXELS:
        raise DataError(f"{where}: the image is {width}x{height} pixels, over the cap of "
                        f"{MAX_IMAGE_SIDE} pixels per side and {MAX_IMAGE_PIXELS} pixels in all "
                        "(8192x8192; see docs/limits.md); scale it down first")
