"""`normalize`: repair mojibake, clean Unicode for storage, optionally fold Traditional to Simplified.

Stored text is NFC: it keeps full-width punctuation, curly quotes and ideographic characters as
written. The NFKC + lowercase form is only for matching keys (stages/text/keys.py).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpusforge.records import TEXT, with_column
from corpusforge.stage import MapStage, Params
from stages.text import cleanup, mojibake
from stages.text.han import convert
from stages.text.script import JAPANESE_KANA_SHARE, ScriptCounts, is_traditional

# Column naming the OpenCC configuration a document was converted with (null: not converted).
CONVERTED = "script_conversion"


class NormalizeParams(Params):
    fix_mojibake: bool = True
    # "none" keeps Traditional documents as written; `langid` tags their script (Hant), so a
    # mixture can weight or convert them later; dedup keeps the scripts apart (a zh_TW page is
    # not a near-duplicate of its zh_CN original). Conversion
    # is lossy and regional (后/後, 干/幹/乾; Taiwan vocabulary needs tw2sp), so it is opt-in.
    # t2s, tw2s, tw2sp (with Taiwan phrases) or hk2s convert Traditional documents only.
    convert: Literal["none", "t2s", "tw2s", "tw2sp", "hk2s"] = "none"


class Normalize(MapStage):
    name = "normalize"
    Params = NormalizeParams
    version = "1"

    def process(self, table: pa.Table) -> pa.Table:
        texts = table.column(TEXT).combine_chunks()
        chars_in = _chars(texts)
        if self.params.fix_mojibake:
            texts = self._repair(texts)
        texts = cleanup.collapse_whitespace(cleanup.nfc(cleanup.strip_invisible(texts)))
        self.count("chars_removed", chars_in - _chars(texts))
        table = table.set_column(table.column_names.index(TEXT), TEXT, texts)
        if self.params.convert != "none":
            table = self._to_simplified(table)
        return table

    def _repair(self, texts: pa.Array) -> pa.Array:
        suspect = np.flatnonzero(mojibake.may_be_broken(texts))
        if not len(suspect):
            return texts
        before = texts.take(pa.array(suspect)).to_pylist()
        after = mojibake.repair(before)
        self.count("docs_mojibake_repaired", sum(a != b for a, b in zip(before, after)))
        return _replace_rows(texts, suspect, pa.array(after, texts.type))

    def _to_simplified(self, table: pa.Table) -> pa.Table:
        texts = table.column(TEXT).combine_chunks()
        rows = np.flatnonzero(is_traditional(texts))
        # Japanese kanji look Traditional to the character lists; kana keep them out.
        japanese = ScriptCounts.of(texts.take(pa.array(rows))).kana_share() >= JAPANESE_KANA_SHARE
        rows = rows[~japanese]
        self.count(f"docs_converted:{self.params.convert}", len(rows))
        converted = pa.nulls(len(texts), pa.string())
        if len(rows):
            new_text = convert(texts.take(pa.array(rows)), self.params.convert)
            texts = _replace_rows(texts, rows, new_text.cast(texts.type))
            converted = _replace_rows(converted, rows, pa.repeat(pa.scalar(self.params.convert), len(rows)))
        table = table.set_column(table.column_names.index(TEXT), TEXT, texts)
        if CONVERTED in table.column_names:
            # A second pass finds nothing left to convert; the first pass's record stands.
            converted = pc.coalesce(table.column(CONVERTED).combine_chunks(), converted)
        return with_column(table, CONVERTED, converted)


def _replace_rows(values: pa.Array, rows: np.ndarray, new_values: pa.Array) -> pa.Array:
    """`values` with the entries at `rows` (ascending) replaced by `new_values`, in order."""
    mask = np.zeros(len(values), dtype=bool)
    mask[rows] = True
    return pc.replace_with_mask(values, pa.array(mask), new_values)


def _chars(texts: pa.Array) -> int:
    return int(pc.sum(pc.utf8_length(texts)).as_py() or 0)
