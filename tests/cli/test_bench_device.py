"""benchmarks/bench_device.py in its CI-sized form, over two CPU devices: every row of the
accelerator table comes out, with sane numbers."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_device_small_prints_every_row():
    env = {**os.environ, "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} "
                                      "--xla_force_host_platform_device_count=2",
           "JAX_PLATFORMS": "cpu"}
    result = subprocess.run([sys.executable, "benchmarks/bench_device.py", "--small",
                             "--repeats", "1"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = dict(re.findall(r"^\| (.+?) \| (.+?) \|$", result.stdout, re.MULTILINE))

    def number(pattern: str) -> float:
        (value,) = [float(re.match(r"[\d.e+-]+", v).group()) for k, v in rows.items()
                    if re.search(pattern, k)]
        return value

    for pattern in ("float32, batch", "bfloat16, batch", "^GNN train step", r"\(baseline\)",
                    r"\+ GNN", r"1 device\(s\)", r"2 device\(s\)"):
        assert number(pattern) > 0, pattern
    # bfloat16 keeps HRNet's heatmaps within a few percent of their peak.
    peak_share = float(re.search(r"\(([\d.]+)% of the peak\)",
                                 rows["bfloat16 heatmap error vs float32"]).group(1))
    assert peak_share < 10.0
    assert number("scaling efficiency") > 0
