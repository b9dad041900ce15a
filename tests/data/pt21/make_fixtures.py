"""Regenerates the PoseTrack21 kit fixtures of tests/test_hota.py (needs the kit's environment).

    python tests/data/pt21/make_fixtures.py [--kit-python P] [--kit-src DIR]

The kit (github.com/anDoer/PoseTrack21 at 3e61960, folder `eval/posetrack21`) runs in its own
virtual environment (numpy < 1.24, shapely < 2, scipy, tqdm), see benchmarks/bench_hota.py. For
each case below this writes the inputs (PoseTrack21 files: `CASE/gt`, `CASE/pred`) and what the
kit's `HOTAeypoints` and `PosemAP` return on them (`CASE/kit.json`); the hand cases of
test_hota.py keep only the kit's results (`hand.json`), and inputs the kit fails on keep its
error line (`crashes.json`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "tests")]

import bench_hota  # noqa: E402
import test_hota  # noqa: E402

from gnnpose_jax.data import joints  # noqa: E402
from gnnpose_jax.data.types import Frame, Person, Sequence  # noqa: E402

DIGITS = 12


def _round(values) -> list:
    """Nested lists of floats with DIGITS significant digits (1e-12 relative is plenty)."""
    return np.vectorize(lambda v: float(f"{v:.{DIGITS}g}"))(np.asarray(values)).tolist()


def _kit(gt_dir: Path, pred_dir: Path, metric: str, kit: tuple[Path, Path]) -> dict:
    """The kit's result on two folders (run on a copy: the kit writes into the prediction one)."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(gt_dir, Path(tmp) / "gt")
        shutil.copytree(pred_dir, Path(tmp) / "pred")
        return bench_hota.run_kit(Path(tmp) / "gt", Path(tmp) / "pred", metric, *kit)


def _kit_on(gts: list[Sequence], preds: list[Sequence], metric: str,
            kit: tuple[Path, Path]) -> dict:
    """The kit's result on sequences, written to a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        return _kit(*bench_hota.write_case(Path(tmp), gts, preds), metric, kit)


def _hota_summary(result: dict, per_alpha: bool) -> dict:
    """Alpha means (or the whole 19 x 16 curves) of the kit's combined and per-sequence fields."""
    if "error" in result:
        return result
    def pick(fields):
        return {k: _round(v if per_alpha else np.mean(v, axis=0)) for k, v in fields.items()}
    return {"combined": pick(result["combined"]),
            "per_sequence": {s: {k: _round(np.mean(v, axis=0)) for k, v in r.items()}
                             for s, r in result["per_sequence"].items()}}


def _unique_scores(preds: list[Sequence], decimals: int = 8) -> None:
    """Rounds predicted scores (smaller files), checking that no joint has two equal ones."""
    scores = []
    for seq in preds:
        for frame in seq.frames:
            for p in frame.people:
                p.scores = np.round(p.scores, decimals)
                scores.extend(zip(np.flatnonzero(p.present), p.scores[p.present], strict=True))
    assert len(set(scores)) == len(scores), "tied scores: pick another seed"


def _crowd(seed: int = 5) -> tuple[list[Sequence], list[Sequence]]:
    """Four people a few pixels apart: joints compete, with exact ties of S.

    GT on whole pixels, predictions on half pixels (whole ones would have the kit truncate
    their scores, see test_hota.case_map_integer_keypoints).
    """
    rng = np.random.default_rng(seed)
    gts, preds = [], []
    for s in range(2):
        name = f"{20 + s:06d}_mpii_test"
        gt_frames, pred_frames = [], []
        for t in range(6):
            gt_people, pred_people = [], []
            for k in range(4):
                kp = np.zeros((joints.NUM_JOINTS, 3))
                for e, slot in enumerate(test_hota.KIT_SLOTS):
                    kp[slot] = (200 + 100 * e + 6 * k, 300 + 4 * (k % 2) + t, 1)
                gt_people.append(Person(keypoints=kp, track_id=k,
                                        head_box=np.array([0.0, 0.0, 30.0, 40.0])))
                if rng.random() < 0.15:
                    continue
                pk = kp.copy()
                pk[:, :2] += rng.integers(-4, 5, size=(joints.NUM_JOINTS, 2)) + 0.5
                pk[list(joints.UNANNOTATED_SLOTS)] = 0.0
                swapped = {0: 1, 1: 0}.get(k, k) if t > 2 else k  # an identity swap
                pred_people.append(Person(keypoints=pk, track_id=swapped,
                                          scores=rng.random(joints.NUM_JOINTS)))
            gt_frames.append(gt_people)
            pred_frames.append(pred_people)
        gts.append(test_hota.sequence(gt_frames, name=name))
        preds.append(test_hota.sequence(pred_frames, name=name))
    _unique_scores(preds)
    return gts, preds


def _integer_keypoints(preds: list[Sequence]) -> list[Sequence]:
    """The predictions with keypoints rounded to whole pixels (written as JSON integers)."""
    out = []
    for seq in preds:
        frames = [Frame(file_name=f.file_name, frame_index=f.frame_index,
                        is_labeled=f.is_labeled, image_id=f.image_id,
                        people=[Person(keypoints=np.round(p.keypoints), track_id=p.track_id,
                                       scores=p.scores) for p in f.people])
                  for f in seq.frames]
        out.append(Sequence(name=seq.name, frames=frames))
    return out


def main() -> None:
    """Runs the kit on every case and writes the fixtures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kit-python", type=Path, default=bench_hota.KIT_PYTHON)
    parser.add_argument("--kit-src", type=Path, default=bench_hota.KIT_SRC)
    args = parser.parse_args()
    kit = (args.kit_python, args.kit_src)
    if not bench_hota.kit_available(*kit):
        sys.exit(f"the kit is not at {args.kit_python} / {args.kit_src}")

    hand = {"hota": {name: _hota_summary(_kit_on(*case(), "hota", kit), False)["combined"]
                     for name, case in test_hota.HAND_CASES.items()},
            "map": {name: _kit_on(*case(), "map", kit)["combined"]
                    for name, case in test_hota.MAP_CASES.items()}}
    (HERE / "hand.json").write_text(json.dumps(hand) + "\n")

    gts, preds = bench_hota.make_sequences(seed=7, sequences=4, labeled=10)
    _unique_scores(preds)
    cases = {"varied": (gts, preds), "integer_keypoints": (gts, _integer_keypoints(preds)),
             "crowd": _crowd()}
    for name, (case_gts, case_preds) in cases.items():
        shutil.rmtree(HERE / name, ignore_errors=True)
        gt_dir, pred_dir = bench_hota.write_case(HERE / name, case_gts, case_preds)
        if name == "integer_keypoints":  # the same GT as "varied"
            shutil.rmtree(gt_dir)
            gt_dir = HERE / "varied" / "gt"
        result = {"hota": _hota_summary(_kit(gt_dir, pred_dir, "hota", kit), name == "varied"),
                  "map": _kit(gt_dir, pred_dir, "map", kit).get("combined")}
        (HERE / name / "kit.json").write_text(json.dumps(result) + "\n")

    crashes = {name: _kit_on(*case(), "hota", kit)
               for name, case in test_hota.CRASH_CASES.items()}
    (HERE / "crashes.json").write_text(json.dumps(crashes, indent=1) + "\n")


if __name__ == "__main__":
    main()
