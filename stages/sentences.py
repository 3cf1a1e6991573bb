"""`sentences`: sentence and paragraph spans (character offsets) for line filters and perplexity.

Columns `sentence_spans` and `paragraph_spans`, each list<struct<start: int32, end: int32>>:
`text[start:end]` is the sentence (or paragraph) in Python, with surrounding whitespace trimmed.
A sentence ends at 。！？, at …… (and … or ... before a new sentence), at !? before a new
sentence, optionally at ；, and at an English full stop before a capital; closing quotes and
brackets stay with the sentence they close. No sentence crosses a line break; a paragraph is a
non-blank line (extraction writes one block element per line).
"""

from __future__ import annotations

import pyarrow as pa

from corpusforge.records import TEXT
from corpusforge.stage import MapStage, Params
from stages.text.boundaries import paragraph_spans, sentence_spans

SENTENCE_SPANS, PARAGRAPH_SPANS = "sentence_spans", "paragraph_spans"


class SentencesParams(Params):
    # ； separates clauses of one sentence in standard usage, but lists and legal text chain
    # long clauses with it; splitting there is for consumers that want shorter units.
    semicolon: bool = False
    # English full stops (". " before a capital, with common abbreviations and initials skipped).
    english: bool = True


class Sentences(MapStage):
    name = "sentences"
    Params = SentencesParams
    version = "1"

    def process(self, table: pa.Table) -> pa.Table:
        texts = table.column(TEXT).combine_chunks()
        sentences = sentence_spans(texts, self.params.semicolon, self.params.english)
        paragraphs = paragraph_spans(texts)
        self.count("sentences", len(sentences.flatten()))
        self.count("paragraphs", len(paragraphs.flatten()))
        # Spans from an earlier pass over other text are stale: replace them.
        table = table.drop_columns([c for c in (SENTENCE_SPANS, PARAGRAPH_SPANS) if c in table.column_names])
        return table.append_column(SENTENCE_SPANS, sentences).append_column(PARAGRAPH_SPANS, paragraphs)
