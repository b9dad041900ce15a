"""PoseTrack evaluation: per-joint AP and MOTA with the official toolkit's semantics.

`evaluate(gt_seqs, pred_seqs)` returns docs/spec/metrics.md §5's layout; `format_table` prints it;
`load_for_evaluation` reads and pairs a GT and a prediction folder (or combined files).
PoseTrack21: `keypoint_hota` and `keypoint_map` score as the official PoseTrack21 kit does;
`format_hota_table` prints the HOTA table.
"""

from gnnpose_jax.evaluation.hota import format_hota_table, keypoint_hota
from gnnpose_jax.evaluation.inputs import load_for_evaluation
from gnnpose_jax.evaluation.pt21 import keypoint_map
from gnnpose_jax.evaluation.report import evaluate, format_table, to_json

__all__ = ["evaluate", "format_hota_table", "format_table", "keypoint_hota", "keypoint_map",
           "load_for_evaluation", "to_json"]
