"""The pose-dynamics GNN: attention against a NumPy reference, padding, impls, loss, tracing."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gnnpose_jax.errors import ConfigError
from gnnpose_jax.graphs import (
    SPATIAL,
    TEMPORAL,
    CandidateGrid,
    GraphSpec,
    batch_graphs,
    build_graph,
    graph_budget,
)
from gnnpose_jax.graphs.layout import dense_layout, node_mask, segment_geometry
from gnnpose_jax.models.gnn import (
    OFFSET_SCALE,
    GnnConfig,
    GnnPose,
    TypedAttention,
    sample_features,
)
from gnnpose_jax.training.losses import candidate_loss

K = 3
F = 3  # feature maps per graph: current crop + 2 history frames
CHANNELS = 5
CURRENT = np.array([[0.5, 0.0, -10.0], [0.0, 0.5, -20.0]])  # candidate (r, c) at (16c+24, 16r+44)
HIST_AFFINES = np.array([[[0.5, 0.0, -12.0], [0.0, 0.5, -18.0]],
                         [[0.25, 0.0, 0.0], [0.0, 0.25, 2.0]]])
BOX = np.array([20.0, 40.0, 40.0, 30.0])


def _spec(feature_hw=(4, 6), target_sigma=2.0):
    """K = 3, n = 2, candidate grid (2, 3) by default."""
    return GraphSpec(grid=CandidateGrid(feature_hw, stride=2), history=2, num_joints=K,
                     joint_threshold=0.3, target_sigma=target_sigma)


def _graph_a(spec, gt=None):
    """t-1: joints 0, 2; t-2: joint 1 alone, so it receives no spatial edge."""
    hist = np.array([[[30.0, 50.0, 0.9], [35.0, 52.0, 0.1], [40.0, 60.0, 0.8]],
                     [[31.0, 49.0, 0.2], [36.0, 51.0, 0.7], [41.0, 61.0, 0.0]]])
    return build_graph(spec, hist, HIST_AFFINES, CURRENT, BOX, gt)


def _graph_b(spec, gt=None):
    """One history frame: its joints receive no temporal edge."""
    hist = np.array([[[50.0, 45.0, 0.6], [45.0, 70.0, 0.95], [20.0, 40.0, 0.0]]])
    return build_graph(spec, hist, HIST_AFFINES[:1], CURRENT, BOX, gt)


def _config(spec, **kw):
    """A small GNN: D = 8, two heads, gentle distance weights so every term matters."""
    kw = {"hidden": 8, "layers": 2, "heads": 2, "distance_weight_init": (0.5, 4.0), **kw}
    return GnnConfig(graph=spec, **kw)


def _features(num_graphs, spec, seed=0):
    """(B, F, Hf, Wf, C) random feature maps."""
    hf, wf = spec.grid.feature_hw
    rng = np.random.default_rng(seed)
    return rng.normal(size=(num_graphs, F, hf, wf, CHANNELS)).astype(np.float32)


# ---------------------------------------------------------------- NumPy reference of one layer


def _np_dense(p, x):
    """x @ kernel + bias over the leading kernel axis."""
    kernel = np.asarray(p["kernel"], np.float64)
    return np.tensordot(x, kernel, axes=([-1], [0])) + np.asarray(p["bias"], np.float64)


def _np_mlp(p, x):
    """Dense -> ReLU -> Dense."""
    return _np_dense(p["out"], np.maximum(_np_dense(p["hidden"], x), 0.0))


def _reference_layer(p, h, senders, receivers, types, pos, cfg):
    """docs/spec/method.md §3, one receiver and one edge type at a time, in float64."""
    t = 2 if cfg.typed_edges else 1
    heads, dh = cfg.heads, cfg.hidden // cfg.heads
    h = np.asarray(h, np.float64)
    q, k, v = (_np_dense(p[name], h) for name in ("query", "key", "value"))  # (N, T, H, Dh)
    if cfg.relative_position_bias:
        lam = np.log1p(np.exp(np.asarray(p["distance_weight"], np.float64)))
    else:
        lam = np.zeros((t, heads))
    message = np.zeros_like(h)
    for i in range(h.shape[0]):
        for e in range(t):
            incoming = [s for s, r, ty in zip(senders, receivers, types, strict=True)
                        if r == i and (ty == e or t == 1)]
            if not incoming:
                continue  # zero message
            agg = np.zeros((heads, dh))
            offset = np.zeros((heads, 2))
            for hh in range(heads):
                logits = np.array([q[i, e, hh] @ k[j, e, hh] / np.sqrt(dh)
                                   - lam[e, hh] * np.sum((pos[i] - pos[j]) ** 2)
                                   for j in incoming])
                alpha = np.exp(logits - logits.max())
                alpha /= alpha.sum()
                agg[hh] = sum(a * v[j, e, hh] for a, j in zip(alpha, incoming, strict=True))
                offset[hh] = sum(a * (pos[j] - pos[i]) for a, j in zip(alpha, incoming,
                                                                        strict=True))
            inputs = agg.reshape(-1)
            if cfg.relative_offsets:
                inputs = np.concatenate([inputs, OFFSET_SCALE * offset.reshape(-1)])
            message[i] += _np_mlp(p[f"message_{e}"], inputs)
    x = h + _np_mlp(p["update"], np.concatenate([h, message], axis=-1))
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-6) * p["norm"]["scale"] + p["norm"]["bias"]


def _perturb(params, seed=0):
    """Adds noise to every parameter: zero-initialised biases would hide bugs."""
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    return jax.tree.unflatten(tree, [x + 0.3 * jax.random.normal(k, x.shape, x.dtype)
                                     for x, k in zip(leaves, keys, strict=True)])


def _batch(graphs):
    """Every model test pads to this one budget: identical shapes share compiled ops."""
    return batch_graphs(graphs, graph_budget(_spec(), 3))


@pytest.mark.parametrize("impl", ["segment", "dense"])
@pytest.mark.parametrize("variant", [{}, {"typed_edges": False},
                                     {"relative_position_bias": False},
                                     {"relative_offsets": False}])
def test_layer_matches_numpy_reference(impl, variant):
    spec = _spec()
    cfg = _config(spec, attention_impl=impl, **variant)
    batch = _batch([_graph_a(spec), _graph_b(spec)])
    n = batch.nodes["pos"].shape[0]
    h = jax.random.normal(jax.random.key(1), (n, cfg.hidden))
    if impl == "dense":
        geometry = dense_layout(batch, spec, cfg.typed_edges)
    else:
        geometry = segment_geometry(batch, cfg.typed_edges)
    layer = TypedAttention(cfg)
    pos = batch.nodes["pos"]
    params = _perturb(layer.init(jax.random.key(2), h, geometry, pos)["params"])
    got = np.asarray(layer.apply({"params": params}, h, geometry, pos))
    real = np.asarray(node_mask(batch))
    edges_real = batch.receivers < real.sum()
    receivers, types = batch.receivers[edges_real], batch.edges["edge_type"][edges_real]
    expected = _reference_layer(
        jax.tree.map(np.asarray, params), np.asarray(h), batch.senders[edges_real], receivers,
        types, batch.nodes["pos"].astype(np.float64), cfg)
    np.testing.assert_allclose(got[real], expected[real], rtol=1e-4, atol=1e-4)
    # The case has receivers without edges of one type: graph a's lone t-2 joint gets no
    # spatial edge, graph b's joints no temporal one.
    into = set(zip(receivers.tolist(), types.tolist(), strict=True))
    lonely, first_b = int(np.flatnonzero(batch.nodes["frame"] == 2)[0]), int(batch.n_node[0])
    assert (lonely, SPATIAL) not in into and (lonely, TEMPORAL) in into
    assert (first_b, TEMPORAL) not in into and (first_b, SPATIAL) in into


def _apply(cfg, batch, features, params=None):
    """GnnPose logits as NumPy, initialising params from a fixed key when none are given."""
    model = GnnPose(cfg)
    if params is None:
        params = _perturb(model.init(jax.random.key(0), batch, features))
    return np.asarray(model.apply(params, batch, features)), params


@pytest.mark.parametrize("impl", ["segment", "dense"])
def test_padding_and_neighbours_change_no_real_output(impl):
    spec = _spec()
    cfg = _config(spec, attention_impl=impl)
    a, b = _graph_a(spec), _graph_b(spec)
    fa, fb = _features(1, spec, seed=3), _features(1, spec, seed=4)
    # Same budget, different company: a alone (most padding) vs a between two copies of b.
    alone, params = _apply(cfg, _batch([a]), fa)
    crowded, _ = _apply(cfg, _batch([b, a, b]), np.concatenate([fb, fa, fb]), params)
    na, nb = int(a.n_node[0]), int(b.n_node[0])
    # float32 sums run in another order with other company (and per CPU); a leak from padding
    # or a neighbouring graph would move logits by O(1), far beyond 1e-4.
    np.testing.assert_allclose(alone[:na], crowded[nb:nb + na], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(crowded[:nb], crowded[nb + na:nb + na + nb], rtol=1e-4,
                               atol=1e-4)


@pytest.mark.parametrize("variant", [
    {},
    {"typed_edges": False, "relative_position_bias": False, "relative_offsets": False,
     "heads": 1, "layers": 1},
    {"use_position": False, "use_type": False},
])
def test_segment_and_dense_give_the_same_logits(variant):
    spec = _spec()
    batch = _batch([_graph_a(spec), _graph_b(spec), _graph_a(spec)])
    features = _features(3, spec)
    seg, params = _apply(_config(spec, attention_impl="segment", **variant), batch, features)
    dense, _ = _apply(_config(spec, attention_impl="dense", **variant), batch, features, params)
    real = np.asarray(node_mask(batch))
    # Two algorithms, two float32 summation orders: agreement to 1e-4 on any CPU.
    np.testing.assert_allclose(seg[real], dense[real], rtol=1e-4, atol=1e-4)


def test_sample_features_is_bilinear_with_zeros_outside():
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(2, 2, 3, 4, 2)).astype(np.float32)  # (B, F, Hf, Wf, C)
    graph = np.array([1, 0, 1, 0, 1])
    frame = np.array([0, 1, 1, 0, 1])
    xy = np.array([[2.0, 1.0], [0.5, 1.5], [-0.5, 2.0], [3.25, -0.75], [9.0, 1.0]], np.float32)
    got = np.asarray(sample_features(jnp.asarray(feats), graph, frame, xy))
    f = feats
    expected = [
        f[1, 0, 1, 2],
        0.25 * (f[0, 1, 1, 0] + f[0, 1, 1, 1] + f[0, 1, 2, 0] + f[0, 1, 2, 1]),
        0.5 * f[1, 1, 2, 0],  # half the weight falls off the left edge
        0.25 * (0.75 * f[0, 0, 0, 3]),  # x: 3 and (off) 4; y: (off) -1 and 0
        np.zeros(2),
    ]
    # A few float32 products and sums (fused or not, per CPU): a few ulps.
    np.testing.assert_allclose(got, np.array(expected), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------- loss


def _loss_batch():
    """Graph 0: 2 foreground (class 0) and 4 background candidates; graph 1: no GT."""
    spec = _spec(target_sigma=0.8)  # g >= 0.5 iff d^2 <= 0.887 candidate cells
    gt = np.array([[32.0, 44.0, 1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])  # grid (col .5, row 0)
    batch = _batch([_graph_a(spec, gt), _graph_b(spec)])
    return spec, batch


def test_loss_targets_and_weights_by_hand():
    spec, batch = _loss_batch()
    cand_a = slice(int(batch.n_node[0]) - 6, int(batch.n_node[0]))
    np.testing.assert_array_equal(batch.nodes["target"][cand_a], [0, 0, K, K, K, K])
    logits = np.zeros((batch.nodes["pos"].shape[0], K + 1), np.float32)
    logits[cand_a.start:cand_a.start + 2, 0] = 2.0
    logits[-1] = 50.0  # a padding node: must not count
    total, count = candidate_loss(jnp.asarray(logits), batch)
    ce_fg = -np.log(np.exp(2.0) / (np.exp(2.0) + 3.0))
    ce_bg = np.log(4.0)
    # n = 6, n_fg = 2, n_bg = 4: weights 6 / (2 * 2) = 1.5 and 6 / (2 * 4) = 0.75.
    np.testing.assert_allclose(float(total), 2 * 1.5 * ce_fg + 4 * 0.75 * ce_bg, rtol=1e-5)
    assert float(count) == 6.0

    total, count = candidate_loss(jnp.asarray(logits), batch, kind="focal", focal_gamma=0.0)
    np.testing.assert_allclose(float(total), 2 * ce_fg + 4 * ce_bg, rtol=1e-5)
    total, _ = candidate_loss(jnp.asarray(logits), batch, kind="focal", focal_gamma=2.0)
    p_fg = np.exp(-ce_fg)
    np.testing.assert_allclose(float(total), 2 * (1 - p_fg) ** 2 * ce_fg + 4 * 0.75**2 * ce_bg,
                               rtol=1e-5)


def test_loss_weights_one_class_graph_by_one():
    spec = _spec()
    gt = np.array([[900.0, 900.0, 1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])  # far off the crop
    batch = _batch([_graph_b(spec, gt)])
    logits = jax.random.normal(jax.random.key(0), (batch.nodes["pos"].shape[0], K + 1))
    total, count = candidate_loss(logits, batch)
    cand = np.asarray(batch.nodes["is_candidate"])
    expected = -np.sum(np.asarray(jax.nn.log_softmax(logits))[cand, K])
    np.testing.assert_allclose(float(total), expected, rtol=1e-5)
    assert float(count) == 6.0


def test_training_step_compiles_once_across_missing_joint_patterns():
    spec = _spec()
    model = GnnPose(_config(spec, layers=1))
    rng = np.random.default_rng(0)
    gt = np.array([[40.0, 60.0, 1.0], [56.0, 76.0, 1.0], [0.0, 0.0, 0.0]])

    def random_batch(num):
        graphs = []
        for _ in range(num):
            frames = int(rng.integers(1, 3))
            hist = np.concatenate([rng.uniform(20.0, 80.0, (frames, K, 2)),
                                   rng.uniform(0.0, 1.0, (frames, K, 1))], axis=-1)
            graphs.append(build_graph(spec, hist, HIST_AFFINES[:frames], CURRENT, BOX, gt))
        return _batch(graphs), _features(3, spec, seed=num)

    batches = [random_batch(num) for num in (3, 1, 2, 3)]
    assert len({int(np.sum(b.n_node[:-1])) for b, _ in batches}) > 1
    params = model.init(jax.random.key(0), *batches[0])

    chex.clear_trace_counter()

    @jax.jit
    @chex.assert_max_traces(n=1)
    def loss_and_grad(params, graphs, features):
        """Normalised loss and its gradient."""
        def loss_fn(p):
            total, count = candidate_loss(model.apply(p, graphs, features), graphs)
            return total / jnp.maximum(count, 1.0)
        return jax.value_and_grad(loss_fn)(params)

    for batch, features in batches:
        loss, grads = loss_and_grad(params, batch, features)
        assert np.isfinite(float(loss))
        assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))


def test_bad_config_raises_config_error():
    spec = _spec()
    with pytest.raises(ConfigError, match="multiple of gnn.heads"):
        GnnConfig(graph=spec, hidden=10, heads=4)
    with pytest.raises(ConfigError, match="attention_impl"):
        GnnConfig(graph=spec, attention_impl="sparse")
    with pytest.raises(ConfigError, match="need one"):
        GnnConfig(graph=spec, use_visual=False, use_position=False, use_type=False)
    _, batch = _loss_batch()
    with pytest.raises(ConfigError, match="gnn.loss"):
        candidate_loss(jnp.zeros((batch.nodes["pos"].shape[0], K + 1)), batch, kind="mse")
