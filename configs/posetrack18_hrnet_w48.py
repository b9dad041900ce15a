"""HRNet-W48 fine-tuned on PoseTrack 2018 from COCO weights, 384 x 288 (docs/spec/method.md §4).

Adam 1e-4 for 20 epochs, x0.1 at epochs 10 and 15 [ours]; official HRNet augmentation. Convert
the official COCO checkpoint first; the result goes to WORKDIR/hrnet for the GNN runs:

    python -m convert_weights pose_hrnet_w48_384x288.pth checkpoints/coco_w48_384x288
    python train.py --config configs/posetrack18_hrnet_w48.py --workdir runs/pt18_hrnet_w48 \
        --config.data.root=~/tensorflow_datasets --config.data.manual_dir=/data/posetrack18
"""

from configs import base


def get_config():
    """The base config in HRNet mode with the fine-tuning schedule."""
    config = base.get_config()
    config.mode = "hrnet"
    config.hrnet.init_checkpoint = "checkpoints/coco_w48_384x288"
    config.optimizer.learning_rate = 1e-4
    config.optimizer.decay_epochs = (10.0, 15.0)
    config.num_epochs = 20
    return config
