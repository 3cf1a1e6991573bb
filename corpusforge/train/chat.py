"""The chat template on the trainer side (the same as the SFT/preference/prompt formatting):

    prompt   = [<|system|> system] <|user|> instruction ["\n" input] <|assistant|>
    response = output <|endoftext|>

The markers are inserted as ids, never encoded from text.
"""

from __future__ import annotations


def chat_prompt(tokenizer, special_tokens: dict[str, int], instruction: str, input: str | None = None, system: str | None = None) -> list[int]:
    """Token ids of a prompt that asks the model for the assistant's turn."""
    text = f"{instruction}\n{input}" if input else instruction
    head = [special_tokens["system"], *tokenizer.encode(system, add_special_tokens=False).ids] if system else []
    return [*head, special_tokens["user"], *tokenizer.encode(text, add_special_tokens=False).ids, special_tokens["assistant"]]


def response_text(tokenizer, tokens: list[int], eos_id: int) -> tuple[str, bool]:
    """The decoded response up to its EOS, and whether it had one."""
    ended = eos_id in tokens
    if ended:
        tokens = tokens[: tokens.index(eos_id)]
    return tokenizer.decode(tokens, skip_special_tokens=False), ended
