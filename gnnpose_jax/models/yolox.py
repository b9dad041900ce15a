"""The YOLOX detector (Ge et al., 2021) in Flax linen, numerically the official model.

Submodule names mirror the official PyTorch state-dict keys, with `_` before each numeric path
component instead of `.` (`backbone/backbone/dark3_1/m_0` for `backbone.backbone.dark3.1.m.0`,
`head/cls_convs_2_1` for `head.cls_convs.2.1`), so that `yolox_convert.py` maps keys both ways
with the rule HRNet's converter uses.

Numerics (docs/spec/detector.md §2): explicit symmetric padding, BatchNorm eps 1e-3 (set by the
official experiment, not stored in checkpoints), SiLU, the Focus slice order top-left,
bottom-left, top-right, bottom-right, max-pools 5/9/13 padded with -inf, nearest ×2
upsampling, and the eval-mode decode of `YOLOXHead.decode_outputs`. BatchNorm uses its running
statistics unless the caller makes `batch_stats` mutable (training: batch statistics, running
averages updated with the official momentum 0.03); `YOLOX(...)(images, train=True)` returns the
raw head outputs the training loss takes (`training/yolox_loss.py`).

Shapes: images (N, S, S, 3) float32 NHWC, BGR, 0..255, as the official `preproc` letterboxes
them (any H×W with both sides multiples of 32 works too); output (N, A, 5 + C) with
A = Σ (H/s)(W/s) over strides s = 8, 16, 32 (8400 at 640×640): cx, cy, w, h in input pixels,
objectness and C class probabilities.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from gnnpose_jax.models import precision
from gnnpose_jax.models.hrnet import upsample_nearest
from gnnpose_jax.models.restore import VARIABLES_DIR

BN_EPSILON = 1e-3
#: Flax's momentum is the kept fraction: the official PyTorch momentum 0.03 is 0.97 here.
BN_MOMENTUM = 0.97
STRIDES = (8, 16, 32)
FPN_CHANNELS = (256, 512, 1024)  # scaled by the width multiplier
HEAD_CHANNELS = 256  # scaled by the width multiplier
SPP_KERNELS = (5, 9, 13)


@dataclasses.dataclass(frozen=True)
class YoloxConfig:
    """Architecture of a YOLOX variant, with the official multipliers.

    Attributes:
      depth: depth multiplier; CSP layers hold round(3·depth) bottlenecks (at least 1, and 3×
        that in dark3/dark4, in the backbone).
      width: width multiplier; the stem has int(64·width) channels, the FPN levels
        int((256, 512, 1024)·width) and the head int(256·width).
      depthwise: depthwise-separable 3×3 convs (nano).
      num_classes: C, the number of classes (80 for COCO).
      input_size: S, the square input the variant is evaluated at (416 or 640 officially).
    """

    depth: float = 0.33
    width: float = 0.50
    depthwise: bool = False
    num_classes: int = 80
    input_size: int = 640

    @property
    def stem_channels(self) -> int:
        """Channels of the Focus stem (the backbone doubles them at each stage)."""
        return int(64 * self.width)

    @property
    def backbone_blocks(self) -> int:
        """Bottlenecks of the dark2 and dark5 CSP layers (dark3 and dark4 have 3× as many)."""
        return max(round(3 * self.depth), 1)

    @property
    def fpn_blocks(self) -> int:
        """Bottlenecks of each PAFPN CSP layer."""
        return round(3 * self.depth)

    def fpn_channels(self, level: int) -> int:
        """Channels of FPN level 0, 1, 2 (strides 8, 16, 32)."""
        return int(FPN_CHANNELS[level] * self.width)

    @property
    def head_channels(self) -> int:
        """Channels of the head's stems and conv towers."""
        return int(HEAD_CHANNELS * self.width)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict of the fields."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> YoloxConfig:
        """Inverse of `to_json`; unknown keys are an error."""
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown YoloxConfig fields: {sorted(unknown)}")
        return cls(**d)


NANO = YoloxConfig(depth=0.33, width=0.25, depthwise=True, input_size=416)
TINY = YoloxConfig(depth=0.33, width=0.375, input_size=416)
S = YoloxConfig(depth=0.33, width=0.50)
M = YoloxConfig(depth=0.67, width=0.75)
L = YoloxConfig(depth=1.0, width=1.0)
X = YoloxConfig(depth=1.33, width=1.25)
#: The official variants by their release names (`yolox_s.pth` is "s").
PRESETS = {"nano": NANO, "tiny": TINY, "s": S, "m": M, "l": L, "x": X}


class DepthwiseConv(nn.Module):
    """A k×k depthwise convolution with `nn.Conv`'s variables (`kernel` (k, k, 1, C), `bias`).

    Computed as k² shifted multiply-adds, which XLA fuses into one loop: on the CPU this is
    30-40× faster than `nn.Conv(feature_group_count=C)` (benchmarks/bench_detector.py, nano).
    """

    kernel_size: int
    stride: int = 1
    use_bias: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        k, s, channels = self.kernel_size, self.stride, x.shape[-1]
        kernel = self.param("kernel", nn.initializers.lecun_normal(), (k, k, 1, channels))
        pad = (k - 1) // 2
        x = jnp.pad(x.astype(self.dtype), ((0, 0), (pad, pad), (pad, pad), (0, 0)))
        h_out = (x.shape[1] - k) // s + 1
        w_out = (x.shape[2] - k) // s + 1
        out = 0.0
        for i in range(k):
            for j in range(k):
                window = x[:, i:i + s * (h_out - 1) + 1:s, j:j + s * (w_out - 1) + 1:s, :]
                out = out + window * kernel[i, j, 0].astype(self.dtype)
        if self.use_bias:
            out = out + self.param("bias", nn.initializers.zeros, (channels,)).astype(self.dtype)
        return out


class BaseConv(nn.Module):
    """Conv (symmetric padding) → BatchNorm → SiLU, or conv with bias → SiLU when folded."""

    features: int
    kernel: int
    stride: int = 1
    groups: int = 1
    fold_bn: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        pad = (self.kernel - 1) // 2
        if self.groups > 1 and self.groups == self.features == x.shape[-1]:
            x = DepthwiseConv(self.kernel, self.stride, use_bias=self.fold_bn, dtype=self.dtype,
                              name="conv")(x)
        else:
            x = nn.Conv(self.features, (self.kernel, self.kernel), strides=self.stride,
                        padding=((pad, pad), (pad, pad)), feature_group_count=self.groups,
                        use_bias=self.fold_bn, dtype=self.dtype, name="conv")(x)
        if not self.fold_bn:
            x = nn.BatchNorm(use_running_average=not self.is_mutable_collection("batch_stats"),
                             momentum=BN_MOMENTUM, epsilon=BN_EPSILON, dtype=self.dtype,
                             name="bn")(x)
        return nn.silu(x)


class DWConv(nn.Module):
    """Depthwise k×k BaseConv (`dconv`), then a pointwise 1×1 BaseConv (`pconv`)."""

    features: int
    kernel: int
    stride: int = 1
    fold_bn: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        kw = dict(fold_bn=self.fold_bn, dtype=self.dtype)
        x = BaseConv(x.shape[-1], self.kernel, self.stride, groups=x.shape[-1], name="dconv",
                     **kw)(x)
        return BaseConv(self.features, 1, name="pconv", **kw)(x)


def _conv(depthwise: bool, features: int, kernel: int, stride: int, name: str, fold_bn: bool,
          dtype: Any) -> nn.Module:
    """The 3×3 conv flavour of the variant: DWConv for nano, BaseConv otherwise."""
    cls = DWConv if depthwise else BaseConv
    return cls(features, kernel, stride, fold_bn=fold_bn, dtype=dtype, name=name)


class Bottleneck(nn.Module):
    """1×1 → 3×3, plus the input when `shortcut` (widths always agree inside a CSP layer)."""

    features: int
    shortcut: bool
    depthwise: bool
    fold_bn: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        kw = dict(fold_bn=self.fold_bn, dtype=self.dtype)
        y = BaseConv(self.features, 1, name="conv1", **kw)(x)
        y = _conv(self.depthwise, self.features, 3, 1, "conv2", **kw)(y)
        return x + y if self.shortcut else y


class CSPLayer(nn.Module):
    """`conv1` → n Bottlenecks (`m_i`), concatenated with `conv2`, then `conv3`."""

    features: int
    blocks: int
    shortcut: bool
    depthwise: bool
    fold_bn: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        kw = dict(fold_bn=self.fold_bn, dtype=self.dtype)
        hidden = int(self.features * 0.5)
        y = BaseConv(hidden, 1, name="conv1", **kw)(x)
        for i in range(self.blocks):
            y = Bottleneck(hidden, self.shortcut, self.depthwise, name=f"m_{i}", **kw)(y)
        y = jnp.concatenate([y, BaseConv(hidden, 1, name="conv2", **kw)(x)], axis=-1)
        return BaseConv(self.features, 1, name="conv3", **kw)(y)


class SPPBottleneck(nn.Module):
    """`conv1`, then it and its 5/9/13 stride-1 max-pools concatenated, then `conv2`."""

    features: int
    fold_bn: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        kw = dict(fold_bn=self.fold_bn, dtype=self.dtype)
        x = BaseConv(x.shape[-1] // 2, 1, name="conv1", **kw)(x)
        # Flax pads max-pools with -inf, as PyTorch's MaxPool2d does.
        pools = [nn.max_pool(x, (k, k), strides=(1, 1), padding=((k // 2, k // 2),) * 2)
                 for k in SPP_KERNELS]
        return BaseConv(self.features, 1, name="conv2", **kw)(jnp.concatenate([x, *pools], -1))


class Focus(nn.Module):
    """Space-to-depth, (N, H, W, C) → (N, H/2, W/2, 4C) with the official slice order top-left,
    bottom-left, top-right, bottom-right, then a 3×3 BaseConv (`conv`)."""

    features: int
    fold_bn: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        parts = (x[:, ::2, ::2], x[:, 1::2, ::2], x[:, ::2, 1::2], x[:, 1::2, 1::2])
        x = jnp.concatenate(parts, axis=-1)
        return BaseConv(self.features, 3, fold_bn=self.fold_bn, dtype=self.dtype, name="conv")(x)


class CSPDarknet(nn.Module):
    """Focus stem, then dark2..dark5; returns dark3, dark4, dark5 (strides 8, 16, 32)."""

    config: YoloxConfig
    fold_bn: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        cfg = self.config
        kw = dict(fold_bn=self.fold_bn, dtype=self.dtype)
        c, n = cfg.stem_channels, cfg.backbone_blocks
        x = Focus(c, name="stem", **kw)(x)
        outputs = []
        for stage, blocks in ((2, n), (3, 3 * n), (4, 3 * n)):
            c *= 2
            x = _conv(cfg.depthwise, c, 3, 2, f"dark{stage}_0", **kw)(x)
            x = CSPLayer(c, blocks, True, cfg.depthwise, name=f"dark{stage}_1", **kw)(x)
            outputs.append(x)
        c *= 2
        x = _conv(cfg.depthwise, c, 3, 2, "dark5_0", **kw)(x)
        x = SPPBottleneck(c, name="dark5_1", **kw)(x)
        x = CSPLayer(c, n, False, cfg.depthwise, name="dark5_2", **kw)(x)
        return outputs[1], outputs[2], x


class YOLOPAFPN(nn.Module):
    """The backbone (`backbone`) plus top-down and bottom-up path aggregation."""

    config: YoloxConfig
    fold_bn: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        cfg = self.config
        kw = dict(fold_bn=self.fold_bn, dtype=self.dtype)
        c0, c1, c2 = (cfg.fpn_channels(level) for level in range(3))
        n, dw = cfg.fpn_blocks, cfg.depthwise
        dark3, dark4, dark5 = CSPDarknet(cfg, name="backbone", **kw)(x)
        lateral = BaseConv(c1, 1, name="lateral_conv0", **kw)(dark5)
        p4 = jnp.concatenate([upsample_nearest(lateral, 2), dark4], -1)
        p4 = CSPLayer(c1, n, False, dw, name="C3_p4", **kw)(p4)
        reduced = BaseConv(c0, 1, name="reduce_conv1", **kw)(p4)
        out3 = jnp.concatenate([upsample_nearest(reduced, 2), dark3], -1)
        out3 = CSPLayer(c0, n, False, dw, name="C3_p3", **kw)(out3)
        out4 = jnp.concatenate([_conv(dw, c0, 3, 2, "bu_conv2", **kw)(out3), reduced], -1)
        out4 = CSPLayer(c1, n, False, dw, name="C3_n3", **kw)(out4)
        out5 = jnp.concatenate([_conv(dw, c1, 3, 2, "bu_conv1", **kw)(out4), lateral], -1)
        out5 = CSPLayer(c2, n, False, dw, name="C3_n4", **kw)(out5)
        return out3, out4, out5


def anchor_grid(height: int, width: int) -> tuple[jax.Array, jax.Array]:
    """The (A, 2) cell offsets (x, y) and (A, 1) strides of the flattened levels, in the
    official order: stride 8, 16, 32, each row-major."""
    grids, strides = [], []
    for stride in STRIDES:
        rows, cols = height // stride, width // stride
        ys, xs = jnp.meshgrid(jnp.arange(rows), jnp.arange(cols), indexing="ij")
        grids.append(jnp.stack([xs, ys], -1).reshape(-1, 2))
        strides.append(jnp.full((rows * cols, 1), stride))
    return (jnp.concatenate(grids).astype(jnp.float32),
            jnp.concatenate(strides).astype(jnp.float32))


class YOLOXHead(nn.Module):
    """The decoupled head; returns the decoded eval-mode output (N, A, 5 + C), or with `raw`
    the undecoded (N, A, 5 + C): box offsets and log-sizes, objectness and class logits."""

    config: YoloxConfig
    fold_bn: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, features, input_hw: tuple[int, int], raw: bool = False):
        cfg = self.config
        kw = dict(fold_bn=self.fold_bn, dtype=self.dtype)
        hidden = cfg.head_channels
        outputs = []
        for k, x in enumerate(features):
            x = BaseConv(hidden, 1, name=f"stems_{k}", **kw)(x)
            cls, reg = x, x
            for j in range(2):
                cls = _conv(cfg.depthwise, hidden, 3, 1, f"cls_convs_{k}_{j}", **kw)(cls)
                reg = _conv(cfg.depthwise, hidden, 3, 1, f"reg_convs_{k}_{j}", **kw)(reg)
            pred = functools.partial(nn.Conv, kernel_size=(1, 1), dtype=self.dtype)
            out = jnp.concatenate([
                pred(4, name=f"reg_preds_{k}")(reg),
                pred(1, name=f"obj_preds_{k}")(reg),
                pred(cfg.num_classes, name=f"cls_preds_{k}")(cls),
            ], -1).astype(jnp.float32)
            outputs.append(out.reshape(out.shape[0], -1, out.shape[-1]))
        out = jnp.concatenate(outputs, axis=1)
        if raw:
            return out
        out = jnp.concatenate([out[..., :4], nn.sigmoid(out[..., 4:])], axis=-1)
        grid, stride = anchor_grid(*input_hw)
        return jnp.concatenate([(out[..., :2] + grid) * stride, jnp.exp(out[..., 2:4]) * stride,
                                out[..., 4:]], axis=-1)


class YOLOX(nn.Module):
    """YOLOX: `backbone` (PAFPN) and `head`; `__call__(images)` → decoded (N, A, 5 + C).

    Attributes:
      config: the variant.
      fold_bn: build the inference graph with BatchNorm folded into the convs (variables from
        `fold_batchnorm`).
      dtype: compute dtype of the convs, sums and activations; params, BatchNorm statistics
        and normalisation stay float32, and the output (raw or decoded) is float32.
    """

    config: YoloxConfig = S
    fold_bn: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, images: jax.Array, train: bool = False) -> jax.Array:
        """Decoded (N, A, 5 + C); with `train`, the raw head outputs (`YOLOXHead`)."""
        h, w = images.shape[1:3]
        if h % 32 or w % 32:
            from gnnpose_jax.errors import ConfigError

            raise ConfigError(f"YOLOX input {h}x{w} (HxW): both sides must be multiples of 32 "
                              "(e.g. 640x640 or 416x416)")
        kw = dict(fold_bn=self.fold_bn, dtype=self.dtype)
        features = YOLOPAFPN(self.config, name="backbone", **kw)(images.astype(self.dtype))
        return YOLOXHead(self.config, name="head", **kw)(features, (h, w), raw=train)


def fold_batchnorm(variables: dict[str, Any]) -> dict[str, Any]:
    """Folds every BatchNorm into its conv, for `YOLOX(fold_bn=True)`.

    Each BaseConv's `conv` gets kernel · γ/√(σ²+ε) and bias β − μ·γ/√(σ²+ε) from its sibling
    `bn`; the prediction convs, which have no BatchNorm, keep their kernel and bias.
    """
    from flax import traverse_util

    params = traverse_util.flatten_dict(variables["params"], sep="/")
    stats = traverse_util.flatten_dict(variables["batch_stats"], sep="/")
    folded = {}
    for key, value in params.items():
        path, leaf = key.rsplit("/", 1)
        parent, _, name = path.rpartition("/")
        if name == "bn":
            continue
        if name != "conv":
            folded[key] = value
            continue
        bn = f"{parent}/bn"
        factor = params[f"{bn}/scale"] / jnp.sqrt(stats[f"{bn}/var"] + BN_EPSILON)
        folded[key] = value * factor
        folded[f"{path}/bias"] = params[f"{bn}/bias"] - stats[f"{bn}/mean"] * factor
    return {"params": traverse_util.unflatten_dict(folded, sep="/")}


@functools.lru_cache(maxsize=8)
def _abstract_variables(config: YoloxConfig):
    module = YOLOX(config)
    return jax.eval_shape(lambda: module.init(jax.random.key(0), jnp.zeros((1, 64, 64, 3))))


def init_yolox_abstract(config: YoloxConfig):
    """(module, ShapeDtypeStruct tree of the variables) without allocating anything."""
    return YOLOX(config), _abstract_variables(config)


def init_yolox(config: YoloxConfig, rng: jax.Array):
    """(module, random `{"params", "batch_stats"}`) for `config` (shapes do not depend on S)."""
    module = YOLOX(config)
    return module, module.init(rng, jnp.zeros((1, 64, 64, 3), jnp.float32))


YOLOX_JSON = "yolox.json"
FORMAT = "gnnpose_jax.yolox/1"


def save_yolox(directory: str | Path, config: YoloxConfig, variables: dict[str, Any],
               compute_dtype: str | None = None) -> None:
    """Writes `variables` as an Orbax checkpoint plus `yolox.json` into a new `directory`;
    `compute_dtype` (what the network was trained in) is recorded when known."""
    from gnnpose_jax.models.restore import save_variables

    meta = {"format": FORMAT, "config": config.to_json()}
    if compute_dtype is not None:
        meta[precision.EXPORT_FIELD] = precision.dtype_name(compute_dtype)
    save_variables(directory, VARIABLES_DIR, variables, YOLOX_JSON, meta)


def is_yolox_dir(directory: str | Path) -> bool:
    """Whether `directory` looks like a converted YOLOX checkpoint (it holds `yolox.json`)."""
    return (Path(directory) / YOLOX_JSON).is_file()


def read_yolox_json(directory: str | Path) -> tuple[YoloxConfig, str]:
    """The config and the recorded compute dtype (float32 if none) in `yolox.json`; raises
    CheckpointError if this is no YOLOX checkpoint."""
    from gnnpose_jax.errors import CheckpointError

    directory = Path(directory)
    meta_path = directory / YOLOX_JSON
    if not meta_path.is_file() or not (directory / VARIABLES_DIR).is_dir():
        raise CheckpointError(
            f"{directory}: not a converted YOLOX checkpoint (expected {YOLOX_JSON} and "
            f"{VARIABLES_DIR}/ inside; make one with `python -m convert_weights SRC {directory}`)")
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format')!r}, expected {FORMAT!r}")
        config = YoloxConfig.from_json(meta["config"])
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{meta_path}: malformed ({e})") from None
    return config, precision.recorded_dtype(meta, str(meta_path))


def load_yolox(directory: str | Path, fold_bn: bool = False, dtype: Any = None):
    """Loads a converted checkpoint.

    Args:
      directory: a directory written by `python -m convert_weights` or `save_yolox`.
      fold_bn: return the BN-folded inference module and variables (faster).
      dtype: compute dtype of the module ("float32", "bfloat16" or a JAX dtype); None: the
        one `yolox.json` records (float32 if none).

    Returns:
      (module, variables): `module.apply(variables, images)` gives the decoded (N, A, 5 + C).

    Raises:
      CheckpointError: not a YOLOX checkpoint, or a damaged one, or weights of another shape
        than `yolox.json` describes.
    """
    from gnnpose_jax.models.restore import restore_variables

    config, recorded = read_yolox_json(directory)
    _, abstract = init_yolox_abstract(config)
    variables = restore_variables(directory, VARIABLES_DIR, abstract, "YOLOX")
    dtype = precision.inference_dtype(recorded, dtype)
    if fold_bn:
        return YOLOX(config, fold_bn=True, dtype=dtype), fold_batchnorm(variables)
    return YOLOX(config, dtype=dtype), variables
