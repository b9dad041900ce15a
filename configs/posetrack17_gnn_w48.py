"""The paper's GNN on PoseTrack 2017 (2017 annotations, mapped to the 17 slots), HRNet-W48.

Same settings as `posetrack18_gnn_w48.py`, on the PoseTrack 2017 TFDS dataset:

    python train.py --config configs/posetrack17_gnn_w48.py --workdir runs/pt17_gnn_w48 \
        --config.data.root=~/tensorflow_datasets --config.data.manual_dir=/data/posetrack17 \
        --config.hrnet.checkpoint=runs/pt17_hrnet_w48/hrnet
"""

from configs import posetrack18_gnn_w48


def get_config():
    """The 2018 GNN config on the 2017 dataset."""
    config = posetrack18_gnn_w48.get_config()
    config.data.tfds_name = "posetrack17"
    return config
