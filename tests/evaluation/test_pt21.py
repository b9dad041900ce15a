"""PoseTrack21 keypoint mAP (gnnpose_jax.evaluation.pt21.keypoint_map, the kit's `PosemAP`) on
the hand-made cases (tests/helpers/pt21_cases.py), by hand and against the kit's saved numbers."""

import numpy as np
import pytest

from gnnpose_jax.evaluation.pt21 import keypoint_map
from tests.helpers.pt21_cases import (
    KIT_HAND,
    MAP_CASES,
    assert_map_equal,
    case_map_integer_keypoints,
    case_map_ties,
    case_map_validity,
)


def test_map_ties_and_validity():
    ties = keypoint_map(*case_map_ties())
    assert ties["ap"]["total"] == 100.0 and ties["precision"]["total"] == 50.0
    assert ties["recall"]["total"] == 100.0
    validity = keypoint_map(*case_map_validity())["ap"]
    assert validity["per_joint"]["head_top"] == 50.0
    assert validity["per_joint"]["head_bottom"] == 50.0
    assert validity["per_joint"]["nose"] == validity["per_joint"]["left_ankle"] == 100.0
    assert validity["head"] == pytest.approx(200 / 3)


def test_map_integer_keypoints_quirk_is_not_reproduced():
    gts, preds = case_map_integer_keypoints()
    assert keypoint_map(gts, preds)["ap"]["total"] == 100.0
    assert KIT_HAND["map"]["integer_keypoints"]["map"]["Total"] == 50.0
    for p in preds[0].frames[0].people:
        p.scores = np.trunc(p.scores)  # what the kit does to them
    assert_map_equal(keypoint_map(gts, preds), KIT_HAND["map"]["integer_keypoints"])


@pytest.mark.parametrize("name", sorted(set(MAP_CASES) - {"integer_keypoints"}))
def test_map_cases_equal_the_kit(name):
    assert_map_equal(keypoint_map(*MAP_CASES[name]()), KIT_HAND["map"][name])
