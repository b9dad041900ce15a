"""A small YOLOX trained from scratch on the synthetic world's person boxes: minutes on 2 CPUs.

YOLOX at depth 0.33 and width 0.25 (nano's multipliers with plain convs) at 96 x 128 (the
world's 288 x 384 frames letterboxed at 1/3; people are 28-67 pixels tall there), the official
HSV jitter and flips plus a ±20% scale jitter [ours]; Adam 2e-3 with x0.1 at epoch 4 of 5 and
the L1 loss in the last epoch [ours]. Validation reports box AP@0.5 and AP@[.5:.95] on 200 val
frames each epoch; measured on 2 loaded CPU cores (minutes after the step-0 validation, AP@0.5 /
AP@[.5:.95]): 1.2 min 0.23 / 0.06, 1.6 0.34 / 0.10, 2.1 0.42 / 0.11, 2.5 0.41 / 0.12,
3.0 min 0.43 / 0.13 (3.4 minutes in all). The trained detector is written to WORKDIR/yolox
(`--detector WORKDIR/yolox`):

    python train.py --config configs/synthetic_yolox.py --workdir /tmp/yolox
"""

from configs import base


def get_config():
    """Base keys overridden for the synthetic world, a small YOLOX and a CPU."""
    config = base.get_config()
    config.mode = "detector"
    config.data.source = "synthetic"
    config.data.max_val_examples = 200
    config.detector.variant = "custom"
    config.detector.depth = 0.33
    config.detector.width = 0.25
    config.detector.input_hw = (96, 128)
    config.detector.scale_jitter = 0.2
    config.detector.l1_last_epochs = 1.0
    config.optimizer.learning_rate = 2e-3
    config.optimizer.decay_epochs = (4.0,)
    config.optimizer.warmup_steps = 20
    config.batch_size = 16
    config.num_epochs = 5
    config.log_every_steps = 20
    config.eval_every_epochs = 1.0
    return config
