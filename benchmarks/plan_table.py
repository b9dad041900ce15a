"""The side-by-side scaling table of docs/scaling.md: the paper-size models planned on TPU slices.

    python benchmarks/plan_table.py --plans runs/plans compile          # the plans (hours)
    python benchmarks/plan_table.py --plans runs/plans table \\
        --feed hrnet=R gnn=R detector=R                                  # the markdown table

`compile` runs `python -m gnnpose_jax.plan` once per model, dtype and compiled slice
(`COMPILED`) at the paper's per-device batch, one after the other (libtpu allows one compiler
per host; `--kinds h100` compiles for 8 H100s through JAX's CUDA plugin, the `[gpu-plan]`
extra), and writes PLANS/<model>_<slice>_<dtype>.json; a plan already there is kept, so an
interrupted run resumes. `--search MODEL:SLICE:DTYPE` also runs `plan --max-batch` for that
combination (PLANS/<...>_max.json).

`table` prints one row per model, dtype and slice of `SLICES`. A v5e slice's devices all run
the same per-device program whatever the slice's size (the pmap's psum is the only
collective, and the estimates leave its network time out), so the v5e rows reuse the
`v5e:16x16` compile and scale the global figures by the device count. Columns: per-device
batch, step seconds (cost model or roofline, as `plan` chose), global examples/s, MFU, GiB
per device, the largest batch that fits (searched where a `_max` plan exists, else `plan`'s
one-compile estimate, marked ~), and the host CPU cores needed to feed each chip at that rate
(of the vCPUs its host has per chip), from `--feed`: each mode's input-pipeline examples/s per
core (`benchmarks/bench_input.py`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: model -> (config, mode, the paper's per-device batch, why that batch).
MODELS = {
    "hrnet_w32": ("configs/posetrack21_hrnet_w32.py", "hrnet", 32,
                  "official HRNet recipe: 32 per GPU"),
    "hrnet_w48": ("configs/posetrack18_hrnet_w48.py", "hrnet", 32,
                  "official HRNet recipe: 32 per GPU"),
    "gnn": ("configs/posetrack18_gnn_w48.py", "gnn", 8,
            "the config's 32 windows over a 4-chip host"),
    "yolox_s": ("configs/posetrack18_yolox_s.py", "detector", 8,
                "official YOLOX recipe: 64 over 8 GPUs"),
}
#: The slices compiled; every other slice of the same kind reuses its per-device program.
COMPILED = {"v5e": "v5e:16x16", "v5p": "v5p:2x2x2", "h100": "h100:8"}
#: The slices of the table: (name, device kind, devices).
SLICES = [("v5e:2x2", "v5e", 4), ("v5e:4x4", "v5e", 16), ("v5e:16x16", "v5e", 256),
          ("v5p:2x2x2", "v5p", 8), ("h100:8", "h100", 8)]
DTYPES = ("float32", "bfloat16")
#: Host vCPUs per chip: v5e ct5lp-hightpu-4t, 112 for 4 chips; v5p, 208 for 4 chips (Google
#: Cloud TPU docs, "TPU v5e" and "TPU v5p" pages); H100, a3-highgpu-8g, 208 for 8 GPUs
#: (Google Cloud accelerator-optimized machine types).
HOST_VCPUS_PER_CHIP = {"v5e": 28, "v5p": 52, "h100": 26}
GIB = 1024**3


def plan_path(plans: Path, model: str, kind: str, dtype: str, search: bool = False) -> Path:
    """Where a plan's JSON goes."""
    name = f"{model}_{COMPILED[kind].replace(':', '_')}_{dtype}"
    return plans / f"{name}{'_max' if search else ''}.json"


def compile_plans(plans: Path, models: list[str], kinds: list[str],
                  searches: list[str]) -> None:
    """Runs `plan` for every missing combination, printing progress and minutes."""
    plans.mkdir(parents=True, exist_ok=True)
    jobs = [(m, k, d, False) for k in kinds for m in models for d in DTYPES]
    for spec in searches:
        model, kind, dtype = spec.split(":")
        jobs.append((model, kind, dtype, True))
    for i, (model, kind, dtype, search) in enumerate(jobs, 1):
        out = plan_path(plans, model, kind, dtype, search)
        if out.exists():
            print(f"[{i}/{len(jobs)}] {out.name}: kept", flush=True)
            continue
        config, _, batch, _ = MODELS[model]
        args = [sys.executable, "-m", "gnnpose_jax.plan", "--config", config,
                "--topology", COMPILED[kind], "--per-device-batch", str(batch),
                f"--config.compute_dtype={dtype}", "--output", str(out)]
        if search:
            args.append("--max-batch")
        print(f"[{i}/{len(jobs)}] {out.name}: compiling", flush=True)
        start = time.perf_counter()
        result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
        minutes = (time.perf_counter() - start) / 60
        if result.returncode:
            print(f"    failed after {minutes:.1f} min: {result.stderr.strip()[-400:]}")
        else:
            print(f"    {minutes:.1f} min", flush=True)


def _load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def _estimate(record: dict) -> int:
    """`plan`'s one-compile estimate of the largest batch (recomputed for older plans)."""
    if "max_batch_estimate" in record:
        return record["max_batch_estimate"]
    memory = record["bytes_per_device"]
    per_example = (memory["total"] - memory["outputs"]) / record["per_device_batch"]
    return int((record["hbm_bytes_per_device"] - memory["outputs"]) // per_example)


def table(plans: Path, feed: dict[str, float]) -> str:
    """The markdown table of every plan found."""
    head = ("| model | dtype | slice | per-device batch | step s | examples/s | MFU "
            "| GiB/device | fits | largest batch | host cores per chip to feed (of) |")
    lines = [head, "|---" * (head.count("|") - 1) + "|"]
    for model, (_, mode, _, _) in MODELS.items():
        for dtype in DTYPES:
            for name, kind, devices in SLICES:
                record = _load(plan_path(plans, model, kind, dtype))
                if record is None:
                    continue
                searched = _load(plan_path(plans, model, kind, dtype, search=True))
                largest = (str(searched["max_batch"]) if searched
                           else f"~{_estimate(record)}")
                step = record["estimated_step_seconds"]
                per_device = record["per_device_batch"]
                examples = per_device * devices / step
                source = "" if record["step_time_source"] == "cost_model" else " (r)"
                need = examples / devices / feed[mode] if mode in feed else None
                cores = (f"{need:.1f} ({HOST_VCPUS_PER_CHIP[kind]})" if need is not None
                         else f"? ({HOST_VCPUS_PER_CHIP[kind]})")
                lines.append(
                    f"| {model} | {dtype} | {name} | {per_device} | {step:.3g}{source} "
                    f"| {examples:,.0f} | {record['estimated_mfu']:.1%} "
                    f"| {record['bytes_per_device']['total'] / GIB:.2f} "
                    f"| {'yes' if record['fits'] else 'no'} | {largest} | {cores} |")
    return "\n".join(lines)


def main() -> None:
    """Parses the arguments and compiles or prints."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plans", type=Path, default=Path("runs/plans"))
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("compile")
    run.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    run.add_argument("--kinds", nargs="+", default=["v5e", "v5p"], choices=list(COMPILED),
                     help="h100 needs the [gpu-plan] extra")
    run.add_argument("--search", nargs="*", default=[], metavar="MODEL:KIND:DTYPE")
    show = sub.add_parser("table")
    show.add_argument("--feed", nargs="*", default=[], metavar="MODE=EXAMPLES_PER_CORE")
    args = parser.parse_args()
    if args.command == "compile":
        compile_plans(args.plans, args.models, args.kinds, args.search)
    else:
        feed = {k: float(v) for k, v in (item.split("=") for item in args.feed)}
        print(table(args.plans, feed))


if __name__ == "__main__":
    main()
