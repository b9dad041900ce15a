"""YOLOX-s fine-tuned on PoseTrack 2018 person boxes from the official COCO weights, 640 x 640.

The COCO head is kept (80 classes; person is class 0, the others learn "absent"), so the export
is a drop-in `--detector`. SGD 1e-3 (momentum 0.9) for 10 epochs, x0.1 at epoch 8, the L1
loss in the last 2 epochs, no mosaic (not implemented) [ours]. Give the official `yolox_s.pth`
(or its converted folder); the result goes to WORKDIR/yolox:

    python train.py --config configs/posetrack18_yolox_s.py --workdir runs/pt18_yolox_s \
        --config.detector.checkpoint=yolox_s.pth \
        --config.data.root=~/tensorflow_datasets --config.data.manual_dir=/data/posetrack18
"""

from configs import base


def get_config():
    """The base config in detector mode, YOLOX-s from COCO weights."""
    config = base.get_config()
    config.mode = "detector"
    config.detector.variant = "s"
    config.detector.num_classes = 80
    config.detector.checkpoint = "checkpoints/yolox_s.pth"
    config.detector.input_hw = (640, 640)
    config.detector.max_boxes = 64
    config.detector.l1_last_epochs = 2.0
    config.optimizer.name = "sgd"
    config.optimizer.learning_rate = 1e-3
    config.optimizer.decay_epochs = (8.0,)
    config.optimizer.warmup_steps = 500
    config.batch_size = 16
    config.num_epochs = 10
    config.data.max_val_examples = 2000
    return config
