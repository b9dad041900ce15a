"""Image sizes read from the header before decoding (gnnpose_jax.data.image_header): the sizes
OpenCV decodes, for PNG, baseline and progressive JPEG and BMP; images over the cap refused
in one line without decoding."""

import struct
import zlib

import cv2
import numpy as np
import pytest

from gnnpose_jax.data import transforms
from gnnpose_jax.data.image_header import (
    MAX_IMAGE_PIXELS,
    MAX_IMAGE_SIDE,
    check_image_size,
    image_size,
)
from gnnpose_jax.errors import DataError
from gnnpose_jax.tracking.video import FrameSource


def _png_claiming(path, width, height):
    """A small PNG whose header claims width x height (1-bit grey); its data stops short."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (1 + (width + 7) // 8) * 64, 9)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
                     + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("name,params", [
    ("a.png", []), ("a.jpg", []), ("p.jpg", [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]), ("a.bmp", [])])
def test_header_size_is_the_decoded_size(tmp_path, name, params):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (37, 53, 3), np.uint8)
    path = tmp_path / name
    cv2.imwrite(str(path), image, params)
    decoded = cv2.imread(str(path))
    assert image_size(path) == (decoded.shape[1], decoded.shape[0]) == (53, 37)


def test_stray_bytes_and_fill_bytes_between_jpeg_segments_are_skipped(tmp_path):
    ok, data = cv2.imencode(".jpg", np.zeros((20, 30, 3), np.uint8))
    data = data.tobytes()
    # After SOI: two stray bytes and two fill bytes before the first segment's marker.
    (tmp_path / "odd.jpg").write_bytes(data[:2] + b"\x00\x17\xff\xff" + data[2:])
    assert image_size(tmp_path / "odd.jpg") == (30, 20)


def test_images_over_the_cap_are_refused_before_decoding(tmp_path):
    # Over the side cap (a 109 KB file of 30000 x 30000 made OpenCV raise), and under it but
    # over the pixel cap (a 31 KB file that decodes to 1.9 GB).
    for width, height in ((30000, 30000), (MAX_IMAGE_SIDE, MAX_IMAGE_PIXELS // 8000)):
        path = _png_claiming(tmp_path / f"{width}.png", width, height)
        assert image_size(path) == (width, height)
        with pytest.raises(DataError, match=rf"{width}.png: the image is {width}x{height} "
                                            r"pixels, over the cap .*docs/limits.md"):
            transforms.read_image_rgb(path)
    ok, data = cv2.imencode(".jpg", np.zeros((20, 30, 3), np.uint8))
    data = bytearray(data.tobytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", 20000, 20000)  # height, width
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames/000000.jpg").write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"000000.jpg: the image is 20000x20000 pixels, over"):
        list(FrameSource(tmp_path / "frames"))
    check_image_size(MAX_IMAGE_SIDE, MAX_IMAGE_PIXELS // MAX_IMAGE_SIDE, "ok")  # at the cap
    with pytest.raises(DataError, match="0x5 pixels"):
        check_image_size(0, 5, "x.png")


def test_files_without_a_known_header_are_refused(tmp_path):
    for name, data in (("gif.png", b"GIF89a" + bytes(20)), ("short.png", b"\x89PNG\r\n\x1a\n"),
                       ("scan.jpg", b"\xff\xd8\xff\xda\x00\x02")):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(DataError, match=f"{name}: cannot decode the image"):
            image_size(tmp_path / name)
