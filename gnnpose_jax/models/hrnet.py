"""The pose HRNet of Sun et al. (CVPR 2019) in Flax linen, numerically the official model.

Submodule names mirror the official PyTorch state-dict keys, with `_` before each numeric path
component instead of `.` (`stage3_2` / `fuse_layers_1_0_0_0` for `stage3.2.fuse_layers.1.0.0.0`),
so that `hrnet_convert.py` maps keys both ways with one rule.

Numerics (docs/spec/hrnet.md §2): explicit symmetric padding (XLA's 'SAME' pads stride-2 convs
(0, 1) on even inputs), nearest upsampling in the fuse layers, BatchNorm eps 1e-5 and PyTorch
momentum 0.1 (Flax 0.9).

Shapes: images (N, H, W, 3) normalised float32 NHWC; heatmaps (N, H/4, W/4, K); features
(N, H/4, W/4, 3·W), the stage-2, -3 and -4 branch-0 outputs concatenated in that order.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from gnnpose_jax.models import precision
from gnnpose_jax.models.restore import VARIABLES_DIR

BN_EPSILON = 1e-5
BN_MOMENTUM = 0.9  # Flax convention: PyTorch's momentum 0.1.
BOTTLENECK_EXPANSION = 4


@dataclasses.dataclass(frozen=True)
class HRNetConfig:
    """Architecture of a pose HRNet. The defaults are the official full-depth model.

    Attributes:
      width: channels of the highest-resolution branch (W); branches have W, 2W, 4W, 8W.
      num_joints: K, the number of heatmaps.
      stem_channels: output channels of conv1 and conv2 (64 officially).
      layer1_blocks: Bottleneck blocks in layer1 (4 officially).
      layer1_planes: Bottleneck planes in layer1 (64; output is 4× that).
      stage_modules: HighResolutionModules in stages 2, 3, 4.
      stage_blocks: BasicBlocks per branch in each module of stages 2, 3, 4.
    """

    width: int = 32
    num_joints: int = 17
    stem_channels: int = 64
    layer1_blocks: int = 4
    layer1_planes: int = 64
    stage_modules: tuple[int, int, int] = (1, 4, 3)
    stage_blocks: tuple[int, int, int] = (4, 4, 4)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict of the fields."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> HRNetConfig:
        """Inverse of `to_json`; unknown keys are an error."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - fields
        if unknown:
            raise ValueError(f"unknown HRNetConfig fields: {sorted(unknown)}")
        d = dict(d)
        for key in ("stage_modules", "stage_blocks"):
            if key in d:
                d[key] = tuple(d[key])
        return cls(**d)


W32 = HRNetConfig(width=32)
W48 = HRNetConfig(width=48)
#: Reduced depth for CPU training on the synthetic world (about 10× faster than full-depth W8).
TINY = HRNetConfig(width=16, stem_channels=32, layer1_blocks=1, layer1_planes=32,
                   stage_modules=(1, 1, 1), stage_blocks=(2, 2, 2))


class HRNetOutput(NamedTuple):
    """What `HRNet.__call__` returns."""

    heatmaps: jax.Array  # (N, H/4, W/4, K)
    features: jax.Array  # (N, H/4, W/4, 3·W)


@dataclasses.dataclass(frozen=True)
class _Layers:
    """Factories for the conv and BN flavours used everywhere, so that all agree.

    Built inside a compact method, the layers it makes belong to that module.
    """

    train: bool
    fold_bn: bool
    dtype: Any

    def conv(self, features: int, kernel: int, stride: int, name: str) -> nn.Conv:
        pad = kernel // 2
        # With folded BatchNorm the conv carries the BN's affine transform as a bias.
        return nn.Conv(features, (kernel, kernel), strides=stride,
                       padding=((pad, pad), (pad, pad)), use_bias=self.fold_bn,
                       dtype=self.dtype, name=name)

    def bn(self, name: str):
        if self.fold_bn:
            return lambda x: x
        return nn.BatchNorm(use_running_average=not self.train, momentum=BN_MOMENTUM,
                            epsilon=BN_EPSILON, dtype=self.dtype, name=name)


def _layers(module: nn.Module) -> _Layers:
    return _Layers(train=module.train, fold_bn=module.fold_bn, dtype=module.dtype)


class Bottleneck(nn.Module):
    """1×1 → 3×3 → 1×1 residual block (layer1), with an optional projection shortcut."""

    planes: int
    downsample: bool
    train: bool = False
    fold_bn: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        L = _layers(self)
        out_channels = self.planes * BOTTLENECK_EXPANSION
        y = nn.relu(L.bn("bn1")(L.conv(self.planes, 1, 1, "conv1")(x)))
        y = nn.relu(L.bn("bn2")(L.conv(self.planes, 3, 1, "conv2")(y)))
        y = L.bn("bn3")(L.conv(out_channels, 1, 1, "conv3")(y))
        if self.downsample:
            x = L.bn("downsample_1")(L.conv(out_channels, 1, 1, "downsample_0")(x))
        return nn.relu(x + y)


class BasicBlock(nn.Module):
    """3×3 → 3×3 residual block with identity shortcut (the branches of stages 2–4)."""

    planes: int
    train: bool = False
    fold_bn: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        L = _layers(self)
        y = nn.relu(L.bn("bn1")(L.conv(self.planes, 3, 1, "conv1")(x)))
        y = L.bn("bn2")(L.conv(self.planes, 3, 1, "conv2")(y))
        return nn.relu(x + y)


def upsample_nearest(x: jax.Array, factor: int) -> jax.Array:
    """Nearest-neighbour upsampling of (N, H, W, C) by an integer factor (each pixel k×k)."""
    n, h, w, c = x.shape
    x = jnp.broadcast_to(x[:, :, None, :, None, :], (n, h, factor, w, factor, c))
    return x.reshape(n, h * factor, w * factor, c)


class HighResolutionModule(nn.Module):
    """Parallel branches of BasicBlocks followed by the multi-resolution fuse."""

    channels: tuple[int, ...]
    blocks: int
    multi_scale_output: bool = True
    train: bool = False
    fold_bn: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, xs: Sequence[jax.Array]) -> list[jax.Array]:
        L = _layers(self)
        kw = dict(train=self.train, fold_bn=self.fold_bn, dtype=self.dtype)
        xs = list(xs)
        for b, c in enumerate(self.channels):
            for k in range(self.blocks):
                xs[b] = BasicBlock(c, name=f"branches_{b}_{k}", **kw)(xs[b])
        num_out = len(self.channels) if self.multi_scale_output else 1
        outs = []
        for i in range(num_out):
            total = xs[i]
            for j, x in enumerate(xs):
                if j > i:
                    y = L.conv(self.channels[i], 1, 1, f"fuse_layers_{i}_{j}_0")(x)
                    y = L.bn(f"fuse_layers_{i}_{j}_1")(y)
                    total = total + upsample_nearest(y, 2 ** (j - i))
                elif j < i:
                    y = x
                    for k in range(i - j):
                        last = k == i - j - 1
                        c_out = self.channels[i] if last else self.channels[j]
                        y = L.conv(c_out, 3, 2, f"fuse_layers_{i}_{j}_{k}_0")(y)
                        y = L.bn(f"fuse_layers_{i}_{j}_{k}_1")(y)
                        if not last:
                            y = nn.relu(y)
                    total = total + y
            outs.append(nn.relu(total))
        return outs


class HRNet(nn.Module):
    """The pose HRNet: returns heatmaps and the GNN's visual features.

    Attributes:
      config: the architecture.
      fold_bn: build the inference graph with BatchNorm folded into the convs (variables from
        `fold_batchnorm`); only valid with `train=False`.
      dtype: compute dtype of the convs, sums and activations (bfloat16 on accelerators);
        params, BatchNorm statistics and normalisation stay float32, and the heatmaps and
        features come back float32.
    """

    config: HRNetConfig = W32
    fold_bn: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, images: jax.Array, train: bool = False) -> HRNetOutput:
        cfg = self.config
        if images.shape[1] % 32 or images.shape[2] % 32:
            from gnnpose_jax.errors import ConfigError

            raise ConfigError(f"HRNet input {images.shape[1]}x{images.shape[2]} (HxW): both "
                              "sides must be multiples of 32 (e.g. 384x288, 256x192, 128x96)")
        L = _Layers(train=train, fold_bn=self.fold_bn, dtype=self.dtype)
        kw = dict(train=train, fold_bn=self.fold_bn, dtype=self.dtype)
        x = images.astype(self.dtype)
        x = nn.relu(L.bn("bn1")(L.conv(cfg.stem_channels, 3, 2, "conv1")(x)))
        x = nn.relu(L.bn("bn2")(L.conv(cfg.stem_channels, 3, 2, "conv2")(x)))
        for i in range(cfg.layer1_blocks):
            needs_proj = i == 0 and x.shape[-1] != cfg.layer1_planes * BOTTLENECK_EXPANSION
            x = Bottleneck(cfg.layer1_planes, downsample=needs_proj, name=f"layer1_{i}", **kw)(x)

        # transition1 makes branches 0 (stride 1) and 1 (stride 2, nested one level deeper).
        w = cfg.width
        xs = [
            nn.relu(L.bn("transition1_0_1")(L.conv(w, 3, 1, "transition1_0_0")(x))),
            nn.relu(L.bn("transition1_1_0_1")(L.conv(2 * w, 3, 2, "transition1_1_0_0")(x))),
        ]
        stage_features = []
        for s, (modules, blocks) in enumerate(zip(cfg.stage_modules, cfg.stage_blocks,
                                                  strict=True)):
            stage = s + 2
            if stage > 2:
                # transition{s} adds one branch from the previous stage's lowest resolution.
                b = len(xs)
                t = f"transition{stage - 1}_{b}_0"
                y = L.conv(w * 2 ** b, 3, 2, f"{t}_0")(xs[-1])
                xs = xs + [nn.relu(L.bn(f"{t}_1")(y))]
            channels = tuple(w * 2 ** b for b in range(len(xs)))
            for m in range(modules):
                last_of_net = stage == 4 and m == modules - 1
                xs = HighResolutionModule(channels, blocks, multi_scale_output=not last_of_net,
                                          name=f"stage{stage}_{m}", **kw)(xs)
            stage_features.append(xs[0])

        heatmaps = nn.Conv(cfg.num_joints, (1, 1), dtype=self.dtype, name="final_layer")(xs[0])
        features = jnp.concatenate(stage_features, axis=-1)
        return HRNetOutput(heatmaps=heatmaps.astype(jnp.float32),
                           features=features.astype(jnp.float32))


def init_hrnet(config: HRNetConfig, rng: jax.Array, input_hw: tuple[int, int] = (256, 192)):
    """Random `{"params", "batch_stats"}` for `config` (shapes do not depend on `input_hw`)."""
    module = HRNet(config)
    images = jnp.zeros((1, *input_hw, 3), jnp.float32)
    return module, module.init(rng, images, train=False)


def _bn_of_conv(conv_path: str) -> str | None:
    """The Flax path of the BatchNorm that follows a conv, or None for `final_layer`."""
    head, _, name = conv_path.rpartition("/")
    prefix = f"{head}/" if head else ""
    if name == "final_layer":
        return None
    if name.startswith("conv") and name[4:].isdigit():
        return f"{prefix}bn{name[4:]}"
    if name.endswith("_0"):
        return f"{prefix}{name[:-2]}_1"
    raise ValueError(f"no BatchNorm known for conv {conv_path}")


def fold_batchnorm(variables: dict[str, Any]) -> dict[str, Any]:
    """Folds every BatchNorm into the conv before it, for `HRNet(fold_bn=True)`.

    Each conv `name` followed by BN `bn_name` gets kernel · γ/√(σ²+ε) and bias β − μ·γ/√(σ²+ε).
    """
    from flax import traverse_util

    params = traverse_util.flatten_dict(variables["params"], sep="/")
    stats = traverse_util.flatten_dict(variables["batch_stats"], sep="/")
    folded = {}
    for key, value in params.items():
        path, leaf = key.rsplit("/", 1)
        if leaf != "kernel":
            if path.rsplit("/", 1)[-1] == "final_layer":
                folded[key] = value
            continue
        bn = _bn_of_conv(path)
        if bn is None:  # final_layer
            folded[key] = value
            continue
        gamma, beta = params[f"{bn}/scale"], params[f"{bn}/bias"]
        mean, var = stats[f"{bn}/mean"], stats[f"{bn}/var"]
        factor = gamma / jnp.sqrt(var + BN_EPSILON)
        folded[key] = value * factor
        folded[f"{path}/bias"] = beta - mean * factor
    return {"params": traverse_util.unflatten_dict(folded, sep="/")}


HRNET_JSON = "hrnet.json"


def save_hrnet(directory: str | Path, config: HRNetConfig, variables: dict[str, Any],
               input_hw: tuple[int, int] | None = None, joints: str | None = None,
               compute_dtype: str | None = None) -> None:
    """Writes `variables` as an Orbax checkpoint plus `hrnet.json` into a new `directory`.

    `input_hw`, `joints` (the joint layout, "coco" or "posetrack") and `compute_dtype` (what
    the network was trained in, "float32" or "bfloat16") are recorded when known.
    """
    from gnnpose_jax.models.restore import save_variables

    meta = {"format": "gnnpose_jax.hrnet/1", "config": config.to_json()}
    if input_hw is not None:
        meta["input_hw"] = list(input_hw)
    if joints is not None:
        meta["joints"] = joints
    if compute_dtype is not None:
        meta[precision.EXPORT_FIELD] = precision.dtype_name(compute_dtype)
    save_variables(directory, VARIABLES_DIR, variables, HRNET_JSON, meta)


def read_hrnet_json(directory: str | Path) -> dict[str, Any]:
    """Reads and validates `hrnet.json`; raises CheckpointError if this is no HRNet checkpoint.

    `compute_dtype` is always set: float32 where the file records none.
    """
    from gnnpose_jax.errors import CheckpointError

    directory = Path(directory)
    meta_path = directory / HRNET_JSON
    if not (meta_path.is_file() and (directory / VARIABLES_DIR).is_dir()):
        raise CheckpointError(
            f"{directory}: not a converted HRNet checkpoint (expected {HRNET_JSON} and "
            f"{VARIABLES_DIR}/ inside; make one with `python -m convert_weights SRC {directory}`)")
    try:
        meta = json.loads(meta_path.read_text())
        meta["config"] = HRNetConfig.from_json(meta["config"])
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{meta_path}: malformed ({e})") from None
    meta[precision.EXPORT_FIELD] = precision.recorded_dtype(meta, str(meta_path))
    return meta


def load_hrnet(directory: str | Path, fold_bn: bool = False, dtype: Any = None):
    """Loads a converted checkpoint.

    Args:
      directory: a directory written by `python -m convert_weights` or `save_hrnet`.
      fold_bn: return the BN-folded inference module and variables (faster; inference only).
      dtype: compute dtype of the module ("float32", "bfloat16" or a JAX dtype); None: the
        one `hrnet.json` records (float32 if none).

    Returns:
      (module, variables): `module.apply(variables, images, train=False)` gives `HRNetOutput`.

    Raises:
      CheckpointError: not an HRNet checkpoint, or a damaged one, or weights of another shape
        than `hrnet.json` describes.
    """
    from gnnpose_jax.models.restore import restore_variables

    meta = read_hrnet_json(directory)
    config = meta["config"]
    _, abstract = init_hrnet_abstract(config)
    variables = restore_variables(directory, VARIABLES_DIR, abstract, "HRNet")
    dtype = precision.inference_dtype(meta[precision.EXPORT_FIELD], dtype)
    if fold_bn:
        return HRNet(config, fold_bn=True, dtype=dtype), fold_batchnorm(variables)
    return HRNet(config, dtype=dtype), variables


@functools.lru_cache(maxsize=8)
def _abstract_variables(config: HRNetConfig):
    module = HRNet(config)
    return jax.eval_shape(
        lambda: module.init(jax.random.key(0), jnp.zeros((1, 64, 64, 3)), train=False))


def init_hrnet_abstract(config: HRNetConfig):
    """(module, ShapeDtypeStruct tree of the variables) without allocating anything."""
    return HRNet(config), _abstract_variables(config)
