"""Ablations of METHOD.md's switches on the synthetic val split, written as a Markdown table.

Starts from a finished demo (`python -m gnnpose_jax.demo --workdir runs/demo`): its tiny HRNet
(`runs/demo/hrnet`), its world and its GNN (`runs/demo/gnn`, the full model). Each GNN variant
is trained with the demo's GNN config plus the variant's overrides into
`runs/demo/ablate/<variant>` (skipped when that folder already holds an export, so an
interrupted run resumes), then every row tracks the val split with the same detections and
HRNet and is scored. Rows:

- the baseline tracker (no GNN) and the full GNN tracker;
- history length n = 1, 2 (the full model has n = 3);
- no temporal edges (the candidates never hear of the history);
- no visual cue (no HRNet features in the nodes);
- the paper's plain attention message (no relative offsets);
- history poses from the frozen HRNet's estimates instead of jittered GT;
- the merge rules `weighted`, `max` and `hrnet_only` with the full GNN.

The demo config's tracker settings were chosen on the demo's val split, so a second table
scores the baseline and the full GNN on a held-out world: `--heldout-videos` val videos
generated with another seed (`runs/demo/heldout`).

    .venv/bin/python benchmarks/ablate.py --demo runs/demo --out docs/results.md

Each training takes about as long as the demo's GNN stage; the whole run is a benchmark, not
a test.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GNN_CONFIG = "configs/synthetic_gnn.py"

#: name -> (description, config overrides of the GNN training, tracker overrides)
VARIANTS = {
    "history_1": ("n = 1", {"gnn.history": 1}, {"history": 1}),
    "history_2": ("n = 2", {"gnn.history": 2}, {"history": 2}),
    "no_temporal_edges": ("no temporal edges", {"gnn.temporal_edges": False}, {}),
    "no_visual": ("no visual cue", {"gnn.use_visual": False}, {}),
    "plain_message": ("no relative offsets (paper's message)",
                      {"gnn.relative_offsets": False}, {}),
    "history_hrnet": ("history from HRNet's estimates (its val PCKh too)",
                      {"gnn.history_source": "hrnet"}, {}),
}
MERGES = ("weighted", "max", "hrnet_only")


def train_variant(demo: Path, name: str, overrides: dict) -> Path:
    """Trains one GNN variant (unless already trained); returns its workdir."""
    workdir = demo / "ablate" / name
    if (workdir / "gnn").is_dir():
        print(f"{name}: already trained in {workdir}", flush=True)
        return workdir
    flags = [f"--config.{k}={v}" for k, v in overrides.items()]
    command = [sys.executable, "train.py", "--config", GNN_CONFIG, "--workdir", str(workdir),
               f"--config.hrnet.checkpoint={demo / 'hrnet' / 'hrnet'}",
               f"--config.data.root={demo / 'hrnet' / 'synthetic_world'}",
               "--config.progress_bar=False", *flags]
    print(f"{name}: training ({' '.join(flags)})", flush=True)
    t0 = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    print(f"{name}: trained in {time.perf_counter() - t0:.0f} s", flush=True)
    return workdir


@functools.cache
def _models(workdir: Path, use_gnn: bool):
    """A workdir's networks, loaded (and compiled) once for every row that uses them."""
    from gnnpose_jax.tracking.split import load_models

    return load_models(workdir, use_gnn=use_gnn)


@functools.cache
def _split(data: Path):
    """The val sequences of a world and their detection boxes, read once."""
    from gnnpose_jax.tracking.split import box_source, read_split

    sequences = read_split(data, "val")
    return sequences, box_source(data, "val", sequences, "detections", None)


def score(workdir: Path, data: Path, use_gnn: bool, tracker_overrides: dict) -> dict:
    """Tracks the val split with a workdir's networks and settings; returns the totals."""
    import json

    from gnnpose_jax.evaluation import evaluate
    from gnnpose_jax.models.run_folder import CONFIG_JSON
    from gnnpose_jax.tracking.config import tracker_config
    from gnnpose_jax.tracking.split import track_split

    stored = json.loads((workdir / CONFIG_JSON).read_text())
    models = _models(workdir, use_gnn)
    config = tracker_config(stored.get("tracker"), models.gnn_spec, **tracker_overrides)
    sequences, boxes = _split(data)
    predictions, _ = track_split(models, config, data, sequences, boxes,
                                 use_gnn, desc=workdir.name)
    result = evaluate(sequences, predictions)
    return {"ap": result["ap"]["total"], "mota": result["mota"]["total"],
            "precision": result["mota"]["precision"], "recall": result["mota"]["recall"],
            "pckh": val_pckh(workdir) if use_gnn else None}


def heldout_rows(full: Path, history_hrnet: Path | None, root: Path, base: dict
                 ) -> list[tuple[str, dict]]:
    """The held-out rows: baseline, full GNN, and the HRNet-estimated history variant."""
    rows = [("baseline (no GNN)", base), ("full GNN (n = 3)", score(full, root, True, {}))]
    if history_hrnet is not None:
        for merge in ("hrnet_only", "weighted"):
            rows.append((f"history from HRNet's estimates, merge `{merge}`",
                         score(history_hrnet, root, True, {"merge": merge})))
    return rows


BEGIN, END = "<!-- ablate.py: begin -->", "<!-- ablate.py: end -->"


def write_section(path: Path, generated: str) -> None:
    """Writes `generated` between the markers of `path`, keeping the text around them."""
    text = path.read_text() if path.is_file() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
    else:
        head, tail = "# Results on the synthetic world\n\n", ""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{head}{BEGIN}\n{generated}{END}{tail}")


def heldout_world(demo: Path, seed: int, videos: int) -> Path:
    """A val split generated like the demo's world but with another seed (once)."""
    from configs import synthetic_gnn
    from gnnpose_jax.data import synthetic

    data = synthetic_gnn.get_config().data
    root = demo / "heldout"
    if not (root / "annotations" / "val").is_dir():
        synthetic.generate_world(root, seed, videos, "val", num_frames=data.synthetic_frames,
                                 image_hw=tuple(data.synthetic_image_hw),
                                 label_every=data.synthetic_val_label_every)
    return root


def val_pckh(workdir: Path) -> float | None:
    """The GNN's last validation PCKh@0.5 in a workdir's metrics.jsonl (None if absent)."""
    import json

    path = workdir / "metrics.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []
    values = [r["val/pckh"] for r in rows if "val/pckh" in r]
    return values[-1] if values else None


def table(rows: list[tuple[str, dict]], baseline: dict) -> str:
    """Markdown rows with the differences to the baseline."""
    lines = ["| tracker | total AP | total MOTA | precision | recall | GNN val PCKh |",
             "|---|---|---|---|---|---|"]
    for name, r in rows:
        pckh = "–" if r.get("pckh") is None else f"{r['pckh']:.3f}"
        lines.append(f"| {name} | {r['ap']:.1f} ({r['ap'] - baseline['ap']:+.1f}) | "
                     f"{r['mota']:.1f} ({r['mota'] - baseline['mota']:+.1f}) | "
                     f"{r['precision']:.1f} | {r['recall']:.1f} | {pckh} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", type=Path, default=Path("runs/demo"),
                        help="a finished demo workdir (hrnet/, gnn/)")
    parser.add_argument("--out", type=Path, default=Path("docs/results.md"),
                        help="write the Markdown table here")
    parser.add_argument("--only", default="", help="comma-separated variants (default: all)")
    parser.add_argument("--heldout-videos", type=int, default=20,
                        help="val videos of the held-out world (0: skip it)")
    parser.add_argument("--heldout-seed", type=int, default=7)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    demo = args.demo.absolute()
    data = demo / "hrnet" / "synthetic_world"
    full = demo / "gnn"
    if not (full / "gnn").is_dir():
        sys.exit(f"{full}: no GNN export; run `python -m gnnpose_jax.demo --workdir {args.demo}`")
    chosen = [v for v in args.only.split(",") if v] or list(VARIANTS)
    unknown = sorted(set(chosen) - set(VARIANTS))
    if unknown:
        sys.exit(f"--only: unknown variant {unknown[0]!r} (known: {', '.join(VARIANTS)})")
    t0 = time.perf_counter()
    trained = {name: train_variant(demo, name, VARIANTS[name][1]) for name in chosen}
    baseline = score(full, data, False, {})
    rows = [("baseline (no GNN)", baseline), ("full GNN (n = 3)", score(full, data, True, {}))]
    for name in chosen:
        description, _, tracker_overrides = VARIANTS[name]
        rows.append((description, score(trained[name], data, True, tracker_overrides)))
    for merge in MERGES:
        rows.append((f"full GNN, merge `{merge}`", score(full, data, True, {"merge": merge})))
    if "history_hrnet" in trained:
        rows.append((f"history from HRNet's estimates, merge `{MERGES[0]}`",
                     score(trained["history_hrnet"], data, True, {"merge": MERGES[0]})))
    text = table(rows, baseline)
    heldout = ""
    if args.heldout_videos > 0:
        root = heldout_world(demo, args.heldout_seed, args.heldout_videos)
        base = score(full, root, False, {})
        heldout = (f"\n\n## Held-out world\n\n{args.heldout_videos} val videos generated with "
                   f"seed {args.heldout_seed} (the demo's world uses seed 0), same sizes; the "
                   "demo's models and tracker settings, nothing tuned on it.\n\n"
                   + table(heldout_rows(full, trained.get("history_hrnet"), root, base), base))
    minutes = (time.perf_counter() - t0) / 60
    print(text + heldout)
    generated = (
        "## Ablations on the synthetic val split\n\n"
        f"Written by `python benchmarks/ablate.py --demo {args.demo}` on "
        f"{datetime.date.today()} (this run: {minutes:.0f} min, variants already trained were "
        "reused). "
        "Every row uses the demo's tiny HRNet, the val split's detections and the demo "
        "config's tracker settings (`configs/synthetic_gnn.py`), except what the row changes; "
        "differences are to the baseline. Variants retrain the GNN with the demo's recipe. "
        "GNN val PCKh is the GNN's own validation (the pose at t from the GT history of the "
        "demo's val windows, before any tracking).\n\n"
        f"{text}{heldout}\n")
    write_section(args.out, generated)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
