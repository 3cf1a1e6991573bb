"""`sentences`: sentence and paragraph spans in character offsets."""

import pyarrow as pa

from stages.sentences import PARAGRAPH_SPANS, SENTENCE_SPANS, Sentences


def _spans(texts, column=SENTENCE_SPANS, **params):
    table = pa.table({"id": [str(i) for i in range(len(texts))], "text": pa.array(texts, pa.string())})
    out = Sentences(Sentences.Params(**params)).process(table)
    return out.column(column).to_pylist()


def _pieces(text, column=SENTENCE_SPANS, **params):
    return [text[s["start"] : s["end"]] for s in _spans([text], column, **params)[0]]


def test_closing_quotes_and_brackets_stay_with_their_sentence():
    text = "他说：“你好！”她问：「真的吗？」（我不知道。）《书》很好。"
    assert _pieces(text) == ["他说：“你好！”", "她问：「真的吗？」", "（我不知道。）", "《书》很好。"]


def test_ellipsis_and_runs_of_marks():
    text = "他想了想……然后走了。真的吗？！当然!!好的...再见"
    assert _pieces(text) == ["他想了想……", "然后走了。", "真的吗？！", "当然!!", "好的...", "再见"]
    # The ellipsis takes its closing quote and bracket with it too.
    assert _pieces("他说：“等等……”然后走了。（真的……）好。") == ["他说：“等等……”", "然后走了。", "（真的……）", "好。"]


def test_semicolon_is_optional():
    text = "第一条；第二条；第三条。"
    assert _pieces(text) == [text]
    assert _pieces(text, semicolon=True) == ["第一条；", "第二条；", "第三条。"]


def test_english_sentences_and_abbreviations():
    text = 'Mr. Smith met Dr. J. Watson in the U.S. on Monday. He said "stop!" and left. Is it 3.14? Yes. See e.g. page 2.'
    assert _pieces(text) == [
        "Mr. Smith met Dr. J. Watson in the U.S. on Monday.",
        'He said "stop!" and left.',
        "Is it 3.14?",
        "Yes.",
        "See e.g. page 2.",
    ]
    assert _pieces("One. Two.", english=False) == ["One. Two."]


def test_urls_versions_and_code_stay_whole():
    text = "访问 https://a.test/x.php?id=1&b=2 获取 v2.0.1 版本。运行 make -j4 && ./configure"
    assert _pieces(text) == ["访问 https://a.test/x.php?id=1&b=2 获取 v2.0.1 版本。", "运行 make -j4 && ./configure"]


def test_line_breaks_end_sentences_and_paragraphs_are_non_blank_lines():
    text = "  标题\n\n第一段第一句。第一段第二句\n   \n第二段。\n"
    assert _pieces(text) == ["标题", "第一段第一句。", "第一段第二句", "第二段。"]
    assert _pieces(text, PARAGRAPH_SPANS) == ["标题", "第一段第一句。第一段第二句", "第二段。"]


def test_offsets_are_code_points_across_documents():
    texts = ["😀表情。𠀋字！", None, "", "\n\n", "无标点"]
    sentences = _spans(texts)
    assert sentences[0] == [{"start": 0, "end": 4}, {"start": 4, "end": 7}]
    assert sentences[1:] == [[], [], [], [{"start": 0, "end": 3}]]
    assert _spans(texts, PARAGRAPH_SPANS)[0] == [{"start": 0, "end": 7}]


def test_nul_characters_do_not_shift_offsets():
    text = "前\x00半。后半。"
    assert _pieces(text) == ["前\x00半。", "后半。"]


def test_schema_and_rerun():
    table = pa.table({"id": ["a"], "text": ["一。二。"]})
    stage = Sentences()
    twice = stage.process(stage.process(table))
    assert twice.column_names == ["id", "text", SENTENCE_SPANS, PARAGRAPH_SPANS]
    span_type = pa.list_(pa.struct([("start", pa.int32()), ("end", pa.int32())]))
    assert twice.schema.field(SENTENCE_SPANS).type == span_type == twice.schema.field(PARAGRAPH_SPANS).type


def test_many_documents_match_one_at_a_time():
    base = ["第一句。第二句！", "Hello there. Bye.", "", "段一\n段二。", None]
    single = [_spans([t])[0] for t in base]
    assert _spans(base * 300) == single * 300
