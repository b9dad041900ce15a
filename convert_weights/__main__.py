"""python -m convert_weights SRC DST: PyTorch/safetensors HRNet → Orbax, or back.

SRC a `.pth` (official or MMPose, zip or legacy serialisation) or `.safetensors` file and DST a
new directory: converts to an Orbax checkpoint plus `hrnet.json`. SRC a converted directory and
DST a `.safetensors` path: exports the official PyTorch layout (to take fine-tuned weights back).
"""

import argparse
from pathlib import Path

from gnnpose_jax.cli import run_cli
from gnnpose_jax.errors import ConversionError


def _parse_hw(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        msg = f"expected HEIGHTxWIDTH like 384x288, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    return h, w


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m convert_weights", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    parser.add_argument("--input-size", type=_parse_hw, default=None,
                        help="input HEIGHTxWIDTH to record in hrnet.json (default: read from "
                             "a name like pose_hrnet_w32_384x288.pth)")
    args = parser.parse_args()

    from gnnpose_jax.models import hrnet_convert

    if args.src.is_dir():
        if args.dst.suffix != ".safetensors":
            raise ConversionError(f"{args.dst}: exporting a checkpoint directory needs a "
                                  ".safetensors destination")
        config = hrnet_convert.export_safetensors(args.src, args.dst)
        print(f"wrote {args.dst} (HRNet-W{config.width}, {config.num_joints} joints, "
              "official PyTorch layout)")
        return
    config = hrnet_convert.convert_checkpoint(args.src, args.dst, args.input_size)
    print(f"wrote {args.dst} (HRNet-W{config.width}, {config.num_joints} joints)")


if __name__ == "__main__":
    run_cli(main)
