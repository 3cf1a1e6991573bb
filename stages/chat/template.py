"""The chat template shared by SFT, preference and prompt data (and the trainer's generation):

    prompt   = [<|system|> system] <|user|> instruction ["\n" input] <|assistant|>
    response = output <|endoftext|>

The markers are inserted as ids; a record whose text contains a marker string is skipped
before encoding (records.Verdicts.no_markers), so no record can forge a turn.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenizers import Tokenizer

from stages.tokenizer.load import special_ids


@dataclass
class ChatTemplate:
    tokenizer: Tokenizer

    def __post_init__(self) -> None:
        self.ids = special_ids(self.tokenizer)

    def encode(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)]

    @staticmethod
    def user_text(instruction: str, extra: str | None) -> str:
        return f"{instruction}\n{extra}" if extra else instruction

    def prompt(self, content: list[int], system: list[int] | None = None) -> list[int]:
        head = [self.ids["system"], *system] if system else []
        return [*head, self.ids["user"], *content, self.ids["assistant"]]

    def response(self, content: list[int]) -> list[int]:
        return [*content, self.ids["eos"]]
