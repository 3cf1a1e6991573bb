"""Text helpers shared by the document stages: Unicode cleanup, scripts, Chinese conversion, keys."""
