"""Ingestion: readers of crawl and corpus files (one per format), and the `extract` stage."""
