"""Language ID, script detection and mojibake repair measured against the dev crawl's gold labels.

A close look at one step. Issue 3's quality table, end to end from the WARC files through the
whole chain, is printed by benchmarks/doc_chain_quality.py.

Runs `normalize` then `langid` (and `sentences`, for its speed) over crawl/docs.jsonl.gz, in this
process, and prints:
- throughput of each stage (MB of input text per second, one core);
- Chinese document accuracy: gold zh-Hans/zh-Hant documents labelled zh and kept (target >= 99%);
- Traditional script detected: zh-Hant documents tagged Hant (target >= 98%), and zh-Hans
  documents wrongly tagged Hant;
- the confusion of the other languages and how many of them `keep: [zh]` would let through;
- sweeps of `min_score` and of the Hant share threshold, to choose them;
- ftfy repair on the 20 pages labelled `mojibake`.

Figures are given on all documents and on the documents whose text is intact: the crawl text
decodes mislabelled pages as a naive browser would (the WARC reader repairs the charset, this
JSONL text does not), so `encoding_issue` and `mojibake` pages are broken here.

usage: python benchmarks/langid_quality.py [--corpus DIR] [--text crawl|main]
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from stages.langid import CJK_RATIO, LANG, LANG_SCORE, SCRIPT, LangId
from stages.normalize import Normalize
from stages.sentences import Sentences
from stages.text.han import traditional_share

REPO = Path(__file__).resolve().parent.parent
CHINESE = ("zh-Hans", "zh-Hant")


def load(corpus: Path, text: str) -> tuple[pa.Table, dict[str, dict]]:
    labels = {}
    with open(corpus / "gold" / "labels.jsonl", encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            labels[record["id"]] = record
    if text == "main":
        script = corpus / "scripts" / "materialize_main_text.py"
        out = subprocess.run([sys.executable, str(script), str(corpus)], check=True, capture_output=True, text=True).stdout
        rows = [json.loads(line) for line in out.splitlines()]
        rows = [{"id": r["id"], "url": r["url"], "text": r["main_text"]} for r in rows]
    else:
        with gzip.open(corpus / "crawl" / "docs.jsonl.gz", "rt", encoding="utf-8") as f:
            rows = [json.loads(line) for line in f]
    return pa.Table.from_pylist(rows), labels


def timed(label: str, fn, table: pa.Table, mb: float):
    start = time.perf_counter()
    result = fn(table)
    seconds = time.perf_counter() - start
    print(f"  {label:<34} {seconds:6.2f} s  {mb / seconds:7.2f} MB/s")
    return result


def pct(part: int, whole: int) -> str:
    return f"{part}/{whole} = {100 * part / whole:.2f}%" if whole else "0/0"


def report(title: str, rows: list[dict], min_score: float) -> None:
    print(f"\n== {title} ({len(rows)} documents)")
    zh = [r for r in rows if r["gold"] in CHINESE]
    kept = [r for r in zh if r[LANG] == "zh" and r[LANG_SCORE] >= min_score]
    print(f"Chinese documents labelled zh and kept (min_score {min_score}): {pct(len(kept), len(zh))}")
    for r in sorted((r for r in zh if r not in kept), key=lambda r: r[LANG_SCORE]):
        print(f"    missed {r['id']} gold={r['gold']} lang={r[LANG]} score={r[LANG_SCORE]:.3f} kind={r['kind']} issue={r['issue']}")
    hant = [r for r in zh if r["gold"] == "zh-Hant"]
    hans = [r for r in zh if r["gold"] == "zh-Hans"]
    hant_hit = [r for r in hant if r[SCRIPT] == "Hant"]
    false_hant = [r for r in hans if r[SCRIPT] == "Hant"]
    print(f"zh-Hant documents tagged Hant: {pct(len(hant_hit), len(hant))}")
    print(f"zh-Hans documents tagged Hant (false): {pct(len(false_hant), len(hans))}")
    for r in [r for r in hant if r[SCRIPT] != "Hant"] + false_hant:
        print(f"    {r['id']} gold={r['gold']} script={r[SCRIPT]} share={r['trad_share']:.2f} kind={r['kind']} issue={r['issue']}")
    other = [r for r in rows if r["gold"] not in CHINESE]
    confusion = collections.Counter((r["gold"], r[LANG]) for r in other)
    print("Other languages, gold -> predicted: " + ", ".join(f"{g}->{p} {n}" for (g, p), n in sorted(confusion.items())))
    scripts = collections.Counter((r["gold_script"], r[SCRIPT]) for r in other)
    print("Other languages, gold script -> script: " + ", ".join(f"{g}->{p} {n}" for (g, p), n in sorted(scripts.items())))
    leaked = [r for r in other if r[LANG] == "zh" and r[LANG_SCORE] >= min_score]
    print(f"Non-Chinese documents kept by keep=[zh]: {len(leaked)}" + "".join(f"\n    {r['id']} gold={r['gold']} score={r[LANG_SCORE]:.3f} cjk={r[CJK_RATIO]:.2f}" for r in leaked))
    zh_scores = np.array([r[LANG_SCORE] for r in zh if r[LANG] == "zh"])
    if len(zh_scores):
        print("Score of Chinese documents labelled zh, percentiles 0/1/5/50: " + " / ".join(f"{v:.3f}" for v in np.percentile(zh_scores, [0, 1, 5, 50])))
    print("min_score sweep (Chinese kept | non-Chinese labelled zh and kept):")
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95):
        k = sum(r[LANG] == "zh" and r[LANG_SCORE] >= threshold for r in zh)
        leak = sum(r[LANG] == "zh" and r[LANG_SCORE] >= threshold for r in other)
        print(f"    {threshold:.2f}: {pct(k, len(zh))} | {leak}")
    print("Hant share sweep (zh-Hant tagged Hant | zh-Hans tagged Hant):")
    for threshold in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
        hit = sum(r["trad_share"] > threshold for r in hant)
        false = sum(r["trad_share"] > threshold for r in hans)
        print(f"    {threshold:.1f}: {pct(hit, len(hant))} | {pct(false, len(hans))}")


def _lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.split("\n") if line.strip()]


def mojibake_report(raw: pa.Table, normalized: pa.Table, labels: dict[str, dict], corpus: Path) -> None:
    """Gold main-text lines found verbatim (whitespace collapsed) before and after normalize."""
    with gzip.open(corpus / "gold" / "main_text_damaged.jsonl.gz", "rt", encoding="utf-8") as f:
        gold = {r["id"]: r["main_text"] for r in map(json.loads, f)}
    before = dict(zip(raw.column("id").to_pylist(), raw.column("text").to_pylist()))
    after = dict(zip(normalized.column("id").to_pylist(), normalized.column("text").to_pylist()))
    outcome = collections.Counter()
    print("\n== ftfy on the pages labelled mojibake (gold main-text lines found: before -> after)")
    for doc_id, label in labels.items():
        kind = label.get("mojibake")
        if not kind or doc_id not in after:
            continue
        lines = _lines(gold[doc_id])
        found = [sum(line in set(_lines(t)) for line in lines) / max(len(lines), 1) for t in (before[doc_id], after[doc_id])]
        state = "recovered" if found[1] >= 0.95 else "partly" if found[1] > found[0] else "not_recovered"
        outcome[f"{kind}:{state}"] += 1
        print(f"    {doc_id} {kind:<15} {found[0]:.2f} -> {found[1]:.2f} {state}")
    print("  " + ", ".join(f"{k} {n}" for k, n in sorted(outcome.items())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    parser.add_argument("--text", choices=("crawl", "main"), default="crawl", help="crawl text (default) or the gold main text")
    parser.add_argument("--min-score", type=float, default=LangId.Params().min_score)
    args = parser.parse_args()

    raw, labels = load(args.corpus, args.text)
    mb = sum(len(t.encode("utf-8")) for t in raw.column("text").to_pylist()) / 1e6
    print(f"{raw.num_rows} documents, {mb:.2f} MB of {args.text} text; throughput on one core:")
    normalize, langid, sentences = Normalize(), LangId(LangId.Params(keep=[])), Sentences()
    to_simplified = Normalize(Normalize.Params(convert="t2s"))
    start = time.perf_counter()
    langid.ensure_setup()
    print(f"  langid model load                  {time.perf_counter() - start:6.2f} s")
    normalized = timed("normalize", normalize.process, raw, mb)
    timed("normalize convert=t2s", to_simplified.process, raw, mb)
    annotated = timed("langid (annotate, all docs)", langid.annotate, normalized, mb)
    timed("sentences", sentences.process, normalized, mb)

    share, _ = traditional_share(normalized.column("text").combine_chunks())
    rows = annotated.select(["id", LANG, LANG_SCORE, SCRIPT, CJK_RATIO]).to_pylist()
    for row, trad in zip(rows, share):
        gold = labels[row["id"]]
        row.update(gold=gold["lang"], gold_script=gold["script"], kind=gold["kind"], trad_share=float(trad),
                   issue=gold.get("encoding_issue") or gold.get("mojibake"))
    report("all documents", rows, args.min_score)
    report("excluding encoding_issue and mojibake pages", [r for r in rows if not r["issue"]], args.min_score)
    if args.text == "crawl":
        mojibake_report(raw, normalized, labels, args.corpus)


if __name__ == "__main__":
    main()
