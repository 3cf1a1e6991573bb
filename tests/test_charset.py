"""Charset decisions: declarations are checked against the bytes."""

import pytest

from stages.ingest.charset import codec_for_label, decode_html, meta_charset, repair_mojibake

ZH_HANS = "城东的区图书馆闭馆一年后重新开放。原来昏暗的阅览室换上了大面积的玻璃窗，书架也降低了高度，坐在角落里能看到对面的梧桐树。改造后最受欢迎的是儿童区，周末常常有家长带着孩子在这里待上一整天。"
ZH_HANT = "臺北的夜市大多從傍晚開始熱鬧，真正人潮最多的是晚上八點到十點。想要悠閒地逛，不妨早一點去，攤位剛開張，食材也最新鮮。建議先繞一圈再決定吃什麼，記得自備購物袋和零錢。"
JA = "今年は三月の気温が平年より高く、各地で桜の開花が例年より早まる見込みです。満開は開花からおよそ一週間後です。週末に花見を計画している人は、天気予報と合わせて開花情報を確認しましょう。"
KO = "올해 봄은 평년보다 기온이 높아 벚꽃이 일찍 필 것으로 예상됩니다. 주말에 꽃구경을 계획하고 있다면 일기예보와 함께 개화 소식을 자주 확인하는 것이 좋습니다."
RU = "В этом году весна пришла рано, и вишня зацвела на неделю раньше обычного. Если вы планируете прогулку в парке, следите за прогнозом погоды и новостями о цветении."


def html(body: str, meta: str | None = None) -> str:
    head = f'<meta http-equiv="Content-Type" content="text/html; charset={meta}">' if meta else ""
    return f"<!DOCTYPE html><html><head>{head}<title>t</title></head><body><p>{body}</p></body></html>"


@pytest.mark.parametrize(
    "label, codec",
    [
        ("gb2312", "gb18030"), ("GBK", "gb18030"), ("x-gbk", "gb18030"), ("big5", "big5hkscs"), ("Shift_JIS", "cp932"),
        ("euc-kr", "cp949"), ("ks_c_5601-1987", "cp949"), ("iso-8859-1", "cp1252"), ("us-ascii", "cp1252"),
        ("windows-1251", "cp1251"), ("koi8-r", "koi8-r"), ("utf-16", "utf-8"), ('"UTF-8"', "utf-8"), ("no-such-charset", None),
    ],
)
def test_labels_follow_whatwg(label, codec):
    assert codec_for_label(label) == codec


def test_header_says_utf8_but_bytes_are_gbk_with_meta():
    page = html(ZH_HANS, meta="gbk")
    decoded = decode_html(page.encode("gbk"), "utf-8")
    assert (decoded.text, decoded.charset, decoded.decided_by) == (page, "gb18030", "meta")


def test_header_says_utf8_but_bytes_are_gbk_without_meta():
    page = html(ZH_HANS)
    decoded = decode_html(page.encode("gbk"), "utf-8")
    assert decoded.text == page
    assert (decoded.charset, decoded.decided_by) == ("gb18030", "detected")


def test_default_latin1_header_over_gbk_bytes_is_overruled_by_the_bytes():
    page = html(ZH_HANS)
    decoded = decode_html(page.encode("gbk"), "iso-8859-1")
    assert decoded.text == page and decoded.charset == "gb18030"


def test_gb2312_label_over_gb18030_bytes():
    page = html("南汉的开国皇帝名叫刘䶮。" + ZH_HANS, meta="gb2312")  # 䶮 is outside GB2312 and GBK
    decoded = decode_html(page.encode("gb18030"), "gb2312")
    assert decoded.text == page and decoded.charset == "gb18030"


@pytest.mark.parametrize(
    "text, encoding, label, codec",
    [
        (ZH_HANT, "big5", "big5", "big5hkscs"),
        (ZH_HANT + "﹏€", "cp950", "big5", "cp950"),  # cp950 extensions under a big5 label
        (JA, "shift_jis", "Shift_JIS", "cp932"),
        (JA, "euc_jp", "EUC-JP", "euc_jp"),
        (KO, "euc_kr", "euc-kr", "cp949"),
        (RU, "cp1251", "windows-1251", "cp1251"),
        (RU, "koi8_r", "koi8-r", "koi8-r"),
    ],
)
def test_declared_encodings_decode_correctly(text, encoding, label, codec):
    page = html(text, meta=label)
    decoded = decode_html(page.encode(encoding), label)
    assert decoded.text == page
    assert decoded.charset == codec


@pytest.mark.parametrize("text, encoding", [(ZH_HANS, "gbk"), (ZH_HANT, "big5"), (JA, "shift_jis"), (RU, "cp1251")])
def test_undeclared_encodings_are_detected(text, encoding):
    page = html(text)
    assert decode_html(page.encode(encoding), None).text == page


def test_meta_charset_only_counts_in_the_prescan_window():
    assert meta_charset(b'<html><head><meta charset="big5"></head>') == "big5"
    assert meta_charset(b"<meta http-equiv='Content-Type' content='text/html; charset=GB2312'>") == "GB2312"
    assert meta_charset(b" " * 2000 + b'<meta charset="big5">') is None


def test_bom_overrides_declarations():
    page = html(ZH_HANS, meta="gbk")
    decoded = decode_html(b"\xef\xbb\xbf" + page.encode("utf-8"), "gbk")
    assert (decoded.text, decoded.charset, decoded.decided_by) == (page, "utf-8-sig", "bom")
    decoded = decode_html(page.encode("utf-16"), None)  # Python writes the BOM
    assert (decoded.text, decoded.charset) == (page, "utf-16")


def test_valid_utf8_wins_over_a_wrong_gbk_label():
    page = html(ZH_HANS, meta="gbk")
    decoded = decode_html(page.encode("utf-8"), "gbk")
    assert (decoded.text, decoded.charset) == (page, "utf-8")


def test_utf8_with_a_stray_byte_stays_utf8():
    page = html(ZH_HANS * 3)
    data = page.encode("utf-8")
    middle = len(data) // 2
    decoded = decode_html(data[:middle] + b"\xff" + data[middle:], "utf-8")
    assert decoded.charset == "utf-8" and decoded.decided_by == "near_utf8"
    # The byte lands inside a character: its two halves and the byte itself are replaced.
    assert 1 <= decoded.text.count("\ufffd") <= 3 and ZH_HANS in decoded.text


def test_ascii_page():
    decoded = decode_html(b"<html><body>plain</body></html>", "utf-8")
    assert (decoded.text, decoded.charset) == ("<html><body>plain</body></html>", "ascii")


def test_repair_mojibake_undoes_utf8_read_as_windows_1252():
    original = "<p>简体中文翻译 第2部分：他说“你好”。</p>"
    assert repair_mojibake(original.encode("utf-8").decode("latin-1")) == original
    # Sloppy windows-1252 (bytes 0x81, 0x8D, ... kept as C1 controls), as browsers decode it.
    sloppy = "".join(chr(b) if 0x80 <= b < 0xA0 and bytes([b]).decode("cp1252", "replace") == "\ufffd" else bytes([b]).decode("cp1252") for b in original.encode("utf-8"))
    assert sloppy != original and repair_mojibake(sloppy) == original


def test_repair_mojibake_leaves_correct_text_alone():
    for text in ("他说：“你好！”（测试）", "Café crème — naïve résumé", "Ёлка и ёжик", ZH_HANT):
        assert repair_mojibake(text) == text


def test_repair_mojibake_undoes_utf8_read_as_gbk():
    # Misread runs of an even number of CJK characters come back exactly; each U+FFFD lost a
    # byte, restored when its neighbours pin it (0x80) and guessed from the page otherwise.
    page = "<h1>简体中文翻译 第1部分</h1><p>阿里马</p><p>亚利桑那州</p><p>简体中文翻译，第一部分：州。</p>"
    misread = "<h1>" + "简体中文翻译 第1部分".encode().decode("gbk", "replace") + "</h1>" + "".join(
        f"<p>{t.encode().decode('gbk', 'replace')}</p>" for t in ("阿里马", "亚利桑那州")
    ) + "<p>简体中文翻译，第一部分：州。</p>"
    assert "\ufffd" in misread
    assert repair_mojibake(misread) == page
    # Without the page's evidence, a lost byte is guessed: the rest of the run still comes back.
    alone = "亚利桑那州".encode().decode("gbk", "replace")
    assert repair_mojibake(alone)[:4] == "亚利桑那" and repair_mojibake(alone) != alone


def test_gbk_repair_leaves_correct_text_and_lone_replacement_characters_alone():
    for text in ("他说：“你好！”（测试）\ufffd", "中文\ufffd乱码 Ёлка", "\ufffd" + ZH_HANT, "a\ufffdb 中文"):
        assert repair_mojibake(text) == text
