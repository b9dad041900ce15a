"""The synthetic world: procedural videos of walking and running people, in PoseTrack 2018 layout.

PoseTrack cannot be downloaded automatically, so this package gives the whole pipeline real work
on any machine, deterministically from a seed (docs/data.md, "The synthetic world CLI"):

- People are articulated 2-D figures with the 17-slot skeleton (`joints.py`; ears never
  annotated), seen by a static camera over a ground plane at 15 frames per second. Each has
  its own proportions, clothing and gait (a walking or running cycle), and changes speed and
  direction; depth sets the scale, so people walking towards the camera grow. People enter,
  leave, and come back into the frame.
- Limbs are filled capsules, left limbs lighter and right limbs darker than the clothing colour;
  the head shows hair, a face when it faces the camera, and a nose dot; a backpack marks the
  back. The side colours do not survive a mirror (flip augmentation swaps the labels but not
  the shades), so the synthetic configs train without flips; docs/results.md says why.
- People cross each other (drawn far to near) and pass behind static occluders (pillars and
  boards, drawn last). A joint inside the frame that something nearer covers keeps its
  annotation with visibility 0, as in PoseTrack; fully hidden people stay annotated. People
  with fewer than 3 joints inside the frame are not annotated. Some videos have a small
  standing crowd in a far corner, unannotated and covered by an ignore region (no annotated
  joint lies inside it).
- Detections are the boxes of the visible part of each person, with jitter and false
  positives. A person is missed with probability 0.05 + 0.9 * occluded_fraction ** 1.5, and
  always when hidden: the failure the GNN exists to repair.

Frames are landscape video frames, `image_hw = (H, W)`, by default 288 x 384 (the CLI's
`--size 384x288` is width x height, the usual video convention). Sequences are named
`{number:06d}_mpii_{split}` (train from 000001, val from 100001, tune from 200001, so image
ids never collide) and image ids follow poseval: 1e10 + number * 1e4 + frame. Layout written
by `generate_world`, as in PoseTrack 2018::

    DIR/images/{split}/{seq}/{frame:06d}.jpg
    DIR/annotations/{split}/{seq}.json     PoseTrack 2018 ground truth
    DIR/detections/{split}.json            COCO detections keyed by the annotations' image ids

`python -m gnnpose_jax.data.synthetic --out DIR --seed S --videos N [--split val] ...`

The same arguments give byte-identical files with the same numpy and OpenCV builds.

Modules: `config` (settings, names, ids), `motion` (bodies, gaits, paths, camera), `render`
(people, backdrop, occluders, frames), `annotate` (ground truth, simulated detections),
`video` (one video, frame by frame), `write` (a split on disk), `cli`. The preview grid is
`gnnpose_jax.viz.preview`.
"""

from gnnpose_jax.data.synthetic.annotate import miss_probability
from gnnpose_jax.data.synthetic.cli import main, parse_size
from gnnpose_jax.data.synthetic.config import SPLITS, WorldConfig, image_id, sequence_name
from gnnpose_jax.data.synthetic.video import SimulatedFrame, iter_video
from gnnpose_jax.data.synthetic.write import WorldSummary, encode_jpeg, generate_world

__all__ = ["SPLITS", "SimulatedFrame", "WorldConfig", "WorldSummary", "encode_jpeg",
           "generate_world", "image_id", "iter_video", "main", "miss_probability", "parse_size",
           "sequence_name"]
