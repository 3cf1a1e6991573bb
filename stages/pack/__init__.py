"""`pack`: documents to the trainer's packed shards (stages/pack/contract.py is the format)."""

from stages.pack.stage import Pack

__all__ = ["Pack"]
