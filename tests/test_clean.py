"""The `clean` stage: boilerplate lines removed and counted by category, empty pages dropped."""

import pickle

import pyarrow as pa
import pytest

from corpusforge.stats import StageStats, collecting
from stages.clean import REMOVED_COLUMN, Clean

ARTICLE = [
    "北京市今年将新建二十所小学。",
    "市教委负责人介绍，这些学校主要分布在人口增长较快的新城区，预计明年秋季可以陆续招生。",
    "为了缓解入学压力，部分学校还将与周边中学共享操场和图书馆等设施。",
]

BOILERPLATE = {
    "share": ["分享到：微信 | 微博 | QQ空间", "Share: Twitter | Facebook"],
    "like": ["点赞(12)", "有用(3) 没用(1) 回复"],
    "copyright": ["版权所有 © 2020 某某网 保留所有权利", "京ICP备12345678号-1", "本网站的内容主要来自互联网，仅供学习交流使用，如有侵权请联系我们删除。", "Copyright © 2021 Example Inc."],
    "read_more": ["阅读全文", "查看更多>>", "展开全文"],
    "wechat": ["微信扫一扫，关注公众号", "长按二维码识别关注", "点击上方蓝字关注我们"],
    "breadcrumb": ["当前位置：首页 > 新闻 > 教育", "首页 > 教育频道"],
    "prev_next": ["上一篇：市区道路改造工程启动", "下一篇：秋季运动会圆满结束"],
    "promo": ["淘宝搜:【天降红包888】领超级红包,京东搜:【天降红包888】", "加微信领取优惠券", "广告位招租 联系QQ：10000"],
    "post_info": ["发布时间：2020-01-01 10:00 来源：某某网 阅读：1234", "责任编辑：王五"],
    "nav": ["首页", "返回顶部", "登录 | 注册", "网站地图 | 免责声明 | 广告合作 | 友情链接"],
}


def _table(texts, ids=None):
    ids = ids or [f"d{i}" for i in range(len(texts))]
    return pa.table({"id": ids, "text": texts, "url": [f"https://a.test/{i}" for i in ids], "source": ["t"] * len(texts)})


def _run(stage, table):
    stats = StageStats()
    with collecting(stats):
        kept, rejected = stage.apply(table)
    return kept, rejected, stats.counters


def test_every_category_is_removed_and_counted_and_content_kept():
    lines = [ARTICLE[0]]
    for category_lines in BOILERPLATE.values():
        lines += category_lines
    lines += ARTICLE[1:]
    kept, rejected, counters = _run(Clean(), _table(["\n".join(lines)]))
    assert rejected.num_rows == 0
    assert kept.column("text")[0].as_py() == "\n".join(ARTICLE)
    for category, category_lines in BOILERPLATE.items():
        assert counters[f"lines_removed:{category}"] == len(category_lines), category
    assert kept.column(REMOVED_COLUMN).to_pylist() == [sum(len(v) for v in BOILERPLATE.values())]
    assert counters["docs_changed"] == 1


def test_long_content_lines_that_mention_boilerplate_words_are_kept():
    content = [
        # A sentence about copyright law is content, not a footer: it is longer than the cap.
        "根据著作权法的规定，作品的版权所有人可以许可他人使用作品，并依照约定或者法律规定获得报酬，未经许可不得擅自复制、发行、出租、展览、表演、放映、广播或者通过信息网络传播他人的作品，否则应当根据情况承担停止侵害、消除影响、赔礼道歉、赔偿损失等民事责任。",
        "春节期间，很多家庭会在除夕夜给孩子发红包，这一习俗寄托了长辈对晚辈平安健康的美好祝愿，也是中国传统节日文化的重要组成部分之一。",
        "选项 -a | -b | --all 用于控制输出格式。",
        "O_CREAT|O_WRONLY|O_TRUNC",
        "[ CASCADE | RESTRICT ]",
    ]
    kept, _, counters = _run(Clean(), _table(["\n".join(content)]))
    assert kept.column("text")[0].as_py() == "\n".join(content)
    assert not any(k.startswith("lines_removed:") for k in counters)


def test_traditional_chinese_chrome_is_removed():
    text = "\n".join(["目前位置：首頁 > 技術文件", "版權所有 © 2020 台灣 Linux 手冊 保留一切權利", "分享到：Facebook | LINE", "上一篇：舊文章", "正文內容在這裡，說明如何設定系統。"])
    kept, _, _ = _run(Clean(), _table([text]))
    assert kept.column("text")[0].as_py() == "正文內容在這裡，說明如何設定系統。"


def test_pages_left_empty_are_dropped_with_reason_and_original_text():
    only_chrome = "\n".join(["首页", "分享到：微信", "版权所有 © 2020 某某网", "   "])
    table = _table(["\n".join(ARTICLE), only_chrome, None, ""])
    kept, rejected, _ = _run(Clean(), table)
    assert kept.column("id").to_pylist() == ["d0"]
    reasons = dict(zip(rejected.column("id").to_pylist(), rejected.column("reason").to_pylist()))
    assert reasons == {"d1": "empty_after_clean", "d2": "no_text", "d3": "empty_after_clean"}
    rejected_text = dict(zip(rejected.column("id").to_pylist(), rejected.column("text").to_pylist()))
    assert rejected_text["d1"] == only_chrome
    assert kept.column_names[:4] == ["id", "text", "url", "source"]


def test_category_selection_and_extra_patterns():
    text = "\n".join([ARTICLE[0], "分享到：微信", "本文由某某机器人自动生成", "版权所有 © 2020 某某网"])
    stage = Clean(Clean.Params(categories=["share"], extra_patterns={"robot": ["^本文由.{0,10}自动生成"]}))
    kept, _, counters = _run(stage, _table([text]))
    assert kept.column("text")[0].as_py() == "\n".join([ARTICLE[0], "版权所有 © 2020 某某网"])
    assert counters["lines_removed:share"] == 1 and counters["lines_removed:robot"] == 1
    assert "lines_removed:copyright" not in counters


def test_unknown_category_is_a_config_error(tmp_path):
    with pytest.raises(ValueError, match="unknown boilerplate categories"):
        Clean(Clean.Params(categories=["nonesuch"])).ensure_setup()


def test_custom_pattern_file(tmp_path):
    patterns = tmp_path / "p.yaml"
    patterns.write_text("footer:\n  max_chars: 20\n  patterns:\n    - '^--- 完 ---$'\n", encoding="utf-8")
    kept, _, counters = _run(Clean(Clean.Params(patterns=str(patterns))), _table([ARTICLE[0] + "\n--- 完 ---\n分享到：微信"]))
    assert kept.column("text")[0].as_py() == ARTICLE[0] + "\n分享到：微信"
    assert counters["lines_removed:footer"] == 1


def test_stage_survives_pickling_and_empty_shards():
    stage = pickle.loads(pickle.dumps(Clean()))
    kept, rejected, _ = _run(stage, _table([]))
    assert kept.num_rows == 0 and rejected.num_rows == 0
