"""The `corpusforge` command line."""

from __future__ import annotations

import functools
import logging
import os
import sys

# Read by pyarrow's allocator (mimalloc) when pyarrow loads, so it is set before anything imports
# pyarrow. Its default hands memory back to the OS 10 ms after it is freed; a worker that frees
# one block's buffers and allocates the next one's then takes every page fault again (about
# 135,000 per worker and 0.4 CPU seconds in `benchmarks/engine_overhead.py`). A second keeps a
# worker's memory for its next block and still returns it once the worker is idle.
os.environ.setdefault("MIMALLOC_PURGE_DELAY", "1000")

import click

# Exit code for a config problem found before any work started.
EXIT_CONFIG = 2


def _fail(message: str) -> None:
    click.echo(f"corpusforge: config error: {message}", err=True)
    sys.exit(EXIT_CONFIG)


def _load(config: str, overrides: tuple[str, ...]):
    from corpusforge.pipeline import config as config_module

    try:
        return config_module.load(config, list(overrides))
    except config_module.ConfigError as e:
        _fail(str(e))


@functools.cache
def _terminal_console():
    """A rich console on stderr, made only when stderr is a terminal (progress bars, coloured
    log lines). A log file gets plain lines, and a run is spared rich's import (about 45 ms of
    start-up, serial, before any work)."""
    from rich.console import Console

    return Console(stderr=True)


def _check_targets(pipeline, targets: tuple[str, ...]) -> list[str] | None:
    for target in targets:
        if target not in pipeline.stages:
            _fail(f"--target {target}: unknown stage (stages: {', '.join(pipeline.stages)})")
    return list(targets) or None


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
def main(verbose: bool) -> None:
    """Turn a raw web crawl into clean, deduplicated, tokenized training data."""
    if sys.stderr.isatty():
        from rich.logging import RichHandler

        handler, line = RichHandler(console=_terminal_console(), show_path=False), "%(message)s"
    else:
        handler, line = logging.StreamHandler(), "%(asctime)s %(levelname)s %(message)s"
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=line, handlers=[handler])


config_argument = click.argument("config", type=click.Path(dir_okay=False))
set_option = click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config value (dotted key).")
output_option = click.option("--output", "-o", default=None, help="Output directory (default: the config's `output`).")
target_option = click.option("--target", "targets", multiple=True, metavar="STAGE_ID", help="Run only what this stage needs.")


@main.command()
@config_argument
@output_option
@set_option
@target_option
@click.option("--executor", type=click.Choice(["local", "dask"]), default=None, help="Default: the config's executor.type.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Worker processes (default: one per core).")
@click.option("--address", default=None, help="Scheduler of an existing Dask cluster, tcp://host:port.")
@click.option("--no-progress", is_flag=True, help="No progress bars or per-stage lines.")
def run(config, output, overrides, targets, executor, workers, address, no_progress):
    """Run a pipeline."""
    import atexit
    import gc

    # At exit, spare the interpreter its last garbage-collection sweep over every object the
    # engine and its libraries made at import (a quarter of a second); the OS frees them.
    atexit.register(gc.freeze)
    from corpusforge.executors import make_executor
    from corpusforge.pipeline.report import summary_text
    from corpusforge.pipeline.runner import Runner

    pipeline = _load(config, overrides)
    target_list = _check_targets(pipeline, targets)
    settings = pipeline.config.executor
    kind = executor or ("dask" if address else settings.type)
    with make_executor(kind, workers or settings.workers, address or settings.address) as ex:
        console = _terminal_console() if sys.stderr.isatty() else None
        result = Runner(pipeline, ex, output, console=console, progress=not no_progress).run(target_list)
    click.echo(summary_text(result.report), err=True)


@main.command()
@config_argument
@set_option
def validate(config, overrides):
    """Check a config without running anything."""
    pipeline = _load(config, overrides)
    click.echo(f"{config}: ok ({len(pipeline.sources)} sources, {len(pipeline.stages)} stages)")


@main.command()
@config_argument
@output_option
@set_option
@target_option
def plan(config, output, overrides, targets):
    """Print the DAG and what a run would do."""
    from corpusforge.pipeline.dag import make_plan

    pipeline = _load(config, overrides)
    target_list = _check_targets(pipeline, targets)
    out = output or pipeline.config.output
    the_plan = make_plan(pipeline, out, target_list)
    for name, source in pipeline.sources.items():
        click.echo(f"source {name}: {source.reader}, {len(source.files)} files")
    segment_of = {sid: i for i, seg in enumerate(the_plan.segments) for sid in seg.stages}
    for sid in the_plan.order:
        stage = pipeline.stages[sid]
        inputs = ", ".join(stage.config.inputs + [f"{k}={v}" for k, v in stage.config.uses.items()])
        status = the_plan.status(sid)
        notes = []
        if sid in segment_of:
            notes.append(f"task group {segment_of[sid] + 1}")
        notes.append("saved" if sid in the_plan.materialized else "fused")
        kind = "global" if stage.is_global else "shard"
        click.echo(f"{status:4}  {sid} ({stage.config.stage}, {kind}) <- {inputs}  [{', '.join(notes)}]")


@main.command()
@click.argument("path")
@click.option("--rows", "-n", default=3, show_default=True, help="Rows to show.")
def inspect(path, rows):
    """Show the schema, row count and first rows of a shard directory or file."""
    from corpusforge.inspect import describe

    try:
        click.echo(describe(path, rows))
    except FileNotFoundError as e:
        click.echo(f"corpusforge: {e}", err=True)
        sys.exit(1)


@main.command()
@click.argument("output")
def report(output):
    """Print the summary of a finished run (and the path of its report.html)."""
    from corpusforge.io import url_to_fs
    from corpusforge.pipeline.report import load, summary_text

    fs, root = url_to_fs(output)
    body = load(fs, root)
    if body is None:
        click.echo(f"corpusforge: no report.json in {output}", err=True)
        sys.exit(1)
    click.echo(summary_text(body))
    click.echo(f"{root}/report.html")


# --- trainer (torch is imported only inside these commands) -----------------------------------


def _trainer_errors():
    """Bad trainer input (config, data, checkpoint) -> one line on stderr and exit 2."""
    import contextlib

    from corpusforge.train.errors import TrainConfigError, TrainError

    @contextlib.contextmanager
    def handler():
        try:
            yield
        except TrainConfigError as e:
            _fail(str(e))
        except TrainError as e:
            click.echo(f"corpusforge: error: {e}", err=True)
            sys.exit(EXIT_CONFIG)

    return handler()


@main.group()
def train() -> None:
    """Train a GPT on packed shards."""


@train.command()
@config_argument
@output_option
@set_option
def pretrain(config, output, overrides):
    """Pretrain a GPT on a pack output; re-run on the same --output to resume."""
    with _trainer_errors():
        from corpusforge.train.config import PretrainConfig, load_config
        from corpusforge.train.pretrain import pretrain as run_pretrain

        run_pretrain(load_config(config, list(overrides), PretrainConfig), output)


@train.command()
@config_argument
@output_option
@set_option
def sft(config, output, overrides):
    """Supervised fine-tuning on an SFT pack (loss on response tokens only); resumes likewise."""
    with _trainer_errors():
        from corpusforge.train.alignment_config import SFTConfig
        from corpusforge.train.config import load_config
        from corpusforge.train.sft import sft as run_sft

        run_sft(load_config(config, list(overrides), SFTConfig), output)


@train.command()
@config_argument
@output_option
@set_option
def rm(config, output, overrides):
    """Train a reward model on preference pairs; reports held-out pairwise accuracy."""
    with _trainer_errors():
        from corpusforge.train.alignment_config import RMConfig
        from corpusforge.train.config import load_config
        from corpusforge.train.reward import train_rm

        train_rm(load_config(config, list(overrides), RMConfig), output)


@train.command()
@config_argument
@output_option
@set_option
def ppo(config, output, overrides):
    """RLHF with PPO: actor from SFT, reward model and critic from the RM."""
    with _trainer_errors():
        from corpusforge.train.alignment_config import PPOConfig
        from corpusforge.train.config import load_config
        from corpusforge.train.ppo import RewardNaNError, ppo as run_ppo

        try:
            run_ppo(load_config(config, list(overrides), PPOConfig), output)
        except RewardNaNError as e:
            click.echo(f"corpusforge: error: {e}", err=True)
            sys.exit(1)


@main.command()
@click.argument("checkpoint", type=click.Path(exists=True))
@click.argument("prompt")
@click.option("--max-new-tokens", "-n", default=100, show_default=True, type=click.IntRange(min=1))
@click.option("--temperature", "-t", default=0.8, show_default=True, type=click.FloatRange(min=0), help="0 = greedy.")
@click.option("--top-k", default=50, show_default=True, type=click.IntRange(min=0), help="0 = off.")
@click.option("--top-p", default=0.95, show_default=True, type=click.FloatRange(0, 1, min_open=True))
@click.option("--seed", default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--chat", is_flag=True, help="PROMPT is a user turn in the SFT chat template; print the assistant's answer.")
def generate(checkpoint, prompt, max_new_tokens, temperature, top_k, top_p, seed, device, chat):
    """Continue PROMPT with the model of CHECKPOINT (a .pt file, or a run directory: its best.pt,
    else its latest checkpoint)."""
    with _trainer_errors():
        from corpusforge.train.generate import generate_text

        click.echo(generate_text(checkpoint, prompt, max_new_tokens, temperature, top_k or None, top_p, seed, device, chat))


@main.command("export-hf")
@click.argument("checkpoint", type=click.Path(exists=True))
@click.argument("directory")
def export_hf(checkpoint, directory):
    """Write CHECKPOINT (a .pt file or a run directory) as a Hugging Face GPT2LMHeadModel with its
    tokenizer."""
    with _trainer_errors():
        from corpusforge.train.export import export_checkpoint

        click.echo(export_checkpoint(checkpoint, directory))
