"""The paper's GNN on PoseTrack 2018: HRNet-W48 features at 384 x 288, n = 3, D = 128, L = 4.

Adam 1e-4, x0.1 at epochs 5 and 8, 10 epochs (docs/spec/method.md §4). Needs the prepared
PoseTrack 2018 TFDS dataset (`data.root` its data_dir, `data.manual_dir` the release) and the
fine-tuned HRNet of `posetrack18_hrnet_w48.py`:

    python train.py --config configs/posetrack18_gnn_w48.py --workdir runs/pt18_gnn_w48 \
        --config.data.root=~/tensorflow_datasets --config.data.manual_dir=/data/posetrack18 \
        --config.hrnet.checkpoint=runs/pt18_hrnet_w48/hrnet
"""

from configs import base


def get_config():
    """The base config: it is this experiment."""
    return base.get_config()
