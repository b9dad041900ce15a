"""A tiny tracking setup: a short synthetic video, a random tiny HRNet and GNN predictor."""

import jax
import numpy as np

from gnnpose_jax.data import synthetic
from gnnpose_jax.data.types import Sequence
from gnnpose_jax.graphs import CandidateGrid, GraphSpec, batch_graphs, build_graph, graph_budget
from gnnpose_jax.models import hrnet
from gnnpose_jax.models.gnn import GnnConfig, GnnPose
from gnnpose_jax.models.topdown import TopDownEstimator
from gnnpose_jax.tracking.gnn_predictor import GnnPredictor

INPUT_HW = (64, 64)
TINY = hrnet.HRNetConfig(width=8, stem_channels=16, layer1_blocks=1, layer1_planes=16,
                         stage_modules=(1, 1, 1), stage_blocks=(1, 1, 1))


def video_and_networks():
    """An 8-frame synthetic video, a tiny random HRNet and a tiny random GNN predictor."""
    video = list(synthetic.iter_video(np.random.default_rng(3), num_frames=8, image_hw=(144, 192)))
    sequence = Sequence(name="000001_mpii_train", frames=[v.frame for v in video])
    images = [v.image for v in video]
    module, variables = hrnet.init_hrnet(TINY, jax.random.key(0), INPUT_HW)
    estimator = TopDownEstimator(module, variables, INPUT_HW, batch_size=4)
    spec = GraphSpec(CandidateGrid((INPUT_HW[0] // 4, INPUT_HW[1] // 4), stride=2), history=2)
    gnn = GnnPose(GnnConfig(spec, hidden=16, layers=1, heads=2))
    predictor = GnnPredictor(estimator, gnn, None, spec, max_tracks=4)
    graph_like = batch_graphs([build_graph(spec, np.zeros((2, 17, 3)),
                                           np.tile(np.eye(2, 3), (2, 1, 1)), np.eye(2, 3),
                                           np.array([0, 0, 10, 10]))],
                              graph_budget(spec, 4))
    feats = np.zeros((4, 3, INPUT_HW[0] // 4, INPUT_HW[1] // 4, 3 * TINY.width), np.float32)
    predictor.variables = gnn.init(jax.random.key(1), graph_like, feats)
    return sequence, images, (module, variables), estimator, predictor, spec
