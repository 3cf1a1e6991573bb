"""Readers of crawl and corpus files, one per format."""

from stages.ingest import jsonl, parquet

__all__ = ["jsonl", "parquet"]
