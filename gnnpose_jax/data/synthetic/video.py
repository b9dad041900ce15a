"""One video of the world, simulated frame by frame: rendered images, annotations, detections."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from gnnpose_jax.data.synthetic import annotate
from gnnpose_jax.data.synthetic.config import WorldConfig, check_video_args, image_id, sequence_name
from gnnpose_jax.data.synthetic.render import OCCLUDER_LABEL, make_scene, render_frame
from gnnpose_jax.data.types import Frame
from gnnpose_jax.errors import ConfigError


class SimulatedFrame(NamedTuple):
    """One rendered frame: its annotation, RGB image (H, W, 3) uint8 and COCO detections."""

    frame: Frame
    image: np.ndarray
    detections: list[dict[str, Any]]


def iter_video(rng: np.random.Generator, number: int = 1, split: str = "train",
               num_frames: int = 50, image_hw: tuple[int, int] = (288, 384),
               label_every: int = 1, config: WorldConfig | None = None,
               ) -> Iterator[SimulatedFrame]:
    """Simulates one video, frame by frame (for streaming to disk).

    Args:
      rng: random generator; the same generator state gives the same video.
      number: the sequence number (names the sequence and its image ids).
      split: dataset split, part of the sequence name and file names.
      num_frames: T, at most 10000.
      image_hw: (H, W) frame size.
      label_every: frames 0, label_every, 2 * label_every, ... are labeled.
      config: world settings (defaults if None).

    Yields:
      One `SimulatedFrame` per frame, in order.
    """
    config = config or WorldConfig()
    check_video_args(num_frames, image_hw, label_every)
    if config.people_per_video[1] + config.crowd_size[1] > OCCLUDER_LABEL:
        raise ConfigError(f"synthetic world: at most {OCCLUDER_LABEL} people and crowd per "
                          f"video, got {config.people_per_video[1]} + {config.crowd_size[1]}")
    scene = make_scene(rng, num_frames, image_hw, config)
    name = sequence_name(number, split)
    regions = [] if scene.ignore_polygon is None else [scene.ignore_polygon.astype(np.float64)]
    for t in range(num_frames):
        image, label, views = render_frame(scene, t, rng, config)
        frame_id = image_id(number, t)
        labeled = t % label_every == 0
        people = []
        if labeled:
            for i, (walker, view) in enumerate(zip(scene.walkers, views[: len(scene.walkers)],
                                                   strict=True)):
                person = annotate.annotate_person(walker, i, t, view, label,
                                                  scene.ignore_mask, config.min_annotated_joints)
                if person is not None:
                    people.append(person)
        frame = Frame(file_name=f"images/{split}/{name}/{t:06d}.jpg", frame_index=t,
                      is_labeled=labeled, people=people, ignore_regions=list(regions),
                      image_id=frame_id, extra={"width": image_hw[1], "height": image_hw[0]})
        dets = annotate.simulate_detections(rng, label, views, frame_id, config)
        yield SimulatedFrame(frame=frame, image=image, detections=dets)
