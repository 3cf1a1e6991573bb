"""Deduplication: exact, URL and MinHash-LSH near-duplicates, as one global stage `dedup`."""

from stages.dedup.stage import Dedup

__all__ = ["Dedup"]
