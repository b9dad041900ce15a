"""Hand-built PoseTrack 2017/2018 people and sequences with known geometry, for the AP/MOTA
tests and the command-line tests that need ground truth."""

import numpy as np

from gnnpose_jax.data import joints
from gnnpose_jax.data.types import Frame, Person, Sequence

#: Head box 30 x 40: diagonal 50, head size 0.6 * 50 = 30, so a joint matches within 15 px.
HEAD = np.array([0.0, 0.0, 30.0, 40.0])
SPACING = 40.0  # joints of a person lie on a row, far apart relative to 15 px


def person(track_id, origin=(0.0, 0.0), score=None, missing=(), offset=(0.0, 0.0), xy=None,
           head=True):
    """A person whose 15 evaluated joints lie on a row from `origin` (2017 order)."""
    kp = np.zeros((joints.NUM_JOINTS, 3))
    for e, slot in enumerate(joints.EVAL_SLOTS):
        pos = (origin[0] + SPACING * e, origin[1]) if xy is None else xy[e]
        kp[slot] = (pos[0] + offset[0], pos[1] + offset[1], 1.0)
    for e in missing:
        kp[joints.EVAL_SLOTS[e]] = 0.0
    scores = None if score is None else np.full(joints.NUM_JOINTS, float(score))
    return Person(keypoints=kp, track_id=track_id, scores=scores,
                  head_box=HEAD.copy() if head else None)


def sequence(frames, name="000001_mpii_test", regions=None):
    """A sequence from per-frame people lists (an empty list is an unlabeled frame)."""
    return Sequence(name=name, frames=[
        Frame(file_name=f"images/val/{name}/{t:06d}.jpg", frame_index=t, is_labeled=bool(ppl),
              people=ppl, ignore_regions=list(regions or []))
        for t, ppl in enumerate(frames)])
