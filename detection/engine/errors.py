"""Exceptions the engine raises on purpose. Their messages are written to be shown to people."""


class EngineError(Exception):
    """Base class, so callers can catch every expected engine failure in one place."""


class VideoError(EngineError):
    """The input cannot be used as a video: missing, empty, corrupt, truncated or not a video.

    Messages never contain the file's path (it is usually a worker's temp file), so they can
    be shown as they are; callers add the name the person knows the file by.
    """


class CheckpointError(EngineError):
    """A checkpoint file cannot be loaded: not a PyTorch file, or it does not match the model.

    The message names the problem (missing or unexpected keys, wrong shapes, bad metadata).
    """
