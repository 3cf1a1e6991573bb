"""`quality`: document filters for Chinese web text, each dropping with its own reason.

`annotate` computes every score as a `quality_*` column (kept and rejected rows both carry them,
so thresholds can be re-tuned from a finished run); `keep` only compares columns to thresholds.
Rules calibrated on Chinese text (length, character n-grams, punctuation, stopwords, symbols,
digits, entropy, share of stuffed lines) apply to documents whose `lang` starts with one of
`languages`, or to all documents when there is no `lang` column; the blocklist, flagged words,
content-farm placeholder tokens, stuffed titles and duplicate lines apply to every document.

Thresholds: FineWeb-2's cmn_Hani values are word-level and assume extracted main text. The
defaults below were tuned on the dev crawl's visible text, template remnants included (related
lists, tag clouds), which repeats far more than main text; each comment gives the source value
and what was measured. With a main-text extractor upstream, moving towards the FineWeb-2 values
is reasonable.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from corpusforge.records import TEXT, URL, with_column
from corpusforge.stage import FilterStage, Params
from stages.quality.blocklist import blocked, hosts_of, load_domains
from stages.quality.chars import TextView, safe_div
from stages.quality.composition import char_composition, load_stopwords, terminal_punctuation
from stages.quality.flagged import flagged_chars, load_flagged
from stages.quality.repetition import duplicate_units, ngram_repetition, word_chars
from stages.quality.seo import fragment_lines, keyword_lines, not_sentences, shared_keyword_lines, stuffing

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
PREFIX = "quality_"
# A content farm's stand-in for a censored word: 【【微信】】 (a few characters in double brackets).
PLACEHOLDER = r"【【[^【】\n]{1,10}】】"


class QualityParams(Params):
    # Documents whose `lang` starts with one of these get the Chinese rules (no `lang` column or a
    # null `lang`: all documents).
    languages: list[str] = Field(default_factory=lambda: ["zh"])

    # --- length ---
    # Non-space characters. Gopher/FineWeb-2 ask for 50 words; a jueju with its title and author
    # is about 30 characters (measured on the dev crawl: the shortest poem main text is 36).
    min_chars: int = 30

    # --- repetition (Gopher, character-level) ---
    # Gopher 0.30, FineWeb-2 cmn_Hani 0.287. Measured on the dev crawl: a quotes page repeating
    # its attribution line ("—— 《增广贤文》") after every quote reaches 0.57, so 0.6.
    max_dup_line_frac: float = 0.6
    # Gopher 0.20. Measured: the same quotes pages reach 0.30 of their characters; 0.4.
    max_dup_line_char_frac: float = 0.4
    # Gopher 0.30 / 0.20 for paragraphs (blank-line separated), kept as published.
    max_dup_para_frac: float = 0.3
    max_dup_para_char_frac: float = 0.2
    # Top character n-gram share, n = 2..4. FineWeb-2 cmn_Hani (word n-grams): 0.256, 0.201, 0.171.
    # Measured on the dev crawl (character n-grams over Han/letters/digits): non-spam Chinese
    # pages reach 0.14 / 0.19 / 0.24 (a tag cloud repeating one title), Chinese keyword-stuffing
    # spam is at 0.12-0.28 / 0.18-0.41 / 0.19-0.47. 2-grams keep FineWeb-2's 0.256; 3- and
    # 4-grams sit above the non-spam maximum: 0.25 / 0.3.
    max_top_ngram: dict[int, float] = Field(default_factory=lambda: {2: 0.256, 3: 0.25, 4: 0.3})
    # Duplicate character n-gram fraction, n = 5..10. FineWeb-2 cmn_Hani: 0.198 .. 0.127.
    # Measured on the dev crawl: non-spam Chinese pages reach 0.65 (5-grams) .. 0.59 (10-grams)
    # through related-title lists and repeated attributions; keyword-stuffing spam starts at
    # 0.84 .. 0.78. Thresholds halfway: 0.75 .. 0.70.
    max_dup_ngram: dict[int, float] = Field(
        default_factory=lambda: {5: 0.75, 6: 0.74, 7: 0.73, 8: 0.72, 9: 0.71, 10: 0.70}
    )

    # --- composition ---
    # Fraction of non-blank lines ending a sentence. FineWeb-2 cmn_Hani drops at <= 0.106. Off
    # by default (0.0): measured on the dev crawl, 14% of the non-spam Chinese pages (translation
    # tables, man pages with option lists) are above 0 and under 0.106, 2% under 0.05, and the
    # rule catches no spam page that another rule misses. The score is kept in
    # `quality_terminal_punct_frac`; set 0.106 for prose-only sources.
    min_terminal_punct_frac: float = 0.0
    # datatrove's line_punct_exclude_zero: pages with no sentence-final line at all (translation
    # tables, word lists) are left to the other rules.
    terminal_punct_exclude_zero: bool = True
    # Gopher/FineWeb-2: at least 2 stop words; here occurrences of the characters of
    # stages/data/stopwords_zh.txt in running text (lines of `running_line_han`+ Han characters),
    # checked when a page has at least `min_running_han` Han characters of running text.
    min_stopwords: int = 2
    stopwords: str = str(DATA_DIR / "stopwords_zh.txt")
    # 10 Han characters: a line of a five-character regulated verse couplet (吾爱孟夫子，风流天下闻。)
    # counts as running text; language and month names in translation tables do not.
    running_line_han: int = 10
    # Measured on the dev crawl: translation tables of language and script names with glosses
    # reach 92 Han characters of running text without a function character, while text garbled
    # by a wrong charset (UTF-8 read as GBK) starts at 110; 100.
    min_running_han: int = 100
    # Symbols (Unicode S* and U+FFFD; box drawing counts as punctuation) over non-space
    # characters. Gopher's symbol/word ratio is 0.1. Measured on the dev crawl: review pages
    # with star ratings reach 0.08 and man pages with operators 0.15; 0.25. Text garbled by a
    # wrong charset (U+FFFD runs) is at 0.3-0.8.
    max_symbol_ratio: float = 0.25
    # Decimal digits over non-space characters (a numeric-table guard, as in cc_net's
    # digit-heavy line filtering). Measured: man pages with numeric tables reach 0.37; 0.5.
    max_digit_ratio: float = 0.5
    # Character entropy in bits. Measured: non-spam Chinese pages are at 5.0 and above,
    # Chinese keyword-stuffing spam at 4.4-5.2; a 29-character jueju with title and author has 4.4
    # bits, so 4.0 keeps every real short text and drops only degenerate repetition.
    min_entropy: float = 4.0

    # --- SEO keyword stuffing ---
    # A line is a repeated-keyword line when at least `seo_keyword_coverage` of its word characters
    # (and at least `seo_keyword_min_chars` of them) lie in 4-grams that occur 3+ times in it.
    seo_keyword_min_chars: int = 12
    seo_keyword_coverage: float = 0.5
    # A line is a fragment list with `seo_min_segments`+ segments split by _ | ｜ - , of which
    # `seo_short_share` are Han fragments of at most `seo_max_segment_chars` characters.
    seo_min_segments: int = 6
    seo_max_segment_chars: int = 4
    seo_short_share: float = 0.8
    # A line is a shared-keyword line with `seo_min_segments_shared`+ segments split by
    # _ | ｜ , ， 、 ; ； of which `seo_shared_share` start with the same two characters.
    seo_min_segments_shared: int = 3
    seo_shared_share: float = 0.75
    # ... and a stuffed line has at most this share of function characters among its Han
    # characters. Measured: stuffed lines of dev-crawl spam reach 0.14 (compounds such as
    # 下载地址, 哪个好, 在线观看 hold 地, 个, 在); reference-corpus sentences that repeat a term
    # score 0.12-0.31, dev-crawl ones 0.2 and more; 0.15.
    seo_max_stopword_ratio: float = 0.15
    # Share of stuffed non-blank lines (Chinese pages). Measured on the dev crawl: non-spam
    # pages reach 0.08 (a tag cloud, function-family NAME lines); doorway and word-salad pages
    # 0.14-0.20, keyword-stuffing pages 0.69 and above; 0.1.
    max_seo_line_frac: float = 0.1
    # A stuffed first line (the page title, `kw免费下载_kw激活码_kw官方正版`) drops the page.
    drop_seo_title: bool = True

    # --- flagged words ---
    flagged_words: str = str(DATA_DIR / "flagged_words_zh.yaml")
    # Matched characters over non-space characters, per category. Porn and gambling terms are
    # unambiguous, so a small share is enough: one porn keyword footer on a 4,000-character page
    # is about 1% (0.005). Advertising terms also occur in honest pages, hence a higher bar
    # (0.03): measured on the dev crawl, non-spam Chinese pages score 0, link farms 0.07-0.10,
    # keyword-stuffing pages 0.10-0.30.
    max_flagged_ratio: dict[str, float] = Field(default_factory=lambda: {"porn": 0.005, "gambling": 0.005, "ads": 0.03})

    # --- placeholder tokens ---
    # Content farms that copy articles replace the words they must not show (contact handles,
    # brand and platform names) with a bracketed placeholder: 【【微信】】, 【【QQ】】, 【【网址】】.
    # A document with more than this many such tokens is dropped as `placeholder_tokens`.
    # Measured on the dev crawl (crawl text): the three content-farm spam pages carry 9-13, no
    # other page any.
    max_placeholder_tokens: int = 2

    # --- URL blocklist ---
    blocklist_files: list[str] = Field(default_factory=lambda: [str(DATA_DIR / "url_blocklist.txt")])


class Quality(FilterStage):
    name = "quality"
    Params = QualityParams

    def setup(self) -> None:
        p = self.params
        self._stopwords = load_stopwords(p.stopwords)
        self._flagged = load_flagged(p.flagged_words)
        unknown = set(p.max_flagged_ratio) - set(self._flagged)
        if unknown:
            raise ValueError(f"max_flagged_ratio names categories missing from {p.flagged_words}: {sorted(unknown)}")
        self._domains = load_domains(p.blocklist_files)

    def annotate(self, table: pa.Table) -> pa.Table:
        self.ensure_setup()
        for name, values in self.scores(table).items():
            table = with_column(table, PREFIX + name, pa.array(values))
        return table

    def scores(self, table: pa.Table) -> dict[str, np.ndarray]:
        p = self.params
        text = _strings(table.column(TEXT))
        n = len(text)
        view = TextView.of(text)
        is_stop = np.isin(view.cp, self._stopwords)
        comp = char_composition(view, is_stop, p.running_line_han)
        codes, group = word_chars(view)
        reps = ngram_repetition(codes, group, n, tuple(p.max_top_ngram), tuple(p.max_dup_ngram))
        lines = pc.split_pattern(text, "\n")
        dup_line, dup_line_chars = duplicate_units(lines, n)
        dup_para, dup_para_chars = duplicate_units(pc.split_pattern_regex(text, r"\n[ \t\r\f\v]*\n"), n)
        listing = not_sentences(view, is_stop, p.seo_max_stopword_ratio)
        stuffed = listing & (
            keyword_lines(view, p.seo_keyword_min_chars, p.seo_keyword_coverage, among=listing)
            | shared_keyword_lines(view, p.seo_min_segments_shared, p.seo_shared_share)
            | fragment_lines(view, p.seo_min_segments, p.seo_max_segment_chars, p.seo_short_share)
        )
        seo_frac, seo_title = stuffing(view, stuffed)
        flagged = {k: safe_div(v, comp["chars"]) for k, v in flagged_chars(text, self._flagged).items()}
        hosts = _strings(table.column("host")) if "host" in table.column_names else hosts_of(_strings(table.column(URL)))
        scores: dict[str, np.ndarray] = {
            "chars": comp["chars"].astype(np.int32),
            "han_ratio": comp["han_ratio"],
            "dup_line_frac": dup_line,
            "dup_line_char_frac": dup_line_chars,
            "dup_para_frac": dup_para,
            "dup_para_char_frac": dup_para_chars,
            **reps,
            "terminal_punct_frac": terminal_punctuation(lines, n),
            "running_han": comp["running_han"].astype(np.int32),
            "stopwords": comp["stopwords"].astype(np.int32),
            "stopword_ratio": comp["stopword_ratio"],
            "symbol_ratio": comp["symbol_ratio"],
            "digit_ratio": comp["digit_ratio"],
            "entropy": comp["entropy"],
            "seo_line_frac": seo_frac,
            "seo_title": seo_title,
            **{f"flagged_{k}": v for k, v in flagged.items()},
            "url_blocked": blocked(hosts, self._domains),
            "placeholder_tokens": pc.count_substring_regex(text, PLACEHOLDER).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int32),
        }
        return {k: v.astype(np.float32) if v.dtype == np.float64 else v for k, v in scores.items()}

    def keep(self, table: pa.Table) -> tuple[np.ndarray, list[str | None]]:
        p = self.params
        n = table.num_rows

        def col(name: str) -> np.ndarray:
            return table.column(PREFIX + name).to_numpy(zero_copy_only=False)

        zh = self._in_languages(table)
        # Rules in order: the first that fires names the reason.
        rules: list[tuple[str, np.ndarray]] = [("url_blocklist", col("url_blocked"))]
        rules += [(f"flagged_{k}", col(f"flagged_{k}") > t) for k, t in p.max_flagged_ratio.items()]
        rules += [("placeholder_tokens", col("placeholder_tokens") > p.max_placeholder_tokens)]
        rules += [
            ("too_short", zh & (col("chars") < p.min_chars)),
            ("seo_title", col("seo_title") & p.drop_seo_title),
            ("seo_lines", zh & (col("seo_line_frac") > p.max_seo_line_frac)),
            ("dup_line_frac", col("dup_line_frac") > p.max_dup_line_frac),
            ("dup_line_char_frac", col("dup_line_char_frac") > p.max_dup_line_char_frac),
            ("dup_para_frac", col("dup_para_frac") > p.max_dup_para_frac),
            ("dup_para_char_frac", col("dup_para_char_frac") > p.max_dup_para_char_frac),
        ]
        rules += [(f"top_{k}gram", zh & (col(f"top_{k}gram") > t)) for k, t in p.max_top_ngram.items()]
        rules += [(f"dup_{k}gram", zh & (col(f"dup_{k}gram") > t)) for k, t in p.max_dup_ngram.items()]
        punct = col("terminal_punct_frac")
        punct_rule = punct < p.min_terminal_punct_frac
        if p.terminal_punct_exclude_zero:
            punct_rule &= punct > 0
        rules += [
            ("terminal_punct", zh & punct_rule),
            ("stopwords", zh & (col("running_han") >= p.min_running_han) & (col("stopwords") < p.min_stopwords)),
            ("symbol_ratio", zh & (col("symbol_ratio") > p.max_symbol_ratio)),
            ("digit_ratio", zh & (col("digit_ratio") > p.max_digit_ratio)),
            ("entropy", zh & (col("entropy") < p.min_entropy)),
        ]
        reasons = np.full(n, None, dtype=object)
        dropped = np.zeros(n, dtype=bool)
        for reason, fired in rules:
            fired = np.asarray(fired, dtype=bool)
            # Every rule that fires is counted, not only the first: overlaps show in the report.
            if fired.any():
                self.count(f"fired:{reason}", int(fired.sum()))
            reasons[fired & ~dropped] = reason
            dropped |= fired
        return ~dropped, reasons.tolist()

    def _in_languages(self, table: pa.Table) -> np.ndarray:
        if "lang" not in table.column_names:
            return np.ones(table.num_rows, dtype=bool)
        lang = table.column("lang").combine_chunks()
        hit = np.asarray(pc.is_null(lang))
        for code in self.params.languages:
            hit |= np.asarray(pc.fill_null(pc.starts_with(lang, code), False))
        return hit


def _strings(column: pa.ChunkedArray) -> pa.Array:
    """One string array (a column of all nulls, as an empty shard may have, becomes strings)."""
    array = column.combine_chunks() if column.num_chunks else pa.array([], column.type)
    return array if pa.types.is_string(array.type) or pa.types.is_large_string(array.type) else array.cast(pa.string())
