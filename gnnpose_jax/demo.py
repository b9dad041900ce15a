"""The whole pipeline on the synthetic world, with the project's own commands:

    python -m gnnpose_jax.demo [--workdir runs/demo]

1. `train.py --config configs/synthetic_hrnet.py` generates the synthetic world (train and val)
   and trains the tiny HRNet on it;
2. `train.py --config configs/synthetic_gnn.py` trains the tiny GNN on that HRNet's features;
3. `evaluate.py --compare-baseline` tracks the val split with and without the GNN, prints both
   PoseTrack tables and their difference, and renders tracked val videos (GNN-recovered people
   dashed) to WORKDIR/render/.

Each step resumes or is skipped when its output already exists, so an interrupted demo picks up
where it stopped. Run it from the project root.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from gnnpose_jax.cli import run_cli
from gnnpose_jax.data.folders import DEFAULT_WORLD_DIR
from gnnpose_jax.errors import GnnPoseError
from gnnpose_jax.models.run_folder import HRNET_EXPORT

ROOT = Path(__file__).resolve().parents[1]


def _step(title: str, args: list[str]) -> None:
    print(f"\n=== {title}\n$ python {' '.join(args)}", flush=True)
    t0 = time.perf_counter()
    result = subprocess.run([sys.executable, *args], cwd=ROOT)
    if result.returncode != 0:
        raise GnnPoseError(f"demo step failed ({title}); its error is printed above")
    print(f"=== {title}: {time.perf_counter() - t0:.0f} s", flush=True)


def run_demo(workdir: Path) -> None:
    """Runs the three steps into `workdir`."""
    if not (ROOT / "train.py").is_file():
        raise GnnPoseError(f"{ROOT}: run the demo from a checkout of the project")
    workdir = workdir.absolute()
    hrnet_dir, gnn_dir = workdir / "hrnet", workdir / "gnn"
    world = hrnet_dir / DEFAULT_WORLD_DIR
    t0 = time.perf_counter()
    _step("1/3 synthetic world + tiny HRNet",
          ["train.py", "--config", "configs/synthetic_hrnet.py", "--workdir", str(hrnet_dir)])
    _step("2/3 tiny GNN on the frozen HRNet",
          ["train.py", "--config", "configs/synthetic_gnn.py", "--workdir", str(gnn_dir),
           f"--config.hrnet.checkpoint={hrnet_dir / HRNET_EXPORT}", f"--config.data.root={world}"])
    _step("3/3 tracking the val split with and without the GNN",
          ["evaluate.py", "--config", "configs/synthetic_gnn.py", "--workdir", str(gnn_dir),
           "--data", str(world), "--compare-baseline", "--output",
           str(workdir / "results.json"), "--predictions-out", str(workdir / "predictions"),
           "--render", str(workdir / "render"), "--render-limit", "2"])
    print(f"\ndemo done in {(time.perf_counter() - t0) / 60:.1f} min: metrics "
          f"{workdir / 'results.json'}, tracked videos and frames {workdir / 'render'}/")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m gnnpose_jax.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path("runs/demo"))
    run_demo(parser.parse_args().workdir)


if __name__ == "__main__":
    run_cli(main)
