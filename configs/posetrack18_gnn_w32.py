"""The GNN on PoseTrack 2018 with HRNet-W32 features (96 channels instead of 144), 384 x 288.

Everything else as `posetrack18_gnn_w48.py`; the frozen HRNet is a W32 fine-tuned with
`posetrack18_hrnet_w48.py --config.hrnet.width=32` from converted COCO W32 weights:

    python train.py --config configs/posetrack18_gnn_w32.py --workdir runs/pt18_gnn_w32 \
        --config.data.root=~/tensorflow_datasets --config.data.manual_dir=/data/posetrack18 \
        --config.hrnet.checkpoint=runs/pt18_hrnet_w32/hrnet
"""

from configs import posetrack18_gnn_w48


def get_config():
    """The W48 GNN config with a W32 HRNet."""
    config = posetrack18_gnn_w48.get_config()
    config.hrnet.width = 32
    return config
