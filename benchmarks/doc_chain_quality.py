"""Issue 3's quality table, end to end from the WARC files, against the dev crawl's gold labels.

The dev crawl's crawl/warc/*.warc.gz go through the `warc` reader and the stages of
configs/zh_web.yaml in order, in this process: ingest (`extract`: our charset detection and
repair, mojibake repair, trafilatura), normalize, langid, clean, quality. Nothing is read from
the JSONL or WET text. Every page is followed by its WARC-Record-ID to gold/labels.jsonl, and
the script prints each figure of the issue's table with its target:

| figure | measured on |
|---|---|
| LID accuracy on Chinese (>= 99%) | gold zh-Hans/zh-Hant pages: labelled `zh` by langid and kept by it (a page lost before langid counts as a miss) |
| Traditional detected (>= 98%) | gold zh-Hant pages: `script` = Hant (zh-Hans pages tagged Hant are printed too) |
| spam dropped (>= 95%) | gold `is_spam` pages dropped by any stage |
| non-spam Chinese dropped (<= 3%) | gold non-spam zh-Hans/zh-Hant pages dropped by any stage |
| promo lines removed (>= 90%) | gold `spam_inserted_lines` of the pages that reach `clean`, absent from its output (a page `clean` drops counts as removed); also how many extraction already left out |
| main-text char F1 (>= 0.9) | bag-of-characters F1 (whitespace ignored) of the text against the gold main text, mean over pages: after ingest+normalize (all pages) and after clean (the pages it keeps) |

Then the drops by stage and reason, the misses of each figure, and the charset/mojibake pages.

usage: python benchmarks/doc_chain_quality.py [--corpus DIR] [--config configs/zh_web.yaml]
           [--set STAGE_ID.PARAM=YAML ...] [--show N]
  --set overrides one stage param for the run, e.g. --set quality.min_chars=50
"""

from __future__ import annotations

import argparse
import collections
import glob
import statistics
import sys
import time
from pathlib import Path

import fsspec
import pyarrow as pa
import yaml

import stages  # noqa: F401  (registers the stages)
from corpusforge.records import REASON, TEXT
from corpusforge.registry import stage_class
from corpusforge.stage import ReadUnit
from corpusforge.stats import StageStats, collecting
from stages.ingest.warc import WarcParams, WarcReader

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_quality import char_f1, gold_main_text, labels as load_labels  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CHINESE = ("zh-Hans", "zh-Hant")
CHAIN = ("ingest", "normalize", "langid", "clean", "quality")
RID = "warc_record_id"


def pct(a: int, b: int) -> str:
    return f"{a}/{b} = {100 * a / b:.2f}%" if b else f"{a}/0"


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def build_chain(config: dict, overrides: list[str]) -> list[tuple[str, object]]:
    specs = {s["id"]: s for s in config["stages"]}
    params = {sid: dict(specs[sid].get("params") or {}) for sid in CHAIN}
    for item in overrides:
        key, _, value = item.partition("=")
        sid, _, name = key.partition(".")
        if sid not in params or not name:
            sys.exit(f"--set {item}: expected STAGE_ID.PARAM=VALUE with STAGE_ID one of {', '.join(CHAIN)}")
        params[sid][name] = yaml.safe_load(value)
    chain = []
    for sid in CHAIN:
        cls = stage_class(specs[sid]["stage"])
        stage = cls(cls.Params(**params[sid]))
        stage.ensure_setup()
        chain.append((sid, stage))
    return chain


def read_warc(corpus: Path, source: dict) -> tuple[pa.Table, StageStats]:
    reader = WarcReader(WarcParams(**{k: v for k, v in source.items() if k in WarcParams.model_fields}))
    fs = fsspec.filesystem("file")
    stats = StageStats()
    tables = []
    with collecting(stats):
        for path in sorted(glob.glob(str(corpus / "crawl" / "warc" / "*.warc.gz"))):
            for part in reader.parts(fs, path):
                tables.append(reader.read(fs, ReadUnit("crawl", path, f"crawl/{Path(path).name}", part)))
    return pa.concat_tables(tables), stats


def texts_of(table: pa.Table) -> dict[str, str]:
    return dict(zip(table.column(RID).to_pylist(), table.column(TEXT).to_pylist()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    ap.add_argument("--config", type=Path, default=REPO / "configs" / "zh_web.yaml")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="STAGE_ID.PARAM=VALUE")
    ap.add_argument("--show", type=int, default=10, help="misses listed per figure")
    args = ap.parse_args()

    config = yaml.safe_load(args.config.read_text(encoding="utf-8"))
    gold = load_labels(args.corpus)  # warc_record_id -> label
    main_text = gold_main_text(args.corpus)  # doc id -> gold main text
    chain = build_chain(config, args.overrides)

    start = time.perf_counter()
    table, read_stats = read_warc(args.corpus, config["sources"]["crawl"])
    print(f"read {table.num_rows} pages from the WARC files ({sum(read_stats.counters.values())} records skipped: "
          + ", ".join(f"{k} {v}" for k, v in sorted(read_stats.counters.items())) + f"; bad records {dict(read_stats.errors)})")
    missing = set(gold) - set(table.column(RID).to_pylist())
    if missing:
        print(f"  {len(missing)} labelled pages did not come out of the reader")

    dropped: dict[str, str] = {}  # record id -> "stage:reason"
    after: dict[str, dict[str, str]] = {}  # stage id -> record id -> text of the rows it kept
    langid_rows: dict[str, dict] = {}
    stage_stats: dict[str, StageStats] = {}
    seconds: dict[str, float] = {}
    for sid, stage in chain:
        stats = stage_stats[sid] = StageStats()
        t0 = time.perf_counter()
        with collecting(stats):
            kept, rejected = stage.apply(table)
        seconds[sid] = time.perf_counter() - t0
        if rejected is not None:
            for rid, why in zip(rejected.column(RID).to_pylist(), rejected.column(REASON).to_pylist()):
                dropped[rid] = f"{sid}:{why}"
        if sid == "langid":
            both = pa.concat_tables([kept, rejected.drop_columns([REASON])]) if rejected is not None else kept
            langid_rows = {r[RID]: r for r in both.select([RID, "lang", "lang_score", "script"]).to_pylist()}
        after[sid] = texts_of(kept)
        table = kept
    total_s = time.perf_counter() - start
    print(f"chain: {total_s:.1f} s (" + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()) + f"); {table.num_rows} pages kept")

    ids = list(gold)
    zh = [r for r in ids if gold[r]["lang"] in CHINESE]
    hant = [r for r in zh if gold[r]["lang"] == "zh-Hant"]
    hans = [r for r in zh if gold[r]["lang"] == "zh-Hans"]
    spam = [r for r in ids if gold[r]["is_spam"]]
    ham_zh = [r for r in zh if not gold[r]["is_spam"]]
    show = args.show

    def gid(r: str) -> str:
        return gold[r]["id"]

    def describe(r: str) -> str:
        g = gold[r]
        issue = g.get("encoding_issue") or g.get("mojibake") or ""
        row = langid_rows.get(r, {})
        return (f"{gid(r)} {g['lang']:7s} {g['kind']:8s} {issue:28s} lang={row.get('lang')} "
                f"score={row.get('lang_score') or 0:.3f} script={row.get('script')} dropped={dropped.get(r, '-')}")

    print("\n== issue 3 quality table, from WARC")
    results = []

    lid_hit = [r for r in zh if r in langid_rows and langid_rows[r]["lang"] == "zh" and not dropped.get(r, "").startswith(("ingest:", "langid:"))]
    value = len(lid_hit) / len(zh)
    results.append(value >= 0.99)
    print(f"LID accuracy on Chinese (target >= 99%):        {pct(len(lid_hit), len(zh))}  {verdict(results[-1])}")
    for r in [r for r in zh if r not in lid_hit][:show]:
        print(f"    miss {describe(r)}")

    leaked = [r for r in ids if gold[r]["lang"] not in CHINESE and r in after["langid"]]
    print(f"    non-Chinese pages kept by langid: {len(leaked)}" + "".join(f"\n    leak {describe(r)}" for r in leaked[:show]))

    hant_hit = [r for r in hant if langid_rows.get(r, {}).get("script") == "Hant"]
    false_hant = [r for r in hans if langid_rows.get(r, {}).get("script") == "Hant"]
    results.append(len(hant_hit) / len(hant) >= 0.98)
    print(f"Traditional detected (target >= 98%):           {pct(len(hant_hit), len(hant))}  {verdict(results[-1])}"
          f"   (zh-Hans tagged Hant: {pct(len(false_hant), len(hans))})")
    for r in ([r for r in hant if r not in hant_hit] + false_hant)[:show]:
        print(f"    miss {describe(r)}")

    spam_dropped = [r for r in spam if r in dropped]
    results.append(len(spam_dropped) / len(spam) >= 0.95)
    spam_zh = [r for r in spam if gold[r]["lang"] in CHINESE]
    print(f"spam dropped (target >= 95%):                   {pct(len(spam_dropped), len(spam))}  {verdict(results[-1])}"
          f"   (Chinese spam: {pct(sum(r in dropped for r in spam_zh), len(spam_zh))})")
    by_type = collections.Counter(gold[r]["spam_type"] for r in spam)
    by_type_dropped = collections.Counter(gold[r]["spam_type"] for r in spam_dropped)
    print("    by type: " + ", ".join(f"{t} {by_type_dropped[t]}/{n}" for t, n in sorted(by_type.items())))
    for r in [r for r in spam if r not in dropped][:show]:
        print(f"    kept {describe(r)} spam_type={gold[r]['spam_type']}")

    ham_dropped = [r for r in ham_zh if r in dropped]
    results.append(len(ham_dropped) / len(ham_zh) <= 0.03)
    print(f"non-spam Chinese dropped (target <= 3%):        {pct(len(ham_dropped), len(ham_zh))}  {verdict(results[-1])}")
    by_reason = collections.Counter(dropped[r] for r in ham_dropped)
    print("    by reason: " + ", ".join(f"{k} {v}" for k, v in by_reason.most_common()))
    for r in ham_dropped[:show]:
        print(f"    dropped {describe(r)}")

    inserted = removed = absent_after_extraction = 0
    missed_lines = []
    for r in ids:
        lines = gold[r].get("spam_inserted_lines") or ()
        if not lines or r not in after["langid"]:
            continue  # a page langid drops never reaches clean
        extracted = set(after["ingest"].get(r, "").split("\n"))
        final = set((after["clean"].get(r) or "").split("\n"))
        for line in lines:
            inserted += 1
            removed += line not in final
            absent_after_extraction += line not in extracted
            if line in final:
                missed_lines.append((gid(r), line))
    results.append(inserted > 0 and removed / inserted >= 0.9)
    print(f"inserted promo lines removed (target >= 90%):   {pct(removed, inserted)}  {verdict(results[-1])}"
          f"   ({absent_after_extraction} of them already left out by extraction)")
    for doc, line in missed_lines[:show]:
        print(f"    left in {doc}: {line}")

    def mean_f1(texts: dict[str, str], rids: list[str]) -> tuple[float, float, float, int]:
        scores = [char_f1(texts.get(r) or "", main_text[gid(r)]) for r in rids]
        return (*(statistics.mean(x) for x in zip(*scores)), len(scores))

    f1, p, rc, n = mean_f1(after["normalize"], ids)
    results.append(f1 >= 0.9)
    print(f"main-text char F1 (target >= 0.9):              {f1:.4f} (P {p:.4f} R {rc:.4f}, {n} pages, after ingest+normalize)  {verdict(results[-1])}")
    kept_clean = [r for r in ids if r in after["clean"]]
    f1c, pc_, rcc, nc = mean_f1(after["clean"], kept_clean)
    print(f"    after clean: {f1c:.4f} (P {pc_:.4f} R {rcc:.4f}, {nc} pages it keeps)")
    for field in ("encoding_issue", "mojibake"):
        groups = collections.defaultdict(list)
        for r in ids:
            if gold[r].get(field):
                groups[gold[r][field]].append(r)
        for value_, rids in sorted(groups.items()):
            f, _, _, k = mean_f1(after["normalize"], rids)
            print(f"    {field}={value_}: F1 {f:.4f} over {k} pages")
    worst = sorted(ids, key=lambda r: char_f1(after["normalize"].get(r) or "", main_text[gid(r)])[0])[:show]
    for r in worst:
        print(f"    low F1 {char_f1(after['normalize'].get(r) or '', main_text[gid(r)])[0]:.3f} {describe(r)}")

    print("\n== drops by stage and reason")
    for reason, count in collections.Counter(dropped.values()).most_common():
        n_spam = sum(1 for r, w in dropped.items() if w == reason and gold.get(r, {}).get("is_spam"))
        n_zh = sum(1 for r, w in dropped.items() if w == reason and gold.get(r, {}).get("lang") in CHINESE)
        print(f"  {reason:32s} {count:4d}  (spam {n_spam}, Chinese {n_zh})")
    print("charset decisions: " + ", ".join(f"{k.split(':', 1)[1]} {v}" for k, v in sorted(stage_stats["ingest"].counters.items()) if k.startswith("charset_from:")))
    print(f"\n{sum(results)}/{len(results)} targets met")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
