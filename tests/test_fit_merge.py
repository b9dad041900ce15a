"""`python -m gnnpose_jax.fit_merge` end to end on a tiny world with random networks (the
plumbing; the table's rule is tested in tests/tracking/test_merge_table.py)."""

import subprocess
import sys
from pathlib import Path

import pytest

from gnnpose_jax.tracking.merge_table import MERGE_TABLE, MergeTable
from tests.helpers.cli_errors import assert_one_error_line
from tests.helpers.tiny_runs import build_world_and_workdir

ROOT = Path(__file__).resolve().parents[1]


def _run(*args):
    return subprocess.run([sys.executable, "-m", "gnnpose_jax.fit_merge", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)


@pytest.fixture(scope="module")
def world_and_workdir(tmp_path_factory):
    return build_world_and_workdir(tmp_path_factory.mktemp("fit_merge"))


def test_fits_and_writes_the_table_the_tracker_reads(world_and_workdir, tmp_path):
    world, workdir = world_and_workdir
    (workdir / MERGE_TABLE).unlink()
    # Random networks: every prediction must match its track's estimate (no OKS gate).
    config = tmp_path / "loose.py"
    config.write_text("from configs import synthetic_gnn\n\n\ndef get_config():\n"
                      "    config = synthetic_gnn.get_config()\n"
                      "    config.tracker.oks_gate = 0.0\n    return config\n")
    result = _run("--workdir", workdir, "--data", world, "--split", "val", "--boxes", "gt",
                  "--min-oks", "0", "--min-pairs", "3", "--config", config)
    assert result.returncode == 0, result.stderr
    table = MergeTable.load(workdir / MERGE_TABLE)
    assert table.min_pairs == 3
    lines = result.stdout.splitlines()
    assigned = int(lines[0].split(", ")[1].split()[0])
    hidden, visible = (int(line.split(": ")[1].split()[0]) for line in lines[1:3])
    assert assigned > 0 and table.pairs.sum() == hidden + visible > 0
    assert "tracking (fitting the merge table)" in result.stderr  # the progress bar


def test_bad_input_is_one_line(world_and_workdir, tmp_path):
    world, workdir = world_and_workdir
    assert_one_error_line(_run("--workdir", workdir, "--data", world, "--split", "val", "--boxes",
                         "detector"), "--detector")
    assert_one_error_line(_run("--workdir", workdir, "--data", world, "--split", "nosuch",
                         "--boxes", "gt"), "annotations")
    assert_one_error_line(_run("--workdir", tmp_path, "--data", world, "--split", "val", "--boxes",
                         "gt"), "no GNN export", "GNN training run")
    assert_one_error_line(_run("--workdir", workdir, "--data", world, "--min-pairs", "0"),
                    "--min-pairs")
    assert "--workdir GNN_RUN" in _run("--help").stdout
