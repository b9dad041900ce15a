"""PoseTrack evaluation: per-joint AP and MOTA with the official toolkit's semantics.

`evaluate(gt_seqs, pred_seqs)` returns METRICS.md's output layout; `format_table` prints it;
`load_for_evaluation` reads and pairs a GT and a prediction folder (or combined files).
"""

from gnnpose_jax.evaluation.inputs import load_for_evaluation
from gnnpose_jax.evaluation.report import evaluate, format_table, to_json

__all__ = ["evaluate", "format_table", "load_for_evaluation", "to_json"]
