"""The project's own error types.

Every error a user can cause (a bad file, a bad flag, a bad checkpoint) is raised as a
`GnnPoseError` subclass whose message is one line naming the file, the field and what was
expected. The CLIs catch `GnnPoseError`, print the message and exit with status 2; anything
else is a bug and keeps its traceback.
"""


class GnnPoseError(Exception):
    """Base class: a problem with the user's input, reported as one line."""


class DataError(GnnPoseError):
    """A dataset, annotation, detection or image file is missing or malformed."""


class ConversionError(GnnPoseError):
    """A checkpoint cannot be converted (unreadable, unsafe, wrong keys or shapes)."""


class CheckpointError(GnnPoseError):
    """A converted or training checkpoint is missing, incomplete or incompatible."""


class ConfigError(GnnPoseError):
    """A config key or value is invalid."""


class OutputError(GnnPoseError):
    """An output path cannot be written (checked before any work starts)."""


class MissingDependencyError(GnnPoseError):
    """An optional dependency that the command needs is not installed."""
