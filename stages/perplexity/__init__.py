"""CCNet-style perplexity: train a reference LM (`train_lm`), then score and bucket documents (`perplexity`).

Modules: normalize (cc_net's text normalization, fixed), kenlm_tools (find or build lmplz and
build_binary), reference (which paragraphs an LM trains on), train (the `train_lm` stage),
model (loading and scoring), stage (the `perplexity` stage), reader (the `text` source format).
This file imports nothing, so the `text` reader loads without kenlm or sentencepiece.
"""
