"""Mapping a structured record's fields (JSONL, Parquet, HF) onto the core columns."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from corpusforge.records import ID, TEXT, URL, conform, doc_ids
from corpusforge.stage import Params
from corpusforge.stats import bad_record


class FieldParams(Params):
    text_field: str = "text"
    # A record's own id is kept when this field is present; otherwise ids come from its position.
    id_field: str | None = "id"
    url_field: str | None = "url"


def to_core(table: pa.Table, params: FieldParams, source: str, key: str, locators: np.ndarray) -> pa.Table:
    """Rename the configured fields to `text`/`id`/`url` and give every row a stable id."""
    renames = {params.text_field: TEXT}
    if params.url_field:
        renames[params.url_field] = URL
    has_own_id = bool(params.id_field) and params.id_field in table.column_names and table.column(params.id_field).null_count == 0
    if has_own_id:
        renames[params.id_field] = ID
    names = []
    for name in table.column_names:
        target = renames.get(name, name)
        # A record field that collides with a core column it was not mapped to keeps its data
        # under a prefixed name rather than being silently replaced.
        if name not in renames and name in (TEXT, URL, ID):
            target = f"record_{name}"
        names.append(target)
    table = table.rename_columns(names)
    if not has_own_id:
        table = table.append_column(ID, doc_ids(key, locators))
    if TEXT not in table.column_names:
        table = table.append_column(TEXT, pa.nulls(table.num_rows, pa.string()))
    missing = table.column(TEXT).null_count
    if missing:
        # A record without text is unusable; it is counted as a bad record, never passed on.
        bad_record("missing_text", key, f"{missing} records without {params.text_field!r}", n=missing)
        table = table.filter(table.column(TEXT).is_valid())
    elif table.column(ID).type != pa.string():
        table = table.set_column(table.column_names.index(ID), ID, table.column(ID).cast(pa.string()))
    return conform(table, source)
