"""The GNN on PoseTrack21 with HRNet-W32 features, 384 x 288.

Same settings as `posetrack18_gnn_w32.py` (the paper's: n = 3, D = 128, L = 4, Adam 1e-4, x0.1
at epochs 5 and 8, 10 epochs), on the PoseTrack21 TFDS dataset, with the HRNet fine-tuned by
`posetrack21_hrnet_w32.py`:

    python train.py --config configs/posetrack21_gnn_w32.py --workdir runs/pt21_gnn_w32 \
        --config.data.root=~/tensorflow_datasets --config.data.manual_dir=/data/PoseTrack21 \
        --config.hrnet.checkpoint=runs/pt21_hrnet_w32/hrnet

Tracker mode reads `DATA/annotations/val/` (link it to the release's `posetrack_data/val/`)
and scores poseval's AP and MOTA; for keypoint HOTA, write its predictions with `--format 2021
--output PRED` and score them with `evaluate.py --ground-truth
/data/PoseTrack21/posetrack_data/val --predictions PRED --metrics OUT.json`.
"""

from configs import posetrack18_gnn_w32


def get_config():
    """The 2018 W32 GNN config on PoseTrack21."""
    config = posetrack18_gnn_w32.get_config()
    config.data.tfds_name = "posetrack21"
    return config
