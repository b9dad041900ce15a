"""A tiny HRNet trained from scratch on the synthetic world: a few minutes on 2 CPU cores.

Reduced-depth HRNet (width 16, one module per stage, as `models.hrnet.TINY`) at 128 x 96 on a
world of 20 train, 4 val and 4 tune videos generated into WORKDIR/synthetic_world on the first
run. Heatmap sigma 2 cells at 32 x 24 (wider than the scaled official 1, easier from scratch);
Adam 2e-3 with x0.1 at epochs 7 and 8 of 9; rotation +-30 degrees and scale +-25% (the
world's people stand upright) [ours]. No flips: the world tells left from right by colour,
which a mirror does not swap, and the cues that do survive a mirror (limbs shaded by depth, a
backpack, a seam on one half of each limb) were not learned within this budget (every limb
pair collapsed onto one limb; docs/results.md). The trained network is written to
WORKDIR/hrnet, which `synthetic_gnn.py` reads:

    python train.py --config configs/synthetic_hrnet.py --workdir /tmp/x
"""

from configs import base


def get_config():
    """Base keys overridden for the synthetic world and a CPU."""
    config = base.get_config()
    config.mode = "hrnet"
    config.data.source = "synthetic"
    config.data.max_val_examples = 256
    config.data.synthetic_tune_videos = 4
    config.hrnet.width = 16
    config.hrnet.stem_channels = 32
    config.hrnet.layer1_blocks = 1
    config.hrnet.layer1_planes = 32
    config.hrnet.stage_modules = (1, 1, 1)
    config.hrnet.stage_blocks = (2, 2, 2)
    config.hrnet.input_hw = (128, 96)
    config.hrnet.heatmap_sigma = 2.0
    config.optimizer.learning_rate = 2e-3
    config.optimizer.decay_epochs = (7.0, 8.0)
    config.augment.rotation_factor = 30.0
    config.augment.scale_factor = 0.25
    config.augment.flip_prob = 0.0
    config.batch_size = 16
    config.num_epochs = 9
    config.log_every_steps = 20
    return config
