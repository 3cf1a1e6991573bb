"""cc_net's LM text normalization, with its full-width digit defect fixed."""

import pytest

from stages.perplexity.normalize import normalize, normalize_all


@pytest.mark.parametrize(
    "text, expected",
    [
        ("  Hello World  ", "hello world"),  # strip, lowercase
        ("2024年3月", "0000年0月"),  # every digit to 0
        ("Café naïve", "cafe naive"),  # accents stripped
        ("你好，世界。", "你好,世界."),  # cc_net's punctuation table
        ("《史记》：“好！”（注）", '"史记":"好!"(注)'),
        ("一—二．三…", "一 - 二. 三..."),  # cc_net's multi-character entries kept
        ("a\tb\x00c\x85d", "abcd"),  # C0/C1 controls removed, as cc_net does
        ("", ""),
        ("   ", ""),
    ],
)
def test_ccnet_behaviour(text, expected):
    assert normalize(text) == expected


def test_full_width_digits_are_digits_not_quotes():
    # cc_net maps "１" to '"' and leaves ２-９ as they are when digits are kept.
    assert normalize("第１２３章", numbers=False) == "第123章"
    assert normalize("第１２３章") == "第000章"
    assert normalize("１") == "0" and normalize("１", numbers=False) == "1"
    # Other Unicode decimal digits (Arabic-Indic, Devanagari) are digits too, as for cc_net's \d.
    assert normalize("٣ ३") == "0 0"


def test_full_width_forms_fold_to_ascii():
    assert normalize("ＡＢＣ ａｂｃ ＃＠") == "abc abc #@"
    assert normalize("中\u3000文") == "中 文"  # ideographic space
    assert normalize("％", numbers=False) == "%"


def test_han_text_is_otherwise_untouched_and_hangul_recomposed():
    assert normalize("漢字與汉字") == "漢字與汉字"
    assert normalize("한국어 Éa") == "한국어 ea"  # accent stripping no longer leaves jamo


def test_options_and_batch_agree():
    lines = ["Ａ１，Ｂ", "  É2 ", "", "中文。"]
    assert normalize_all(lines) == [normalize(x) for x in lines]
    assert normalize("É1，", numbers=False, punct=False, accents=False, case=False) == "É1，"


def test_lines_skipping_nfd_are_unchanged_by_it():
    import unicodedata

    from stages.perplexity.normalize import UNCHANGED_RANGES

    for lo, hi in UNCHANGED_RANGES:
        for code in range(lo, hi + 1):
            c = chr(code)
            assert unicodedata.normalize("NFD", c) == c == unicodedata.normalize("NFC", c)
            assert unicodedata.category(c) != "Mn"


def test_mixed_batch_matches_line_by_line():
    lines = ["纯中文，没有别的。", "Crème brûlée ２０２４", "한글과 漢字", "\uf900豈", "e\u0301", "…—", "ﬁ"]
    assert normalize_all(lines) == [normalize(x) for x in lines]
    assert normalize("e\u0301") == "e" and normalize("\uf900") == "豈"
