"""HRNet-W32 at 384×288: the jitted Flax forward against the PyTorch reference, side by side.

Both run in this process on the same weights and input, alternately, after warm-up; the
figure is the median of `--repeats` runs. Prints one row per (variant, batch) with the
JAX/PyTorch time ratio (< 1 means JAX is faster), achieved GFLOP/s, compile time and XLA's
temporary memory.

    python benchmarks/bench_hrnet.py                      # all variants, batch 1 and 8
    python benchmarks/bench_hrnet.py --variants folded --batches 1

Variants: `bn` (BatchNorm applied at inference), `folded` (BN folded into the convs),
`folded_bf16` (folded, bfloat16 compute; for accelerators).
"""

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from timing import alternate  # noqa: E402
from torch_hrnet import build_torch_hrnet, randomize_  # noqa: E402

from gnnpose_jax.models import hrnet, hrnet_convert  # noqa: E402

GFLOPS_W32_384x288 = 16.0  # per image, docs/spec/hrnet.md §4


def _jax_forward(variant: str, variables):
    fold = variant.startswith("folded")
    dtype = jnp.bfloat16 if variant.endswith("bf16") else jnp.float32
    module = hrnet.HRNet(hrnet.W32, fold_bn=fold, dtype=dtype)
    params = hrnet.fold_batchnorm(variables) if fold else variables
    fn = jax.jit(lambda v, x: module.apply(v, x, train=False).heatmaps)
    return fn, jax.device_put(params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=["bn", "folded"])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2, help="PyTorch intra-op threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model = randomize_(build_torch_hrnet(32), seed=0)
    _, variables = hrnet_convert.torch_to_flax(
        {k: v.numpy() for k, v in model.state_dict().items()})
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads)")
    print("variant      batch  jax_ms  torch_ms  ratio  jax_GFLOP/s  torch_GFLOP/s  "
          "compile_s  xla_temp_MiB")
    for batch in args.batches:
        x = np.random.default_rng(0).standard_normal((batch, 384, 288, 3), dtype=np.float32)
        x_torch = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
        for variant in args.variants:
            fn, params = _jax_forward(variant, variables)
            x_jax = jax.device_put(x)
            t0 = time.perf_counter()
            compiled = fn.lower(params, x_jax).compile()
            compile_s = time.perf_counter() - t0
            temp = compiled.memory_analysis()
            temp_mib = temp.temp_size_in_bytes / 2**20 if temp is not None else float("nan")

            def run_jax(compiled=compiled, params=params, x_jax=x_jax):
                compiled(params, x_jax).block_until_ready()

            def run_torch(x_torch=x_torch):
                with torch.inference_mode():
                    model(x_torch)

            jm, tm = alternate(run_jax, run_torch, args.repeats)
            flops = GFLOPS_W32_384x288 * batch
            print(f"{variant:<12} {batch:>5}  {jm * 1e3:6.0f}  {tm * 1e3:8.0f}  {jm / tm:5.2f}  "
                  f"{flops / jm:11.1f}  {flops / tm:13.1f}  {compile_s:9.1f}  {temp_mib:12.0f}",
                  flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    print(f"peak RSS of the process (both frameworks): {peak:.0f} MiB")


if __name__ == "__main__":
    main()
