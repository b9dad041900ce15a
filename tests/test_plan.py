"""`python -m gnnpose_jax.plan`: TPU-slice compiles of every mode's steps, their figures, the
max-batch search and the missing-libtpu message. The compiles need libtpu (the `[tpu]` extra)
and are skipped without it; each mode's plan compiles a shrunken synthetic config (about a
minute of CPU for the three modes together), the rest compile a one-convolution program."""

from __future__ import annotations

import json
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gnnpose_jax import plan, plan_devices, planning
from gnnpose_jax.cli import run_cli
from gnnpose_jax.errors import ConfigError
from gnnpose_jax.training import abstract
from gnnpose_jax.training import config as config_lib

ROOT = Path(__file__).resolve().parents[1]
needs_libtpu = pytest.mark.skipif(not plan_devices.has_libtpu(),
                                  reason="libtpu is not installed (the [tpu] extra)")
#: Shallower, narrower and smaller than the synthetic configs, so that each compile is short.
SHRINK = {"hrnet.stage_blocks": (1, 1, 1), "hrnet.width": 8, "hrnet.stem_channels": 16,
          "hrnet.layer1_planes": 16, "hrnet.input_hw": (64, 32), "gnn.hidden": 16,
          "gnn.layers": 1, "detector.input_hw": (64, 64), "detector.width": 0.125,
          "detector.max_boxes": 4}
SHRINK_ARGS = [f"--config.{key}={value}".replace(" ", "") for key, value in SHRINK.items()]


def _shrunk(name: str):
    """The synthetic config of one mode with the `SHRINK` overrides."""
    config = config_lib.load_config_file(str(ROOT / "configs" / f"synthetic_{name}.py"))
    with config.unlocked():
        for key, value in SHRINK.items():
            section, leaf = key.split(".")
            config[section][leaf] = value
    return config


def _conv_program(batch: int, hw: int = 34, cin: int = 16, cout: int = 32, k: int = 3
                  ) -> abstract.StepProgram:
    """A program of one VALID convolution (batch, hw, hw, cin) * (k, k, cin, cout)."""

    def step(state, data, rng):
        """The convolution, its output summed over devices."""
        del rng
        out = jax.lax.conv_general_dilated(data["image"], state["kernel"], (1, 1), "VALID",
                                           dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return state, {"sum": jax.lax.psum(jnp.sum(out), "batch")}

    image = {"image": jax.ShapeDtypeStruct((batch, hw, hw, cin), jnp.float32)}
    return abstract.StepProgram(
        train_step=step, eval_step=None,
        state={"kernel": jax.ShapeDtypeStruct((k, k, cin, cout), jnp.float32)},
        train_batch=image, eval_batch=image, rng=jax.eval_shape(lambda: jax.random.key(0)))


@pytest.fixture(scope="module")
def v5e_2x2():
    """The abstract devices of a 2x2 v5e slice."""
    return plan_devices.load_topology("v5e:2x2")


def _check_sane(record: dict, mode: str, params: int) -> None:
    """Fields of one plan that hold for any small model on v5e:2x2 at 1 per device."""
    assert (record["mode"], record["compute_dtype"], record["topology"]) == \
        (mode, "float32", "v5e:2x2")
    assert (record["devices"], record["hosts"], record["device_name"]) == (4, 1, "v5e")
    assert (record["per_device_batch"], record["global_batch"]) == (1, 4)
    assert record["hbm_bytes_per_device"] == 16 * 1024**3 and record["fits"]
    memory = record["bytes_per_device"]
    # Parameters, Adam's two moments and the batch are all arguments of the train step.
    assert memory["arguments"] >= 3 * 4 * params
    assert memory["total"] == (memory["arguments"] + memory["temporaries"]
                               + memory["outputs"] - memory["aliased"])
    # The new state reuses the donated one: at least the parameters are aliased.
    assert memory["aliased"] >= 4 * params
    # A train step (forward and backward) costs more than an eval step (forward only).
    assert record["flops_per_device_step"] > record["eval"]["flops_per_device_step"] > 0
    seconds = record["estimated_step_seconds"]
    assert record["step_time_source"] in ("cost_model", "roofline") and 0 < seconds < 1
    roofline = max(record["flops_per_device_step"] / record["peak_bf16_flops_per_device"],
                   record["bytes_accessed_per_device_step"]
                   / record["hbm_bytes_per_second_per_device"])
    assert seconds >= roofline * (1 - 1e-9)
    assert math.isclose(record["estimated_examples_per_second"], 4 / seconds)
    assert 0 < record["estimated_mfu"] <= 1
    assert record["compile_seconds"] > record["eval"]["compile_seconds"] > 0


def _param_count(config) -> int:
    """Trained parameters of the config's model (from the abstract state)."""
    state = abstract.abstract_program(config, 1).state
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(state.params))


@needs_libtpu
def test_hrnet_plan_cli_prints_a_table_and_writes_the_json(tmp_path, capsys):
    output = tmp_path / "plan.json"
    with pytest.raises(SystemExit) as exit_info:
        run_cli(lambda: plan.main(["plan", "--config", str(ROOT / "configs/synthetic_hrnet.py"),
                                   "--topology", "v5e:2x2", "--per-device-batch", "1",
                                   "--output", str(output), *SHRINK_ARGS]))
    assert exit_info.value.code == 0
    record = json.loads(output.read_text())
    _check_sane(record, "hrnet", _param_count(_shrunk("hrnet")))
    table = capsys.readouterr().out
    assert "hrnet (float32) on v5e:2x2" in table and "estimated MFU" in table


@needs_libtpu
@pytest.mark.parametrize("name,mode", [("gnn", "gnn"), ("yolox", "detector")])
def test_gnn_and_detector_plan(name, mode):
    config = _shrunk(name)
    _check_sane(plan.make_plan(config, "v5e:2x2", per_device_batch=1), mode,
                _param_count(config))


@needs_libtpu
def test_one_convolution_flops(v5e_2x2):
    n, hw, cin, cout, k = 8, 34, 16, 32, 3
    record = planning.plan(lambda b: _conv_program(b, hw, cin, cout, k), v5e_2x2, n,
                           with_eval=False)
    out = hw - k + 1
    expected = 2 * n * out * out * cin * cout * k * k
    assert record["flops_per_device_step"] == pytest.approx(expected, rel=0.01)


@needs_libtpu
def test_max_batch_fits_and_twice_it_does_not(v5e_2x2):
    # Memory for 3 examples per device: the search must find 3 (totals grow with the batch).
    hbm = planning.compile_step(_conv_program(3), v5e_2x2.devices).total_bytes
    train_bytes = planning.TrainBytes(_conv_program, v5e_2x2)
    found = planning.max_batch(train_bytes, hbm)
    assert found == 3
    assert len(train_bytes.costs) <= 4  # memory is linear in the batch: a guess and its check

    def fits(batch: int) -> bool:
        """An independent plan of the batch."""
        return planning.plan(_conv_program, v5e_2x2, batch, hbm_bytes=hbm,
                             with_eval=False)["fits"]

    assert fits(found) and not fits(2 * found)


@needs_libtpu
def test_multi_host_slice():
    topology = plan_devices.load_topology("v5e:4x4")
    record = planning.plan(_conv_program, topology, 2, with_eval=False)
    assert (record["devices"], record["hosts"], record["chips"]) == (16, 4, 16)
    assert record["global_batch"] == 32 and record["fits"]


@needs_libtpu
def test_bad_batches_are_one_line():
    config = _shrunk("hrnet")
    with config.unlocked():
        config.batch_size = 6
    with pytest.raises(ConfigError, match="does not split over the 4 devices"):
        plan.make_plan(config, "v5e:2x2")
    with pytest.raises(ConfigError, match="must be a positive integer"):
        plan.make_plan(config, "v5e:2x2", per_device_batch=0)


@needs_libtpu
def test_unknown_topology_is_one_line():
    with pytest.raises(ConfigError, match="v5e:2x3"):
        plan_devices.load_topology("v5e:2x3")


@pytest.mark.parametrize("limit,start", [(37, 1), (37, 64), (1, 1), (64, 64), (0, 5)])
@pytest.mark.parametrize("memory", ["linear", "quadratic", "step"])
def test_max_batch_search(limit, start, memory):
    calls = []
    growth = {"linear": lambda b: 100 * b + 50, "quadratic": lambda b: b * b + 7 * b,
              "step": lambda b: 10**9 if b > limit else 0}[memory]
    budget = growth(limit) if limit else 0

    def bytes_at(batch: int) -> int:
        """Memory that grows with the batch; `limit` is the last batch within the budget."""
        calls.append(batch)
        return growth(batch)

    assert planning.max_batch(bytes_at, budget, start=start) == limit
    assert len(calls) <= 2 * math.log2(max(limit, start, 2)) + 4
    if memory == "linear" and limit > 1:
        assert len(calls) <= 4  # the first doubling, the line's guess and its neighbour


def test_batch_estimate_grows_everything_but_the_outputs():
    # 1 GB of state and metrics out, 3 GB of the rest at 8 examples: 16 GB fit 40.
    cost = planning.StepCost(1.0, 0.0, 0.0, 0.0, 2 * 10**9, 3 * 10**9, 10**9, 2 * 10**9)
    assert planning.batch_estimate(cost, 8, 16 * 10**9) == 40
    assert planning.batch_estimate(cost, 8, 10**9 // 2) == 0


def test_step_time_falls_back_to_the_roofline():
    def cost(optimal: float) -> planning.StepCost:
        """2 TFLOP and 1 GB accessed, the cost model saying `optimal` seconds."""
        return planning.StepCost(1.0, 2e12, 1e9, optimal, 0, 0, 0, 0)

    # Roofline on 1 TFLOP/s and 1 GB/s: max(2 s of compute, 1 s of memory) = 2 s.
    assert planning.step_time(cost(3.0), 1e12, 1e9) == (3.0, "cost_model")
    for absurd in (-474.6, 0.5, math.nan, 1e6):
        assert planning.step_time(cost(absurd), 1e12, 1e9) == (2.0, "roofline")


@pytest.mark.parametrize("check,topology,words", [
    ("has_libtpu", "v5e:2x2", ("libtpu", "[tpu]")),
    ("has_cuda_plugin", "h100:8", ("CUDA plugin", "[gpu-plan]"))])
def test_a_missing_compiler_is_one_line(monkeypatch, capsys, check, topology, words):
    monkeypatch.setattr(plan_devices, check, lambda: False)
    with pytest.raises(SystemExit) as exit_info:
        run_cli(lambda: plan.main(["plan", "--config", str(ROOT / "configs/synthetic_hrnet.py"),
                                   "--topology", topology]))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and all(word in err for word in words)


@pytest.mark.skipif(not plan_devices.has_cuda_plugin(),
                    reason="JAX's CUDA plugin is not installed (the [gpu-plan] extra)")
def test_h100_plan_without_a_gpu():
    # The GPU compiler reports no FLOPs: they come from the step as lowered for the CPU.
    topology = plan_devices.load_topology("h100:2x4")
    assert (len(topology.devices), topology.hosts, topology.kind.name) == (8, 2, "H100")
    n, hw, cin, cout, k = 8, 34, 16, 32, 3
    record = planning.plan(lambda b: _conv_program(b, hw, cin, cout, k), topology, n,
                           with_eval=False)
    out = hw - k + 1
    assert record["flops_per_device_step"] == pytest.approx(2 * n * out * out * cin * cout * k * k,
                                                            rel=0.01)
    assert record["fits"] and record["bytes_per_device"]["arguments"] >= 4 * n * hw * hw * cin
