"""Built-in stages, one module (or package) per family. Importing this registers them all."""

from stages import ingest, passthrough

__all__ = ["ingest", "passthrough"]
