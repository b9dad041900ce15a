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


def walkers(rng, frames=5):
    """A GT video: three walkers (one missing a joint sometimes), an ignore region."""
    out = []
    for t in range(frames):
        out.append([person(k, origin=(100.0 + 7 * t, 200.0 + 900 * k),
                           missing=(3,) if (t + k) % 3 == 0 else ()) for k in range(3)])
    return out


def ground_truth():
    """Two GT sequences with unlabeled frames and an ignore region."""
    rng = np.random.default_rng(0)
    a = walkers(rng) + [[]]
    b = [[]] + walkers(rng, 4)
    region = [np.array([[90.0, 2000.0], [400.0, 2000.0], [400.0, 2100.0], [90.0, 2100.0]])]
    return [sequence(a, "000001_mpii_test"), sequence(b, "000002_bonn_test", regions=region)]


def noisy(gt_seqs, seed=1):
    """Predictions: jitter up to ~1 head size, dropped joints and people, id changes."""
    rng = np.random.default_rng(seed)
    preds = []
    for seq in gt_seqs:
        frames = []
        for frame in seq.frames:
            people = []
            for p in frame.people:
                if rng.random() < 0.1:
                    continue
                q = person(p.track_id + 100 * int(rng.random() < 0.2), score=0.5)
                q.keypoints = p.keypoints.copy()
                q.keypoints[:, :2] += rng.normal(0, 10, (joints.NUM_JOINTS, 2)).round(1)
                q.keypoints[~p.present] = 0.0
                q.scores = rng.random(joints.NUM_JOINTS).round(2)
                people.append(q)
            frames.append(Frame(file_name=frame.file_name, frame_index=frame.frame_index,
                                is_labeled=frame.is_labeled, people=people))
        preds.append(Sequence(name=seq.name, frames=frames))
    return preds
