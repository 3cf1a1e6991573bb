"""corpusforge: a raw web crawl in, clean, deduplicated, tokenized training data out."""

__version__ = "0.1.0"
