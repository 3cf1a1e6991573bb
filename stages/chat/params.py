"""Parameters shared by the chat formatting stages."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from corpusforge.stage import Params
from stages.pack.contract import Dtype


class ChatParams(Params):
    dtype: Dtype = "auto"  # auto: uint16 when the vocab fits, else uint32
    val_fraction: float = Field(0.05, ge=0.0, lt=1.0)  # records drawn into val by id hash
    seed: int = 0
    # Prompt tokens (the text between the markers) allowed; a longer prompt is skipped
    # (prompt_too_long) or, with on_long=truncate, cut to its first max_prompt_tokens tokens.
    max_prompt_tokens: int = Field(512, ge=1)
    on_long: Literal["skip", "truncate"] = "skip"
    system_field: str | None = None  # a record field holding a system text, if the data has one
