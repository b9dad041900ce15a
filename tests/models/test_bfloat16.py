"""bfloat16 inference (models.precision): each network, run in bfloat16 on the same weights as in
float32, stays within a stated bound of its float32 self and returns float32; exports record
the compute dtype they were trained in and load back in it unless told otherwise.

Bounds: bfloat16 keeps 8 significant bits, so every convolution, matmul and activation output
is rounded by up to 2^-9 (about 0.2%) relative; over the tens of layers of these small random
networks the roundings add up, mostly like a random walk, to about 1% of the outputs' scale.
Measured on these weights: HRNet heatmaps 0.9% of the peak; YOLOX box centres 0.04 strides,
log box sizes 0.04, probabilities 0.017; GNN candidate probabilities 0.005. The bounds are
about four times those.
"""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gnnpose_jax import cli
from gnnpose_jax.errors import CheckpointError, ConfigError
from gnnpose_jax.graphs import CandidateGrid, GraphSpec, batch_graphs, build_graph, graph_budget
from gnnpose_jax.graphs.decode import candidate_probabilities
from gnnpose_jax.models import hrnet, precision, pretrained, run_folder, yolox
from gnnpose_jax.models.gnn import GnnConfig, GnnPose
from gnnpose_jax.models.gnn_io import GNN_JSON, load_gnn
from gnnpose_jax.models.topdown import TopDownEstimator
from tests.helpers.tiny_runs import INPUT_HW, TINY, random_like

HEATMAP_BOUND = 0.04  # of the float32 peak
CENTRE_BOUND = 0.15  # strides
LOG_SIZE_BOUND = 0.15
YOLOX_PROB_BOUND = 0.06
GNN_PROB_BOUND = 0.02
DTYPES = (jnp.float32, jnp.bfloat16)


def test_hrnet_heatmaps_and_keypoints():
    """Heatmaps within the bound of the peak. Where float32's peak beats every other cell by
    more than twice the largest heatmap error, bfloat16 has the same argmax, so its keypoint
    differs by at most the half-cell sub-pixel shift (which follows the sign of a neighbour
    difference that may be smaller than the error)."""
    variables = hrnet.fold_batchnorm(random_like(hrnet.init_hrnet_abstract(TINY)[1], seed=0))
    image = np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    boxes = np.array([[10.0, 5.0, 40.0, 80.0], [60.0, 20.0, 50.0, 70.0]])
    f32, bf16 = (TopDownEstimator(hrnet.HRNet(TINY, fold_bn=True, dtype=dtype), variables,
                                  INPUT_HW).estimate(image, boxes, maps=True) for dtype in DTYPES)
    assert bf16.heatmaps.dtype == np.float32
    error = np.abs(bf16.heatmaps - f32.heatmaps).max()
    assert 0 < error <= HEATMAP_BOUND * np.abs(f32.heatmaps).max()

    ranked = np.sort(f32.heatmaps.reshape(len(boxes), -1, f32.heatmaps.shape[-1]), axis=1)
    clear = ranked[:, -1] - ranked[:, -2] > 2 * error
    assert clear.sum() >= 3  # 7 of the 34 joints on these weights
    cell = np.stack([f32.heatmap_to_image[:, 0, 0], f32.heatmap_to_image[:, 1, 1]], -1)
    shift = np.abs(bf16.keypoints - f32.keypoints) / cell[:, None]
    assert shift[clear].max() <= 0.5 + 1e-6


def test_yolox_boxes():
    config = yolox.YoloxConfig(depth=0.33, width=0.125, input_size=128)
    variables = yolox.fold_batchnorm(random_like(yolox.init_yolox_abstract(config)[1], seed=1))
    images = np.random.default_rng(0).uniform(0, 255, (1, 128, 128, 3)).astype(np.float32)
    f32, bf16 = (np.asarray(jax.jit(yolox.YOLOX(config, fold_bn=True, dtype=dtype).apply)(
        variables, images)) for dtype in DTYPES)
    assert bf16.dtype == np.float32 and np.isfinite(f32).all()
    _, stride = (np.asarray(x) for x in yolox.anchor_grid(128, 128))
    assert 0 < (np.abs(bf16[..., :2] - f32[..., :2]) / stride).max() <= CENTRE_BOUND
    assert np.abs(np.log(bf16[..., 2:4] / f32[..., 2:4])).max() <= LOG_SIZE_BOUND
    assert np.abs(bf16[..., 4:] - f32[..., 4:]).max() <= YOLOX_PROB_BOUND


def _gnn_case(impl: str):
    """A one-layer GNN on three graphs of random 17-joint histories in a 64 x 64 crop."""
    spec = GraphSpec(CandidateGrid((INPUT_HW[0] // 4, INPUT_HW[1] // 4), stride=2), history=2)
    config = GnnConfig(spec, hidden=16, layers=1, heads=2, attention_impl=impl)
    graphs = []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        history = np.concatenate([rng.uniform(8, 56, (2, 17, 2)), rng.uniform(0.3, 1, (2, 17, 1))],
                                 axis=-1)
        graphs.append(build_graph(spec, history, np.tile(np.eye(2, 3), (2, 1, 1)), np.eye(2, 3),
                                  np.array([8.0, 8.0, 48.0, 48.0])))
    batch = batch_graphs(graphs, graph_budget(spec, 3))
    features = np.random.default_rng(0).normal(
        size=(3, 3, *spec.grid.feature_hw, 3 * TINY.width)).astype(np.float32)
    params = random_like(jax.eval_shape(GnnPose(config).init, jax.random.key(1), batch, features),
                         seed=2)
    return config, batch, features, params


@pytest.mark.parametrize("impl", ["dense", "segment"])
def test_gnn_predictions(impl):
    config, batch, features, params = _gnn_case(impl)
    logits = {dtype: jax.jit(GnnPose(config, dtype=dtype).apply)(params, batch, features)
              for dtype in DTYPES}
    assert logits[jnp.bfloat16].dtype == jnp.float32
    f32, bf16 = (np.asarray(candidate_probabilities(logits[dtype], batch, config.graph.grid, 3))
                 for dtype in DTYPES)
    assert 0 < np.abs(bf16 - f32).max() <= GNN_PROB_BOUND


# --- exports ----------------------------------------------------------------------------------


def _hrnet_variables():
    return random_like(hrnet.init_hrnet_abstract(TINY)[1], seed=0)


def test_exports_record_the_dtype_and_load_in_it(tmp_path):
    run_folder.export_hrnet(tmp_path / "hrnet", TINY, _hrnet_variables(), INPUT_HW, "bfloat16")
    assert hrnet.read_hrnet_json(tmp_path / "hrnet")["compute_dtype"] == "bfloat16"
    module, _ = hrnet.load_hrnet(tmp_path / "hrnet", fold_bn=True)
    assert module.dtype == jnp.bfloat16 and module.fold_bn
    assert hrnet.load_hrnet(tmp_path / "hrnet", dtype="float32")[0].dtype == jnp.float32
    pose = pretrained.load_pose_network(tmp_path / "hrnet")
    assert pose.module.dtype == jnp.bfloat16 and pose.describe().endswith(", bfloat16")

    small = yolox.YoloxConfig(depth=0.33, width=0.125, input_size=128)
    run_folder.export_yolox(tmp_path / "yolox", small,
                            random_like(yolox.init_yolox_abstract(small)[1], seed=0), "bfloat16")
    assert yolox.read_yolox_json(tmp_path / "yolox") == (small, "bfloat16")
    assert yolox.load_yolox(tmp_path / "yolox")[0].dtype == jnp.bfloat16
    assert pretrained.load_detector(tmp_path / "yolox")[0].dtype == jnp.bfloat16
    assert pretrained.load_detector(tmp_path / "yolox", dtype="float32")[0].dtype == jnp.float32

    config, _, _, params = _gnn_case("dense")
    run_folder.export_gnn(tmp_path / "gnn", config, params["params"], str(tmp_path / "hrnet"),
                          INPUT_HW, compute_dtype="bfloat16")
    export = load_gnn(tmp_path / "gnn")
    assert export.trained_dtype == "bfloat16" and export.module.dtype == jnp.bfloat16
    override = load_gnn(tmp_path / "gnn", dtype=jnp.float32)
    assert override.trained_dtype == "bfloat16" and override.module.dtype == jnp.float32
    assert override.module.config == export.module.config


def test_exports_without_the_field_are_float32(tmp_path):
    hrnet.save_hrnet(tmp_path / "hrnet", TINY, _hrnet_variables(), INPUT_HW)
    assert "compute_dtype" not in json.loads((tmp_path / "hrnet/hrnet.json").read_text())
    assert hrnet.load_hrnet(tmp_path / "hrnet")[0].dtype == jnp.float32
    config, _, _, params = _gnn_case("dense")
    run_folder.export_gnn(tmp_path / "gnn", config, params["params"], str(tmp_path / "hrnet"),
                          INPUT_HW)
    meta_path = tmp_path / "gnn" / GNN_JSON
    meta = json.loads(meta_path.read_text())
    assert meta.pop("compute_dtype") == "float32"  # written always, read as float32 if absent
    meta_path.write_text(json.dumps(meta))
    assert load_gnn(tmp_path / "gnn").module.dtype == jnp.float32


def test_bad_dtypes_are_one_line_errors(tmp_path):
    hrnet.save_hrnet(tmp_path / "hrnet", TINY, _hrnet_variables(), INPUT_HW,
                     compute_dtype="bfloat16")
    meta_path = tmp_path / "hrnet/hrnet.json"
    meta_path.write_text(meta_path.read_text().replace('"bfloat16"', '"float16"'))
    with pytest.raises(CheckpointError, match=r"hrnet.json: compute_dtype 'float16', expected "
                                              r"one of \('float32', 'bfloat16'\)"):
        hrnet.load_hrnet(tmp_path / "hrnet")
    with pytest.raises(ConfigError, match="--dtype 'float16' must be one of"):
        precision.inference_dtype("float32", "float16")
    assert cli.DTYPE_CHOICES == precision.COMPUTE_DTYPES  # what argparse offers
    with pytest.raises(ConfigError, match="compute_dtype 'int8'"):
        hrnet.save_hrnet(tmp_path / "other", TINY, _hrnet_variables(), compute_dtype="int8")


def test_official_files_run_in_either_dtype(tmp_path):
    from benchmarks.random_weights import write_hrnet_pth, write_yolox_pth
    from tests.helpers.tiny_runs import DENSE, HRNET_PTH

    write_hrnet_pth(tmp_path / HRNET_PTH, TINY)
    write_yolox_pth(tmp_path / "yolox.pth", DENSE)
    assert pretrained.load_pose_network(tmp_path / HRNET_PTH).module.dtype == jnp.float32
    assert pretrained.load_pose_network(tmp_path / HRNET_PTH,
                                        dtype="bfloat16").module.dtype == jnp.bfloat16
    assert pretrained.load_detector(tmp_path / "yolox.pth")[0].dtype == jnp.float32
    assert pretrained.load_detector(tmp_path / "yolox.pth",
                                    dtype=jnp.bfloat16)[0].dtype == jnp.bfloat16
