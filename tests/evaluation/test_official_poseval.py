"""AP and MOTA against the official PoseTrack toolkit's (poseval's) own numbers.

`tests/fixtures/official/regenerate.py` ran poseval on the cases of
`tests/fixtures/official/poseval/` (PoseTrack 2017 and 2018 files: generated walkers with
ignore regions, unlabeled frames, identity switches, a labeled frame without predictions, a
joint without a score; and the real 2018 samples) and stored its results beside the inputs:
AP, MOTA, MOTP, precision and recall per joint and in total, motmetrics' counts per joint, and
the same per sequence. Scores have no ties (poseval's order of ties depends on the machine).
"""

import json
from pathlib import Path

import numpy as np
import pytest

from gnnpose_jax.evaluation import evaluate, load_for_evaluation

CASES = Path(__file__).resolve().parents[1] / "fixtures" / "official" / "poseval"
#: poseval calls joint 12 `neck`; it is PoseTrack's head_bottom.
RENAME = {"neck": "head_bottom"}
#: motmetrics' count names and ours.
COUNTS = {"num_misses": "misses", "num_switches": "switches",
          "num_false_positives": "false_positives", "num_objects": "objects",
          "num_detections": "matches"}


def _official(case):
    return json.loads((CASES / case / "poseval.json").read_text())


def _ours(case):
    gt, pred = load_for_evaluation(CASES / case / "gt", CASES / case / "pred")
    return evaluate(gt, pred, per_sequence=True)


def _column(block, names):
    """Our per-joint values in poseval's joint order, then the total."""
    return [block["per_joint"][RENAME.get(n, n)] for n in names] + [block["total"]]


def _same(ours, official, what):
    official = np.array([np.nan if v is None else v for v in official], float)
    np.testing.assert_allclose(np.array(ours, float), official, rtol=1e-12, atol=1e-9,
                               err_msg=what)


@pytest.mark.parametrize("case", ["synthetic_2017", "synthetic_2018", "samples_2018"])
def test_ap_as_poseval(case):
    official, ours = _official(case), _ours(case)
    names = official["names"]
    _same(_column(ours["ap"], names), official["ap"]["ap"], "AP")
    assert sorted(ours["per_sequence"]) == sorted(official["per_sequence"])
    for name, seq in official["per_sequence"].items():
        _same(_column(ours["per_sequence"][name]["ap"], names), seq["ap"], f"AP of {name}")


@pytest.mark.parametrize("case", ["synthetic_2017", "synthetic_2018"])
def test_mota_and_its_parts_as_poseval(case):
    official, ours = _official(case), _ours(case)
    names = official["names"]

    def check(mota, off, where):
        detail = mota["per_joint_detail"]
        _same(_column(mota, names), off["mota"], f"MOTA {where}")
        for key, ours_key in (("motp", "motp"), ("pre", "precision"), ("rec", "recall")):
            values = [detail[ours_key][RENAME.get(n, n)] for n in names] + [mota[ours_key]]
            _same(values, off[key], f"{key} {where}")

    check(ours["mota"], official["mota"], "in total")
    for key, ours_key in COUNTS.items():
        counts = ours["mota"]["counts"][ours_key]
        assert [counts[RENAME.get(n, n)] for n in names] == official["counts"][key], key
    for name, seq in official["per_sequence"].items():
        check(ours["per_sequence"][name]["mota"], seq, f"of {name}")


def _files(case, side):
    return [json.loads(p.read_text()) for p in sorted((CASES / case / side).glob("*.json"))]


def test_cases_exercise_the_quirks():
    """The fixtures hold what the comparisons are meant to test."""
    counts = _official("synthetic_2017")["counts"]
    assert min(sum(counts[k]) for k in COUNTS) > 0
    for gt, pred in zip(_files("synthetic_2017", "gt"), _files("synthetic_2017", "pred"),
                        strict=True):
        frames = list(zip(gt["annolist"], pred["annolist"], strict=True))
        assert any(g["annorect"] and not p["annorect"] for g, p in frames)  # no predictions
        assert any(g.get("ignore_regions") for g, _ in frames)
        points = [q for _, p in frames for r in p["annorect"] for q in r["annopoints"][0]["point"]]
        assert any("score" not in q for q in points)  # poseval's fallback score
    for gt in _files("synthetic_2018", "gt") + _files("samples_2018", "gt"):
        assert any(img.get("ignore_regions_x") for img in gt["images"])
