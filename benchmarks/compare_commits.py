"""Before and after in one run: a benchmark script run on an older commit and on the working
tree, alternately, on the same machine state.

The older commit is checked out with `git worktree` into a temporary folder and its copy of
the script runs with that folder first on `PYTHONPATH`, so it imports its own `gnnpose_jax`;
the working tree's copy runs the same way from here. Each round runs both, in alternating
order, and prints their output lines that match `--keep` (all lines when not given).

    .venv/bin/python benchmarks/compare_commits.py c6f119c --rounds 2 --keep frames/s -- \\
        benchmarks/bench_track.py --workdir runs/demo/gnn --data runs/demo/hrnet/synthetic_world

Paths after `--` that exist here (a workdir, a data folder) are made absolute, so both copies
read the same files.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(tree: Path, command: list[str], keep: str | None) -> list[str]:
    """The script `command[0]` of `tree` with its arguments; its output lines matching `keep`."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    result = subprocess.run([sys.executable, str(tree / command[0]), *command[1:]], cwd=tree,
                            env=env, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"{tree}: {' '.join(command)} failed (exit {result.returncode}):\n"
                 f"{result.stderr[-2000:]}")
    lines = result.stdout.splitlines()
    return [line for line in lines if keep is None or re.search(keep, line)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("commit", help="the older commit (anything `git worktree add` takes)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keep", help="print only output lines matching this regex")
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args, command = parser.parse_args(argv[:split]), argv[split + 1:]
    if not command:
        parser.error("no benchmark command: give it after --, e.g. -- benchmarks/bench_x.py")
    command = [command[0]] + [str((ROOT / a).resolve()) if (ROOT / a).exists() and i else a
                              for i, a in enumerate(command) if i]
    with tempfile.TemporaryDirectory(prefix="compare-") as tmp:
        before = Path(tmp) / "before"
        if (ROOT.parent / "shared").is_dir():  # the samples beside the checkout, for both trees
            (Path(tmp) / "shared").symlink_to(ROOT.parent / "shared")
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(before),
                        args.commit], check=True, capture_output=True)
        try:
            trees = {f"before ({args.commit})": before, "after (working tree)": ROOT}
            for r in range(args.rounds):
                order = list(trees.items())
                if r % 2:
                    order.reverse()
                for name, tree in order:
                    for line in run(tree, command, args.keep):
                        print(f"round {r + 1} {name:<24} {line}", flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(before)], capture_output=True)


if __name__ == "__main__":
    main()
