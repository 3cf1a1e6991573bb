"""`tokenizer`: train a tokenizer on a deterministic sample of its input (an artefact stage).

Phases: `measure` (characters per input unit) and `sample` (each unit's sampled texts), both
shard-parallel; then training on the driver, where the library itself uses every core.

Writes to the stage's directory:
- tokenizer.json: loads with `tokenizers.Tokenizer.from_file` and
  `transformers.PreTrainedTokenizerFast(tokenizer_file=...)` (or AutoTokenizer on the directory,
  through tokenizer_config.json);
- tokenizer.model: the sentencepiece model (sentencepiece backend);
- metrics.json: vocab size, sample sizes, fertility and compression (also in the counters).
"""

from __future__ import annotations

import json

from tokenizers import Tokenizer as HFTokenizer

from corpusforge.io import atomic_write, write_json
from corpusforge.stage import GlobalContext, GlobalStage
from stages.tokenizer.backends import train_hf, train_sentencepiece
from stages.tokenizer.load import TOKENIZER_FILE, special_ids
from stages.tokenizer.metrics import evaluate
from stages.tokenizer.params import EOS, PAD, TokenizerParams
from stages.tokenizer.sample import EVAL, TRAIN, Measure, Sample, thresholds

MODEL_FILE = "tokenizer.model"
METRICS_FILE = "metrics.json"


class Tokenizer(GlobalStage):
    name = "tokenizer"
    Params = TokenizerParams
    produces_artefact = True
    version = "1"

    def files_read(self) -> list[str]:
        return [self.params.path] if self.params.path else []

    def max_vocab_size(self) -> int:
        """The largest vocabulary this stage can produce, known from its params before it runs
        (a given tokenizer's own size, else the configured size: a small corpus may learn fewer)."""
        return HFTokenizer.from_file(self.params.path).get_vocab_size() if self.params.path else self.params.vocab_size

    def run(self, ctx: GlobalContext) -> None:
        p = self.params
        units = [unit for source in ctx.inputs for unit in source.units]
        total = sum(ctx.map("measure", Measure(p.text_column), units))
        train_below, eval_below = thresholds(total, p.sample_chars, p.eval_chars)
        sample = Sample(p.text_column, p.seed, train_below, eval_below, ctx.work_dir)
        sizes = ctx.map("sample", sample, list(enumerate(units)))
        train_docs = sum(s[TRAIN] for s in sizes)
        eval_docs = sum(s[EVAL] for s in sizes)
        self.count("input_chars", total)
        self.count("sample_docs", train_docs)

        def batches():
            return sample.texts(TRAIN, len(units))

        model = None
        if p.path is not None:
            tokenizer = HFTokenizer.from_file(p.path)
        elif p.backend == "hf":
            tokenizer = train_hf(batches, p)
        else:
            lines = (line for batch in batches() for text in batch for line in text.split("\n") if line)
            tokenizer, model = train_sentencepiece(lines, p)
        try:
            special_ids(tokenizer)
        except KeyError as e:
            raise ValueError(f"stages[{ctx.output_dir.rsplit('/', 1)[-1]}]: {e.args[0]}") from None
        # Without a held-out slice (a small input), fertility is measured on the training sample;
        # a given tokenizer was trained on none of it.
        split = EVAL if eval_docs and p.path is None else TRAIN
        metrics = {
            "vocab_size": tokenizer.get_vocab_size(),
            "backend": "file" if p.path else p.backend,
            "sample_docs": train_docs,
            "evaluated_on": "input_sample" if p.path else ("held_out" if eval_docs else "training_sample"),
            **evaluate(tokenizer, sample.texts(split, len(units)), p.eval_chars),
        }
        for key in ("vocab_size", "eval_docs", "eval_tokens", "eval_han_chars"):
            self.count(key, metrics[key])
        for key in ("fertility", "bytes_per_token"):
            if metrics[key] is not None:
                self.count(key, metrics[key])
        self._write(ctx, tokenizer, model, metrics)

    def _write(self, ctx: GlobalContext, tokenizer: HFTokenizer, model: bytes | None, metrics: dict) -> None:
        out = ctx.output_dir
        atomic_write(ctx.fs, f"{out}/{TOKENIZER_FILE}", tokenizer.to_str(pretty=True).encode("utf-8"))
        if model is not None:
            atomic_write(ctx.fs, f"{out}/{MODEL_FILE}", model)
        others = [t for t in self.params.special_tokens if t not in (EOS, PAD)]
        config = {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "eos_token": EOS,
            "pad_token": PAD,
            "bos_token": EOS,  # GPT-2 convention: one document separator, no separate BOS
            "additional_special_tokens": others,
            "clean_up_tokenization_spaces": False,
        }
        atomic_write(ctx.fs, f"{out}/tokenizer_config.json", json.dumps(config, indent=1, ensure_ascii=False).encode("utf-8"))
        write_json(ctx.fs, f"{out}/{METRICS_FILE}", metrics)
