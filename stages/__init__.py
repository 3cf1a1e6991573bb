"""Built-in stages, one module (or package) per family.

The catalogues name the module that defines each stage and reader, so a run imports only the
modules it uses: a JSONL passthrough never pays for trafilatura, fastText or scipy, in the
driver or in any worker.
"""

STAGES = {
    "passthrough": "stages.passthrough",
    "extract": "stages.ingest.extract",
    "normalize": "stages.normalize",
    "langid": "stages.langid",
    "sentences": "stages.sentences",
    "clean": "stages.clean",
    "quality": "stages.quality",
    "dedup": "stages.dedup",
    "train_lm": "stages.perplexity.train",
    "perplexity": "stages.perplexity.stage",
    "mix": "stages.mix",
    "tokenizer": "stages.tokenizer",
    "pack": "stages.pack",
    "sft_format": "stages.chat.sft",
    "preference_format": "stages.chat.preference",
    "prompt_format": "stages.chat.prompts",
}

READERS = {
    "jsonl": "stages.ingest.jsonl",
    "parquet": "stages.ingest.parquet",
    "warc": "stages.ingest.warc",
    "wet": "stages.ingest.wet",
    "hf": "stages.ingest.hf",
    "text": "stages.ingest.text",
}

# The file name endings each reader claims for `format: auto`, so that telling a file's format
# imports no reader module (tests check them against the classes' `extensions`). A reader
# missing here is imported to ask it.
READER_EXTENSIONS = {
    "jsonl": (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json", ".json.gz", ".ndjson"),
    "parquet": (".parquet",),
    "warc": (".warc.gz", ".warc"),
    "wet": (".warc.wet.gz", ".wet.gz", ".wet"),
    "hf": (),
    "text": (".txt", ".txt.gz", ".txt.zst"),
}
