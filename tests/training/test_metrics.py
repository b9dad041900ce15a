"""Metric writers (gnnpose_jax.training.metrics): JSON lines that read back, appended across
writers (a resumed run), non-finite values as null, TensorBoard events beside them."""

import math

import jax.numpy as jnp
import numpy as np

from gnnpose_jax.training.metrics import EVENTS_DIR, METRICS_FILE, MetricWriter, read_metrics


def test_rows_read_back_in_order_and_append_across_writers(tmp_path):
    assert read_metrics(tmp_path) == []  # no file yet
    writer = MetricWriter(tmp_path)
    writer.write(2, {"train/loss": jnp.float32(0.5), "train/epoch": np.float64(0.25)})
    writer.write(4, {"val/pckh": 0.75, "val/loss": float("nan"), "train/grad": math.inf})
    writer.close()
    resumed = MetricWriter(tmp_path)  # a resumed run appends to the same file
    resumed.write(6, {"train/loss": 0.25})
    resumed.close()
    rows = read_metrics(tmp_path)
    assert [r["step"] for r in rows] == [2, 4, 6]
    assert rows[0]["train/loss"] == 0.5 and rows[0]["train/epoch"] == 0.25
    assert rows[1]["val/pckh"] == 0.75
    assert rows[1]["val/loss"] is None and rows[1]["train/grad"] is None  # not NaN in JSON
    assert rows[0]["time"] <= rows[1]["time"] <= rows[2]["time"]
    assert "NaN" not in (tmp_path / METRICS_FILE).read_text()
    assert any((tmp_path / EVENTS_DIR).iterdir())  # TensorBoard events were written


def test_a_disabled_writer_writes_nothing(tmp_path):
    writer = MetricWriter(tmp_path, enabled=False)  # processes other than 0
    writer.write(1, {"train/loss": 1.0})
    writer.close()
    assert list(tmp_path.iterdir()) == []
    assert read_metrics(tmp_path) == []
