"""The `extract` stage: decode, repair, trafilatura main text with paragraph breaks."""

from pathlib import Path

import fsspec
import pyarrow as pa

import stages  # noqa: F401
from corpusforge.records import conform
from corpusforge.stage import ReadUnit
from corpusforge.stats import StageStats, collecting
from stages.ingest.extract import Extract, ExtractParams
from stages.ingest.warc import WarcReader

PARAGRAPHS = [
    "上个月我把通勤方式从地铁换成了自行车。家到公司大约九公里，骑得不快的话要四十分钟，比坐地铁多出十分钟。",
    "最大的变化是早上的精神状态。出门时天刚亮，沿着河边的绿道骑过去，能看到晨练的老人和遛狗的邻居。",
    "当然也有不方便的地方。下雨天只能改回地铁，夏天到了公司要先换一件衣服，工位下面常备一条毛巾。",
]
TITLE = "骑车上班的第一个月"


def article(paragraphs=PARAGRAPHS, title=TITLE, meta_charset="utf-8") -> str:
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    meta = f'<meta charset="{meta_charset}">' if meta_charset else ""
    return (
        f"<html><head>{meta}<title>{title} - 城市生活日报</title></head><body>"
        '<div id="header"><ul class="nav"><li><a href="/">首页</a></li><li><a href="/n">新闻</a></li></ul></div>'
        f'<div class="article"><h1>{title}</h1><div class="content">{body}</div>'
        '<div class="share">分享到：微信 | 微博 | QQ空间</div><div class="more"><a href="#">阅读全文</a></div></div>'
        '<div id="footer"><p>版权所有 © 2024 城市生活日报 保留所有权利</p><p>京ICP备12345678号-1</p></div></body></html>'
    )


def crawl_table(pages: list[tuple[bytes | None, str | None]], texts=None) -> pa.Table:
    n = len(pages)
    table = pa.table(
        {
            "id": [f"d{i}" for i in range(n)],
            "text": pa.array(texts or [None] * n, pa.string()),
            "url": [f"http://a.test/{i}" for i in range(n)],
            "http_charset": pa.array([c for _, c in pages], pa.string()),
            "html": pa.array([p for p, _ in pages], pa.large_binary()),
        }
    )
    return conform(table, "crawl")


def run(stage, table):
    stats = StageStats()
    with collecting(stats):
        kept, rejected = stage.apply(table)
    return kept, rejected, stats


def test_main_text_keeps_paragraph_breaks_and_drops_boilerplate():
    kept, rejected, _ = run(Extract(), crawl_table([(article().encode(), "utf-8")]))
    assert kept.column("text").to_pylist() == ["\n".join([TITLE, *PARAGRAPHS])]
    assert "html" not in kept.column_names and "http_charset" not in kept.column_names
    assert kept.column("charset").to_pylist() == ["utf-8"]
    assert rejected.num_rows == 0


def test_title_is_added_once():
    with_title = Extract().apply(crawl_table([(article().encode(), "utf-8")]))[0].column("text")[0].as_py()
    assert with_title.count(TITLE) == 1
    without = Extract(ExtractParams(include_title=False)).apply(crawl_table([(article().encode(), "utf-8")]))[0]
    assert without.column("text").to_pylist() == ["\n".join(PARAGRAPHS)]


def test_list_items_are_plain_lines_unless_markers_are_asked_for():
    items = ["第一条：出门前检查轮胎气压。", "第二条：雨天骑车要减速慢行。", "第三条：夜间骑行打开车灯。"]
    page = article().replace('</p></div><div class="share">', "</p><ul>" + "".join(f"<li>{i}</li>" for i in items) + '</ul></div><div class="share">')
    plain = Extract().apply(crawl_table([(page.encode(), "utf-8")]))[0].column("text")[0].as_py()
    assert plain.split("\n")[-3:] == items
    marked = Extract(ExtractParams(list_markers=True)).apply(crawl_table([(page.encode(), "utf-8")]))[0].column("text")[0].as_py()
    assert marked.split("\n")[-3:] == [f"- {i}" for i in items]


def test_gbk_bytes_under_a_utf8_header_come_out_right():
    pages = [(article(meta_charset="gbk").encode("gbk", errors="xmlcharrefreplace"), "utf-8"), (article(meta_charset=None).encode("gbk", errors="xmlcharrefreplace"), "utf-8")]
    kept, _, stats = run(Extract(), crawl_table(pages))
    assert kept.column("text").to_pylist() == ["\n".join([TITLE, *PARAGRAPHS])] * 2
    assert kept.column("charset").to_pylist() == ["gb18030", "gb18030"]
    assert stats.counters["charset_from:meta"] == 1 and stats.counters["charset_from:detected"] == 1


def test_big5_page():
    paragraphs = ["臺北的夜市大多從傍晚開始熱鬧，真正人潮最多的是晚上八點到十點。", "記得自備購物袋和零錢，有些老攤位只收現金。"]
    page = article(paragraphs, "逛夜市的小訣竅", "big5").encode("big5", errors="xmlcharrefreplace")
    kept, _, _ = run(Extract(), crawl_table([(page, "big5")]))
    assert kept.column("text").to_pylist() == ["\n".join(["逛夜市的小訣竅", *paragraphs])]


def test_mojibake_in_the_served_page_is_repaired():
    broken = article().encode("utf-8").decode("latin-1").encode("utf-8")  # double-encoded at the source
    kept, _, stats = run(Extract(), crawl_table([(broken, "utf-8")]))
    assert kept.column("text").to_pylist() == ["\n".join([TITLE, *PARAGRAPHS])]
    assert stats.counters["mojibake_repaired"] == 1
    unrepaired = Extract(ExtractParams(fix_mojibake=False)).apply(crawl_table([(broken, "utf-8")]))[0]
    assert TITLE not in unrepaired.column("text")[0].as_py()


def test_pages_without_main_text_are_dropped_with_a_reason():
    empty = b"<html><head><title>x</title></head><body><script>var a = 1;</script></body></html>"
    kept, rejected, _ = run(Extract(), crawl_table([(article().encode(), None), (empty, None)]))
    assert kept.column("id").to_pylist() == ["d0"]
    assert rejected.column("id").to_pylist() == ["d1"] and rejected.column("reason").to_pylist() == ["empty_extraction"]
    assert "html" not in rejected.column_names


def test_rows_that_already_have_text_pass_through():
    text_only = conform(pa.table({"id": ["a", "b"], "text": ["第一段\n第二段", ""], "url": ["u1", "u2"]}), "wet")
    kept, rejected = Extract().apply(text_only)
    assert kept.equals(text_only) and rejected is None
    mixed = crawl_table([(article().encode(), "utf-8"), (None, None)], texts=[None, "已有的文本"])
    kept, rejected, _ = run(Extract(), mixed)
    assert kept.column("text").to_pylist() == ["\n".join([TITLE, *PARAGRAPHS]), "已有的文本"]
    assert kept.column("charset").to_pylist() == ["utf-8", None] and rejected.num_rows == 0


def test_bundled_sample_crawl_extracts_every_page():
    path = Path(__file__).parents[1] / "data" / "sample" / "sample-crawl.warc.gz"
    table = WarcReader().read(fsspec.filesystem("file"), ReadUnit("crawl", str(path), "crawl/sample", None))
    kept, rejected, stats = run(Extract(), table)
    assert kept.num_rows == 42 and rejected.num_rows == 0
    by_url = dict(zip(kept.column("url").to_pylist(), zip(kept.column("charset").to_pylist(), kept.column("text").to_pylist())))
    charset, text = by_url["http://bbs.kuaixun.test/thread-2002-1-1.html"]  # utf-8 header, GBK bytes, no meta
    assert charset == "gb18030" and text.startswith("垃圾分类一年后的小区\n小区实行垃圾分类已经一年了。")
    charset, text = by_url["http://www.taiwan-shenghuo.test/a/night-market.html"]
    assert charset == "big5hkscs" and "臺北的夜市" in text
    assert "刘䶮" in by_url["http://www.chengshi-ribao.test/a/rare-name.html"][1]
    assert not any("版权所有" in t or "ICP备" in t for _, t in by_url.values())
    assert stats.counters["charset:gb18030"] == 12 and stats.counters["charset:cp932"] == 1
