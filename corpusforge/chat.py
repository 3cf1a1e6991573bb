"""The chat template, one definition for the formatting stages (stages/chat) and the trainer:

    prompt   = [<|system|> system] <|user|> instruction ["\n" input] <|assistant|>
    response = output <|endoftext|>

`markers` are the special tokens' ids by name (system, user, assistant, eos), as a packed
directory's index.json lists them. The markers are inserted as ids, never encoded from text.
"""

from __future__ import annotations


def user_text(instruction: str, extra: str | None) -> str:
    return f"{instruction}\n{extra}" if extra else instruction


def prompt_ids(markers: dict[str, int], user: list[int], system: list[int] | None = None) -> list[int]:
    """A prompt that asks for the assistant's turn, from the encoded user turn and system message."""
    head = [markers["system"], *system] if system else []
    return [*head, markers["user"], *user, markers["assistant"]]


def response_ids(markers: dict[str, int], content: list[int]) -> list[int]:
    return [*content, markers["eos"]]
