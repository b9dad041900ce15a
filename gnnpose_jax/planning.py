"""Compiling a training run's steps for a TPU slice, and what the compiler says they cost.

`plan(program_for, topology, per_device_batch)` compiles the pmapped train step (state
donated, as the loop runs it) and eval step of `program_for(per_device_batch)` for every
device of the slice, with abstract inputs, and reads XLA's analyses of the per-device
program: its FLOPs and bytes accessed (`cost_analysis`) and its argument, temporary and output
bytes (`memory_analysis`). From these and the chip's figures (`plan_devices.DEVICE_KINDS`):

- `fits`: arguments + temporaries + outputs - aliased (donated state buffers reused for the
  new state) <= the device's HBM;
- `estimated_step_seconds`: XLA's TPU cost model (`optimal_seconds`) where it is plausible,
  else the roofline max(flops / bf16 peak, bytes accessed / HBM bandwidth)
  (`step_time_source` says which). Neither counts the input pipeline, host overhead or the
  collectives' real network time; docs/scaling.md says what the figure is and is not;
- `estimated_mfu`: flops / (step seconds x the bfloat16 peak).

`max_batch` finds the largest per-device batch whose train step fits, by compiles: guided by
the line memory follows in the batch, with doubling and bisection to bracket it.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from gnnpose_jax.plan_devices import Topology
from gnnpose_jax.training.abstract import StepProgram
from gnnpose_jax.training.loop import pmap_eval_step, pmap_train_step

#: The cost model's time is used only within [1, PLAUSIBLE_FACTOR] x the roofline: below it,
#: the program would beat the chip's peak; far above it, the model is off (it has returned
#: negative times for full-size HRNet steps).
PLAUSIBLE_FACTOR = 100.0
COST_MODEL, ROOFLINE = "cost_model", "roofline"


@dataclasses.dataclass(frozen=True)
class StepCost:
    """What the compiler reports of one device's program.

    Attributes:
      compile_seconds: wall time of lowering and compiling.
      flops: XLA's FLOP count of one step on one device.
      bytes_accessed: XLA's HBM bytes read and written by one step.
      optimal_seconds: XLA's cost-model step time (NaN where missing).
      arguments, temporaries, outputs, aliased: per-device bytes (`memory_analysis`).
    """

    compile_seconds: float
    flops: float
    bytes_accessed: float
    optimal_seconds: float
    arguments: int
    temporaries: int
    outputs: int
    aliased: int

    @property
    def total_bytes(self) -> int:
        """Peak per-device bytes: every buffer, the donated-and-reused ones counted once."""
        return self.arguments + self.temporaries + self.outputs - self.aliased

    def bytes_dict(self) -> dict[str, int]:
        """The `bytes_per_device` record."""
        return {"arguments": self.arguments, "temporaries": self.temporaries,
                "outputs": self.outputs, "aliased": self.aliased, "total": self.total_bytes}


def _per_device(tree: Any, count: int) -> Any:
    """Every `ShapeDtypeStruct` leaf with a leading axis of `count` devices (dtypes as JAX
    would canonicalise host arrays: int64 -> int32 without x64)."""
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(
        (count, *x.shape), jax.dtypes.canonicalize_dtype(x.dtype, allow_extended_dtype=True)),
        tree)


def _cost_dict(compiled: Any) -> dict[str, float]:
    """`cost_analysis()` as one dict (some JAX versions return a one-element list)."""
    cost = compiled.cost_analysis()
    if isinstance(cost, list | tuple):
        cost = cost[0] if cost else {}
    return dict(cost or {})


def _unoptimised_cost(program: StepProgram, train: bool) -> dict[str, float]:
    """XLA's cost analysis of one device's step as lowered for this host's CPU, before any
    optimisation: the same FLOPs, and bytes accessed counted without fusion (an overcount, as
    the TPU compiler's also is). Nothing is compiled."""
    devices = jax.devices("cpu")[:1]
    state = _per_device(program.state, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if train:
            lowered = pmap_train_step(program.train_step, devices=devices).lower(
                state, _per_device(program.train_batch, 1), _per_device(program.rng, 1))
        else:
            lowered = pmap_eval_step(program.eval_step, devices=devices).lower(
                state, _per_device(program.eval_batch, 1))
    cost = lowered.cost_analysis()
    cost = dict((cost[0] if isinstance(cost, list | tuple) else cost) or {})
    cost.pop("optimal_seconds", None)  # the CPU's cost model says nothing of the GPU's time
    return cost


def compile_step(program: StepProgram, devices: tuple, train: bool = True) -> StepCost:
    """Compiles the program's pmapped train (or eval) step for `devices`.

    Args:
      program: the step and its abstract per-device inputs.
      devices: every device of the slice; the leading axis spans them all (one process
        stands for every host).
      train: the train step (state donated) or the eval step.

    Returns:
      The compiler's figures.
    """
    n = len(devices)
    state = _per_device(program.state, n)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # donation notes about buffers XLA cannot reuse
        if train:
            lowered = pmap_train_step(program.train_step, devices=devices).lower(
                state, _per_device(program.train_batch, n), _per_device(program.rng, n))
        else:
            lowered = pmap_eval_step(program.eval_step, devices=devices).lower(
                state, _per_device(program.eval_batch, n))
        compiled = lowered.compile()
    seconds = time.perf_counter() - started
    cost, memory = _cost_dict(compiled), compiled.memory_analysis()
    if "flops" not in cost:  # the GPU compiler reports none: count them before optimisation
        cost = _unoptimised_cost(program, train)
    return StepCost(compile_seconds=seconds, flops=float(cost.get("flops", 0.0)),
                    bytes_accessed=float(cost.get("bytes accessed", 0.0)),
                    optimal_seconds=float(cost.get("optimal_seconds", math.nan)),
                    arguments=int(memory.argument_size_in_bytes),
                    temporaries=int(memory.temp_size_in_bytes),
                    outputs=int(memory.output_size_in_bytes),
                    aliased=int(memory.alias_size_in_bytes))


def step_time(cost: StepCost, peak_flops: float, bandwidth: float) -> tuple[float, str]:
    """(seconds, source): the cost model's time where plausible, else the roofline.

    Args:
      cost: the compiled step's figures.
      peak_flops: the device's bfloat16 peak, FLOP/s.
      bandwidth: the device's HBM bandwidth, bytes/s.
    """
    roofline = max(cost.flops / peak_flops, cost.bytes_accessed / bandwidth)
    modelled = cost.optimal_seconds
    if math.isfinite(modelled) and roofline > 0 \
            and roofline <= modelled <= PLAUSIBLE_FACTOR * roofline:
        return modelled, COST_MODEL
    return roofline, ROOFLINE


def plan(program_for: Callable[[int], StepProgram], topology: Topology, per_device_batch: int,
         hbm_bytes: int | None = None, with_eval: bool = True, train: StepCost | None = None
         ) -> dict[str, Any]:
    """Compiles the steps for one per-device batch and estimates their fit and speed.

    Args:
      program_for: per-device batch -> the step program (`abstract.abstract_program`).
      topology: the slice.
      per_device_batch: examples per device per step.
      hbm_bytes: the device memory to fit in (default: the chip's HBM over its devices).
      with_eval: compile the eval step too (its figures under "eval"; `fits` needs both).
      train: the train step's figures at this batch, if already compiled (`TrainBytes`).

    Returns:
      The plan record (docs/scaling.md lists its fields).
    """
    kind = topology.kind
    per_chip = topology.devices_per_chip
    peak, bandwidth = kind.peak_bf16_flops / per_chip, kind.hbm_bytes_per_second / per_chip
    hbm = hbm_bytes_per_device(topology, hbm_bytes)
    program = program_for(per_device_batch)
    if train is None:
        train = compile_step(program, topology.devices, train=True)
    seconds, source = step_time(train, peak, bandwidth)
    global_batch = per_device_batch * len(topology.devices)
    record = {
        "topology": topology.name, "device_kind": topology.device_kind,
        "device_name": kind.name, "devices": len(topology.devices), "chips": topology.chips,
        "hosts": topology.hosts, "per_device_batch": per_device_batch,
        "global_batch": global_batch, "compile_seconds": train.compile_seconds,
        "flops_per_device_step": train.flops,
        "bytes_accessed_per_device_step": train.bytes_accessed,
        "bytes_per_device": train.bytes_dict(), "hbm_bytes_per_device": hbm,
        "fits": train.total_bytes <= hbm,
        "cost_model_seconds": train.optimal_seconds if math.isfinite(train.optimal_seconds)
        else None,
        "estimated_step_seconds": seconds, "step_time_source": source,
        "estimated_examples_per_second": global_batch / seconds if seconds > 0 else None,
        "estimated_mfu": train.flops / (seconds * peak) if seconds > 0 else None,
        "peak_bf16_flops_per_device": peak, "hbm_bytes_per_second_per_device": bandwidth,
        "max_batch_estimate": batch_estimate(train, per_device_batch, hbm),
    }
    if with_eval:
        evaluation = compile_step(program, topology.devices, train=False)
        eval_seconds, eval_source = step_time(evaluation, peak, bandwidth)
        record["compile_seconds"] += evaluation.compile_seconds
        record["eval"] = {"compile_seconds": evaluation.compile_seconds,
                          "flops_per_device_step": evaluation.flops,
                          "bytes_per_device": evaluation.bytes_dict(),
                          "fits": evaluation.total_bytes <= hbm,
                          "estimated_step_seconds": eval_seconds,
                          "step_time_source": eval_source}
        record["fits"] = record["fits"] and record["eval"]["fits"]
    return record


def batch_estimate(cost: StepCost, batch: int, budget: int) -> int:
    """The largest per-device batch whose train step would fit `budget`, from one compile at
    `batch`: the outputs (the new state and metrics) stay, every other byte grows with the
    batch. Conservative: gradients and the optimizer's temporaries do not grow with it."""
    fixed = cost.outputs
    per_example = (cost.total_bytes - fixed) / batch
    return max(int((budget - fixed) // per_example), 0) if per_example > 0 else 0


def linear_batch(points: dict[int, int], budget: int) -> int | None:
    """The largest batch whose bytes fit `budget` on the line through two measured
    (batch, bytes) points (the two largest batches), or None with fewer than two."""
    if len(points) < 2:
        return None
    (b0, m0), (b1, m1) = sorted(points.items())[-2:]
    slope = (m1 - m0) / (b1 - b0)
    if slope <= 0:
        return None
    return int(math.floor(b1 + (budget - m1) / slope))


def max_batch(bytes_at: Callable[[int], int], budget: int, start: int = 1,
              limit: int = 1 << 16) -> int:
    """The largest batch in 1..limit whose `bytes_at(batch)` is within `budget` (0 if none),
    assuming bytes grow with the batch.

    Each `bytes_at` call is one compile, so the search guesses where it can: memory is close to
    linear in the batch, so after two compiles it tries the batch where the line through the
    last two meets the budget, and that batch + 1; otherwise it doubles (or halves) from
    `start` until the answer is bracketed, then bisects. Linear memory takes 3 or 4 compiles;
    any monotone memory at most about 2 log2(answer) + 4.
    """
    points: dict[int, int] = {}
    low, high = 0, limit + 1  # the largest batch known to fit, the smallest known not to

    def probe(batch: int) -> None:
        nonlocal low, high
        points[batch] = bytes_at(batch)
        if points[batch] <= budget:
            low = max(low, batch)
        else:
            high = min(high, batch)

    probe(int(np.clip(start, 1, limit)))
    guessed = False
    while high - low > 1:
        guess = linear_batch(points, budget)
        if not guessed and guess is not None:
            guessed = True  # one guess, then its neighbour: the boundary if memory is linear
            guess = min(max(guess, low + 1), high - 1)
            probe(guess)
            neighbour = guess + 1 if low == guess else guess - 1
            if low < neighbour < high:
                probe(neighbour)
        elif high == limit + 1:
            probe(min(2 * low, limit))
        elif low == 0:
            probe(max(high // 2, 1))
        else:
            probe((low + high) // 2)
    return low


class TrainBytes:
    """batch -> per-device bytes of the train step at that per-device batch (one compile per
    batch; `costs` keeps each compile's figures, so the plan at the batch found reuses it)."""

    def __init__(self, program_for: Callable[[int], StepProgram], topology: Topology):
        self.program_for, self.topology = program_for, topology
        self.costs: dict[int, StepCost] = {}

    def __call__(self, batch: int) -> int:
        if batch not in self.costs:
            cost = compile_step(self.program_for(batch), self.topology.devices)
            self.costs[batch] = cost
            print(f"max-batch search: per-device batch {batch}: {cost.total_bytes / 1024**3:.2f} "
                  f"GiB (compiled in {cost.compile_seconds:.0f} s)", file=sys.stderr, flush=True)
        return self.costs[batch].total_bytes


def hbm_bytes_per_device(topology: Topology, hbm_bytes: int | None = None) -> int:
    """The memory a device's program must fit: `hbm_bytes`, or the chip's HBM over its
    devices."""
    if hbm_bytes is not None:
        return int(hbm_bytes)
    return int(topology.kind.hbm_bytes // topology.devices_per_chip)
