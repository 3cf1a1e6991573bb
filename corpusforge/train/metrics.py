"""OUTPUT/metrics.csv (one row per logged step), optionally mirrored to tensorboard, and
OUTPUT/samples.jsonl (the sample generations of each evaluation)."""

from __future__ import annotations

import csv
import json
import logging
import os
from pathlib import Path

from corpusforge.train.errors import TrainConfigError

log = logging.getLogger(__name__)


class MetricsLog:
    def __init__(self, path: str | os.PathLike, columns: list[str], tensorboard_dir: str | os.PathLike | None = None):
        self.path = Path(path)
        self.columns = columns
        self.writer = None
        if tensorboard_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise TrainConfigError("log.tensorboard: needs the tensorboard package (pip install tensorboard)") from None
            self.writer = SummaryWriter(str(tensorboard_dir))

    def truncate_after(self, step: int) -> None:
        """Drop rows past `step`: a resumed run re-logs the steps after its checkpoint."""
        if not self.path.is_file():
            return
        with open(self.path, newline="") as f:
            rows = [r for r in csv.DictReader(f) if int(r["step"]) <= step]
        self._rewrite(rows)

    def _rewrite(self, rows: list[dict]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.columns)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, self.path)

    def log(self, row: dict) -> None:
        if not self.path.is_file():
            self._rewrite([])
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=self.columns).writerow({k: "" if v is None else v for k, v in row.items()})
        if self.writer is not None:
            for key, value in row.items():
                if key != "step" and isinstance(value, (int, float)):
                    self.writer.add_scalar(key, value, row["step"])
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class SampleLog:
    def __init__(self, path: str | os.PathLike, prompts: list[str]):
        self.path = Path(path)
        self.prompts = prompts

    def truncate_after(self, step: int) -> None:
        if self.path.is_file():
            lines = self.path.read_text(encoding="utf-8").splitlines(keepends=True)
            kept = [line for line in lines if json.loads(line)["step"] <= step]
            self.path.write_text("".join(kept), encoding="utf-8")

    def log(self, step: int, texts: list[str]) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            for prompt, text in zip(self.prompts, texts):
                log.info("sample: %s", text.replace("\n", " "))
                f.write(json.dumps({"step": step, "prompt": prompt, "text": text}, ensure_ascii=False) + "\n")


def run_metrics(out: Path, columns: list[str], tensorboard: bool, step: int) -> MetricsLog:
    """A run's metrics.csv (and tensorboard dir) under `out`, without the rows after `step`:
    a resumed run logs those steps again."""
    out.mkdir(parents=True, exist_ok=True)
    metrics = MetricsLog(out / "metrics.csv", columns, out / "tensorboard" if tensorboard else None)
    metrics.truncate_after(step)
    return metrics
