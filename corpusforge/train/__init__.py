"""The bundled trainer: GPT pretraining, SFT, reward model and PPO on corpusforge's packed shards.

It imports only floor 1 of the engine (the shard reader in corpusforge.io), never the pipeline.
"""
