"""The demo's closing summary (gnnpose_jax.demo): every learned stage's last validation, both
worlds' tracking totals and the stages' minutes, read from the files the stages write."""

import json

from gnnpose_jax import demo


def _metrics(path, rows):
    path.mkdir(parents=True)
    (path / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def _totals(ap, mota):
    return {"ap": {"total": ap}, "mota": {"total": mota}}


def test_summary_reads_each_stage_and_both_worlds(tmp_path):
    # The detector's figures are those of its best validation (the checkpoint it exports),
    # the HRNet's and GNN's those of their last.
    _metrics(tmp_path / "yolox", [{"step": 10, "time": 0, "val/box_ap50": 0.5},
                                  {"step": 20, "time": 1, "train/loss": 1.0},
                                  {"step": 20, "time": 2, "val/box_ap50": 0.912,
                                   "val/box_ap": 0.605},
                                  {"step": 30, "time": 3, "val/box_ap50": 0.9,
                                   "val/box_ap": 0.7}])
    _metrics(tmp_path / "hrnet", [{"step": 1, "time": 0, "val/pckh": 0.9},
                                  {"step": 5, "time": 0, "val/pckh": 0.81,
                                   "val/pckh_visible": 0.93, "val/pckh_hidden": 0.4}])
    _metrics(tmp_path / "gnn", [{"step": 5, "time": 0, "val/pckh": 0.77,
                                 "val/pckh_visible": 0.85, "val/pckh_hidden": 0.45}])
    (tmp_path / "results.json").write_text(json.dumps(
        {"baseline": _totals(50.04, 30.0), "gnn": _totals(55.0, 35.57)}))
    (tmp_path / "results_heldout.json").write_text(json.dumps(
        {"baseline": _totals(48.0, 28.0), "gnn": _totals(51.0, 32.0)}))
    text = demo.summary(tmp_path, {"1/7 worlds": 0.25, "2/7 detector": 2.0}, "detector")
    assert "box AP@0.5 91.2, AP@[.5:.95] 60.5" in text
    assert "PCKh@0.5 0.810 (visible joints 0.930, hidden 0.400)" in text
    assert "GNN: PCKh@0.5 0.770 (pose at t from the history; visible joints 0.850, " \
           "hidden 0.450)" in text
    assert "| val | baseline | 50.0 | 30.0 |" in text
    assert "| val | gnn | 55.0 | 35.6 |" in text
    assert "| held-out | gnn | 51.0 | 32.0 |" in text
    assert "learned detector's boxes" in text
    assert "2/7 detector: 2.0" in text and "total: 2.2" in text


def test_summary_of_an_unfinished_demo_says_what_is_missing(tmp_path):
    text = demo.summary(tmp_path, {}, "simulated")
    assert "box AP@0.5 nan" in text and "simulated boxes" in text
    assert "| val |" not in text
