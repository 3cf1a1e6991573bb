"""Config, DAG, fingerprints and the runner that drives a plan on an executor."""
