"""`clean`: remove boilerplate lines (share bars, copyright footers, WeChat chrome, promo inserts).

Line cleaning is columnar: every document is split into lines with pyarrow, the lines of the
whole shard are matched against each category's patterns with RE2 in one call per category,
and the kept lines are joined back per document through list offsets. No per-document Python.

Each removed line is counted under its category (`lines_removed:<category>`). A document with no
non-blank line left is dropped with reason `empty_after_clean`; a document whose text is null
is dropped with reason `no_text`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import yaml
from pydantic import Field

from corpusforge.records import REASON, TEXT, with_column
from corpusforge.stage import Params, ShardStage

DATA_DIR = Path(__file__).parent / "data"
# Lines the cleaner removed from each document, kept as a column so removal can be audited.
REMOVED_COLUMN = "clean_lines_removed"


@dataclass(frozen=True)
class LineCategory:
    name: str
    regex: str
    max_chars: int


def load_categories(path: str | Path, only: list[str] | None, extra: dict[str, list[str]], max_chars: int) -> list[LineCategory]:
    """Categories from a pattern file (see stages/data/boilerplate_zh.yaml), plus extra patterns."""
    spec = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    for name, patterns in extra.items():
        entry = spec.setdefault(name, {"max_chars": max_chars, "patterns": []})
        entry["patterns"] = list(entry.get("patterns", [])) + list(patterns)
    unknown = set(only or ()) - set(spec)
    if unknown:
        raise ValueError(f"unknown boilerplate categories {sorted(unknown)} (known: {sorted(spec)})")
    categories = []
    for name, entry in spec.items():
        if only is not None and name not in only and name not in extra:
            continue
        patterns = entry.get("patterns") or []
        if patterns:
            regex = "|".join(f"(?:{p})" for p in patterns)
            categories.append(LineCategory(name, regex, int(entry.get("max_chars", max_chars))))
    return categories


class CleanParams(Params):
    # Pattern file: a YAML mapping of category -> {max_chars, patterns}. Default: the project's
    # Chinese list, written from the page templates of Chinese portals and WeChat exports.
    patterns: str = str(DATA_DIR / "boilerplate_zh.yaml")
    # Categories of the file to apply; None applies them all. Categories named in
    # `extra_patterns` always apply.
    categories: list[str] | None = None
    # More patterns per category (a new name adds a category), e.g. a site's own footer.
    extra_patterns: dict[str, list[str]] = Field(default_factory=dict)
    # Length cap for categories that do not set one: page chrome is short (measured on the dev
    # crawl: every template line is under 80 characters).
    max_chars: int = 80


class Clean(ShardStage):
    name = "clean"
    Params = CleanParams

    def setup(self) -> None:
        p = self.params
        self._categories = load_categories(p.patterns, p.categories, p.extra_patterns, p.max_chars)
        # One pass with every pattern finds candidate lines; only those are classified by category.
        self._any = "|".join(f"(?:{c.regex})" for c in self._categories)

    def apply(self, table: pa.Table) -> tuple[pa.Table, pa.Table | None]:
        self.ensure_setup()
        text = table.column(TEXT).combine_chunks() if table.num_rows else pa.array([], pa.string())
        if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
            text = text.cast(pa.string())  # a shard whose texts are all null reads as type null
        cleaned, removed, nonblank = self.clean_lines(text)
        has_text = np.asarray(text.is_valid())
        keep = has_text & (nonblank > 0)
        reasons = np.where(has_text, "empty_after_clean", "no_text").astype(object)
        reasons[keep] = None
        self.count("docs_changed", int(np.count_nonzero(removed[keep])))
        out = table.set_column(table.column_names.index(TEXT), TEXT, cleaned)
        out = with_column(out, REMOVED_COLUMN, pa.array(removed, pa.int32()))
        mask = pa.array(keep)
        # Rejected rows keep their original text: what was there is what one inspects.
        rejected = with_column(table, REMOVED_COLUMN, pa.array(removed, pa.int32())).filter(pc.invert(mask))
        rejected = rejected.append_column(REASON, pa.array(reasons, pa.string()).filter(pc.invert(mask)))
        return out.filter(mask), rejected

    def clean_lines(self, text: pa.StringArray) -> tuple[pa.Array, np.ndarray, np.ndarray]:
        """Cleaned texts, and per document the number of removed and of non-blank kept lines."""
        n = len(text)
        lines = pc.split_pattern(text, "\n")
        flat = pc.list_flatten(lines)
        parent = np.asarray(pc.list_parent_indices(lines))
        drop = np.zeros(len(flat), dtype=bool)
        candidates = np.flatnonzero(np.asarray(pc.match_substring_regex(flat, self._any)))
        if len(candidates):
            cand_lines = flat.take(pa.array(candidates))
            cand_chars = np.asarray(pc.utf8_length(cand_lines))
            taken = np.zeros(len(candidates), dtype=bool)
            for category in self._categories:
                hit = np.asarray(pc.match_substring_regex(cand_lines, category.regex))
                hit &= (cand_chars <= category.max_chars) & ~taken
                taken |= hit
                if hit.any():
                    self.count(f"lines_removed:{category.name}", int(np.count_nonzero(hit)))
            drop[candidates[taken]] = True
        keep = ~drop
        removed = np.bincount(parent[drop], minlength=n).astype(np.int32)
        kept_per_doc = np.bincount(parent[keep], minlength=n)
        blank = np.asarray(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(flat)), 0))
        nonblank = np.bincount(parent[keep & ~blank], minlength=n)
        offsets = np.concatenate(([0], np.cumsum(kept_per_doc))).astype(np.int32)
        kept_lines = pa.ListArray.from_arrays(pa.array(offsets), flat.filter(pa.array(keep)), mask=pc.invert(text.is_valid()))
        return pc.binary_join(kept_lines, "\n"), removed, nonblank
