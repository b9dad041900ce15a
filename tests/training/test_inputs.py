"""Training inputs (gnnpose_jax.training.inputs): TFDS loaders, padded evaluation references,
visible-only HRNet targets, GNN step batches built in the loaders."""

from __future__ import annotations

import functools

import jax
import numpy as np

from gnnpose_jax.data import pipeline
from gnnpose_jax.graphs import graph_budget
from gnnpose_jax.training import gnn_mode, inputs
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


def test_gnn_step_batches_built_in_the_loader_equal_those_built_in_the_loop(tmp_path):
    # GNN mode builds and pads the graphs in the loaders (in the grain workers if any); before,
    # the training loop did it on the loaders' window batches. Both must give the same step
    # batches: train batches in this process, the padded val pass through a worker process.
    config = micro_config("synthetic_gnn", gnn__history_source="gt")
    spec = gnn_mode.gnn_config(config).graph
    step_batch = functools.partial(inputs.gnn_batch, spec=spec, budget=graph_budget(spec, 3))
    loop_train, loop_val, _ = inputs.gnn_loaders(config, tmp_path, 3)
    loader_train = inputs.gnn_loaders(config, tmp_path, 3, step_batch=step_batch)[0]
    config.data.num_workers = 1
    worker_val = inputs.gnn_loaders(config, tmp_path, 3, step_batch=step_batch)[1]
    loop_iter, loader_iter = iter(loop_train), iter(loader_train)
    pairs = [(step_batch(next(loop_iter)), next(loader_iter)) for _ in range(2)]
    pairs += [(step_batch(a), b) for a, b in zip(loop_val, worker_val, strict=True)]
    assert len(pairs) == 5 and not pairs[-1][1]["mask"].all()  # 8 val windows, padded to 9
    for expected, actual in pairs:
        assert jax.tree.structure(actual) == jax.tree.structure(expected)
        for e, a in zip(jax.tree.leaves(expected), jax.tree.leaves(actual), strict=True):
            assert a.dtype == e.dtype
            np.testing.assert_array_equal(a, e)
