"""Training inputs (gnnpose_jax.training.inputs): TFDS loaders, padded evaluation references,
visible-only HRNet targets."""

from __future__ import annotations

import numpy as np

from gnnpose_jax.data import pipeline
from gnnpose_jax.training import inputs
from tests.helpers.micro_config import micro_config


def test_tfds_source_feeds_the_hrnet_loaders(tmp_path):
    config = micro_config("synthetic_hrnet", data__source="tfds", data__tfds_name="synthetic",
                          data__tfds_config="tiny", data__root=str(tmp_path / "tfds"))
    train, val, num_people = inputs.hrnet_loaders(config, tmp_path / "unused", 2)
    batch = inputs.hrnet_batch(next(iter(train)))
    assert num_people > 0
    assert batch["image"].shape == (1, 2, 64, 32, 3)
    assert batch["heatmaps"].shape == (1, 2, 16, 8, 17)
    batches = list(val)
    valid = np.concatenate([b.valid.ravel() for b in batches])
    assert valid.sum() == 8 == len(valid)  # data.max_val_examples
    assert not (tmp_path / "unused").exists()  # a TFDS source generates nothing in the workdir


def test_eval_references_are_padded_and_flagged():
    refs = np.arange(10).reshape(5, 2)
    padded = inputs.pad_refs(refs, multiple=4)
    np.testing.assert_array_equal(padded[:, -1], [1, 1, 1, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(padded[:5, :2], refs)
    np.testing.assert_array_equal(padded[5:, :2], np.repeat(refs[:1], 3, axis=0))
    limited = inputs.pad_refs(np.arange(100)[:, None], multiple=4, limit=3)
    np.testing.assert_array_equal(limited[:, 0], [0, 50, 99, 0])
    np.testing.assert_array_equal(limited[:, 1], [1, 1, 1, 0])


def test_visible_only_targets(tmp_path):
    # The world a MICRO run generates (the same seed and sizes).
    world = tmp_path / "synthetic_world"
    inputs.ensure_synthetic_world(world, micro_config("synthetic_hrnet").data)
    source = pipeline.folder_source(world, "train")
    visible = inputs.VisibleJointsSource(source)
    hidden = [(r, p) for r in range(len(source))
              for p in range(source[r]["people"]["count"])
              if ((source[r]["people"]["keypoints"][p, :, 2] == 0)
                  & source[r]["people"]["keypoints"][p].any(-1)).any()]
    assert hidden, "the tiny world should hide some joints"
    r, p = hidden[0]
    before, after = source[r]["people"]["keypoints"][p], visible[r]["people"]["keypoints"][p]
    shown = before[:, 2] > 0
    np.testing.assert_array_equal(after[shown], before[shown])
    assert not after[~shown].any()
