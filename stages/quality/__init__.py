"""Document quality and spam filters (the `quality` stage), one filter family per module."""

from stages.quality.filter import Quality

__all__ = ["Quality"]
