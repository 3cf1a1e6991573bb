"""`normalize` and the matching-key normalizer: mojibake, invisible characters, whitespace, scripts."""

import ftfy.bad_codecs  # noqa: F401  (registers sloppy-windows-1252, the codec browsers really use)
import ftfy.badness
import pyarrow as pa
import pytest

from stages.normalize import CONVERTED, Normalize
from stages.text.keys import match_keys
from stages.text.mojibake import may_be_broken

PUNCTUATED = "他说：“你好！”（测试）"


def _normalize(texts, **params):
    table = pa.table({"id": [str(i) for i in range(len(texts))], "text": pa.array(texts, pa.string())})
    return Normalize(Normalize.Params(**params)).process(table)


def _texts(texts, **params):
    return _normalize(texts, **params).column("text").to_pylist()


def _as_cp1252_mojibake(text: str) -> str:
    return text.encode("utf-8").decode("sloppy-windows-1252")


def test_full_width_punctuation_and_curly_quotes_survive():
    assert _texts([PUNCTUATED, "Ｗｉｎｄｏｗｓ　１０ 版本。"]) == [PUNCTUATED, "Ｗｉｎｄｏｗｓ １０ 版本。"]


def test_utf8_read_as_cp1252_is_repaired():
    broken = _as_cp1252_mojibake(PUNCTUATED + "这是乱码修复测试")
    assert broken != PUNCTUATED
    assert _texts([broken, "正常的文本"]) == [PUNCTUATED + "这是乱码修复测试", "正常的文本"]


def test_utf8_read_as_gbk_is_repaired_in_text():
    original = "简体中文翻译\n第一部分：简体中文翻译的说明。"
    broken = original.split("\n")[0].encode().decode("gbk", "replace") + "\n" + original.split("\n")[1]
    assert "\ufffd" in broken
    assert _texts([broken, "正常的文本\ufffd"]) == [original, "正常的文本\ufffd"]


def test_repair_can_be_switched_off():
    broken = _as_cp1252_mojibake("数据处理")
    assert _texts([broken]) == ["数据处理"]
    # Left broken; only its C1 control characters go, with the other controls.
    assert _texts([broken], fix_mojibake=False) == [broken.replace("\x8d", "").replace("\x90", "")]


@pytest.mark.parametrize(
    "text",
    [
        PUNCTUATED,
        "plain ascii",
        "Ã©tÃ© cafÃ©",
        _as_cp1252_mojibake("数据处理"),
        "“quoted” — em dash… ©2024 版权所有",
        "naïve façade œuvre",
        "Ð¿Ñ€Ð¸Ð²ÐµÑ‚",
        "â€œHelloâ€\x9d",
        "Â½ cup",
        "¡Hola! ¿Qué tal?",
    ],
)
def test_columnar_gate_matches_ftfy_detector(text):
    # ftfy runs only where the RE2 translation of its badness regex matches: both must agree.
    assert bool(may_be_broken(pa.array([text]))[0]) == ftfy.badness.is_bad(text)


def test_invisible_and_control_characters_are_removed_tabs_and_newlines_kept():
    text = "零\u200b宽\u200c字\u200d符\ufeff\u00ad\u2060测试\x00\x07\x1b\x7f结束\ta\tb\r\n下一行\u2028末行"
    assert _texts([text]) == ["零宽字符测试结束\ta\tb\n下一行\n末行"]


def test_c1_controls_are_read_as_cp1252_when_repairing():
    # A C1 control in decoded text is almost always a cp1252 byte read as Latin-1 (0x85 is …);
    # without repair, NEL (U+0085) is a line break like U+2028.
    assert _texts(["等等\x85然后"]) == ["等等…然后"]
    assert _texts(["等等\x85然后"], fix_mojibake=False) == ["等等\n然后"]


def test_whitespace_runs_collapse_and_paragraph_breaks_survive():
    text = "\u3000\u3000第一段  有   空格\u00a0\u00a0。 \r\n\r\n\r\n\r\n第二段\t \t列\n   \n第三段  \n"
    assert _texts([text]) == ["第一段 有 空格 。\n\n第二段\t列\n\n第三段"]


def test_nfc_composes_but_does_not_fold_compatibility_forms():
    assert _texts(["Cafe\u0301 ﬁ ①"]) == ["Café ﬁ ①"]


def test_default_keeps_traditional_text():
    table = _normalize(["這是一個軟體測試。"])
    assert table.column("text").to_pylist() == ["這是一個軟體測試。"]
    assert CONVERTED not in table.column_names


def test_t2s_converts_traditional_documents_only():
    texts = ["這是一個測試，我們今天去公園散步。", "这是简体中文，不用转换。", "これは日本語の説明書です。", None]
    table = _normalize(texts, convert="t2s")
    assert table.column("text").to_pylist() == ["这是一个测试，我们今天去公园散步。", texts[1], texts[2], None]
    assert table.column(CONVERTED).to_pylist() == ["t2s", None, None, None]


def test_tw2sp_also_converts_taiwan_vocabulary():
    assert _texts(["請開啟軟體的設定檔案。"], convert="tw2sp") == ["请打开软件的设置文件。"]


def test_regional_conversions_fold_their_own_variants():
    # tw2s and hk2s also map Taiwan and Hong Kong character variants that plain t2s keeps.
    taiwan, hong_kong = "這本書很著名，屋簷下的麻痺。", "這是香港的枱燈，保衞環境，衹有一個。"
    assert _texts([taiwan, hong_kong], convert="t2s") == ["这本书很著名，屋簷下的麻痺。", "这是香港的枱灯，保衞环境，衹有一个。"]
    assert _texts([taiwan], convert="tw2s") == ["这本书很著名，屋檐下的麻痹。"]
    assert _texts([hong_kong], convert="hk2s") == ["这是香港的台灯，保卫环境，只有一个。"]


def test_second_pass_keeps_the_conversion_record():
    stage = Normalize(Normalize.Params(convert="t2s"))
    once = stage.process(pa.table({"id": ["a"], "text": ["這是測試。"]}))
    twice = stage.process(once)
    assert twice.column("text").to_pylist() == ["这是测试。"]
    assert twice.column(CONVERTED).to_pylist() == ["t2s"]


def test_unknown_conversion_is_a_config_error():
    with pytest.raises(ValueError):
        Normalize.Params(convert="s2t")


def test_match_keys_fold_width_case_space_and_script():
    texts = pa.array(["他说：“ＨＥＬＬＯ　Ｗｏｒｌｄ１２３！”\n\n（測試）", None])
    assert match_keys(texts).to_pylist() == ["他说:“hello world123!” (测试)", None]
    assert match_keys(texts, to_simplified=None).to_pylist()[0].endswith("(測試)")
