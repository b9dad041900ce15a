"""HRNet-W32 fine-tuned on PoseTrack21 from COCO weights, 384 x 288.

Same settings as `posetrack18_hrnet_w48.py` (Adam 1e-4, x0.1 at epochs 10 and 15, 20 epochs)
with a W32, on the PoseTrack21 TFDS dataset (`data.manual_dir` the release, holding `images/`
and `posetrack_data/{train,val}/`). Convert the official COCO checkpoint first; the result goes
to WORKDIR/hrnet for `posetrack21_gnn_w32.py`:

    python -m convert_weights pose_hrnet_w32_384x288.pth checkpoints/coco_w32_384x288
    python train.py --config configs/posetrack21_hrnet_w32.py --workdir runs/pt21_hrnet_w32 \
        --config.data.root=~/tensorflow_datasets --config.data.manual_dir=/data/PoseTrack21
"""

from configs import posetrack18_hrnet_w48


def get_config():
    """The 2018 HRNet fine-tuning config with a W32, on PoseTrack21."""
    config = posetrack18_hrnet_w48.get_config()
    config.data.tfds_name = "posetrack21"
    config.hrnet.width = 32
    config.hrnet.init_checkpoint = "checkpoints/coco_w32_384x288"
    return config
