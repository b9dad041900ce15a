"""The tracker's thresholds from a run config's `tracker` section (or a workdir's config.json)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gnnpose_jax.errors import ConfigError
from gnnpose_jax.tracking.tracker import TrackerConfig

CONFIG_JSON = "config.json"


def tracker_config(section: Mapping[str, Any] | None, **overrides) -> TrackerConfig:
    """`TrackerConfig` from a config's `tracker` section; unknown keys are an error."""
    values = dict(section or {})
    values.update(overrides)
    fields = {f.name for f in dataclasses.fields(TrackerConfig)}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise ConfigError(f"tracker.{unknown[0]}: no such tracker setting (valid: "
                          f"{', '.join(sorted(fields))})")
    if isinstance(values.get("output_thresholds"), list):
        values["output_thresholds"] = tuple(values["output_thresholds"])
    return TrackerConfig(**values)


def tracker_config_for(workdir: str | Path) -> TrackerConfig:
    """The tracker settings stored with a training run (defaults where it has none)."""
    path = Path(workdir) / CONFIG_JSON
    if not path.is_file():
        return TrackerConfig()
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise ConfigError(f"{path}: malformed ({e})") from None
    return tracker_config(stored.get("tracker"))
