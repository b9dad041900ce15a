"""Frames in and rendered video out (gnnpose_jax.tracking.video): FrameSource over a folder, one
image and a video file, in order, with clear errors; Renderer's MP4 and PNG, written whole."""

import cv2
import numpy as np
import pytest

from gnnpose_jax.data import joints, transforms
from gnnpose_jax.errors import DataError
from gnnpose_jax.tracking.tracker import Pose, TrackedPose
from gnnpose_jax.tracking.video import FrameSource, Renderer, render

H, W = 48, 64


def _image(value: int) -> np.ndarray:
    """An RGB frame whose channels differ (a BGR/RGB swap shows) and whose level is `value`."""
    image = np.zeros((H, W, 3), np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = value, value // 2, 255 - value
    return image


def _write(path, image_rgb) -> None:
    assert cv2.imwrite(str(path), cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))


def _video(path, values, fps=10.0) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (W, H))
    assert writer.isOpened()
    for v in values:
        writer.write(cv2.cvtColor(_image(v), cv2.COLOR_RGB2BGR))
    writer.release()


def test_folder_frames_in_name_order_skipping_other_files(tmp_path):
    for name, value in (("000002.png", 30), ("000000.png", 10), ("000001.png", 20)):
        _write(tmp_path / name, _image(value))
    (tmp_path / "notes.txt").write_text("not a frame")
    source = FrameSource(tmp_path)
    assert source.names() == ["000000.png", "000001.png", "000002.png"]
    assert source.image_ids() == source.names()
    frames = list(source)
    assert len(frames) == 3
    for frame, value in zip(frames, (10, 20, 30), strict=True):
        np.testing.assert_array_equal(frame, _image(value))  # PNG: exact, and RGB
    sequence = source.as_sequence()
    assert [f.frame_index for f in sequence.frames] == [0, 1, 2]
    assert sequence.frames[1].file_name == f"{tmp_path.name}/000001.png"
    assert not any(f.is_labeled for f in sequence.frames)


def test_one_image_is_a_one_frame_source(tmp_path):
    _write(tmp_path / "a.png", _image(40))
    _write(tmp_path / "b.png", _image(80))
    source = FrameSource(tmp_path / "b.png")
    assert source.names() == ["b.png"] == source.image_ids()
    (frame,) = list(source)
    np.testing.assert_array_equal(frame, _image(80))


def test_video_frames_count_and_order(tmp_path):
    values = [20, 60, 100, 140, 180, 220, 250]
    _video(tmp_path / "clip.mp4", values, fps=12.0)
    source = FrameSource(tmp_path / "clip.mp4")
    assert source.fps == pytest.approx(12.0)
    assert source.names() == [f"{i:06d}.jpg" for i in range(7)]
    assert source.image_ids() == list(range(7))
    frames = list(source)
    assert len(frames) == 7 and all(f.shape == (H, W, 3) for f in frames)
    # Lossy, but each frame is near its own level (red channel) and in order.
    red = [float(f[..., 0].mean()) for f in frames]
    np.testing.assert_allclose(red, values, atol=8)
    assert all(float(f[..., 2].mean()) == pytest.approx(255 - v, abs=8)
               for f, v in zip(frames, values, strict=True))
    assert source.as_sequence().name == "clip"


def test_unreadable_inputs_raise_data_errors_naming_the_path(tmp_path):
    with pytest.raises(DataError, match="missing.mp4: no such video or folder"):
        FrameSource(tmp_path / "missing.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty: no images"):
        FrameSource(tmp_path / "empty")
    (tmp_path / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    with pytest.raises(DataError, match="broken.mp4: (cannot open the video|the video has no "
                                        "readable frame)"):
        FrameSource(tmp_path / "broken.mp4")
    frames = tmp_path / "frames"
    frames.mkdir()
    _write(frames / "000000.png", _image(10))
    (frames / "000001.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match="000001.jpg: cannot decode the image"):
        list(FrameSource(frames))


def test_a_frame_of_another_size_is_an_error(tmp_path):
    _write(tmp_path / "000000.png", _image(10))
    _write(tmp_path / "000001.png", np.zeros((H, W + 2, 3), np.uint8))
    frames = iter(FrameSource(tmp_path))
    next(frames)
    with pytest.raises(DataError, match=r"000001.png: frame size 66x48 differs from the first "
                                        r"frame's 64x48"):
        next(frames)


def _output(track_id, recovered, score=1.0):
    """A person with a left arm (shoulder (10, 20), elbow (40, 20)) and nothing else."""
    keypoints = np.zeros((joints.NUM_JOINTS, 2))
    keypoints[5], keypoints[7] = (10, 20), (40, 20)
    scores = np.zeros(joints.NUM_JOINTS)
    scores[[5, 7]] = score
    return TrackedPose(track_id, Pose(keypoints, scores), recovered)


def test_render_draws_confident_joints_on_a_copy():
    image = np.zeros((H, W, 3), np.uint8)
    canvas = render(image, [_output(1, recovered=False)], joint_threshold=0.5)
    assert not image.any()
    assert canvas[20, 25].any()  # on the limb
    faint = render(image, [_output(1, recovered=False, score=0.4)], joint_threshold=0.5)
    assert not faint.any()  # joints below the threshold are not drawn


def test_renderer_writes_the_video_and_the_most_recovered_frame(tmp_path):
    stem = tmp_path / "out" / "clip.v2"
    stem.parent.mkdir()
    outputs = [[], [_output(1, False)], [_output(1, True), _output(2, True)], [_output(1, True)]]
    images = [_image(40 * (t + 1)) for t in range(4)]
    with Renderer(stem, joint_threshold=0.5, fps=5.0) as renderer:
        for image, people in zip(images, outputs, strict=True):
            renderer(image, people)
        assert not (tmp_path / "out" / "clip.v2.mp4").exists()  # only once closed
        assert not (tmp_path / "out" / "clip.v2.png").exists()
    assert sorted(p.name for p in stem.parent.iterdir()) == ["clip.v2.mp4", "clip.v2.png"]
    capture = cv2.VideoCapture(str(tmp_path / "out" / "clip.v2.mp4"))
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == 4
    assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (W, H)
    capture.release()
    assert len(list(FrameSource(tmp_path / "out" / "clip.v2.mp4"))) == 4
    # The PNG is frame 2, which has the most recovered people, drawn.
    png = transforms.read_image_rgb(tmp_path / "out" / "clip.v2.png")
    np.testing.assert_array_equal(png, render(images[2], outputs[2], 0.5))


def test_renderer_leaves_nothing_when_the_block_fails(tmp_path):
    with pytest.raises(RuntimeError), Renderer(tmp_path / "clip", joint_threshold=0.5) as renderer:
        renderer(_image(10), [_output(1, True)])
        raise RuntimeError("tracking failed")
    assert list(tmp_path.iterdir()) == []
    with Renderer(tmp_path / "clip", joint_threshold=0.5):
        pass  # no frame: no file
    assert list(tmp_path.iterdir()) == []
