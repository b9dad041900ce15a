"""Times `evaluate.py` (metrics mode, reading included) on a PoseTrack-2018-val-sized case.

    python benchmarks/bench_eval.py [--sequences 170] [--seed 0] [--keep DIR]

Generates ground truth (about 170 sequences, 5,800 labeled frames, 16,000 people, with ignore
regions, unlabeled frames and crowded scenes) and noisy predictions (jitter, missed people and
joints, false positives, identity switches) in PoseTrack 2018 layout into a temporary folder,
then runs `python evaluate.py --ground-truth GT --predictions PRED --metrics OUT.json` and prints
its wall-clock seconds. The official toolkit needs about 35 s on 2 cores for this size.
"""

from __future__ import annotations

import argparse
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
from gnnpose_jax.data.posetrack import write_sequences  # noqa: E402
from gnnpose_jax.data.types import Frame, Person, Sequence  # noqa: E402

#: Joint offsets of a standing person, in head heights, per slot (x right, y down).
_POSE = np.array([[0.0, -0.2], [0.0, 0.3], [0.0, -0.9], [0, 0], [0, 0], [0.9, 0.8],
                  [-0.9, 0.8], [1.2, 2.0], [-1.2, 2.0], [1.3, 3.1], [-1.3, 3.1], [0.6, 3.4],
                  [-0.6, 3.4], [0.7, 5.1], [-0.7, 5.1], [0.7, 6.8], [-0.7, 6.8]])


def _person(rng: np.random.Generator, centre: np.ndarray, head: float, track_id: int,
            drop: float) -> Person:
    """A GT person at `centre` with head height `head`, a few joints unannotated."""
    xy = centre + head * (_POSE + 0.08 * rng.standard_normal(_POSE.shape))
    keypoints = np.concatenate([np.round(xy, 1), np.ones((len(xy), 1))], axis=1)
    absent = rng.random(len(xy)) < drop
    absent[list(joints.UNANNOTATED_SLOTS)] = True
    keypoints[absent] = 0.0
    x, y = np.round(centre + head * np.array([-0.5, -1.2]), 1)
    return Person(keypoints=keypoints, track_id=track_id,
                  head_box=np.array([x, y, x + round(head, 1), y + round(1.1 * head, 1)]))


def _ground_truth(rng: np.random.Generator, number: int, labeled: int,
                  people: int) -> Sequence:
    """One GT sequence: `people` walkers over `labeled` labeled frames plus unlabeled ones."""
    name = f"{number:06d}_mpii_test"
    starts = rng.uniform([100, 100], [1700, 500], size=(people, 2))
    velocity = rng.normal(0, 4, size=(people, 2))
    heads = rng.uniform(25, 70, size=people)
    if people > 1 and rng.random() < 0.5:  # a crowded pair: candidates of two people overlap
        starts[1] = starts[0] + rng.normal(0, 8, size=2)
    track_ids = rng.choice(1000, size=people, replace=False)
    frames = []
    total = labeled + labeled // 3
    is_labeled = np.zeros(total, bool)
    is_labeled[np.sort(rng.choice(total, size=labeled, replace=False))] = True
    for t in range(total):
        file_name = f"images/val/{name}/{t:06d}.jpg"
        people_t, regions = [], []
        if is_labeled[t]:
            visible = rng.random(people) < 0.95
            visible[0] = True
            people_t = [_person(rng, starts[i] + t * velocity[i], heads[i], int(track_ids[i]),
                                0.1) for i in np.flatnonzero(visible)]
            if rng.random() < 0.3:
                corner = rng.uniform([0, 0], [1600, 800])
                regions = [corner + rng.uniform(50, 300) * np.array([[0, 0], [1, 0], [1, 1],
                                                                     [0, 1.2]])]
        frames.append(Frame(file_name=file_name, frame_index=t, is_labeled=bool(is_labeled[t]),
                            people=people_t, ignore_regions=regions))
    return Sequence(name=name, frames=frames)


def _predict(rng: np.random.Generator, gt: Sequence) -> Sequence:
    """Noisy predictions of a GT sequence, with identity switches and false positives."""
    id_map: dict[int, int] = {}
    next_id = 2000
    frames = []
    for frame in gt.frames:
        people = []
        for person in frame.people:
            if rng.random() < 0.08:  # missed person
                continue
            if person.track_id not in id_map or rng.random() < 0.02:  # (re)assigned id: switch
                id_map[person.track_id] = next_id
                next_id += 1
            head = person.head_box[3] - person.head_box[1]
            error = rng.gamma(2.0, 0.12, size=joints.NUM_JOINTS) * head
            angle = rng.uniform(0, 2 * np.pi, size=joints.NUM_JOINTS)
            kp = person.keypoints.copy()
            kp[:, 0] += error * np.cos(angle)
            kp[:, 1] += error * np.sin(angle)
            kp[~person.present] = 0.0
            kp[rng.random(joints.NUM_JOINTS) < 0.05] = 0.0
            scores = np.clip(1.0 - error / (2 * head) + rng.normal(0, 0.1, joints.NUM_JOINTS),
                             0.01, 1.0)
            people.append(Person(keypoints=np.round(kp, 2), track_id=id_map[person.track_id],
                                 scores=np.round(scores, 3)))
        if frame.people and rng.random() < 0.15:  # a false positive far from everyone
            fp = _person(rng, rng.uniform([100, 100], [1700, 500]), 40.0, next_id, 0.3)
            next_id += 1
            people.append(Person(keypoints=fp.keypoints, track_id=fp.track_id,
                                 scores=rng.uniform(0.01, 0.6, joints.NUM_JOINTS)))
        frames.append(Frame(file_name=frame.file_name, frame_index=frame.frame_index,
                            is_labeled=frame.is_labeled, people=people))
    return Sequence(name=gt.name, frames=frames)


def make_case(root: Path, seed: int = 0, sequences: int = 170, labeled: int = 34,
              people: tuple[int, int] = (2, 4)) -> tuple[Path, Path, int, int]:
    """Writes GT/ and PRED/ folders (PoseTrack 2018) under `root`.

    Args:
      root: output folder.
      seed: random seed.
      sequences: number of sequences.
      labeled: labeled frames per sequence.
      people: inclusive range of walkers per sequence.

    Returns:
      (GT folder, prediction folder, labeled frames, GT people).
    """
    rng = np.random.default_rng(seed)
    gts, preds = [], []
    for s in range(sequences):
        gt = _ground_truth(rng, 10000 + s, labeled, int(rng.integers(people[0], people[1] + 1)))
        gts.append(gt)
        preds.append(_predict(rng, gt))
    gt_dir, pred_dir = root / "gt", root / "pred"
    write_sequences(gts, gt_dir)
    write_sequences(preds, pred_dir)
    frames = sum(f.is_labeled for g in gts for f in g.frames)
    return gt_dir, pred_dir, frames, sum(len(f.people) for g in gts for f in g.frames)


def main() -> None:
    """Generates the case, runs evaluate.py once, prints the seconds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=170)
    parser.add_argument("--labeled", type=int, default=34, help="labeled frames per sequence")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="write the case here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        gt_dir, pred_dir, frames, people = make_case(root, args.seed, args.sequences,
                                                     args.labeled)
        print(f"case: {args.sequences} sequences, {frames} labeled frames, {people} GT people")
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "evaluate.py"), "--ground-truth",
                        str(gt_dir), "--predictions", str(pred_dir), "--metrics",
                        str(root / "out.json")], check=True)
        seconds = time.perf_counter() - start
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    print(f"evaluate.py (reading included): {seconds:.2f} s wall, {cpu:.2f} s CPU "
          f"(target < 2 s on 2 cores; the official toolkit: about 35 s)")


if __name__ == "__main__":
    main()
