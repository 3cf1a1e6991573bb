"""`prompt_format`: prompts only (instruction [+ input]) -> one row per PPO rollout prompt.

Rows: `id`, `prompt` (the chat-template prompt, ending with <|assistant|>, where generation
starts). From preference records, set `instruction_field: prompt` and `input_field: null`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from corpusforge.records import ID
from corpusforge.stage import InputUnit
from corpusforge.stats import count
from stages.chat.pairs import RowsFormat, UnitFormatter, write_splits
from stages.chat.params import ChatParams
from stages.chat.records import Verdicts, field, token_lists
from stages.chat.template import ChatTemplate
from stages.tokenizer.load import load_tokenizer


class PromptParams(ChatParams):
    instruction_field: str = "instruction"
    input_field: str | None = "input"


@dataclass(frozen=True)
class FormatPrompts(UnitFormatter):
    params: PromptParams

    def __call__(self, item: tuple[int, InputUnit]) -> dict:
        index, unit = item
        p = self.params
        chat = ChatTemplate(load_tokenizer(self.tokenizer_file))
        table = unit.read()
        instruction, extra, system = (field(table, f) for f in (p.instruction_field, p.input_field, p.system_field))
        verdicts = Verdicts(table, unit)
        verdicts.require(instruction, "instruction", "empty_prompt")
        verdicts.no_markers(instruction, extra, system)
        kept = np.flatnonzero(verdicts.kept)
        take = pa.array(kept)
        contents = chat.encode_users(instruction.take(take).to_pylist(), extra.take(take).to_pylist())
        system_ids = chat.encode_systems(system.take(take).to_pylist())
        prompts, good = [], []
        for n, row in enumerate(kept.tolist()):
            if len(contents[n]) > p.max_prompt_tokens:
                if p.on_long == "skip":
                    verdicts.reasons[row] = "prompt_too_long"
                    continue
                count("truncated:prompt", 1)
            prompts.append(chat.prompt(contents[n][: p.max_prompt_tokens], system_ids[n]))
            good.append(row)
        verdicts.report()
        ids = table.column(ID).take(pa.array(good, pa.int64())).combine_chunks()
        return write_splits(self.output_dir, index, {"prompt": token_lists(prompts, np.dtype(self.dtype))}, ids, p.val_fraction, p.seed)


class PromptFormat(RowsFormat):
    name = "prompt_format"
    Params = PromptParams
    version = "1"
    kind = "prompt"
    formatter = FormatPrompts
