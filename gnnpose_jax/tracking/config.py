"""The tracker's thresholds from a run config's `tracker` section (or a workdir's config.json).

n and τ_joint are the GNN's: when the run has a GNN export, the tracker takes them from its graph
settings (`gnn.history`, `gnn.joint_threshold` of its training run), so the tracker keeps as
much history as the GNN reads and counts the joints the GNN counts. The configs have no
`tracker.history` or `tracker.joint_threshold`; a section that still names them (the
config.json of an older run) must agree with the export. Without a GNN export they keep
`TrackerConfig`'s defaults unless the section sets them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gnnpose_jax.errors import ConfigError
from gnnpose_jax.graphs import GraphSpec
from gnnpose_jax.models.run_folder import read_run_config
from gnnpose_jax.tracking.tracker import FROM_GNN, TrackerConfig


def tracker_config(section: Mapping[str, Any] | None, gnn: GraphSpec | None = None,
                   **overrides) -> TrackerConfig:
    """`TrackerConfig` from a config's `tracker` section; unknown keys are an error.

    Args:
      section: the `tracker` section (None: defaults).
      gnn: the graph settings of the run's GNN export, if it has one: n and τ_joint come
        from them.
      **overrides: settings replacing the section's.

    Raises:
      ConfigError: an unknown key, or an n or τ_joint other than the GNN export's.
    """
    values = dict(section or {})
    values.update(overrides)
    fields = {f.name for f in dataclasses.fields(TrackerConfig)}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise ConfigError(f"tracker.{unknown[0]}: no such tracker setting (valid: "
                          f"{', '.join(sorted(fields))})")
    if gnn is not None:
        for key in FROM_GNN:
            if key in values and values[key] != getattr(gnn, key):
                raise ConfigError(
                    f"tracker.{key} {values[key]!r} contradicts the GNN export's "
                    f"{getattr(gnn, key)!r} (gnn.{key} of its training run); the tracker "
                    f"takes it from the export: drop tracker.{key}")
            values[key] = getattr(gnn, key)
    if isinstance(values.get("output_thresholds"), list):
        values["output_thresholds"] = tuple(values["output_thresholds"])
    return TrackerConfig(**values)


def tracker_config_for(workdir: str | Path | None, gnn: GraphSpec | None = None,
                       section: Mapping[str, Any] | None = None) -> TrackerConfig:
    """The tracker settings of a run, by the one rule of `track` and `evaluate.py`: a config
    file's `tracker` section when one is given (`section`), else the section the training
    run stored in WORKDIR/config.json, else the defaults; n and τ_joint from `gnn`, the graph
    settings of its GNN export (see `tracker_config`)."""
    if section is not None or workdir is None:
        return tracker_config(section, gnn)
    stored = read_run_config(workdir, "restore it, or pass --config CONFIG.py for the tracker "
                                      "settings") or {}
    return tracker_config(stored.get("tracker"), gnn)
