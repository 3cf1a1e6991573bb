"""The `quality` stage: each document filter, its score column, language scoping, and the engine."""

import json
import pickle

import numpy as np
import pyarrow as pa
import pytest

from conftest import run_config, write_jsonl
from corpusforge.stats import StageStats, collecting
from stages.quality import Quality
from stages.quality.chars import TextView
from stages.quality.composition import terminal_punctuation
from stages.quality.repetition import duplicate_units, ngram_repetition, word_chars

# Plain prose, written for these tests: varied characters, function words, sentence punctuation.
PROSE = "\n".join(
    [
        "北京市今年将新建二十所小学。",
        "市教委负责人介绍，这些学校主要分布在人口增长较快的新城区，预计明年秋季可以陆续招生。",
        "为了缓解入学压力，部分学校还将与周边中学共享操场和图书馆等设施。",
        "家长们普遍认为，这是一件值得期待的好事，孩子上学的路也会因此变近。",
    ]
)
POEM = "《登鹳雀楼》\n作者：王之涣\n白日依山尽，黄河入海流。\n欲穷千里目，更上一层楼。"


def run(texts, urls=None, lang=None, **params):
    """Annotated table and reason per row (None when kept)."""
    columns = {
        "id": [f"d{i}" for i in range(len(texts))],
        "text": texts,
        "url": urls or [f"https://site.test/{i}" for i in range(len(texts))],
        "source": ["t"] * len(texts),
    }
    if lang is not None:
        columns["lang"] = lang
    stage = Quality(Quality.Params(**params))
    stats = StageStats()
    with collecting(stats):
        table = stage.annotate(pa.table(columns))
        mask, reasons = stage.keep(table)
    assert list(np.asarray(mask)) == [r is None for r in reasons]
    return table, reasons, stats.counters


def score(table, name, row=0):
    return table.column("quality_" + name)[row].as_py()


def test_prose_and_a_short_poem_are_kept_with_scores_attached():
    table, reasons, _ = run([PROSE, POEM])
    assert reasons == [None, None]
    assert score(table, "chars") == sum(1 for c in PROSE if not c.isspace())
    assert score(table, "dup_line_frac") == 0.0
    assert score(table, "terminal_punct_frac") == 1.0
    assert 0.9 < score(table, "han_ratio") <= 1.0
    assert score(table, "entropy") > 5.0
    assert score(table, "seo_title") is False
    assert all(c in table.column_names for c in ("quality_top_2gram", "quality_dup_10gram", "quality_flagged_porn", "quality_url_blocked"))


def test_too_short():
    _, reasons, _ = run(["你好。", PROSE], min_chars=30)
    assert reasons == ["too_short", None]


# --- repetition ------------------------------------------------------------------------------


def _ngrams(texts, top=(2,), dup=(5,)):
    view = TextView.of(pa.array(texts))
    codes, group = word_chars(view)
    return ngram_repetition(codes, group, len(texts), top, dup)


def test_character_ngram_scores_by_hand():
    scores = _ngrams(["一二三四五一二三四五", "一二三四五", "甲乙甲乙甲乙", "一二三四五。一二三四五"])
    # 10 characters, the 5-gram 一二三四五 repeats once: positions 5..9 are duplicates.
    assert scores["dup_5gram"].tolist() == [0.5, 0.0, 0.0, 0.5]
    # 甲乙 occurs 3 times in 6 characters: 6/6; in the first text every 2-gram occurs twice: 4/10.
    assert scores["top_2gram"].tolist() == [0.4, 0.0, 1.0, 0.4]


def test_ngrams_never_cross_or_compare_documents():
    scores = _ngrams(["一二三四五", "一二三四五", ""])
    assert scores["dup_5gram"].tolist() == [0.0, 0.0, 0.0]


def test_duplicate_lines_and_paragraphs():
    lines = pa.array(["甲\n乙\n甲\n\n甲", "甲乙丙", None])
    frac, chars = duplicate_units(pa.compute.split_pattern(lines, "\n"), 3)
    assert frac.tolist() == [0.5, 0.0, 0.0]
    assert chars.tolist() == [0.5, 0.0, 0.0]
    text = "\n".join(["这一行会重复出现很多次。"] * 12 + [PROSE])
    table, reasons, _ = run([text])
    assert score(table, "dup_line_frac") == pytest.approx(11 / 16)
    assert reasons == ["dup_line_frac"]


def test_keyword_repetition_fires_top_and_duplicate_ngram_rules():
    stuffed = "。".join(["特价优惠"] * 150)
    table, reasons, counters = run([stuffed + "\n" + PROSE], drop_seo_title=False, max_seo_line_frac=1.0)
    assert score(table, "top_2gram") > 0.256
    assert score(table, "dup_5gram") > 0.75
    assert reasons == ["top_2gram"]
    assert counters["fired:dup_10gram"] == 1


# --- composition -----------------------------------------------------------------------------


def test_terminal_punctuation_looks_through_closing_quotes():
    lines = pa.compute.split_pattern(pa.array(["他说：“好。”\n标题\nDone.\n", "无标点"]), "\n")
    assert terminal_punctuation(lines, 2).tolist() == pytest.approx([2 / 3, 0.0])


def test_terminal_punctuation_rule_when_enabled():
    listing = "\n".join(["第一章 总则", "第二章 分则", "第三章 附则", "第四章 罚则", "第五章 说明", "第六章 附录", "第七章 索引", "第八章 后记", "第九章 致谢", "第十章 其他", "全书完。"] * 2)
    _, reasons, _ = run([listing, PROSE], min_terminal_punct_frac=0.106, max_dup_line_frac=1.0, max_dup_line_char_frac=1.0)
    assert reasons == ["terminal_punct", None]
    # Off by default, and a page with no sentence-final line at all is left alone when enabled.
    _, reasons, _ = run([listing.replace("全书完。", "全书完"), listing], max_dup_line_frac=1.0, max_dup_line_char_frac=1.0)
    assert reasons == [None, None]


def test_stopwords_required_in_running_text_only():
    # Long lines of Han characters with no function characters: garbled or keyword text.
    garbled = "\n".join(["鍙戝竷鏃堕棿鏉ユ簮娴忚娆℃暟鏂囩珷鍒嗙被鐑棬鏍囩鐩稿叧鎺ㄨ崘"] * 1 + ["缂栬緫鎺ㄨ崘鐑棬鏂囩珷鏈€鏂版洿鏂扮綉绔欏湴鍥捐仈绯绘垜浠厤璐ｅ０鏄"] + ["鍥炲埌椤堕儴鍙嬫儏閾炬帴骞垮憡鍚堜綔鎰忚鍙嶉鐗堟潈鎵€鏈夌紪杈戞帹鑽愮儹闂", "鐧诲綍娉ㄥ唽鎼滅储棣栭〉鏂伴椈璧勮鎶€鏈枃妗ｄ笅杞戒腑蹇冭鍧涘叧浜庢垜浠仈绯绘垜浠"])
    # A translation table of language names: short lines, no function words, legitimate.
    names = "\n".join(["古诺尔斯语", "挪威语", "尼扬韦齐语", "奥杰布瓦语", "帕劳语", "旁遮普语", "西旁遮普语", "中普什图语", "北普什图语", "帕皮阿门托语"] * 3)
    table, reasons, _ = run([garbled, names, PROSE], max_dup_line_frac=1.0, max_dup_line_char_frac=1.0)
    assert score(table, "stopwords", 0) < 2 and score(table, "running_han", 0) >= 100
    assert score(table, "running_han", 1) == 0
    assert reasons == ["stopwords", None, None]


def test_symbol_and_digit_ratios():
    stars = PROSE + "\n" + "★☆■◆●" * 40
    numbers = PROSE + "\n" + "\n".join(f"{i:06d} {i * 7:08d} {i * 13:08d}" for i in range(40))
    table, reasons, _ = run([stars, numbers], max_top_ngram={}, max_dup_ngram={})
    assert score(table, "symbol_ratio", 0) > 0.25
    assert score(table, "digit_ratio", 1) > 0.5
    assert reasons == ["symbol_ratio", "digit_ratio"]


def test_box_drawing_tables_are_not_symbols():
    table, reasons, _ = run([PROSE + "\n┌────────┬────────┐\n│ 名称   │ 说明   │\n└────────┴────────┘"])
    assert score(table, "symbol_ratio") == 0.0
    assert reasons == [None]


def test_entropy():
    table, reasons, _ = run(["哈哈哈哈呵呵呵呵" * 10, PROSE], max_top_ngram={}, max_dup_ngram={}, drop_seo_title=False, max_seo_line_frac=1.0)
    assert score(table, "entropy", 0) == pytest.approx(1.0)
    assert reasons == ["entropy", None]


# --- SEO keyword stuffing ----------------------------------------------------------------------


def test_stuffed_titles():
    titles = [
        "chown免费领取_chown激活码_chown永久免费_chown官方正版",  # keyword repetition
        "mv中文版_mv百度网盘_mv官方正版_mv汉化版",  # shared two-character keyword
        "北京市今年将新建二十所小学 - 新闻网",  # an honest title
    ]
    table, reasons, _ = run([t + "\n" + PROSE for t in titles], max_flagged_ratio={})
    assert [score(table, "seo_title", i) for i in range(3)] == [True, True, False]
    assert reasons == ["seo_title", "seo_title", None]


def test_stuffed_lines_and_fragment_lists():
    stuffed = [
        "手游_下载_破解_安卓_苹果_电脑_攻略",
        "网游_单机_排行_礼包_激活_兑换",
        "小说_全文_阅读_免费_最新_章节",
    ]
    table, reasons, _ = run([PROSE + "\n" + "\n".join(stuffed)], max_flagged_ratio={})
    assert score(table, "seo_line_frac") == pytest.approx(3 / 7)
    assert reasons == ["seo_lines"]


def test_sentences_that_repeat_a_term_are_not_stuffing():
    sentences = "\n".join(
        [
            "如果参数是一个文件名，那么程序读取这个文件；如果参数是一个目录，那么程序读取其中的文件；如果参数为空，那么程序读取标准输入。",
            "使用一个字节给七位编码，使用两个字节给十一位编码，使用三个字节给十六位编码，使用四个字节给二十一位编码。",
        ]
    )
    table, reasons, _ = run([sentences + "\n" + PROSE])
    assert score(table, "seo_line_frac") == 0.0
    assert reasons == [None]


# --- flagged words and blocklist -------------------------------------------------------------


def test_flagged_words_are_scored_per_category():
    gambling = PROSE + "\n百家乐真人娱乐城，注册送彩金。"
    ads = PROSE + "\n" + "软件破解版下载，注册码激活码免费领取，百度网盘高速下载。"
    table, reasons, _ = run([gambling, ads, PROSE])
    n = score(table, "chars", 0)
    # Matches do not overlap, longest term first: 真人娱乐 takes the characters 娱乐城 would need.
    assert score(table, "flagged_gambling", 0) == pytest.approx(len("百家乐真人娱乐注册送") / n, rel=1e-5)
    assert score(table, "flagged_ads", 2) == 0.0
    assert reasons == ["flagged_gambling", "flagged_ads", None]


def test_content_farm_placeholder_tokens():
    farm = PROSE.replace("学校", "【【微信】】").replace("图书馆", "【【网址】】")
    table, reasons, _ = run([farm, PROSE + "\n【【注】】见上文。", farm], max_placeholder_tokens=2)
    assert [score(table, "placeholder_tokens", i) for i in range(3)] == [3, 1, 3]
    assert reasons == ["placeholder_tokens", None, "placeholder_tokens"]
    assert run([farm], max_placeholder_tokens=3)[1] == [None]


def test_custom_flagged_list_and_unknown_category(tmp_path):
    words = tmp_path / "w.yaml"
    words.write_text("scam:\n  - 稳赚不赔\n", encoding="utf-8")
    _, reasons, _ = run([PROSE + "\n稳赚不赔，稳赚不赔。", PROSE], flagged_words=str(words), max_flagged_ratio={"scam": 0.01})
    assert reasons == ["flagged_scam", None]
    with pytest.raises(ValueError, match="missing"):
        run([PROSE], flagged_words=str(words), max_flagged_ratio={"porn": 0.01})


def test_url_blocklist_matches_hosts_and_subdomains(tmp_path):
    blocklist = tmp_path / "block.txt"
    blocklist.write_text("# comment\nbad.example\n", encoding="utf-8")
    urls = ["https://bad.example/a", "http://m.www.bad.example:8080/b?c", "https://notbad.example/", "https://bad.example.org/", "not a url"]
    table, reasons, _ = run([PROSE] * 5, urls=urls, blocklist_files=[str(blocklist)])
    assert table.column("quality_url_blocked").to_pylist() == [True, True, False, False, False]
    assert reasons == ["url_blocklist", "url_blocklist", None, None, None]
    # A `host` column, when the reader provides one, is used instead of parsing the URL.
    stage = Quality(Quality.Params(blocklist_files=[str(blocklist)]))
    t = pa.table({"id": ["a"], "text": [PROSE], "url": ["https://fine.test/"], "source": ["t"], "host": ["BAD.example"]})
    assert stage.annotate(t).column("quality_url_blocked").to_pylist() == [True]


def test_shipped_blocklist_is_loaded():
    _, reasons, _ = run([PROSE, PROSE], urls=["https://www.pornhub.com/view", "https://news.test/"])
    assert reasons == ["url_blocklist", None]


# --- language scoping, engine ----------------------------------------------------------------


def test_chinese_rules_apply_only_to_chinese_documents():
    english = "A short English note."
    _, reasons, _ = run([english, english, english], lang=["en", "zh", None])
    # en: no Chinese rules; zh and an unknown (null) language: too short for Chinese text.
    assert reasons == [None, "too_short", "too_short"]
    # Without a lang column every document is treated as Chinese.
    _, reasons, _ = run([english])
    assert reasons == ["too_short"]
    # Language-independent rules still apply to other languages.
    _, reasons, _ = run([english], urls=["https://pornhub.com/"], lang=["en"])
    assert reasons == ["url_blocklist"]


def test_stage_pickles_with_integer_keyed_thresholds():
    stage = Quality(Quality.Params(max_top_ngram={2: 0.3}, max_dup_ngram={6: 0.5}))
    clone = pickle.loads(pickle.dumps(stage))
    assert clone.params.max_top_ngram == {2: 0.3}
    table = clone.annotate(pa.table({"id": ["a"], "text": [PROSE], "url": ["u"], "source": ["t"]}))
    assert "quality_dup_6gram" in table.column_names and "quality_dup_5gram" not in table.column_names


def test_empty_and_null_texts():
    table, reasons, _ = run([None, "", PROSE])
    assert reasons == ["too_short", "too_short", None]
    table, reasons, _ = run([])
    assert reasons == [] and table.num_rows == 0


def test_clean_then_quality_in_a_pipeline(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    rows = [
        {"text": "新闻标题\n分享到：微信 | 微博\n" + PROSE + "\n版权所有 © 2020 某某网", "url": "https://news.test/1"},
        {"text": "首页\n返回顶部", "url": "https://news.test/2"},
        {"text": "北京旅游攻略_北京旅游景点_北京旅游地图_北京旅游住宿\n" + PROSE, "url": "https://spam.test/3"},
    ]
    write_jsonl(docs / "a.jsonl", rows)
    raw = {
        "sources": {"crawl": {"paths": str(docs / "*.jsonl")}},
        "stages": [
            {"id": "clean", "stage": "clean", "inputs": ["crawl"]},
            {"id": "quality", "stage": "quality", "inputs": ["clean"]},
        ],
    }
    out = tmp_path / "out"
    run_config(raw, out)
    kept = pa.concat_tables(pa.ipc.open_file(str(p)).read_all() for p in sorted((out / "quality").glob("*.arrow")))
    assert kept.column("text").to_pylist() == ["新闻标题\n" + PROSE]
    assert kept.column("clean_lines_removed").to_pylist() == [2]
    report = json.loads((out / "report.json").read_text())["stages"]
    assert report["clean"]["dropped"] == {"empty_after_clean": 1}
    assert report["clean"]["counters"]["lines_removed:share"] == 1
    assert report["quality"]["dropped"] == {"seo_title": 1}
