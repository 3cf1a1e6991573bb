"""The chat template (`corpusforge.chat`) on the trainer side: a prompt from text, a response back to text."""

from __future__ import annotations

from corpusforge.chat import prompt_ids, user_text


def chat_prompt(tokenizer, special_tokens: dict[str, int], instruction: str, input: str | None = None, system: str | None = None) -> list[int]:
    """Token ids of a prompt that asks the model for the assistant's turn."""

    def encode(text: str) -> list[int]:
        return tokenizer.encode(text, add_special_tokens=False).ids

    return prompt_ids(special_tokens, encode(user_text(instruction, input)), encode(system) if system else None)


def response_text(tokenizer, tokens: list[int], eos_id: int) -> tuple[str, bool]:
    """The decoded response up to its EOS, and whether it had one."""
    ended = eos_id in tokens
    if ended:
        tokens = tokens[: tokens.index(eos_id)]
    return tokenizer.decode(tokens, skip_special_tokens=False), ended
