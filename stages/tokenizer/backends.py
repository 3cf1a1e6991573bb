"""Training backends: HF tokenizers BPE and sentencepiece, each returning a `tokenizers.Tokenizer`.

A sentencepiece model is converted to the same tokenizer.json format (its pieces and scores, or
its merges, in the equivalent HF model), so pack, the SFT formatters and the trainer load one
format whichever backend trained it; the `.model` file is written beside it.
"""

from __future__ import annotations

import io
import json
from typing import Callable, Iterable, Iterator

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from stages.tokenizer.params import TokenizerParams

BYTE_TOKENS = [f"<0x{b:02X}>" for b in range(256)]
METASPACE = "\u2581"
# Longest line sentencepiece trains on; longer ones are cut there (its default, 4192, drops them).
SP_MAX_LINE = 1 << 16

Batches = Callable[[], Iterator[list[str]]]


def _digits(params: TokenizerParams) -> list:
    return [pre_tokenizers.Digits(individual_digits=True)] if params.split_digits else []


def train_hf(batches: Batches, params: TokenizerParams) -> Tokenizer:
    """HF BPE, byte-level (GPT-2 pre-tokenization) or with byte fallback (Llama-style)."""
    specials = list(params.special_tokens)
    if params.bytes == "byte_level":
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            _digits(params) + [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
        )
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=params.vocab_size, min_frequency=params.min_frequency, special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
        )
        tokenizer.train_from_iterator(batches(), trainer)
        return tokenizer
    tokenizer = Tokenizer(models.BPE(byte_fallback=True))
    tokenizer.normalizer = normalizers.Replace(" ", METASPACE)
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(f"{METASPACE}|\\n"), "merged_with_next"), pre_tokenizers.Punctuation()] + _digits(params)
    )
    tokenizer.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Fuse(), decoders.Replace(METASPACE, " ")])
    learned = params.vocab_size - len(BYTE_TOKENS)
    alphabet = _alphabet_size(batches, params.character_coverage)
    trainer = trainers.BpeTrainer(
        vocab_size=learned, min_frequency=params.min_frequency, special_tokens=specials,
        limit_alphabet=min(alphabet, max(learned - len(specials), 1)), initial_alphabet=[METASPACE, "\n"], show_progress=False,
    )
    tokenizer.train_from_iterator(batches(), trainer)
    return _with_byte_tokens(tokenizer, len(specials))


def _alphabet_size(batches: Batches, coverage: float) -> int:
    """How many of the most frequent characters cover `coverage` of the sample (sentencepiece's rule)."""
    from collections import Counter

    counts: Counter = Counter()
    for batch in batches():
        for text in batch:
            counts.update(text)
    total, covered = sum(counts.values()), 0
    for n, (_, c) in enumerate(counts.most_common(), start=1):
        covered += c
        if covered >= coverage * total:
            return n
    return max(len(counts), 1)


def _with_byte_tokens(tokenizer: Tokenizer, specials: int) -> Tokenizer:
    """Insert the 256 <0xXX> byte tokens right after the specials (the trainer does not add them)."""
    spec = json.loads(tokenizer.to_str())
    vocab = spec["model"]["vocab"]
    shifted = {t: (i if i < specials else i + len(BYTE_TOKENS)) for t, i in vocab.items() if t not in BYTE_TOKENS}
    shifted.update({t: specials + b for b, t in enumerate(BYTE_TOKENS)})
    spec["model"]["vocab"] = shifted
    return Tokenizer.from_str(json.dumps(spec))


def train_sentencepiece(lines: Iterable[str], params: TokenizerParams) -> tuple[Tokenizer, bytes]:
    """A sentencepiece BPE or unigram model (byte fallback), and its tokenizer.json equivalent."""
    import sentencepiece as spm

    model = io.BytesIO()
    specials = list(params.special_tokens)
    options = dict(
        model_type=params.model, vocab_size=params.vocab_size, character_coverage=params.character_coverage,
        byte_fallback=True, split_digits=params.split_digits,
        # Text arrives normalised by the pipeline: no NFKC here, whitespace and newlines kept.
        normalization_rule_name="identity", remove_extra_whitespaces=False, add_dummy_prefix=False,
        allow_whitespace_only_pieces=True, user_defined_symbols=specials + ["\n"],
        unk_id=len(specials), bos_id=-1, eos_id=-1, pad_id=-1,
        hard_vocab_limit=False, max_sentence_length=SP_MAX_LINE, input_sentence_size=0,
        shuffle_input_sentence=False, minloglevel=2,
    )
    if params.threads:
        options["num_threads"] = params.threads
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=model, **options)
    processor = spm.SentencePieceProcessor(model_proto=model.getvalue())
    return sentencepiece_to_hf(processor, specials, params), model.getvalue()


def sentencepiece_to_hf(processor, specials: list[str], params: TokenizerParams) -> Tokenizer:
    """The HF tokenizer that encodes like `processor` (pieces, scores or merges, byte fallback)."""
    n = processor.get_piece_size()
    pieces = [processor.id_to_piece(i) for i in range(n)]
    unk = processor.unk_id()
    if params.model == "unigram":
        model = models.Unigram([(p, processor.get_score(i)) for i, p in enumerate(pieces)], unk_id=unk, byte_fallback=True)
    else:
        vocab = {p: i for i, p in enumerate(pieces)}
        ordinary = [i for i in range(n) if processor.is_unused(i) is False and not processor.is_control(i)
                    and not processor.is_unknown(i) and not processor.is_byte(i) and pieces[i] not in specials and pieces[i] != "\n"]
        merges = []
        for i in ordinary:
            piece = pieces[i]
            # sentencepiece BPE ranks merges by the id of the piece they make; ties by the parts.
            splits = [(vocab[piece[:k]], vocab[piece[k:]]) for k in range(1, len(piece)) if piece[:k] in vocab and piece[k:] in vocab]
            merges.extend((i, a, b) for a, b in splits)
        merges.sort()
        model = models.BPE(vocab, [(pieces[a], pieces[b]) for _, a, b in merges], unk_token=pieces[unk], fuse_unk=True, byte_fallback=True)
    tokenizer = Tokenizer(model)
    tokenizer.normalizer = normalizers.Replace(" ", METASPACE)
    # sentencepiece keeps pieces within whitespace-delimited words, the whitespace leading.
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(METASPACE), "merged_with_next")] + _digits(params)
    )
    tokenizer.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Fuse(), decoders.Replace(METASPACE, " ")])
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    tokenizer.add_tokens([AddedToken("\n", normalized=False)])
    return tokenizer
