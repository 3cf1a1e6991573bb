"""`preference_format`: prompt/chosen/rejected records -> one row per pair.

Rows: `id`, `prompt` (the chat-template prompt, markers included), `chosen` and `rejected`
(response tokens, each ending with <|endoftext|>). Shard i of each split holds input unit i's
pairs, so the output does not depend on the worker count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from corpusforge.records import ID
from corpusforge.stage import InputUnit
from corpusforge.stats import count
from stages.chat.pairs import RowsFormat, UnitFormatter, write_splits
from stages.chat.params import ChatParams
from stages.chat.records import Verdicts, field, token_lists
from stages.chat.template import ChatTemplate
from stages.tokenizer.load import load_tokenizer


class PreferenceParams(ChatParams):
    prompt_field: str = "prompt"
    # The JSONL reader names its `text_field` `text`: a source with `text_field: chosen`.
    chosen_field: str = "text"
    rejected_field: str = "rejected"
    # Response tokens (the closing <|endoftext|> included) allowed for chosen and rejected.
    max_response_tokens: int = Field(512, ge=2)


@dataclass(frozen=True)
class FormatPairs(UnitFormatter):
    params: PreferenceParams

    def __call__(self, item: tuple[int, InputUnit]) -> dict:
        index, unit = item
        p = self.params
        chat = ChatTemplate(load_tokenizer(self.tokenizer_file))
        table = unit.read()
        prompt, chosen, rejected = (field(table, f) for f in (p.prompt_field, p.chosen_field, p.rejected_field))
        system = field(table, p.system_field)
        verdicts = Verdicts(table, unit)
        verdicts.require(prompt, "prompt", "empty_prompt")
        verdicts.require(chosen, "chosen", "empty_response")
        verdicts.require(rejected, "rejected", "empty_rejected")
        same = pc.equal(pc.utf8_trim_whitespace(chosen), pc.utf8_trim_whitespace(rejected))
        verdicts.flag(pc.fill_null(same, False), "identical_pair")
        verdicts.no_markers(prompt, chosen, rejected, system)
        kept = np.flatnonzero(verdicts.kept)
        take = pa.array(kept)
        contents = chat.encode(prompt.take(take).to_pylist())
        system_ids = chat.encode_systems(system.take(take).to_pylist())
        answers = {name: chat.encode(col.take(take).to_pylist()) for name, col in (("chosen", chosen), ("rejected", rejected))}
        limit = p.max_response_tokens - 1  # room for <|endoftext|>
        out = {"prompt": [], "chosen": [], "rejected": []}
        good = []
        for n, row in enumerate(kept.tolist()):
            content, a, b = contents[n], answers["chosen"][n], answers["rejected"][n]
            if p.on_long == "skip" and len(content) > p.max_prompt_tokens:
                verdicts.reasons[row] = "prompt_too_long"
                continue
            if p.on_long == "skip" and max(len(a), len(b)) > limit:
                verdicts.reasons[row] = "sample_too_long"
                continue
            if len(content) > p.max_prompt_tokens:
                count("truncated:prompt", 1)
            if max(len(a), len(b)) > limit:
                count("truncated:response", int(len(a) > limit) + int(len(b) > limit))
            out["prompt"].append(chat.prompt(content[: p.max_prompt_tokens], system_ids[n]))
            out["chosen"].append(chat.response(a[:limit]))
            out["rejected"].append(chat.response(b[:limit]))
            good.append(row)
        verdicts.report()
        dtype = np.dtype(self.dtype)
        columns = {k: token_lists(v, dtype) for k, v in out.items()}
        ids = table.column(ID).take(pa.array(good, pa.int64())).combine_chunks()
        return write_splits(self.output_dir, index, columns, ids, p.val_fraction, p.seed)


class PreferenceFormat(RowsFormat):
    name = "preference_format"
    Params = PreferenceParams
    version = "1"
    kind = "preference"
    formatter = FormatPairs
