"""HRNet mode (gnnpose_jax.training.hrnet_mode): the official initialisation."""

import jax
import numpy as np

from gnnpose_jax.training import hrnet_mode
from tests.helpers.micro_config import micro_config


def test_official_init():
    config = micro_config("synthetic_hrnet")
    variables = hrnet_mode.initial_variables(config, hrnet_mode.architecture(config))
    flat = {jax.tree_util.keystr(p): np.asarray(x)
            for p, x in jax.tree_util.tree_leaves_with_path(variables["params"])}
    kernels = np.concatenate([x.ravel() for k, x in flat.items() if k.endswith("['kernel']")])
    assert abs(kernels.std() - hrnet_mode.OFFICIAL_KERNEL_STD) < 1e-4
    assert all(not x.any() for k, x in flat.items() if k.endswith("['bias']"))
    assert all((x == 1).all() for k, x in flat.items() if k.endswith("['scale']"))
