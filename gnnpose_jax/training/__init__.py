"""Training: pmapped steps for the HRNet, GNN and detector (YOLOX) modes, schedules,
checkpoints, metric writers.

`train_and_evaluate(config, workdir)` is the whole of `python train.py`.
"""

from gnnpose_jax.training.loop import train_and_evaluate

__all__ = ["train_and_evaluate"]
