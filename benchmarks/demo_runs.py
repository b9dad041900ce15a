"""Scoring trackers on a finished demo's worlds: shared by `ablate.py` and `tune_tracker.py`.

A demo workdir (`python -m gnnpose_jax.demo --workdir runs/demo`) holds the world
(`synthetic_world/`: train, val, tune), the held-out world (`heldout_world/`: val), the
detector (`yolox/`), the HRNet (`hrnet/`) and the GNN (`gnn/`). `score` tracks one split with a
workdir's networks and tracker settings (plus overrides) and returns the PoseTrack totals.
Networks, sequences and each frame's boxes are loaded or computed once per process.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gnnpose_jax.data.folders import DEFAULT_WORLD_DIR  # noqa: E402
from gnnpose_jax.demo import HELDOUT_DIR  # noqa: E402
from gnnpose_jax.models.run_folder import CONFIG_JSON, YOLOX_EXPORT  # noqa: E402

#: Person boxes: the learned detector's, the world's simulated detections, those thinned at
#: random to the learned detector's recall (its false positives kept), or the GT people's own
#: boxes (an oracle).
BOXES = ("detector", "simulated", "simulated_at_detector_recall", "gt")
#: IoU at which a box finds a GT person, for recall.
RECALL_IOU = 0.5


def demo_parser(description: str) -> argparse.ArgumentParser:
    """The flags of every script on a finished demo: --demo, --out and --boxes."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", type=Path, default=Path("runs/demo"),
                        help="a finished demo workdir (synthetic_world/, yolox/, hrnet/, gnn/)")
    parser.add_argument("--out", type=Path, default=Path("docs/results.md"),
                        help="write the Markdown tables here")
    parser.add_argument("--boxes", choices=BOXES, default="detector",
                        help="the learned detector's boxes (default), the world's simulated "
                             "detections (also thinned to the detector's recall) or GT boxes")
    return parser


def finished_demo(demo: Path) -> Path:
    """The demo folder, absolute; exits with one line when it holds no GNN export."""
    if not (demo / "gnn" / "gnn").is_dir():
        sys.exit(f"{demo / 'gnn'}: no GNN export; run `python -m gnnpose_jax.demo --workdir "
                 f"{demo}` first")
    return demo.absolute()


def world(demo: Path) -> Path:
    """The demo's world (train, val and tune splits)."""
    return demo / DEFAULT_WORLD_DIR


def heldout_world(demo: Path) -> Path:
    """The demo's held-out world (a val split of another seed)."""
    return demo / HELDOUT_DIR


@functools.cache
def models(workdir: Path, use_gnn: bool):
    """A workdir's networks, loaded (and compiled) once for every row that uses them."""
    from gnnpose_jax.tracking.networks import load_networks

    return load_networks(workdir, use_gnn=use_gnn)


@functools.cache
def split_and_boxes(data: Path, split: str, boxes: str, demo: Path):
    """A split's sequences and its person boxes per frame (the learned detector's, found once
    per frame and reused, the world's simulated detections, or the GT boxes)."""
    from gnnpose_jax.tracking.boxes import box_source
    from gnnpose_jax.tracking.split import read_split, split_detections

    sequences = read_split(data, split)
    if boxes == "gt":
        return sequences, box_source("gt", sequences)
    if boxes == "simulated":
        return sequences, box_source("detections", sequences,
                                     detections=split_detections(data, split))
    if boxes == "simulated_at_detector_recall":
        return sequences, thinned_to_detector_recall(data, split, demo)
    found = box_source("detector", sequences, detector=demo / "yolox" / YOLOX_EXPORT)
    cache = {}

    def cached(frame, image):
        if frame.file_name not in cache:
            cache[frame.file_name] = found(frame, image)
        return cache[frame.file_name]

    return sequences, cached


def boxes_per_frame(data: Path, split: str, boxes: str, demo: Path) -> dict:
    """file name -> (N, 5) boxes of every frame of a split."""
    from gnnpose_jax.data.transforms import read_image_rgb

    sequences, source = split_and_boxes(data, split, boxes, demo)
    return {f.file_name: source(f, read_image_rgb(data / f.file_name) if boxes == "detector"
                                else None)
            for seq in sequences for f in seq.frames}


def recall(data: Path, split: str, per_frame: dict) -> tuple[float, dict]:
    """The fraction of GT people (with a box) that some box finds at IoU >= RECALL_IOU, and
    file name -> (N,) bool of the boxes that find one."""
    import numpy as np

    from gnnpose_jax.evaluation.box_ap import box_iou_xywh
    from gnnpose_jax.tracking.split import read_split

    found = total = 0
    hits = {}
    for seq in read_split(data, split):
        for frame in seq.frames:
            gt = np.array([p.box for p in frame.people if p.box is not None]).reshape(-1, 4)
            dets = per_frame[frame.file_name][:, :4]
            iou = box_iou_xywh(dets, gt) if len(dets) and len(gt) else np.zeros((len(dets), 0))
            found += int((iou >= RECALL_IOU).any(axis=0).sum())
            total += len(gt)
            hits[frame.file_name] = (iou >= RECALL_IOU).any(axis=1)
    return found / max(total, 1), hits


def thinned_to_detector_recall(data: Path, split: str, demo: Path, seed: int = 0):
    """The simulated detections with boxes that find a person dropped at random until their
    recall is the learned detector's (unchanged when already lower); prints both recalls."""
    import numpy as np

    detector_recall, _ = recall(data, split, boxes_per_frame(data, split, "detector", demo))
    simulated = boxes_per_frame(data, split, "simulated", demo)
    simulated_recall, hits = recall(data, split, simulated)
    keep = min(1.0, detector_recall / max(simulated_recall, 1e-9))
    rng = np.random.default_rng(seed)
    thinned = {name: b[~hits[name] | (rng.random(len(b)) < keep)]
               for name, b in sorted(simulated.items())}
    print(f"{split} recall at IoU {RECALL_IOU}: detector {detector_recall:.3f}, simulated "
          f"{simulated_recall:.3f}, thinned {recall(data, split, thinned)[0]:.3f}", flush=True)
    return lambda frame, image=None: thinned[frame.file_name]


def track(workdir: Path, data: Path, use_gnn: bool, overrides: dict, *, demo: Path,
          split: str = "val", boxes: str = "detector") -> tuple[list, list]:
    """Tracks a split with a workdir's networks and settings (plus `overrides`); the split's
    sequences and the predictions."""
    from gnnpose_jax.tracking.config import tracker_config
    from gnnpose_jax.tracking.split import track_split

    stored = json.loads((workdir / CONFIG_JSON).read_text())
    nets = models(workdir, use_gnn)
    config = tracker_config(stored.get("tracker"), nets.gnn_spec, **overrides)
    sequences, frame_boxes = split_and_boxes(data, split, boxes, demo)
    predictions, _ = track_split(nets, config, data, sequences, frame_boxes, use_gnn,
                                 desc=f"{workdir.name} {data.name} {split}")
    return sequences, predictions


def score(workdir: Path, data: Path, use_gnn: bool, overrides: dict, *, demo: Path,
          split: str = "val", boxes: str = "detector") -> dict:
    """Tracks a split as `track` does; the totals."""
    from gnnpose_jax.evaluation import evaluate

    sequences, predictions = track(workdir, data, use_gnn, overrides, demo=demo, split=split,
                                   boxes=boxes)
    result = evaluate(sequences, predictions)
    return {"ap": result["ap"]["total"], "mota": result["mota"]["total"],
            "precision": result["mota"]["precision"], "recall": result["mota"]["recall"],
            "pckh": val_metric(workdir, "pckh") if use_gnn else None}


def val_metric(workdir: Path, name: str) -> float | None:
    """The last validation `name` in a workdir's metrics.jsonl (None if absent)."""
    path = workdir / "metrics.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []
    values = [r[f"val/{name}"] for r in rows if f"val/{name}" in r]
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


def write_section(path: Path, generated: str, name: str) -> None:
    """Writes `generated` between `name`'s markers in `path`, keeping the text around them
    (appended at the end when the markers are absent)."""
    begin, end = f"<!-- {name}: begin -->", f"<!-- {name}: end -->"
    text = path.read_text() if path.is_file() else "# Results on the synthetic world\n\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
    else:
        head, tail = text.rstrip("\n") + "\n\n", "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{head}{begin}\n{generated}{end}{tail}")
