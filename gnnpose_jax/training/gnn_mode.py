"""GNN mode: the pose-dynamics GNN trained on a frozen HRNet's features (docs/spec/method.md §4).

The frozen HRNet runs inside the jitted step on every window's n + 1 crops (BatchNorm in
inference mode, no gradient); its variables ride in the state (`TrainState.frozen`) but never in
a training checkpoint, since they come from `hrnet.checkpoint`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from gnnpose_jax.data.joints import NUM_JOINTS
from gnnpose_jax.errors import ConfigError
from gnnpose_jax.graphs import CandidateGrid, GraphSpec, batch_graphs, build_graph, graph_budget
from gnnpose_jax.models import run_folder
from gnnpose_jax.models.gnn import GnnConfig, GnnPose
from gnnpose_jax.models.hrnet import HRNet, load_hrnet
from gnnpose_jax.models.topdown import TopDownEstimator
from gnnpose_jax.tracking.plausibility import POSE_BOUNDS, PoseBounds
from gnnpose_jax.training import config as config_lib
from gnnpose_jax.training import history, hrnet_mode, inputs, steps
from gnnpose_jax.training.losses import LOSSES
from gnnpose_jax.training.state import TrainState, create_state, run_once
from gnnpose_jax.training.task import Task

#: Crop pixels per HRNet feature cell.
FEATURE_STRIDE = 4
#: Crops per HRNet call when estimating history poses.
ESTIMATE_BATCH = 32


def load_frozen_hrnet(config: ml_collections.ConfigDict) -> tuple[HRNet, dict]:
    """The HRNet of `hrnet.checkpoint`, checked against the config's architecture, computing
    in the config's `compute_dtype`.

    Raises:
      ConfigError: no checkpoint configured, or another architecture.
      CheckpointError: the folder is not an HRNet checkpoint.
    """
    path = frozen_hrnet_path(config)
    module, variables = load_hrnet(path, dtype=config_lib.compute_dtype(config))
    hrnet_mode.check_architecture(hrnet_mode.architecture(config), module.config,
                                  f"hrnet.checkpoint {path}")
    return module, variables


def frozen_hrnet_path(config: ml_collections.ConfigDict) -> str:
    """`hrnet.checkpoint`, or a ConfigError if it is empty."""
    if not config.hrnet.checkpoint:
        raise ConfigError("hrnet.checkpoint is empty: GNN mode needs a trained HRNet (the "
                          "WORKDIR/hrnet of an HRNet-mode run, or `python -m convert_weights` "
                          "output); pass --config.hrnet.checkpoint=DIR")
    return config.hrnet.checkpoint


def check_config(config: ml_collections.ConfigDict) -> None:
    """GNN mode's checks of the config alone (train.py runs them before touching the workdir).

    Raises:
      ConfigError: naming the key.
    """
    frozen_hrnet_path(config)
    if config.gnn.loss not in LOSSES:
        raise ConfigError(f"gnn.loss {config.gnn.loss!r} must be one of {LOSSES}")
    gnn_config(config)
    inputs.window_config(config)


def gnn_config(config: ml_collections.ConfigDict) -> GnnConfig:
    """The `GnnConfig` (graph spec and candidate grid included) of the config."""
    g = config.gnn
    h, w = hrnet_mode.input_hw(config)
    grid = CandidateGrid((h // FEATURE_STRIDE, w // FEATURE_STRIDE), stride=g.candidate_stride,
                         feature_stride=FEATURE_STRIDE)
    spec = GraphSpec(grid=grid, history=g.history, num_joints=NUM_JOINTS,
                     joint_threshold=g.joint_threshold, target_sigma=g.target_sigma,
                     target_threshold=g.target_threshold, decode_radius=g.decode_radius,
                     temporal_edges=g.temporal_edges)
    return GnnConfig(graph=spec, hidden=g.hidden, layers=g.layers, heads=g.heads,
                     typed_edges=g.typed_edges, relative_position_bias=g.relative_position_bias,
                     relative_offsets=g.relative_offsets,
                     distance_weight_init=tuple(g.distance_weight_init),
                     use_visual=g.use_visual, use_position=g.use_position,
                     use_type=g.use_type, attention_impl=g.attention_impl)


def init_inputs(model_config: GnnConfig, feature_channels: int) -> tuple:
    """(graphs, features): the one-graph example batch the GNN is initialised on."""
    spec = model_config.graph
    history = np.zeros((1, spec.num_joints, 3))
    history[0, 0] = (1.0, 1.0, 1.0)
    identity = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    example = batch_graphs([build_graph(spec, history, identity[None], identity,
                                        np.array([0.0, 0.0, 2.0, 2.0]))],
                           graph_budget(spec, 1))
    features = jnp.zeros((1, spec.history + 1, *spec.grid.feature_hw, feature_channels))
    return example, features


def initial_params(model_config: GnnConfig, feature_channels: int, seed: int) -> dict:
    """Seeded GNN variables, initialised on a one-graph example batch."""
    return run_once(GnnPose(model_config).init, jax.random.key(seed),
                    *init_inputs(model_config, feature_channels))


def step_functions(config: ml_collections.ConfigDict) -> tuple[Callable, Callable]:
    """The (train, eval) steps of the config, static arguments bound (what the loop pmaps)."""
    spec = gnn_config(config).graph
    loss = {"loss": config.gnn.loss, "focal_gamma": config.gnn.focal_gamma}
    return (functools.partial(steps.gnn_train_step, **loss),
            functools.partial(steps.gnn_eval_step, grid=spec.grid,
                              decode_radius=spec.decode_radius, **loss))


def abstract_state(config: ml_collections.ConfigDict, tx: optax.GradientTransformation
                   ) -> TrainState:
    """The state `build`'s task creates, as shapes and dtypes: the GNN beside a frozen HRNet of
    the config's architecture (no init run, no checkpoint read)."""
    model_config = gnn_config(config)
    dtype = config_lib.compute_dtype(config)
    hrnet = HRNet(hrnet_mode.architecture(config), dtype=dtype)
    images = np.zeros((1, *hrnet_mode.input_hw(config), 3), np.float32)

    def create(key, graphs, features):
        """The fresh state, traced."""
        frozen = hrnet.init(key, images, train=False)
        gnn = GnnPose(model_config, dtype=dtype)
        return create_state(gnn.apply, gnn.init(key, graphs, features), tx,
                            frozen=frozen, frozen_apply_fn=hrnet.apply)

    return jax.eval_shape(create, jax.random.key(config.seed),
                          *init_inputs(model_config, 3 * hrnet.config.width))


def history_estimates(config: ml_collections.ConfigDict, workdir: Path, hrnet: HRNet,
                      frozen: dict, source, split: str) -> history.Estimates:
    """The frozen HRNet's estimates of a split's people, cached in WORKDIR/history_estimates."""
    input_hw = hrnet_mode.input_hw(config)
    estimator = TopDownEstimator(hrnet, frozen, input_hw, ESTIMATE_BATCH)
    key = (f"{Path(config.hrnet.checkpoint).absolute()}|{source.name}|{split}|{input_hw}|"
           f"{config.data.min_joints}")
    if config.compute_dtype != "float32":  # float32 caches keep the key they were made with
        key += f"|{config.compute_dtype}"
    jitter = None
    if config.gnn.feature_source == "detections":  # older caches keep their key too
        jitter = tuple(float(v) for v in config.gnn.detection_jitter)
        key += f"|detections{jitter}"
    show = config.progress_bar and jax.process_index() == 0
    return history.cached_estimates(
        Path(workdir) / "history_estimates" / f"{split}.p{jax.process_index()}.npz", key,
        lambda: history.estimate_people(source, estimator, config.data.min_joints, show,
                                        jitter))


def pose_bounds(source) -> PoseBounds | None:
    """The pose bounds of a record source's GT people, grouped by video, for the tracker's
    plausibility check (`PoseBounds.fit`); None, with a warning, when it has too few."""
    poses, groups = [], []
    for i in range(len(source)):
        record = source[i]
        count = int(record["people"]["count"])
        poses += list(record["people"]["keypoints"][:count])
        groups += [record["sequence"]] * count
    try:
        return PoseBounds.fit(poses, groups)
    except ValueError as e:
        logging.getLogger(__name__).warning("%s: no %s written (%s)", source.name, POSE_BOUNDS,
                                            e)
        return None


def build(config: ml_collections.ConfigDict, workdir: Path, per_device_batch: int) -> Task:
    """The GNN-mode task.

    Args:
      config: the run config.
      workdir: the run's folder (data may be generated there).
      per_device_batch: windows per device per step.

    Returns:
      The task.
    """
    model_config = gnn_config(config)
    hrnet, frozen = load_frozen_hrnet(config)
    spec = model_config.graph
    budget = graph_budget(spec, per_device_batch)
    train_loader, val_loader, num_examples = inputs.gnn_loaders(
        config, workdir, per_device_batch,
        estimates_for=functools.partial(history_estimates, config, workdir, hrnet, frozen),
        step_batch=functools.partial(inputs.gnn_batch, spec=spec, budget=budget))

    def make_state(tx: optax.GradientTransformation) -> TrainState:
        """Fresh GNN parameters beside the frozen HRNet."""
        channels = 3 * hrnet.config.width
        return create_state(GnnPose(model_config, dtype=config_lib.compute_dtype(config)).apply,
                            initial_params(model_config, channels, config.seed), tx,
                            frozen=frozen, frozen_apply_fn=hrnet.apply)

    def write_export(directory: Path, state: TrainState) -> None:
        """WORKDIR/gnn for `run_folder.load_gnn`, with the windows' crop settings, and the
        train split's pose bounds (WORKDIR/pose_bounds.json) for the tracker."""
        windows = inputs.window_config(config)
        run_folder.export_gnn(directory / run_folder.GNN_EXPORT, model_config, state.params,
                              config.hrnet.checkpoint, windows.input_hw, windows.box_enlarge,
                              windows.track_enlarge, config.compute_dtype,
                              windows.feature_source)
        bounds = pose_bounds(inputs.frame_source(config.data, config.data.train_split, workdir))
        if bounds is not None:
            bounds.save(directory / POSE_BOUNDS)

    train_step, eval_step = step_functions(config)
    return Task(create_state=make_state, train_step=train_step, eval_step=eval_step,
                train_loader=train_loader, val_loader=val_loader,
                num_train_examples=num_examples,
                to_batch=inputs.prepared_batch,
                export=write_export)
