"""Inputs that used to crash or silently mislead, across the CLIs (issue 10, part 3).

Each row of `ERRORS` runs one CLI as a subprocess on a prepared bad input and expects exit
status 2, exactly one `error:` line naming the problem, no traceback, and no file written or
changed. The other tests cover what must succeed: unusable detection boxes are dropped with a
count in the log, `--positional-pairing` keeps the official pairing, and `track --help`.
"""

import dataclasses
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gnnpose_jax.data import posetrack
from gnnpose_jax.tracking.tracker import OnlineTracker, TrackerConfig
from tests.helpers.cli_errors import assert_one_error_line
from tests.helpers.poseval_people import person, sequence
from tests.helpers.tiny_runs import build_world_and_workdir

ROOT = Path(__file__).resolve().parents[2]


@dataclasses.dataclass(frozen=True)
class Ctx:
    """What a row's argv and setup may refer to (formatted into argv as `{name}`)."""

    tmp: Path  # the row's own folder: every output goes here
    world: Path  # a 2-video PoseTrack-layout val split with detections
    workdir: Path  # a run folder with random tiny hrnet/ and gnn/ exports
    frames: Path  # the first video's frame folder
    dets: Path  # its detections, keyed by frame index


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """The world, the run folder, and one video's frames with its detections."""
    base = tmp_path_factory.mktemp("bad_inputs")
    world, workdir = build_world_and_workdir(base)
    seq = posetrack.read_sequences(world / "annotations/val")[0]
    dets = posetrack.read_detections(world / "detections/val.json")
    by_index = {f.frame_index: dets.get(f.image_id, np.zeros((0, 5))) for f in seq.frames}
    posetrack.write_detections(by_index, base / "dets.json")
    return world, workdir, world / "images/val" / seq.name, base / "dets.json"


@pytest.fixture
def ctx(shared, tmp_path):
    world, workdir, frames, dets = shared
    return Ctx(tmp=tmp_path, world=world, workdir=workdir, frames=frames, dets=dets)


def _run(argv):
    return subprocess.run([sys.executable, *map(str, argv)], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def _snapshot(*folders):
    """Every file under `folders` with its size, modification time and content hash."""
    out = {}
    for folder in folders:
        for p in sorted(Path(folder).rglob("*")):
            if p.is_file():
                out[str(p)] = (p.stat().st_size, p.stat().st_mtime_ns, hash(p.read_bytes()))
            else:
                out[str(p)] = "dir"
    return out


# --- setups -------------------------------------------------------------------------------


def _file(ctx):
    (ctx.tmp / "afile").write_text("not a folder")


def _broken_export(ctx):
    """A copy of the run folder whose GNN export lost a file."""
    shutil.copytree(ctx.workdir, ctx.tmp / "run")
    (ctx.tmp / "run/gnn/variables/manifest.ocdbt").unlink()


def _broken_hrnet(ctx):
    """A copy of an HRNet-only run folder whose HRNet export lost a file."""
    shutil.copytree(ctx.workdir / "hrnet", ctx.tmp / "run/hrnet")
    (ctx.tmp / "run/hrnet/variables/_METADATA").unlink()


def _metrics_files(ctx, edit=None, fmt="2018"):
    """GT and predictions (a copy of the GT) in tmp/gt and tmp/pred; `edit` changes the
    prediction file of the first sequence (its parsed JSON, in place)."""
    gt = [sequence([[person(1, origin=(0, 100 * t))] for t in range(3)]),
          sequence([[person(3)], [person(3)]], name="000002_mpii_test")]
    posetrack.write_sequences(gt, ctx.tmp / "gt")
    posetrack.write_sequences(gt, ctx.tmp / "pred", fmt=fmt)
    if edit is not None:
        path = ctx.tmp / "pred/000001_mpii_test.json"
        data = json.loads(path.read_text())
        edit(data)
        path.write_text(json.dumps(data))


def _shift_image_ids(data):
    ids = {img["id"]: img["id"] + 7 for img in data["images"]}
    for img in data["images"]:
        img["id"] = ids[img["id"]]
    for ann in data["annotations"]:
        ann["image_id"] = ids[ann["image_id"]]


def _other_video(data):
    for img in data["images"]:
        img["file_name"] = img["file_name"].replace("000001_mpii_test", "000003_mpii_test")


def _swap_first_frames(data):
    data["images"][0], data["images"][1] = data["images"][1], data["images"][0]


def _pt21_files(ctx, edit):
    """`_metrics_files` as PoseTrack21: predictions in its layout, GT people with a
    `person_id` (so that the benchmark is detected)."""
    _metrics_files(ctx, edit, fmt="2021")
    for path in (ctx.tmp / "gt").glob("*.json"):
        data = json.loads(path.read_text())
        for ann in data["annotations"]:
            ann["person_id"] = ann["track_id"]
        path.write_text(json.dumps(data))


def _crafted(ctx, offset, size, stride, numel=8, legacy=False):
    """tmp/crafted.pth: one tensor `w` with these fields over 8 float32 elements."""
    from tests.helpers.torch_pickles import write_legacy, write_zip

    data = np.arange(8, dtype=np.float32).tobytes()
    tensors = {"w": ("0", "FloatStorage", numel, offset, size, stride)}
    if legacy:
        write_legacy(ctx.tmp / "crafted.pth", tensors, {"0": (numel, data)})
    else:
        write_zip(ctx.tmp / "crafted.pth", tensors, {"0": data})


def _negative_running_var(ctx):
    """tmp/bad.safetensors: the run's HRNet in the official layout, one BN variance < 0."""
    from gnnpose_jax.models import hrnet_convert
    from gnnpose_jax.models.torch_files import load_state_dict, save_safetensors

    hrnet_convert.export_safetensors(ctx.workdir / "hrnet", ctx.tmp / "good.safetensors")
    state = load_state_dict(ctx.tmp / "good.safetensors")
    (ctx.tmp / "good.safetensors").unlink()
    key = next(k for k in sorted(state) if k.endswith("running_var"))
    state[key] = state[key].copy()
    state[key][0] = -1.0
    save_safetensors(state, ctx.tmp / "bad.safetensors")


def _checkpoints(ctx):
    """tmp/yolox.pth and tmp/hrnet.pth: tiny random official-layout YOLOX and pose HRNet."""
    from benchmarks.random_weights import write_hrnet_pth, write_yolox_pth
    from tests.helpers.tiny_runs import DENSE, TINY

    write_yolox_pth(ctx.tmp / "yolox.pth", DENSE)
    write_hrnet_pth(ctx.tmp / "hrnet.pth", TINY)


def _converted_yolox(ctx):
    """tmp/yolox.pth, tmp/hrnet.pth and tmp/yolox: the detector converted to a folder."""
    from gnnpose_jax.models.yolox_convert import convert_checkpoint

    _checkpoints(ctx)
    convert_checkpoint(ctx.tmp / "yolox.pth", ctx.tmp / "yolox")


def _resnet_pth(ctx):
    """tmp/resnet.pth: a SimpleBaseline-style pose network (ResNet + deconvolutions)."""
    from benchmarks.random_weights import write_pth

    _checkpoints(ctx)
    rng = np.random.default_rng(0)
    shapes = {"conv1.weight": (8, 3, 7, 7), "layer1.0.conv1.weight": (8, 8, 1, 1),
              "deconv_layers.0.weight": (32, 16, 4, 4), "final_layer.weight": (17, 16, 1, 1)}
    write_pth({k: rng.normal(size=v).astype(np.float32) for k, v in shapes.items()},
              ctx.tmp / "resnet.pth", wrap=False)


def _yolox_of_mixed_widths(ctx):
    """tmp/mixed.pth: a tiny YOLOX whose first head stem is of a twice wider variant."""
    from benchmarks.random_weights import write_pth
    from gnnpose_jax.models.torch_files import load_state_dict

    _checkpoints(ctx)
    state = load_state_dict(ctx.tmp / "yolox.pth")
    key = "head.stems.0.conv.weight"
    state[key] = np.zeros((2 * state[key].shape[0], *state[key].shape[1:]), np.float32)
    write_pth(state, ctx.tmp / "mixed.pth", wrap=True)


def _hrnet_folder_of_another_width(ctx):
    """tmp/hrnet_dir: the run's HRNet export, its hrnet.json claiming twice the width."""
    _checkpoints(ctx)
    shutil.copytree(ctx.workdir / "hrnet", ctx.tmp / "hrnet_dir")
    meta = json.loads((ctx.tmp / "hrnet_dir/hrnet.json").read_text())
    meta["config"]["width"] *= 2
    (ctx.tmp / "hrnet_dir/hrnet.json").write_text(json.dumps(meta))


def _mpii_hrnet(ctx):
    """tmp/mpii.pth: a pose HRNet with MPII's 16 joints."""
    from benchmarks.random_weights import write_hrnet_pth
    from tests.helpers.tiny_runs import TINY

    _checkpoints(ctx)
    write_hrnet_pth(ctx.tmp / "mpii.pth", dataclasses.replace(TINY, num_joints=16))


CONVERT = ["-m", "convert_weights", "{tmp}/crafted.pth", "{tmp}/out"]
TRACK = ["-m", "gnnpose_jax.track", "{frames}", "--workdir", "{workdir}", "--detections",
         "{dets}"]
EVAL_TRACKER = ["evaluate.py", "--config", "configs/synthetic_gnn.py", "--workdir",
                "{workdir}", "--data", "{world}"]
EVAL_METRICS = ["evaluate.py", "--ground-truth", "{tmp}/gt", "--predictions", "{tmp}/pred",
                "--metrics", "{tmp}/metrics.json"]
TRAIN_GNN = ["train.py", "--config", "configs/synthetic_gnn.py", "--workdir", "{tmp}/run"]
TRACK_PTH = ["-m", "gnnpose_jax.track", "{frames}", "--output", "{tmp}/o.json", "--render",
             "{tmp}/r.mp4"]
DETECT = ["-m", "gnnpose_jax.detect", "{frames}", "--output", "{tmp}/d.json"]

# (name, command argv, setup, substrings of the error line)
ERRORS = [
    ("track_render_under_a_file", TRACK + ["--render", "{tmp}/afile/r.mp4", "--output",
                                           "{tmp}/o.json"], _file, ["--render", "afile"]),
    ("track_output_is_a_folder", TRACK + ["--output", "{tmp}/o.json", "--render",
                                          "{tmp}/r.mp4"],
     lambda c: (c.tmp / "o.json").mkdir(), ["--output", "o.json", "folder"]),
    ("track_gnn_export_lost_a_file", ["-m", "gnnpose_jax.track", "{frames}", "--workdir",
                                      "{tmp}/run", "--detections", "{dets}", "--output",
                                      "{tmp}/o.json"], _broken_export,
     ["run/gnn", "GNN export"]),
    ("track_hrnet_export_lost_a_file", ["-m", "gnnpose_jax.track", "{frames}", "--workdir",
                                        "{tmp}/run", "--detections", "{dets}", "--output",
                                        "{tmp}/o.json", "--no-gnn"], _broken_hrnet,
     ["run/hrnet", "HRNet checkpoint"]),
    ("evaluate_tracker_render_is_a_file", EVAL_TRACKER + ["--render", "{tmp}/afile"], _file,
     ["--render", "afile", "expected a folder"]),
    ("evaluate_tracker_output_under_a_file", EVAL_TRACKER + ["--render", "{tmp}/render",
                                                             "--metrics", "{tmp}/afile/m.json"],
     _file, ["--metrics", "afile"]),
    ("evaluate_tracker_gnn_export_lost_a_file",
     ["evaluate.py", "--config", "configs/synthetic_gnn.py", "--workdir", "{tmp}/run", "--data",
      "{world}", "--metrics", "{tmp}/m.json"], _broken_export, ["run/gnn", "GNN export"]),
    ("evaluate_predictions_without_annotations", EVAL_METRICS,
     lambda c: _metrics_files(c, lambda d: d.pop("annotations")),
     ["pred/000001_mpii_test.json", "'annotations'"]),
    ("evaluate_predictions_without_annolist", EVAL_METRICS,
     lambda c: _metrics_files(c, lambda d: d.__setitem__("frames", d.pop("annolist")), "2017"),
     ["pred/000001_mpii_test.json", "annolist"]),
    ("evaluate_prediction_frames_reordered", EVAL_METRICS,
     lambda c: _metrics_files(c, _swap_first_frames),
     ["pred/000001_mpii_test.json", "frame 0 is images/val/000001_mpii_test/000001.jpg",
      "--positional-pairing"]),
    ("evaluate_prediction_other_image_ids", EVAL_METRICS,
     lambda c: _metrics_files(c, _shift_image_ids),
     ["pred/000001_mpii_test.json", "frame 0", "image id 10000010007"]),
    ("evaluate_prediction_other_video", EVAL_METRICS,
     lambda c: _metrics_files(c, _other_video),
     ["pred/000001_mpii_test.json", "frame 0 is images/val/000003_mpii_test/000000.jpg"]),
    ("evaluate_metrics_output_under_a_file",
     EVAL_METRICS[:-1] + ["{tmp}/afile/metrics.json"],
     lambda c: (_metrics_files(c), _file(c)), ["--metrics", "afile"]),
    ("train_config_typo", ["train.py", "--config", "configs/typo.py", "--workdir", "{tmp}/run"],
     None, ["configs/typo.py", "not found"]),
    ("train_input_hw_not_a_pair", TRAIN_GNN + ["--config.hrnet.input_hw=128"], None,
     ["hrnet.input_hw", "(H, W)"]),
    ("train_batch_size_zero", TRAIN_GNN + ["--config.batch_size=0"], None,
     ["batch_size 0", "positive"]),
    ("train_batch_size_negative", TRAIN_GNN + ["--config.batch_size=-4"], None,
     ["batch_size -4", "positive"]),
    # The converter: crafted checkpoints (see test_checkpoint_reader.py) and bad flags.
    ("convert_negative_stride", CONVERT, lambda c: _crafted(c, 0, (4,), (-(1 << 40),)),
     ["crafted.pth", "stride"]),
    ("convert_negative_offset", CONVERT, lambda c: _crafted(c, -1000, (4,), (1,)),
     ["crafted.pth", "storage offset"]),
    ("convert_view_past_the_data", CONVERT, lambda c: _crafted(c, 6, (4,), (1,)),
     ["crafted.pth", "reaches element"]),
    ("convert_legacy_huge_storage", CONVERT, lambda c: _crafted(c, 0, (4,), (1,), numel=1 << 62,
                                                               legacy=True),
     ["crafted.pth", "element count"]),
    ("convert_legacy_size_not_the_data", CONVERT,
     lambda c: _crafted(c, 0, (4,), (1,), numel=9, legacy=True), ["crafted.pth", "truncated"]),
    ("convert_negative_running_var", ["-m", "convert_weights", "{tmp}/bad.safetensors",
                                      "{tmp}/out"], _negative_running_var,
     ["running_var", "negative"]),
    ("convert_input_size_not_positive", CONVERT + ["--input-size", "0x-5"], None,
     ["--input-size", "0x-5"]),
    ("convert_export_onto_an_existing_file",
     ["-m", "convert_weights", "{workdir}/hrnet", "{tmp}/old.safetensors"],
     lambda c: (c.tmp / "old.safetensors").write_bytes(b"keep me"),
     ["old.safetensors", "already exists", "--overwrite"]),
    # Tracking from weights alone (issue 11): checkpoints of the wrong kind, swapped or
    # inconsistent, and flag combinations that cannot run.
    ("track_hrnet_given_the_detector",
     TRACK_PTH + ["--detector", "{tmp}/yolox.pth", "--hrnet", "{tmp}/yolox.pth"], _checkpoints,
     ["yolox.pth", "YOLOX person detector checkpoint, not a pose HRNet", "swapped"]),
    ("track_detector_given_the_hrnet",
     TRACK_PTH + ["--detector", "{tmp}/hrnet.pth", "--hrnet", "{tmp}/hrnet.pth"], _checkpoints,
     ["hrnet.pth", "pose HRNet checkpoint, not a YOLOX person detector", "swapped"]),
    ("track_hrnet_given_a_converted_detector",
     TRACK_PTH + ["--detector", "{tmp}/yolox", "--hrnet", "{tmp}/yolox"], _converted_yolox,
     ["yolox: a converted YOLOX person detector, not a pose HRNet"]),
    ("track_detector_given_a_converted_hrnet",
     TRACK_PTH + ["--detector", "{workdir}/hrnet", "--hrnet", "{tmp}/hrnet.pth"], _checkpoints,
     ["hrnet", "converted pose HRNet, not a YOLOX person detector"]),
    ("track_hrnet_given_a_run_folder",
     TRACK_PTH + ["--detections", "{dets}", "--hrnet", "{workdir}"], None,
     ["a training run folder, not an HRNet checkpoint"]),
    ("track_hrnet_of_another_architecture",
     TRACK_PTH + ["--detector", "{tmp}/yolox.pth", "--hrnet", "{tmp}/resnet.pth"], _resnet_pth,
     ["resnet.pth", "not a pose HRNet checkpoint", "transition1.0.0.weight"]),
    ("track_detector_of_mixed_widths",
     TRACK_PTH + ["--detector", "{tmp}/mixed.pth", "--hrnet", "{tmp}/hrnet.pth"],
     _yolox_of_mixed_widths, ["mixed.pth", "shape mismatch", "head.stems.0.conv.weight",
                              "width 0.125"]),
    ("track_hrnet_folder_of_another_width",
     TRACK_PTH + ["--detections", "{dets}", "--hrnet", "{tmp}/hrnet_dir"],
     _hrnet_folder_of_another_width, ["hrnet_dir", "do not match its description"]),
    ("track_hrnet_with_16_joints",
     TRACK_PTH + ["--detector", "{tmp}/yolox.pth", "--hrnet", "{tmp}/mpii.pth"], _mpii_hrnet,
     ["mpii.pth", "16 joints", "needs 17"]),
    ("track_without_a_pose_network", TRACK_PTH + ["--detections", "{dets}"], None,
     ["no pose network", "--hrnet"]),
    ("track_conf_without_a_detector",
     TRACK_PTH + ["--detections", "{dets}", "--hrnet", "{tmp}/hrnet.pth", "--conf", "0.3"],
     _checkpoints, ["--conf", "no --detector"]),
    ("detect_given_the_hrnet", DETECT + ["--detector", "{tmp}/hrnet.pth"], _checkpoints,
     ["hrnet.pth", "not a YOLOX person detector"]),
    ("detect_output_under_a_file",
     ["-m", "gnnpose_jax.detect", "{frames}", "--detector", "{tmp}/yolox.pth", "--output",
      "{tmp}/afile/d.json"], lambda c: (_checkpoints(c), _file(c)), ["--output", "afile"]),
    ("detect_conf_out_of_range", DETECT + ["--detector", "{tmp}/yolox.pth", "--conf", "1.5"],
     _checkpoints, ["--conf 1.5", "[0, 1]"]),
    ("evaluate_boxes_detector_without_a_detector",
     EVAL_TRACKER + ["--boxes", "detector", "--metrics", "{tmp}/m.json"], None,
     ["--boxes detector", "--detector CKPT"]),
    ("evaluate_detector_given_the_hrnet",
     EVAL_TRACKER + ["--boxes", "detector", "--detector", "{tmp}/hrnet.pth", "--metrics",
                     "{tmp}/m.json"], _checkpoints,
     ["hrnet.pth", "not a YOLOX person detector"]),
    ("evaluate_pt21_prediction_negative_track_id", EVAL_METRICS,
     lambda c: _pt21_files(c, lambda d: d["annotations"][0].__setitem__("track_id", -1)),
     ["pred/000001_mpii_test.json", "frame 0", "'track_id'", "got -1"]),
    ("evaluate_pt21_prediction_other_image_ids", EVAL_METRICS,
     lambda c: _pt21_files(c, _shift_image_ids),
     ["pred/000001_mpii_test.json", "frame 0: field 'image_id'", "got 10000010007"]),
]


@pytest.mark.parametrize("argv,setup,needles", [row[1:] for row in ERRORS],
                         ids=[row[0] for row in ERRORS])
def test_bad_input_is_one_error_line_and_writes_nothing(argv, setup, needles, ctx):
    if setup is not None:
        setup(ctx)
    fields = {f.name: getattr(ctx, f.name) for f in dataclasses.fields(ctx)}
    watched = (ctx.tmp, ctx.workdir, ctx.world)
    before = _snapshot(*watched)
    result = _run([arg.format(**fields) for arg in argv])
    assert_one_error_line(result, *needles)
    assert _snapshot(*watched) == before


# --- what must succeed ----------------------------------------------------------------------

#: Detections the tracker cannot crop: empty, negative, non-finite, beyond float64 (read as
#: non-finite), and finite but absurdly large for a 128 x 96 frame.
BAD_BOXES = [[10, 10, 0, 0], [10, 10, -5, 20], [math.nan, 10, 5, 20], [10, 10, 1e400, 5],
             [10, 10, 1e30, 1e30]]


def _with_bad_boxes(path, out, key):
    """`path`'s detections plus BAD_BOXES, on the images named by `key(i)`."""
    entries = json.loads(path.read_text())
    entries += [{"image_id": key(i), "category_id": 1, "bbox": box, "score": 0.9}
                for i, box in enumerate(BAD_BOXES)]
    out.write_text(json.dumps(entries))
    return out


def test_track_drops_unusable_boxes_with_a_count(ctx):
    dets = _with_bad_boxes(ctx.dets, ctx.tmp / "bad.json", lambda i: i)
    out = ctx.tmp / "pred.json"
    result = _run(["-m", "gnnpose_jax.track", ctx.frames, "--workdir", ctx.workdir,
                   "--detections", dets, "--output", out, "--no-gnn"])
    assert result.returncode == 0, result.stderr
    assert "dropped 4 detection(s)" in result.stderr
    assert "dropped 1 person box(es)" in result.stderr
    assert len(posetrack.read_sequence(out).frames) == 6


def test_evaluate_tracker_drops_unusable_boxes_with_a_count(ctx):
    image_ids = [f.image_id for s in posetrack.read_sequences(ctx.world / "annotations/val")
                 for f in s.frames]
    dets = _with_bad_boxes(ctx.world / "detections/val.json", ctx.tmp / "bad.json",
                           lambda i: image_ids[-1 - i])
    result = _run(["evaluate.py", "--config", "configs/synthetic_gnn.py", "--workdir",
                   ctx.workdir, "--data", ctx.world, "--no-gnn", "--detections", dets,
                   "--metrics", ctx.tmp / "m.json"])
    assert result.returncode == 0, result.stderr
    assert "dropped 4 detection(s)" in result.stderr
    assert "dropped 1 person box(es)" in result.stderr
    assert json.loads((ctx.tmp / "m.json").read_text())["tracking"]["frames"] == 12


class _RecordingEstimator:
    """Estimates one fixed pose per box and remembers the boxes it was given."""

    def __init__(self):
        self.seen = []

    def estimate(self, image, boxes):
        self.seen.append(np.array(boxes))
        k = len(boxes)
        keypoints = np.tile(np.linspace(20, 60, 34).reshape(1, 17, 2), (k, 1, 1))
        return keypoints + boxes[:, None, :2], np.full((k, 17), 0.9)


def test_tracker_library_drops_unusable_boxes():
    estimator = _RecordingEstimator()
    tracker = OnlineTracker(estimator, TrackerConfig())
    good = [5.0, 5.0, 40.0, 60.0, 0.9]
    image = np.zeros((96, 128, 3), np.uint8)
    for t in range(2):
        boxes = np.array([good] + [[*b, 0.9] for b in BAD_BOXES] + [[1e5, 0, 5, 5, 0.9]])
        outputs = tracker.step(t, image, boxes)
        assert [o.track_id for o in outputs] == [0]
    assert tracker.dropped_boxes == 2 * (len(BAD_BOXES) + 1)
    assert all(np.array_equal(seen, [good[:4]]) for seen in estimator.seen)
    assert tracker.step(2, image, np.zeros((0, 5))) == []


def test_positional_pairing_flag_scores_reordered_frames(ctx):
    _metrics_files(ctx, _swap_first_frames)
    result = _run([a.format(tmp=ctx.tmp) for a in EVAL_METRICS] + ["--positional-pairing"])
    assert result.returncode == 0, result.stderr
    assert json.loads((ctx.tmp / "metrics.json").read_text())["ap"]["total"] < 100


def test_track_help_is_accurate():
    result = _run(["-m", "gnnpose_jax.track", "--help"])
    assert result.returncode == 0
    usage = result.stdout.split("\n\n")[0]
    assert "--detections DETS.json" in usage and "[--detections" not in usage
    assert "(--detector CKPT | --detections DETS.json)" in " ".join(usage.split())
    assert "OUT.png" in result.stdout
