"""Quality against minutes of training, from training runs' metrics.jsonl, as Markdown tables.

    .venv/bin/python benchmarks/curve.py runs/demo/hrnet runs/demo/gnn runs/demo/yolox

One table per run: each validation's step, epoch, minutes since the run's first logged row
and every `val/*` metric (PCKh, PCKh on visible and hidden joints, box AP, ...). Minutes are
wall-clock as logged, so they include validation and whatever else ran on the machine.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def curve(run: Path) -> str:
    """The Markdown table of one run's validations."""
    path = run / "metrics.jsonl"
    if not path.is_file():
        raise SystemExit(f"{path}: no such file (is {run} a training run's workdir?)")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not rows:
        raise SystemExit(f"{path}: empty")
    start, epoch = rows[0]["time"], 0.0
    names: list[str] = []
    points = []
    for row in rows:
        epoch = row.get("train/epoch", epoch)
        values = {k[4:]: v for k, v in row.items() if k.startswith("val/") and k != "val/loss"}
        if values:
            names += [n for n in values if n not in names]
            points.append((row["step"], epoch, (row["time"] - start) / 60, values))
    lines = [f"### {run}", "", "| step | epoch | minutes | " + " | ".join(names) + " |",
             "|---" * (3 + len(names)) + "|"]
    for step, ep, minutes, values in points:
        cells = [f"{values[n]:.3f}" if n in values else "–" for n in names]
        lines.append(f"| {step} | {ep:.1f} | {minutes:.1f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+", help="training workdirs")
    args = parser.parse_args()
    print("\n\n".join(curve(run) for run in args.runs))


if __name__ == "__main__":
    main()
