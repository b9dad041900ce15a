"""The package faces: every `__all__` name resolves, and importing data and models stays cheap."""

from __future__ import annotations

import subprocess
import sys


def test_package_faces_export_their_names_and_stay_cheap_to_import():
    code = """
import sys
import gnnpose_jax.data, gnnpose_jax.models
heavy = sorted(m for m in ("cv2", "jax", "grain", "tensorflow_datasets") if m in sys.modules)
assert not heavy, heavy
import gnnpose_jax.graphs, gnnpose_jax.tracking, gnnpose_jax.training, gnnpose_jax.evaluation
for package in (gnnpose_jax.data, gnnpose_jax.models, gnnpose_jax.tracking, gnnpose_jax.graphs,
                gnnpose_jax.training, gnnpose_jax.evaluation):
    for name in package.__all__:
        assert getattr(package, name) is not None, (package.__name__, name)
"""
    subprocess.run([sys.executable, "-c", code], check=True)
