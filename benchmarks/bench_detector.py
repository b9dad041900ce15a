"""The YOLOX forward: the jitted Flax model against the PyTorch reference, side by side.

The reference is benchmarks/torch_yolox.py, the official module tree. Both run in this process on
the same seeded weights (converted to Flax by the library) and the same letterboxed input,
alternately, after warm-up; the figure is the median of `--repeats` runs. One row per
(variant, batch, JAX graph) with the JAX/PyTorch time ratio (< 1: JAX is faster), compile time
and the outputs' largest relative difference (a check that both computed the same thing).

    python benchmarks/bench_detector.py                  # s at 640 and nano at 416, batch 1, 8
    python benchmarks/bench_detector.py --variants nano --batches 1 --size 128 --repeats 1

JAX graphs: `bn` (BatchNorm applied) and `folded` (BN folded into the convs, what `detect` and
`track` run).
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from timing import alternate  # noqa: E402
from torch_yolox import YOLOX, randomize_  # noqa: E402

from gnnpose_jax.models import yolox, yolox_convert  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=["s", "nano"],
                        choices=sorted(yolox.PRESETS))
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--size", type=int,
                        help="letterbox size S for every variant (default: each one's, 640 or "
                             "416)")
    parser.add_argument("--graphs", nargs="+", default=["bn", "folded"],
                        choices=["bn", "folded"])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2, help="PyTorch intra-op threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads)")
    print("variant  size  batch  graph   jax_ms  torch_ms  ratio  compile_s  max_rel_diff")
    for name in args.variants:
        preset = yolox.PRESETS[name]
        size = args.size or preset.input_size
        calibration = torch.from_numpy(
            np.random.default_rng(0).uniform(0, 255, (2, 3, 64, 64)).astype(np.float32))
        model = randomize_(YOLOX(preset.depth, preset.width, preset.depthwise), seed=0,
                           images=calibration)
        config, variables = yolox_convert.torch_to_flax(
            {k: v.numpy() for k, v in model.state_dict().items()})
        for batch in args.batches:
            x = np.random.default_rng(1).uniform(0, 255, (batch, size, size, 3)).astype(
                np.float32)
            x_torch = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
            with torch.inference_mode():
                expected = model(x_torch).numpy()
            for graph in args.graphs:
                folded = graph == "folded"
                module = yolox.YOLOX(config, fold_bn=folded)
                params = jax.device_put(yolox.fold_batchnorm(variables) if folded else variables)
                x_jax = jax.device_put(x)
                t0 = time.perf_counter()
                compiled = jax.jit(module.apply).lower(params, x_jax).compile()
                compile_s = time.perf_counter() - t0
                out = np.asarray(compiled(params, x_jax))
                diff = float(np.abs(out - expected).max() / np.abs(expected).max())

                def run_jax(compiled=compiled, params=params, x_jax=x_jax):
                    compiled(params, x_jax).block_until_ready()

                def run_torch(model=model, x_torch=x_torch):
                    with torch.inference_mode():
                        model(x_torch)

                jm, tm = alternate(run_jax, run_torch, args.repeats)
                print(f"{name:<7}  {size:>4}  {batch:>5}  {graph:<6}  {jm * 1e3:6.0f}  "
                      f"{tm * 1e3:8.0f}  {jm / tm:5.2f}  {compile_s:9.1f}  {diff:12.1e}",
                      flush=True)


if __name__ == "__main__":
    main()
