"""Loading GT and predictions for evaluation (gnnpose_jax.evaluation.inputs): pairing by sequence
name, frames by position and image, one-line errors naming the file."""

import dataclasses

import pytest

from gnnpose_jax.data import posetrack
from gnnpose_jax.data.types import Frame
from gnnpose_jax.errors import DataError
from gnnpose_jax.evaluation.inputs import load_for_evaluation, same_image
from tests.helpers.poseval_people import person, sequence


def _pair(name):
    """A 3-frame GT sequence and its prediction."""
    gt = sequence([[person(1, origin=(0.0, 100.0 * t))] for t in range(3)], name=name)
    pred = sequence([[person(7, origin=(0.0, 100.0 * t), score=0.5)] for t in range(3)],
                    name=name)
    return gt, pred


def test_same_image_compares_ids_and_trailing_path_parts():
    a = Frame("images/val/000001_mpii_test/000003.jpg", 3, True, image_id=10)
    assert same_image(a, Frame("000001_mpii_test/000003.jpg", 0, False))
    assert same_image(a, Frame("000003.jpg", 0, False, image_id=10))
    assert not same_image(a, Frame("000001_mpii_test/000004.jpg", 3, False))
    assert not same_image(a, Frame("000002_mpii_test/000003.jpg", 3, False))
    assert not same_image(a, Frame("000001_mpii_test/000003.jpg", 3, False, image_id=11))


def test_predictions_pair_by_sequence_name_and_other_files_are_not_read(tmp_path):
    (gt_a, pred_a), (gt_b, pred_b) = _pair("000001_mpii_test"), _pair("000002_mpii_test")
    posetrack.write_sequences([gt_a, gt_b], tmp_path / "gt")
    posetrack.write_sequences([pred_b, pred_a], tmp_path / "pred")
    (tmp_path / "pred" / "000003_mpii_test.json").write_text("{not json")  # no GT: not read
    gts, preds = load_for_evaluation(tmp_path / "gt", tmp_path / "pred")
    assert [s.name for s in gts] == [s.name for s in preds] == [gt_a.name, gt_b.name]
    assert all(p.people[0].track_id == 7 for p in preds[0].frames)


def test_a_missing_prediction_file_or_path_is_named(tmp_path):
    (gt_a, pred_a), (gt_b, _) = _pair("000001_mpii_test"), _pair("000002_mpii_test")
    posetrack.write_sequences([gt_a, gt_b], tmp_path / "gt")
    posetrack.write_sequences([pred_a], tmp_path / "pred")
    with pytest.raises(DataError, match=r"000002_mpii_test.json: missing prediction file for "
                                        r"ground-truth sequence 000002_mpii_test"):
        load_for_evaluation(tmp_path / "gt", tmp_path / "pred")
    with pytest.raises(DataError, match="nowhere: predictions not found"):
        load_for_evaluation(tmp_path / "gt", tmp_path / "nowhere")


def test_frames_pair_by_position_and_must_name_the_same_images(tmp_path):
    gt, pred = _pair("000001_mpii_test")
    posetrack.write_sequences([gt], tmp_path / "gt")
    shuffled = dataclasses.replace(pred, frames=[pred.frames[i] for i in (1, 0, 2)])
    posetrack.write_sequences([shuffled], tmp_path / "pred")
    with pytest.raises(DataError, match=r"frame 0 is \S*000001.jpg .*, but frame 0 of the "
                                        r"ground truth .* is \S*000000.jpg.*--positional-pairing"):
        load_for_evaluation(tmp_path / "gt", tmp_path / "pred")
    _, preds = load_for_evaluation(tmp_path / "gt", tmp_path / "pred", positional_pairing=True)
    assert preds[0].frames[0].file_name.endswith("000001.jpg")  # taken as it stands
    posetrack.write_sequences([dataclasses.replace(pred, frames=pred.frames[:2])],
                              tmp_path / "short")
    with pytest.raises(DataError, match="has 2 frames, but the ground truth .* has 3"):
        load_for_evaluation(tmp_path / "gt", tmp_path / "short")
