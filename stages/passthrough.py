"""`passthrough`: save its input as shards, unchanged (format conversion, materialising a source)."""

import pyarrow as pa

from corpusforge.stage import MapStage


class Passthrough(MapStage):
    name = "passthrough"

    def process(self, table: pa.Table) -> pa.Table:
        return table
