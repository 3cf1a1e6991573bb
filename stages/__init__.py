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
    "text": "stages.perplexity.reader",
}
