"""TensorBoard scalars (RUN/tb/) mirroring metrics.jsonl, indexed by env steps."""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from td3her_cli.run.training_stats import CycleStats, EpochStats

TB_DIR = "tb"
CYCLE_TAGS = (
    "train_success_rate",
    "train_mean_return",
    "actor_loss",
    "critic1_loss",
    "critic2_loss",
    "mean_q",
    "env_steps_per_s",
)
EVAL_TAGS = ("success_rate", "mean_return", "mean_length")


class TensorBoardLogger:
    """Writes cycle scalars as `cycle/<name>` and evaluations as `eval/<name>`."""

    def __init__(self, run_dir: Path) -> None:
        self.writer = tf.summary.create_file_writer(str(Path(run_dir) / TB_DIR))

    def on_cycle(self, stats: CycleStats) -> None:
        """Log one cycle's losses and collection figures at its env step count."""
        with self.writer.as_default(step=stats.env_steps):
            for name in CYCLE_TAGS:
                tf.summary.scalar(f"cycle/{name}", getattr(stats, name))

    def on_epoch(self, stats: EpochStats) -> None:
        """Log an epoch's evaluation at its env step count."""
        with self.writer.as_default(step=stats.env_steps):
            for name in EVAL_TAGS:
                tf.summary.scalar(f"eval/{name}", getattr(stats.evaluation, name))
            tf.summary.scalar("eval/epoch", stats.epoch)
        self.writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        self.writer.close()
