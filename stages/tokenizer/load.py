"""Loading a tokenizer.json once per process, and the ids of its special tokens."""

from __future__ import annotations

from functools import lru_cache

from tokenizers import Tokenizer

from stages.tokenizer.params import ROLES

TOKENIZER_FILE = "tokenizer.json"


@lru_cache(maxsize=4)
def load_tokenizer(path: str) -> Tokenizer:
    """The tokenizer at `path`, loaded once per worker process."""
    return Tokenizer.from_file(path)


def special_ids(tokenizer: Tokenizer) -> dict[str, int]:
    """Role -> id of the special tokens the packed-shard contract names; KeyError if one is missing."""
    ids = {}
    for role, token in ROLES.items():
        token_id = tokenizer.token_to_id(token)
        if token_id is None:
            raise KeyError(f"the tokenizer has no {token} token")
        ids[role] = token_id
    return ids
