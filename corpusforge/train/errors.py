"""What the trainer raises for bad input: the CLI turns these into one line and exit code 2."""


class TrainError(Exception):
    """Bad input found before (or instead of) training; the message says what and where."""


class TrainConfigError(TrainError):
    """A config problem; the message names the field."""


class DataError(TrainError):
    """A pack directory that does not fit the packed-shard contract or the run."""


class CheckpointError(TrainError):
    """A checkpoint that cannot be read or does not fit the run that wants it."""
