"""gnnpose-convert SRC DST: PyTorch/safetensors HRNet or YOLOX → Orbax, or back (also
`python -m convert_weights`).

SRC a `.pth` (zip or legacy serialisation) or `.safetensors` file and DST a new directory:
converts to an Orbax checkpoint plus `hrnet.json` (official or MMPose HRNet) or `yolox.json`
(official YOLOX, recognised by its `backbone.backbone.stem` keys). SRC a converted directory
and DST a `.safetensors` path: exports the official PyTorch layout (to take fine-tuned weights
back).
"""

import argparse
from pathlib import Path

from gnnpose_jax.cli import check_writable, program, run_cli
from gnnpose_jax.errors import ConversionError
from gnnpose_jax.paths import check_distinct


def _parse_hw(text: str) -> tuple[int, int]:
    """`384x288` → (384, 288); anything but two positive integers is a ConversionError."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise ConversionError(f"--input-size: expected HEIGHTxWIDTH of positive integers like "
                              f"384x288, got {text!r}")
    return int(parts[0]), int(parts[1])


def main(argv: list[str] | None = None) -> None:
    """Parses the flags (`argv`, default the command line), converts or exports."""
    parser = argparse.ArgumentParser(prog=program(), description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    parser.add_argument("--input-size", default=None,
                        help="input HEIGHTxWIDTH to record in hrnet.json (default: read from "
                             "a name like pose_hrnet_w32_384x288.pth), or the square input "
                             "SxS in yolox.json (default: the official variant's, 416 or 640)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing .safetensors DST when exporting (a converted "
                             "directory is never replaced)")
    args = parser.parse_args(argv)
    input_hw = None if args.input_size is None else _parse_hw(args.input_size)
    check_writable(args.dst, "DST", folder=not args.src.is_dir())
    check_distinct([("DST", args.dst)], [("SRC", args.src)])
    if args.src.is_dir():
        _export(args.src, args.dst, args.overwrite)
    else:
        _convert(args.src, args.dst, input_hw)


def _export(src: Path, dst: Path, overwrite: bool) -> None:
    """A converted HRNet or YOLOX directory → an official-layout `.safetensors`."""
    from gnnpose_jax.models import hrnet_convert, yolox, yolox_convert

    if dst.suffix != ".safetensors":
        raise ConversionError(f"{dst}: exporting a checkpoint directory needs a .safetensors "
                              "destination")
    if dst.is_dir() or (dst.exists() and not overwrite):
        raise ConversionError(f"{dst}: already exists; choose a new destination (or "
                              "--overwrite to replace the file)")
    check_writable(dst, "DST")
    if yolox.is_yolox_dir(src):
        config = yolox_convert.export_safetensors(src, dst)
        print(f"wrote {dst} ({_describe_yolox(config)}, official PyTorch layout)")
        return
    config = hrnet_convert.export_safetensors(src, dst)
    print(f"wrote {dst} (HRNet-W{config.width}, {config.num_joints} joints, official PyTorch "
          "layout)")


def _convert(src: Path, dst: Path, input_hw: tuple[int, int] | None) -> None:
    """An HRNet or YOLOX checkpoint file → a new converted directory."""
    from gnnpose_jax.models import hrnet_convert, yolox_convert
    from gnnpose_jax.models.torch_files import load_state_dict

    if dst.exists():  # before reading SRC, which may be large
        raise ConversionError(f"{dst}: already exists; choose a new destination")
    check_writable(dst, "DST", folder=True)
    state = load_state_dict(src)
    if not yolox_convert.is_yolox_state_dict(state):
        config = hrnet_convert.convert_state_dict(state, dst, str(src), input_hw)
        print(f"wrote {dst} (HRNet-W{config.width}, {config.num_joints} joints)")
        return
    if input_hw is not None and input_hw[0] != input_hw[1]:
        raise ConversionError(f"--input-size {input_hw[0]}x{input_hw[1]}: YOLOX takes a square "
                              "input, e.g. 640x640")
    config = yolox_convert.convert_state_dict(state, dst, str(src),
                                              input_hw[0] if input_hw else None)
    print(f"wrote {dst} ({_describe_yolox(config)})")


def _describe_yolox(config) -> str:
    """`YOLOX depth 0.33 width 0.5, 80 classes, input 640`."""
    dw = " depthwise" if config.depthwise else ""
    return (f"YOLOX depth {config.depth:g} width {config.width:g}{dw}, {config.num_classes} "
            f"classes, input {config.input_size}")


def cli() -> None:
    """The `gnnpose-convert` console script: errors as one line and exit status 2."""
    run_cli(main)


if __name__ == "__main__":
    cli()
