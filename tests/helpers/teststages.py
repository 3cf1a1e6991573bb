"""Stages used only by the engine tests (referenced from configs as `teststages:Name`)."""

import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpusforge.stage import FilterStage, MapStage, Params


class MinCharsParams(Params):
    min_chars: int = 10


class MinChars(FilterStage):
    """Drops documents shorter than `min_chars` characters."""

    Params = MinCharsParams

    def keep(self, table):
        mask = np.asarray(pc.greater_equal(pc.utf8_length(table.column("text")), self.params.min_chars))
        return mask, [None if m else "too_short" for m in mask]


class SlowParams(Params):
    seconds: float = 0.3


class Slow(MapStage):
    """Sleeps per shard, so a test can kill a run part-way."""

    Params = SlowParams

    def process(self, table):
        time.sleep(self.params.seconds)
        return table


class Upper(MapStage):
    """Upper-cases text (a visible transformation for fingerprint tests)."""

    def process(self, table):
        return table.set_column(table.column_names.index("text"), "text", pc.utf8_upper(table.column("text")))


class CountSetups(MapStage):
    """Records in each row how many times this process ran setup() for the stage."""

    setups = 0

    def setup(self):
        type(self).setups += 1

    def process(self, table):
        return table.append_column("setups", pa.repeat(pa.scalar(type(self).setups, pa.int64()), table.num_rows))
