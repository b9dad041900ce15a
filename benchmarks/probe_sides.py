"""Does a pose network tell left from right? HRNet on the GT boxes of a world's val split.

    .venv/bin/python benchmarks/probe_sides.py runs/demo/hrnet/hrnet runs/demo/synthetic_world

Prints PCKh@0.5 on visible and hidden joints (head size: the GT head segment, as the training
logs use), and for each left/right joint pair whose GT joints lie more than a head size apart,
how often one side's prediction lies nearer the other side's GT joint than its own. A network
that averages the two sides puts both on one limb, near 100%; one that tells them apart is far
lower (what remains are plain errors).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gnnpose_jax.data import transforms  # noqa: E402
from gnnpose_jax.data.joints import FLIP_PERMUTATION, JOINT_NAMES  # noqa: E402
from gnnpose_jax.data.posetrack import read_sequences  # noqa: E402
from gnnpose_jax.models.pretrained import load_pose_network  # noqa: E402
from gnnpose_jax.models.topdown import TopDownEstimator  # noqa: E402

HEAD_BOTTOM, HEAD_TOP = JOINT_NAMES.index("head_bottom"), JOINT_NAMES.index("head_top")
PAIRS = [(i, int(FLIP_PERMUTATION[i])) for i in range(len(JOINT_NAMES)) if FLIP_PERMUTATION[i] > i]


def probe(network: Path, world: Path, every: int) -> tuple[dict, dict]:
    """PCKh counts by visibility and swap counts by pair over every `every`-th val frame."""
    net = load_pose_network(network)
    estimator = TopDownEstimator(net.module, net.variables, net.input_hw, batch_size=16)
    pckh = {"visible": [0, 0], "hidden": [0, 0]}
    swaps = {pair: [0, 0] for pair in PAIRS}
    for seq in read_sequences(world / "annotations" / "val"):
        for frame in seq.frames[::every]:
            people = [p for p in frame.people if p.box is not None]
            if not people:
                continue
            image = transforms.read_image_rgb(world / frame.file_name)
            poses = estimator.estimate(image, np.array([p.box for p in people])).keypoints
            for person, pose in zip(people, poses, strict=True):
                gt = person.keypoints
                annotated = np.any(gt != 0, axis=1)
                if not (annotated[HEAD_BOTTOM] and annotated[HEAD_TOP]):
                    continue
                head = np.linalg.norm(gt[HEAD_TOP, :2] - gt[HEAD_BOTTOM, :2])
                correct = np.linalg.norm(pose[:, :2] - gt[:, :2], axis=1) <= 0.5 * head
                for name, mask in (("visible", annotated & (gt[:, 2] > 0)),
                                   ("hidden", annotated & (gt[:, 2] == 0))):
                    pckh[name][0] += int(correct[mask].sum())
                    pckh[name][1] += int(mask.sum())
                for left, right in PAIRS:
                    if not (annotated[left] and annotated[right]) or np.linalg.norm(
                            gt[left, :2] - gt[right, :2]) <= head:
                        continue
                    to_left = np.linalg.norm(pose[left, :2] - gt[[left, right], :2], axis=1)
                    to_right = np.linalg.norm(pose[right, :2] - gt[[left, right], :2], axis=1)
                    swaps[(left, right)][0] += int(to_left[1] < to_left[0]
                                                   or to_right[0] < to_right[1])
                    swaps[(left, right)][1] += 1
    return pckh, swaps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("network", type=Path, help="a pose network (converted folder or export)")
    parser.add_argument("world", type=Path, help="a PoseTrack-layout folder with a val split")
    parser.add_argument("--every", type=int, default=2, help="probe every n-th frame")
    args = parser.parse_args()
    pckh, swaps = probe(args.network, args.world, args.every)
    total = [sum(c for c, _ in pckh.values()), sum(n for _, n in pckh.values())]
    for name, (correct, count) in [*pckh.items(), ("all", total)]:
        print(f"PCKh@0.5 {name}: {correct / max(count, 1):.3f} ({count} joints)")
    for (left, right), (swapped, count) in swaps.items():
        if count:
            print(f"{JOINT_NAMES[left]}/{JOINT_NAMES[right]}: a side on the other's GT in "
                  f"{swapped / count:.0%} of {count}")


if __name__ == "__main__":
    main()
