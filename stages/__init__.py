"""Built-in stages, one module (or package) per family. Importing this registers them all."""

from stages import clean, dedup, ingest, langid, normalize, passthrough, quality, sentences

__all__ = ["clean", "dedup", "ingest", "langid", "normalize", "passthrough", "quality", "sentences"]
