"""`extract`: decode crawled HTML and keep its main text, one paragraph per line.

Rows from the `warc` reader carry the payload bytes (`html`) and the HTTP charset; each page is
decoded with `charset.decode_html` (which checks every declaration against the bytes), has
mojibake that was already in the served bytes undone (UTF-8 read as windows-1252 or as GBK),
and goes through trafilatura. The output has the main text in `text`, the decoder used in
`charset`, and no `html`/`http_charset`. Rows that already have text (WET, JSONL, Parquet
sources) pass through unchanged, so one pipeline can mix them.

The defaults were chosen on the dev crawl (1,094 pages without mojibake, gold main text,
mean bag-of-characters F1; `python benchmarks/ingest_quality.py --param KEY=VALUE`):

| settings (one change from the defaults)             | F1     | precision | recall |
|-----------------------------------------------------|--------|-----------|--------|
| defaults                                            | 0.9940 | 0.9890    | 0.9997 |
| list_markers=true                                   | 0.9892 | 0.9801    | 0.9997 |
| favor_precision=false (trafilatura's balanced mode) | 0.9340 | 0.9171    | 0.9997 |
| favor_precision=false, favor_recall=true            | 0.9334 | 0.9156    | 0.9997 |
| fast=false (readability/jusText fallback)           | 0.9812 | 0.9687    | 0.9997 |
| include_title=false                                 | 0.9776 | 0.9892    | 0.9679 |
| include_tables=false (33 pages come out empty)      | 0.9688 | 0.9657    | 0.9732 |

Recall is at 0.9997 in every mode, so the modes differ in what boilerplate they let in:
favor_recall and the balanced mode keep post-info, share and prev/next lines, favor_precision
drops them, and `fast` (no fallback extractors) adds precision and saves about 40% of the time.
trafilatura moves the page heading into its metadata; it is put back as the first line.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpusforge.records import TEXT, URL
from corpusforge.stage import Params, ShardStage, split_by_mask
from stages.ingest.charset import decode_html, repair_mojibake
from stages.ingest.warc import HTML, HTTP_CHARSET

CHARSET = "charset"
EMPTY = "empty_extraction"


class ExtractParams(Params):
    # See the table in the module docstring (measured on the dev crawl): F1 0.934 -> 0.994.
    favor_precision: bool = True
    favor_recall: bool = False
    # No readability/jusText fallback: F1 0.981 -> 0.994 and ~40% faster on the dev crawl.
    fast: bool = True
    # Tables hold main text (the dev crawl's bilingual translation tables): without them
    # recall 0.9997 -> 0.973 and 33 pages come out empty.
    include_tables: bool = True
    # User comments are not the page's main content (datatrove's Trafilatura step drops them too).
    include_comments: bool = False
    # Put the page heading (trafilatura's title logic: the single <h1>, else title tags) on the
    # first line unless the text already has it as a line: recall 0.968 -> 0.9997 on the dev crawl.
    include_title: bool = True
    # trafilatura writes list items as "- item". Without the markers a list item is a plain
    # line, as a browser shows it (and as Common Crawl's WET text has it), so line-level cleaners
    # anchored at the line start see it: gold main-text lines found verbatim 0.756 -> 0.973, F1
    # 0.989 -> 0.994 on the dev crawl.
    list_markers: bool = False
    # Undo mojibake that was already in the served bytes, on the decoded page before extraction
    # (see charset.repair_mojibake). Measured on the dev crawl from WARC: the 10 pages of UTF-8
    # read as windows-1252 go from F1 0.34 to 0.95, the 10 of UTF-8 read as GBK from 0.48 to
    # 0.89 (a byte lost per U+FFFD is guessed), and 7 of those are then identified as zh.
    fix_mojibake: bool = True


def _plain_text(document, list_markers: bool) -> str:
    """trafilatura's plain text of an extraction; without list markers, list items are plain lines."""
    from trafilatura.xml import xmltotxt

    parts = []
    for body in (document.body, document.commentsbody):
        if body is None:
            continue
        if not list_markers:
            for item in body.iter("item"):
                item.tag = "p"
        parts.append(xmltotxt(body, False))
    # trafilatura NFC-normalises its own output the same way.
    return unicodedata.normalize("NFC", "\n".join(parts).strip())


class Extract(ShardStage):
    name = "extract"
    Params = ExtractParams

    def setup(self) -> None:
        # Imported here: lxml and trafilatura's models load once per worker.
        from trafilatura.settings import Extractor

        p = self.params
        # trafilatura builds these options from its config file on every call unless it is given
        # them (about 4% of the extraction time on the dev crawl): built once per worker.
        self._options = Extractor(
            fast=p.fast,
            precision=p.favor_precision,
            recall=p.favor_recall,
            comments=p.include_comments,
            tables=p.include_tables,
            # trafilatura's deduplication keeps a per-process cache, so its output would depend
            # on which pages a worker saw before: never on here.
            dedup=False,
            # Not "python": that format renders the text once more, which `_plain_text` does.
            output_format="txt",
        )

    def apply(self, table: pa.Table) -> tuple[pa.Table, pa.Table | None]:
        self.ensure_setup()
        if HTML not in table.column_names:
            return table, None
        pages = table.column(HTML)
        has_page = pc.is_valid(pages)
        texts, charsets = self._extract_all(pages, table.column(HTTP_CHARSET), table.column(URL))
        text_array = pa.array(texts, pa.string())
        # Rows without a page keep the text they came with.
        text_array = pc.if_else(has_page, text_array, table.column(TEXT))
        table = table.set_column(table.column_names.index(TEXT), TEXT, text_array)
        table = table.drop_columns([HTML, HTTP_CHARSET]).append_column(CHARSET, pa.array(charsets, pa.string()))
        empty = pc.and_(has_page, pc.invert(pc.fill_null(pc.greater(pc.utf8_length(text_array), 0), False)))
        keep = np.asarray(pc.invert(empty), dtype=bool)
        reasons = pa.array(np.where(keep, None, EMPTY), pa.string())
        return split_by_mask(table, keep, reasons)

    def _extract_all(self, pages: pa.ChunkedArray, http_charsets: pa.ChunkedArray, urls: pa.ChunkedArray) -> tuple[list, list]:
        """Per page: trafilatura works on one document at a time."""
        texts: list[str | None] = []
        charsets: list[str | None] = []
        for page, http_charset, url in zip(pages.to_pylist(), http_charsets.to_pylist(), urls.to_pylist()):
            if page is None:
                texts.append(None)
                charsets.append(None)
                continue
            decoded = decode_html(page, http_charset)
            self.count(f"charset:{decoded.charset}")
            self.count(f"charset_from:{decoded.decided_by}")
            html = decoded.text
            if self.params.fix_mojibake:
                repaired = repair_mojibake(html)
                if repaired != html:
                    self.count("mojibake_repaired")
                    html = repaired
            texts.append(self._main_text(html, url))
            charsets.append(decoded.charset)
        return texts, charsets

    def _main_text(self, html: str, url: str | None) -> str | None:
        import trafilatura
        from trafilatura.metadata import extract_title

        p = self.params
        try:
            tree = trafilatura.load_html(html)
            if tree is None:
                return None
            # Read before extraction, which prunes the tree in place.
            title = extract_title(tree) if p.include_title else None
            document = trafilatura.bare_extraction(tree, options=self._options)
            if document is None:
                return None
            text = _plain_text(document, p.list_markers)
        except Exception as e:  # lxml and trafilatura raise many types on broken markup
            self.bad_record("extraction_error", url or "", f"{type(e).__name__}: {e}")
            return None
        if not text or not text.strip():
            return None
        if title and title not in text.split("\n"):
            text = f"{title}\n{text}"
        return text
