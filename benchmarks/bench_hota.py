"""Times PoseTrack21 keypoint HOTA, ours vs the official kit, side by side on the same files.

    python benchmarks/bench_hota.py [--sequences 170] [--labeled 34] [--seed 0] [--keep DIR]
        [--kit-python /tmp/pt21kit/bin/python] [--kit-src /tmp/pt21kit/src/eval/posetrack21]

Generates a PoseTrack21-val-sized case (170 sequences; unlabeled frames, labeled frames without
people, ignore regions, box-only people, crowded pairs) and noisy tracker output (jitter, missed
people and joints, false positives, identity switches, frames without predictions), then times
`keypoint_hota` on the folders (reading included) in this process. If the kit's virtual
environment exists (numpy < 1.24, shapely < 2, scipy, and the kit's `eval/posetrack21` folder of
github.com/anDoer/PoseTrack21), it runs the kit's `HOTAeypoints` on the same folders in that
environment, single process, and prints both times, their ratio and the largest difference
between the two results; otherwise it says so and prints our time only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gnnpose_jax.data import joints  # noqa: E402
from gnnpose_jax.data.posetrack21 import write_sequences  # noqa: E402
from gnnpose_jax.data.types import Frame, Person, Sequence  # noqa: E402
from gnnpose_jax.evaluation.hota import FIELDS, format_hota_table, keypoint_hota  # noqa: E402
from gnnpose_jax.evaluation.pt21 import KIT_JOINT_NAMES  # noqa: E402
from gnnpose_jax.evaluation.regions import points_in_polygons  # noqa: E402

KIT_PYTHON = Path("/tmp/pt21kit/bin/python")
KIT_SRC = Path("/tmp/pt21kit/src/eval/posetrack21")

#: Runs one kit metric on GT_DIR and PRED_DIR in the kit's environment and prints JSON:
#: {"seconds": evaluate() wall time, "combined": {field: 19 x 16}, "per_sequence": {name:
#: {field: 19 x 16}}} for HOTAeypoints, {"seconds", "combined": {map, precision, recall}} for
#: PosemAP. Configuration only: it calls the kit's public classes, nothing of the kit is copied.
KIT_RUNNER = r"""
import contextlib, io, json, sys, time
kit_src, gt_dir, pred_dir, metric = sys.argv[1:5]
sys.path.insert(0, kit_src)
import numpy as np
import posetrack21.trackeval as te
hota = metric == 'hota'
eval_config = {**te.Evaluator.get_default_eval_config(), 'USE_PARALLEL': False,
               'TIME_PROGRESS': False, 'LOG_ON_ERROR': None, 'OUTPUT_PAPER_SUMMARY': False}
data_config = {**te.datasets.PoseTrack.get_default_dataset_config(), 'GT_FOLDER': gt_dir,
               'TRACKERS_FOLDER': pred_dir, 'PRINT_CONFIG': False}
with contextlib.redirect_stdout(io.StringIO()):
    start = time.perf_counter()
    evaluator = (te.Evaluator if hota else te.PoseEvaluator)(eval_config)
    metric_obj = te.metrics.HOTAeypoints() if hota else te.metrics.PosemAP()
    res, _ = evaluator.evaluate([te.datasets.PoseTrack(data_config)], [metric_obj])
    seconds = time.perf_counter() - start
res = next(iter(res['PoseTrack'].values()))
name = metric_obj.get_name()
def fields(r):
    if hota:
        return {f: np.asarray(r[f], dtype=float).tolist()
                for f in metric_obj.float_array_fields + metric_obj.integer_array_fields}
    return {k: {g: float(v) for g, v in r[k].items()} for k in ('map', 'precision', 'recall')}
out = {'seconds': seconds, 'combined': fields(res['COMBINED_SEQ']['person'][name])}
if hota:
    out['per_sequence'] = {s[:-len('.json')]: fields(r['person'][name])
                           for s, r in res.items() if s != 'COMBINED_SEQ'}
print(json.dumps(out))
"""

#: Joint offsets of a standing person, in head heights, per slot (x right, y down).
_POSE = np.array([[0.0, -0.2], [0.0, 0.3], [0.0, -0.9], [0, 0], [0, 0], [0.9, 0.8],
                  [-0.9, 0.8], [1.2, 2.0], [-1.2, 2.0], [1.3, 3.1], [-1.3, 3.1], [0.6, 3.4],
                  [-0.6, 3.4], [0.7, 5.1], [-0.7, 5.1], [0.7, 6.8], [-0.7, 6.8]])
_EARS = list(joints.UNANNOTATED_SLOTS)


def kit_available(kit_python: Path = KIT_PYTHON, kit_src: Path = KIT_SRC) -> bool:
    """Whether the kit's environment and source are where `run_kit` looks."""
    return kit_python.is_file() and (kit_src / "posetrack21" / "trackeval").is_dir()


def run_kit(gt_dir: Path, pred_dir: Path, metric: str = "hota", kit_python: Path = KIT_PYTHON,
            kit_src: Path = KIT_SRC) -> dict:
    """Runs the kit's HOTAeypoints ("hota") or PosemAP ("map") on two folders.

    The prediction folder's files must have `_test` in their names (the kit's rule for a
    single tracker); the kit writes a summary file into it.

    Returns:
      `KIT_RUNNER`'s JSON, or {"error": the kit's last line of error output} if it failed.
    """
    proc = subprocess.run([str(kit_python), "-c", KIT_RUNNER, str(kit_src), str(gt_dir),
                           str(pred_dir), metric], capture_output=True, text=True,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"}, check=False)
    if proc.returncode:
        return {"error": proc.stderr.strip().splitlines()[-1]}
    return json.loads(proc.stdout)


def _survives(xy: np.ndarray, regions: list[np.ndarray]) -> bool:
    """Whether the kit keeps a person with these 15 joints in a frame with these regions."""
    inside = points_in_polygons(xy, regions)
    return not inside.all() and bool((xy[~inside] > 0).any())


def _gt_person(rng: np.random.Generator, centre: np.ndarray, head: float, track_id: int,
               person_id: int) -> Person:
    """A GT person at `centre` with head height `head`; a few joints unannotated."""
    xy = centre + head * (_POSE + 0.08 * rng.standard_normal(_POSE.shape))
    keypoints = np.concatenate([np.round(xy, 2), np.ones((len(xy), 1))], axis=1)
    absent = rng.random(len(xy)) < 0.1
    absent[_EARS] = True
    keypoints[absent] = 0.0
    x, y = np.round(centre + head * np.array([-0.5, -1.2]), 2)
    w, h = round(head, 2), round(1.1 * head, 2)
    box = np.round([centre[0] - 1.6 * head, centre[1] - 1.3 * head, 3.2 * head, 8.5 * head], 2)
    return Person(keypoints=keypoints, track_id=track_id, head_box=np.array([x, y, x + w, y + h]),
                  box=box, extra={"person_id": person_id})


def _ground_truth(rng: np.random.Generator, number: int, labeled: int, people: int) -> Sequence:
    """One GT video: walkers over `labeled` labeled frames plus a third as many unlabeled ones.

    Labeled frames sometimes hold a box-only person (no joints) and often an ignore region over
    part of the scene; one walker in two videos starts beside another (crowded). Every frame
    keeps a GT person the kit does not drop: it crashes on a labeled frame without one.
    """
    name = f"{number:06d}_mpii_test"
    starts = rng.uniform([100, 100], [1700, 500], size=(people, 2))
    velocity = rng.normal(0, 4, size=(people, 2))
    heads = rng.uniform(25, 70, size=people)
    if people > 1 and rng.random() < 0.5:
        starts[1] = starts[0] + rng.normal(0, 10, size=2)
    track_ids = rng.choice(100, size=people, replace=False)
    total = labeled + labeled // 3
    is_labeled = np.zeros(total, bool)
    is_labeled[np.sort(rng.choice(total, size=labeled, replace=False))] = True
    frames = []
    for t in range(total):
        visible = rng.random(people) < 0.95
        visible[rng.integers(people)] |= not visible.any()
        people_t = [_gt_person(rng, starts[i] + t * velocity[i], heads[i], int(track_ids[i]),
                               int(5000 + number * 10 + i)) for i in np.flatnonzero(visible)]
        if rng.random() < 0.05:  # a box-only person: no joints
            box_only = _gt_person(rng, rng.uniform([100, 100], [1700, 500]), 20.0, 100 + t, -1)
            box_only.keypoints[:] = 0.0
            people_t.append(box_only)
        regions = [np.round(rng.uniform([0, 0], [1600, 800]) + rng.uniform(50, 300) * np.array(
            [[0, 0], [1, 0], [1, 1], [0, 1.2]]), 1)] if rng.random() < 0.25 else []
        if regions and not any(_survives(p.keypoints[joints.EVAL_SLOTS, :2], regions)
                               for p in people_t):
            regions = []
        frames.append(Frame(file_name=f"images/val/{name}/{t:06d}.jpg", frame_index=t,
                            is_labeled=bool(is_labeled[t]), people=people_t,
                            ignore_regions=regions, image_id=10_000_000_000 + number * 10_000 + t,
                            extra={"has_labeled_person": bool(people_t)}))
    return Sequence(name=name, frames=frames)


def _predict(rng: np.random.Generator, gt: Sequence) -> Sequence:
    """Noisy tracker output for a GT video: every frame, labeled or not, like a real tracker.

    Missed people and joints, jitter, identity switches, false positives, frames without
    predictions, and some joints with a score <= 0 or a negative coordinate. Scores are
    continuous: no two are equal (the kit's order of equal scores is numpy's unstable sort).
    """
    id_map: dict[int, int] = {}
    next_id = 20
    frames = []
    for frame in gt.frames:
        people = []
        for person in frame.people if rng.random() > 0.05 else []:
            if not person.present.any() or rng.random() < 0.08:
                continue
            if person.track_id not in id_map or rng.random() < 0.03:
                id_map[person.track_id] = next_id
                next_id += 1
            head = person.head_box[3] - person.head_box[1]
            error = rng.gamma(2.0, 0.06, size=joints.NUM_JOINTS) * head
            angle = rng.uniform(0, 2 * np.pi, size=joints.NUM_JOINTS)
            kp = person.keypoints.copy()
            kp[:, 0] += error * np.cos(angle)
            kp[:, 1] += error * np.sin(angle)
            kp[~person.present | (rng.random(joints.NUM_JOINTS) < 0.05)] = 0.0
            kp[rng.random(joints.NUM_JOINTS) < 0.02, 0] *= -1.0
            scores = 1 / (1 + np.exp(4 * error / head - 2 + rng.normal(0, 0.5, error.shape)))
            zero = rng.random(joints.NUM_JOINTS) < 0.02
            scores[zero] = -rng.random(np.count_nonzero(zero))
            people.append(Person(keypoints=np.round(kp, 2), track_id=id_map[person.track_id],
                                 scores=scores))
        if rng.random() < 0.15:
            fp = _gt_person(rng, rng.uniform([100, 100], [1700, 500]), 40.0, next_id, -1)
            next_id += 1
            people.append(Person(keypoints=fp.keypoints, track_id=fp.track_id,
                                 scores=rng.uniform(0.01, 0.6, joints.NUM_JOINTS)))
        frames.append(Frame(file_name=frame.file_name, frame_index=frame.frame_index,
                            is_labeled=frame.is_labeled, people=people,
                            image_id=frame.image_id))
    return Sequence(name=gt.name, frames=frames)


def make_sequences(seed: int = 0, sequences: int = 170, labeled: int = 34,
                   people: tuple[int, int] = (2, 4)) -> tuple[list[Sequence], list[Sequence]]:
    """Ground truth and tracker output of a PoseTrack21-like case (see `_ground_truth`)."""
    rng = np.random.default_rng(seed)
    gts = [_ground_truth(rng, 10 + s, labeled, int(rng.integers(people[0], people[1] + 1)))
           for s in range(sequences)]
    return gts, [_predict(rng, gt) for gt in gts]


def write_case(root: Path, gts: list[Sequence], preds: list[Sequence]) -> tuple[Path, Path]:
    """Writes `root/gt` and `root/pred` (PoseTrack21 files); returns both folders."""
    write_sequences(gts, root / "gt")
    write_sequences(preds, root / "pred")
    return root / "gt", root / "pred"


def _ours(gt_dir: Path, pred_dir: Path, repeats: int) -> tuple[dict, float, float]:
    """Our result, and the best wall and CPU seconds of `repeats` runs (reading included)."""
    best_wall = best_cpu = float("inf")
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = keypoint_hota(gt_dir, pred_dir)
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return result, best_wall, best_cpu


def _largest_difference(ours: dict, kit: dict) -> float:
    """Largest |ours - kit| over every field and column, in points (alpha means)."""
    names = (*KIT_JOINT_NAMES, "total")
    return max(abs(ours[f][n] - 100 * v) for f in FIELDS
               for n, v in zip(names, np.mean(kit["combined"][f], axis=0), strict=True))


def main() -> None:
    """Generates the case, times ours and (if present) the kit, prints the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=170)
    parser.add_argument("--labeled", type=int, default=34, help="labeled frames per sequence")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="our runs (the best is kept)")
    parser.add_argument("--keep", type=Path, help="write the case here and keep it")
    parser.add_argument("--kit-python", type=Path, default=KIT_PYTHON)
    parser.add_argument("--kit-src", type=Path, default=KIT_SRC)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        gts, preds = make_sequences(args.seed, args.sequences, args.labeled)
        gt_dir, pred_dir = write_case(args.keep or Path(tmp), gts, preds)
        frames = sum(f.is_labeled for g in gts for f in g.frames)
        people = sum(len(f.people) for g in gts for f in g.frames if f.is_labeled)
        print(f"case: {args.sequences} sequences, {frames} labeled frames, {people} GT people "
              f"in them (load average {os.getloadavg()[0]:.1f})")
        ours, wall, cpu = _ours(gt_dir, pred_dir, args.repeats)
        print(f"ours: {wall:.2f} s wall, {cpu:.2f} s CPU (reading included, best of "
              f"{args.repeats})")
        if not kit_available(args.kit_python, args.kit_src):
            print(f"kit: skipped (no environment at {args.kit_python} with the kit's source "
                  f"at {args.kit_src})")
            return
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        kit = run_kit(gt_dir, pred_dir, "hota", args.kit_python, args.kit_src)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if "error" in kit:
        sys.exit(f"kit failed: {kit['error']}")
    kit_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"kit:  {kit['seconds']:.2f} s wall in evaluate(), {kit_cpu:.2f} s CPU for its "
          f"process (single process)")
    print(f"ratio: {kit['seconds'] / wall:.1f}x wall, {kit_cpu / cpu:.1f}x CPU; largest "
          f"difference over all fields and columns: {_largest_difference(ours, kit):.2g} points")
    print(format_hota_table(ours))


if __name__ == "__main__":
    main()
