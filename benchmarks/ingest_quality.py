"""Crawl ingestion measured against the dev crawl's gold labels: charset and main-text extraction.

A close look at one step. Issue 3's quality table, end to end from the WARC files through the
whole chain, is printed by benchmarks/doc_chain_quality.py.

Reads crawl/warc/*.warc.gz with the `warc` reader, runs the `extract` stage in this process (one
core), joins each page to gold/labels.jsonl by its WARC-Record-ID, and prints:

- charset: pages whose decoded text equals the bytes decoded with the gold `bytes_encoding`
  (the real test: a label can differ while the text is identical, e.g. ascii vs utf-8), and by
  `encoding_issue`;
- main-text character F1 against the gold main text (target >= 0.9): the mean over pages of a
  bag-of-characters F1 (whitespace ignored; precision = shared characters / extracted
  characters, recall = shared / gold characters), the measure trafilatura's own evaluation and
  the ScrapingHub article-extraction benchmark use on tokens, with characters as the tokens
  since Chinese has no spaces. Also the share of gold lines found verbatim in the extracted
  text, and the figures per page kind;
- the 20 mojibake pages, with and without the stage's mojibake repair;
- throughput (MB of WARC payload per second, one core).

Gold main text is rebuilt as scripts/materialize_main_text.py does (line spans into
crawl/docs.jsonl.gz, verbatim text for the damaged pages). The pages whose gold is verbatim
(`mojibake`) are scored apart: the mean F1 is given over the other pages and over all pages.

usage: python benchmarks/ingest_quality.py [--corpus DIR] [--param KEY=VALUE ...]
  --param sets an `extract` param for the run, e.g. --param favor_precision=false
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import re
import statistics
import time
from pathlib import Path

import fsspec
import pyarrow as pa
import yaml

import stages  # noqa: F401  (registers the stages)
from corpusforge.stage import ReadUnit
from stages.ingest.charset import decode_html
from stages.ingest.extract import Extract, ExtractParams
from stages.ingest.warc import WarcReader

REPO = Path(__file__).resolve().parent.parent
_WHITESPACE = re.compile(r"\s+")


def gold_main_text(corpus: Path) -> dict[str, str]:
    """id -> gold main text, rebuilt the way scripts/materialize_main_text.py does."""
    with gzip.open(corpus / "crawl" / "docs.jsonl.gz", "rt", encoding="utf-8") as f:
        lines = {d["id"]: d["text"].split("\n") for d in map(json.loads, f)}
    with gzip.open(corpus / "gold" / "main_text_damaged.jsonl.gz", "rt", encoding="utf-8") as f:
        damaged = {d["id"]: d["main_text"] for d in map(json.loads, f)}
    main = {}
    for label in labels(corpus).values():
        spans = label.get("main_line_spans")
        doc = label["id"]
        main[doc] = "\n".join("\n".join(lines[doc][s:e]) for s, e in spans) if spans else damaged[doc]
    return main


def labels(corpus: Path) -> dict[str, dict]:
    """warc_record_id -> gold label."""
    with open(corpus / "gold" / "labels.jsonl", encoding="utf-8") as f:
        return {d["warc_record_id"]: d for d in map(json.loads, f)}


def char_f1(predicted: str, gold: str) -> tuple[float, float, float]:
    """Bag-of-characters (F1, precision, recall), whitespace ignored."""
    p = collections.Counter(_WHITESPACE.sub("", predicted))
    g = collections.Counter(_WHITESPACE.sub("", gold))
    shared = sum((p & g).values())
    if not p or not g:
        return (1.0, 1.0, 1.0) if p == g else (0.0, 0.0, 0.0)
    precision, recall = shared / sum(p.values()), shared / sum(g.values())
    return (2 * precision * recall / (precision + recall) if shared else 0.0), precision, recall


def line_recall(predicted: str, gold: str) -> float:
    gold_lines = [line.strip() for line in gold.split("\n") if line.strip()]
    found = set(line.strip() for line in predicted.split("\n"))
    return sum(line in found for line in gold_lines) / len(gold_lines) if gold_lines else 1.0


def read_crawl(corpus: Path) -> tuple[pa.Table, int]:
    fs = fsspec.filesystem("file")
    reader = WarcReader()
    tables = []
    for path in sorted(glob.glob(str(corpus / "crawl" / "warc" / "*.warc.gz"))):
        for part in reader.parts(fs, path):
            tables.append(reader.read(fs, ReadUnit("crawl", path, f"crawl/{Path(path).name}", part)))
    table = pa.concat_tables(tables)
    return table, sum(len(b) for b in table.column("html").to_pylist())


def extract(table: pa.Table, params: dict) -> tuple[dict[str, str], float]:
    """warc_record_id -> extracted text (empty if the page was dropped), and seconds taken."""
    stage = Extract(ExtractParams(**params))
    stage.ensure_setup()
    start = time.perf_counter()
    kept, rejected = stage.apply(table)
    seconds = time.perf_counter() - start
    texts = dict(zip(kept.column("warc_record_id").to_pylist(), kept.column("text").to_pylist()))
    for record_id in rejected.column("warc_record_id").to_pylist():
        texts[record_id] = ""
    return texts, seconds


def report_charset(table: pa.Table, gold: dict[str, dict]) -> None:
    right, by_issue = 0, collections.defaultdict(lambda: [0, 0])
    start = time.perf_counter()
    rows = table.select(["warc_record_id", "html", "http_charset"]).to_pylist()
    for row in rows:
        label = gold[row["warc_record_id"]]
        ok = decode_html(row["html"], row["http_charset"]).text == row["html"].decode(label["bytes_encoding"])
        right += ok
        tally = by_issue[label.get("encoding_issue") or f"none ({label['bytes_encoding']})"]
        tally[0] += ok
        tally[1] += 1
    seconds = time.perf_counter() - start
    print(f"charset: {right}/{len(rows)} pages decoded to the gold text ({right / len(rows):.2%}), {seconds * 1000 / len(rows):.2f} ms/page")
    for issue, (ok, n) in sorted(by_issue.items()):
        print(f"  {issue:40s} {ok}/{n}")


def report_extraction(texts: dict[str, str], gold: dict[str, dict], main: dict[str, str]) -> None:
    scores = {rid: (*char_f1(text, main[gold[rid]["id"]]), line_recall(text, main[gold[rid]["id"]])) for rid, text in texts.items()}
    clean = [s for rid, s in scores.items() if not gold[rid].get("mojibake")]

    def line(name: str, group: list[tuple[float, ...]]) -> str:
        f1, p, r, lines = (statistics.mean(x) for x in zip(*group))
        return f"  {name:34s} n={len(group):5d}  F1={f1:.4f}  P={p:.4f}  R={r:.4f}  gold lines found={lines:.4f}"

    print("main-text character F1 (bag of characters, mean per page; target >= 0.9):")
    print(line("pages without mojibake", clean))
    print(line("all pages", list(scores.values())))
    for field in ("kind", "lang"):
        groups = collections.defaultdict(list)
        for rid, s in scores.items():
            if not gold[rid].get("mojibake"):
                groups[gold[rid][field]].append(s)
        for value, group in sorted(groups.items()):
            print(line(f"{field}={value}", group))
    dropped = sum(1 for text in texts.values() if not text)
    print(f"  pages dropped as empty_extraction: {dropped}")


def report_mojibake(texts_fixed: dict[str, str], texts_raw: dict[str, str], gold: dict[str, dict], main: dict[str, str]) -> None:
    print("mojibake pages (gold: the clean text), F1 with and without the stage's repair:")
    by_kind = collections.defaultdict(list)
    for rid, label in gold.items():
        if label.get("mojibake"):
            by_kind[label["mojibake"]].append((char_f1(texts_fixed[rid], main[label["id"]])[0], char_f1(texts_raw[rid], main[label["id"]])[0]))
    for kind, pairs in sorted(by_kind.items()):
        fixed, raw = zip(*pairs)
        recovered = sum(f >= 0.9 for f in fixed)
        print(f"  {kind:16s} n={len(pairs)}  F1 repaired={statistics.mean(fixed):.4f}  without repair={statistics.mean(raw):.4f}  pages at F1>=0.9: {recovered}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="an `extract` param")
    args = parser.parse_args()
    params = {k: yaml.safe_load(v) for k, _, v in (p.partition("=") for p in args.param)}

    gold = labels(args.corpus)
    main_text = gold_main_text(args.corpus)
    start = time.perf_counter()
    table, payload_bytes = read_crawl(args.corpus)
    read_s = time.perf_counter() - start
    print(f"read {table.num_rows} pages, {payload_bytes / 1e6:.1f} MB of payload, in {read_s:.2f}s")
    report_charset(table, gold)
    texts, extract_s = extract(table, params)
    print(f"extract ({params or 'defaults'}): {extract_s:.1f}s, {table.num_rows / extract_s:.0f} pages/s, "
          f"reader + extract {payload_bytes / 1e6 / (read_s + extract_s):.2f} MB/s on one core")
    report_extraction(texts, gold, main_text)
    mojibake = pa.array([bool(gold[rid].get("mojibake")) for rid in table.column("warc_record_id").to_pylist()])
    moji_table = table.filter(mojibake)
    raw, _ = extract(moji_table, {**params, "fix_mojibake": False})
    fixed, _ = extract(moji_table, {**params, "fix_mojibake": True})
    report_mojibake(fixed, raw, {rid: gold[rid] for rid in raw}, main_text)


if __name__ == "__main__":
    main()
