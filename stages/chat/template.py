"""The chat template (`corpusforge.chat`) applied to records, with their texts encoded in batches.

A record whose text contains a marker string is skipped before encoding
(records.Verdicts.no_markers), so no record can forge a turn.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenizers import Tokenizer

from corpusforge.chat import prompt_ids, response_ids, user_text
from stages.tokenizer.load import special_ids


@dataclass
class ChatTemplate:
    tokenizer: Tokenizer

    def __post_init__(self) -> None:
        self.ids = special_ids(self.tokenizer)

    def encode(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)]

    def encode_users(self, instructions: list[str], extras: list[str | None]) -> list[list[int]]:
        """Each record's user turn (instruction, then its input if any) as token ids."""
        return self.encode([user_text(i, x) for i, x in zip(instructions, extras)])

    def encode_systems(self, systems: list[str | None]) -> list[list[int]]:
        """Each record's system message as token ids, [] where it has none."""
        texts = [s or "" for s in systems]
        return self.encode(texts) if any(texts) else [[] for _ in texts]

    def prompt(self, content: list[int], system: list[int] | None = None) -> list[int]:
        return prompt_ids(self.ids, content, system)

    def response(self, content: list[int]) -> list[int]:
        return response_ids(self.ids, content)
