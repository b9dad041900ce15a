"""HRNet-W48 fine-tuned on PoseTrack 2017 from COCO weights, 384 x 288.

Same settings as `posetrack18_hrnet_w48.py`, on the PoseTrack 2017 TFDS dataset:

    python -m convert_weights pose_hrnet_w48_384x288.pth checkpoints/coco_w48_384x288
    python train.py --config configs/posetrack17_hrnet_w48.py --workdir runs/pt17_hrnet_w48 \
        --config.data.root=~/tensorflow_datasets --config.data.manual_dir=/data/posetrack17
"""

from configs import posetrack18_hrnet_w48


def get_config():
    """The 2018 HRNet fine-tuning config on the 2017 dataset."""
    config = posetrack18_hrnet_w48.get_config()
    config.data.tfds_name = "posetrack17"
    return config
