"""Ingestion: readers of crawl and corpus files (one per format), and the `extract` stage."""

from stages.ingest import extract, hf, jsonl, parquet, warc, wet

__all__ = ["extract", "hf", "jsonl", "parquet", "warc", "wet"]
