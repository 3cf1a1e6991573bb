"""Shingling, MinHash signatures and LSH of `dedup`, checked against plain Python and datasketch."""

import random

import numpy as np
import pyarrow as pa
import pytest
from datasketch import LeanMinHash, MinHash, MinHashLSH

from stages.dedup.lsh import band_keys, group_pairs
from stages.dedup.minhash import EMPTY, Permutations, signatures
from stages.dedup.normalize import folded_text, key_text
from stages.dedup.params import DedupParams
from stages.dedup.shingles import ShingleText, poly_char_hash32, poly_hash32, sha1_hash32, shingle_hashes, shingle_strings
from stages.dedup.similarity import edit_similarity, jaccard, lcs_length

HANZI = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经"
WORDS = "the quick brown fox jumps over lazy dog while seven wizards quietly hex jovial zebras near old mills".split()

MIXED = [
    "Hello, World! 你好，世界。这是一个测试 ls命令列出 the quick brown fox",
    "",
    None,
    "短",
    "iptables-save(8) 保存 IP 表",
    "ｈｅｌｌｏ　ＡＢＣ 日本語のテキスト、カタカナ",
    "𠀀𠀁 abc 𠀂 a\u200bb\tc\n\nd—e",
    "，，中。。文，，",
]


def chinese(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(HANZI) for _ in range(n))


def english(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def edited(rng: random.Random, text: str, rate: float) -> str:
    return "".join(rng.choice(HANZI) if rng.random() < rate else c for c in text)


def test_folding_and_keys():
    assert folded_text(pa.array(["ＡＢＣ Ｄ", None])).to_pylist() == ["abc d", ""]
    assert key_text(pa.array(["Hello,  World!", "hello world", "你好，世界。", None])).to_pylist() == ["helloworld", "helloworld", "你好世界", ""]


def test_shingle_strings_are_char_grams_for_cjk_and_word_grams_otherwise():
    assert shingle_strings("你好，世界", 3) == ["你好世", "好世界"]
    assert shingle_strings("the quick, brown fox", 2) == ["the quick", "quick brown", "brown fox"]
    assert shingle_strings("ls命令 -l", 2) == ["ls命", "命令", "令l"]
    assert shingle_strings("ab", 3) == []
    # tokens="chars": character n-grams of every script, separators skipped
    assert shingle_strings("ab, 中文", 2, "chars") == ["ab", "b中", "中文"]
    assert shingle_strings("the fox", 3, "chars") == ["the", "hef", "efo", "fox"]


@pytest.mark.parametrize(
    "tokens,hash_name,hashfunc",
    [("mixed", "sha1", sha1_hash32), ("mixed", "poly", poly_hash32), ("chars", "sha1", sha1_hash32), ("chars", "poly", poly_char_hash32)],
)
@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_vectorised_shingles_equal_the_reference(tokens, hash_name, hashfunc, n):
    folded = folded_text(pa.array(MIXED))
    shingles = shingle_hashes(folded, n, hash_name, tokens).distinct()
    for doc, text in enumerate(folded.to_pylist()):
        expected = sorted({hashfunc(s.encode("utf-8", "surrogatepass")) for s in shingle_strings(text, n, tokens)})
        assert shingles.hash[shingles.doc == doc].tolist() == expected


def test_table_folding_equals_pyarrow_folding():
    """ShingleText(fold=True) folds by table lookup; texts where characters interact (combining
    marks, conjoining jamo, astral planes) fall back to pyarrow: the code points never differ."""
    rng = random.Random(4)
    pieces = list("abcXYZ你好，。ＡＢ　ｶﾞﾟ…™℃№ﬁ㎏İΣß\u00ad\u200b") + ["e\u0301", "\u0323", "\u1100\u1161", "가", "\u11a8", "𠀀", "𝐀", "\u0b47\u0b3e", "\u212b"]
    texts = MIXED + ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 40))) for _ in range(500)] + ["plain … text ™ 你好"] * 3
    raw = pa.array(texts)
    ours, theirs = ShingleText(raw, fold=True), ShingleText(folded_text(raw))
    assert ours.cp.tolist() == theirs.cp.tolist()
    for tokens in ("mixed", "chars"):
        assert ours.shingles(3, "poly", tokens).hash.tolist() == theirs.shingles(3, "poly", tokens).hash.tolist()


def test_one_decoded_text_serves_both_token_modes():
    folded = folded_text(pa.array(MIXED))
    text = ShingleText(folded)
    for tokens in ("mixed", "chars", "mixed"):
        ours, alone = text.shingles(3, "poly", tokens), shingle_hashes(folded, 3, "poly", tokens)
        assert ours.doc.tolist() == alone.doc.tolist() and ours.hash.tolist() == alone.hash.tolist()


@pytest.mark.parametrize("scheme", ["affine32", "legacy"])
@pytest.mark.parametrize(
    "tokens,hash_name,hashfunc",
    [("mixed", "sha1", None), ("mixed", "poly", poly_hash32), ("chars", "poly", poly_char_hash32)],
)
def test_signatures_rebuild_datasketch_minhash(scheme, tokens, hash_name, hashfunc):
    rng = random.Random(1)
    texts = [chinese(rng, 300), english(rng, 80), MIXED[0], "", "短"] + [chinese(rng, 20000)]
    folded = folded_text(pa.array(texts))
    ours = signatures(shingle_hashes(folded, 3, hash_name, tokens), len(texts), Permutations(64, 7, scheme))
    for doc, text in enumerate(folded.to_pylist()):
        theirs = MinHash(num_perm=64, seed=7, scheme=scheme, **({"hashfunc": hashfunc} if hashfunc else {}))
        theirs.update_batch([s.encode("utf-8") for s in shingle_strings(text, 3, tokens)])
        assert LeanMinHash(seed=7, hashvalues=ours[doc], scheme=scheme) == LeanMinHash(theirs)
    assert (ours[3] == EMPTY).all() and (ours[4] == EMPTY).all()  # no shingles: datasketch's empty value


def test_lsh_candidates_equal_datasketch_minhashlsh():
    """With the default signatures, hash and layouts: datasketch's MinHashLSH over LeanMinHashes
    rebuilt from our signatures finds exactly our band candidates, signature by signature."""
    rng = random.Random(2)
    originals = [chinese(rng, 400) for _ in range(20)] + [english(rng, 150) for _ in range(10)]
    texts = originals + [edited(rng, t, rate) for t, rate in zip(originals[:15], np.linspace(0.01, 0.3, 15))]
    texts += [" ".join(w[:-1] + "x" if rng.random() < 0.3 else w for w in t.split()) for t in originals[20:25]]
    defaults = DedupParams()
    assert defaults.shingle_hash == "poly" and [s.tokens for s in defaults.signature_specs()] == ["mixed", "chars"]
    text = ShingleText(folded_text(pa.array(texts)))
    union = set()
    for salt, spec in enumerate(defaults.signature_specs()):
        sigs = signatures(text.shingles(spec.ngram, defaults.shingle_hash, spec.tokens), len(texts), Permutations(spec.num_perm, spec.seed, defaults.scheme))
        keys = band_keys(sigs, spec.bands, spec.rows, salt)
        owners = np.repeat(np.arange(len(texts), dtype=np.int64), spec.bands)
        a, b, chained = group_pairs([keys.reshape(-1)], owners, 10**6)
        ours = set(zip(a.tolist(), b.tolist()))
        lsh = MinHashLSH(num_perm=spec.num_perm, params=(spec.bands, spec.rows))
        minhashes = [LeanMinHash(seed=spec.seed, hashvalues=s, scheme=defaults.scheme) for s in sigs]
        for i, m in enumerate(minhashes):
            lsh.insert(i, m)
        theirs = {(min(i, j), max(i, j)) for i, m in enumerate(minhashes) for j in lsh.query(m) if i != j}
        assert chained == 0 and ours == theirs, spec
        union |= ours
    assert {(i, 30 + i) for i in range(8)} <= union  # copies with up to 16% edited characters
    assert {(20 + i, 45 + i) for i in range(5)} <= union  # English with 30% of its words edited
    # independent Chinese texts are not candidates (the English ones share most character 3-grams of
    # their 19-word vocabulary, and are)
    assert not any(i < 20 and j < 20 for i, j in union)


def test_group_pairs_chains_large_groups():
    members = np.arange(10, dtype=np.int64)
    key = np.array([1] * 6 + [2] * 3 + [3], dtype=np.uint64)
    a, b, chained = group_pairs([key], members, all_pairs_up_to=4)
    pairs = set(zip(a.tolist(), b.tolist()))
    assert chained == 1
    assert pairs == {(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (6, 7), (7, 8), (6, 8)}


def test_similarities():
    def reference_lcs(x, y):
        table = [[0] * (len(y) + 1) for _ in range(len(x) + 1)]
        for i, cx in enumerate(x):
            for j, cy in enumerate(y):
                table[i + 1][j + 1] = table[i][j] + 1 if cx == cy else max(table[i][j + 1], table[i + 1][j])
        return table[-1][-1]

    rng = random.Random(3)
    for _ in range(200):
        x = "".join(rng.choice("ab中文") for _ in range(rng.randint(0, 30)))
        y = "".join(rng.choice("ab中文") for _ in range(rng.randint(0, 30)))
        assert lcs_length(x, y) == reference_lcs(x, y)
    text = chinese(rng, 2000)
    assert 0.85 < edit_similarity(text, edited(rng, text, 0.1)) < 0.95
    assert edit_similarity("", "") == 0.0
    assert jaccard(np.array([1, 2, 3], np.uint32), np.array([2, 3, 4], np.uint32)) == 0.5
