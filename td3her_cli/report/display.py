"""Rich live progress and summary tables, driven by the training loop's observer callbacks."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from td3her_cli.config import TrainConfig
from td3her_cli.envs.rollout import EvalResult
from td3her_cli.run.training_stats import CycleStats, EpochStats

PIPE_WIDTH = 160  # columns for tables when stdout is a pipe or file (Rich would assume 80)


def make_console(stderr: bool = False) -> Console:
    """A Rich console; when not writing to a terminal it is wide, so logs keep whole tables."""
    console = Console(stderr=stderr)
    if not console.is_terminal:
        console = Console(stderr=stderr, width=PIPE_WIDTH)
    return console


class TrainingDisplay:
    """Epoch and cycle bars with ETA and a live status line on a terminal; plain lines otherwise."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or make_console()
        self.live = self.console.is_terminal
        self.epochs: list[EpochStats] = []
        self._progress: Progress | None = None
        self._live: Live | None = None
        self._status = Text("")
        self._last_eval = "eval: -"

    def on_start(self, config: TrainConfig, run_dir: Path, notes: Sequence[str] = ()) -> None:
        """Announce the run (and the loop's notes, one line each) and start the bars."""
        self.config = config
        self.console.print(
            f"[bold]td3her train[/] {config.env_id} seed {config.seed}{_preset(config)}: "
            f"{config.epochs} epochs x "
            f"{config.cycles} cycles x ({config.episodes_per_cycle} episodes + "
            f"{_updates(config)}){_budget(config)} -> {run_dir}",
            soft_wrap=True,
        )
        for note in notes:
            self.console.print(note, soft_wrap=True, highlight=False)
        if not self.live:
            return
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
        )
        self._epoch_task = self._progress.add_task("epochs", total=config.epochs)
        self._cycle_task = self._progress.add_task("cycles", total=config.cycles)
        self._live = Live(Group(self._progress, self._status), console=self.console)
        self._live.start()

    def on_cycle(self, stats: CycleStats) -> None:
        """Advance the cycle bar and refresh the status line."""
        if self._progress is None:
            return
        self._status.plain = (
            f"{self._last_eval} | critic {_critics(stats)} "
            f"actor {_loss(stats.actor_loss, 3)} | {stats.env_steps} steps "
            f"@ {stats.env_steps_per_s:.0f}/s"
        )
        self._progress.update(self._cycle_task, completed=stats.cycle)

    def on_epoch(self, stats: EpochStats) -> None:
        """Advance the epoch bar (or print a plain line) with the evaluation."""
        self.epochs.append(stats)
        evaluation = stats.evaluation
        self._last_eval = (
            f"eval success {evaluation.success_rate:.0%}"
            f"{_start_scale(stats, self.config)}{_stop_check(stats)}"
        )
        if self._progress is not None:
            self._progress.update(self._epoch_task, completed=stats.epoch)
            self._progress.reset(self._cycle_task, total=self.config.cycles)
        else:
            self.console.print(
                f"epoch {stats.epoch}/{self.config.epochs}: success {evaluation.success_rate:.0%} "
                f"return {evaluation.mean_return:.1f} length {evaluation.mean_length:.1f} | "
                f"env steps {stats.env_steps} | actor {_loss(stats.actor_loss, 3)} critics "
                f"{_critics(stats)} | {stats.wall_time:.0f}s{_eta(stats, self.config)}"
                f"{_start_scale(stats, self.config)}{_stop_check(stats)}",
                highlight=False,
                soft_wrap=True,
            )

    def close(self) -> None:
        """Stop the live bars."""
        if self._live is not None:
            self._live.stop()
            self._live = None
            self._progress = None

    def summary_table(self) -> Table:
        """One row per epoch: evaluation and losses."""
        table = Table(title="Training summary")
        for name in (
            "epoch",
            "success",
            "return",
            "length",
            "env steps",
            "actor",
            "critic 1",
            "critic 2",
            "time (s)",
        ):
            table.add_column(name, justify="right")
        for stats in self.epochs:
            evaluation = stats.evaluation
            table.add_row(
                str(stats.epoch),
                f"{evaluation.success_rate:.0%}",
                f"{evaluation.mean_return:.1f}",
                f"{evaluation.mean_length:.1f}",
                str(stats.env_steps),
                _loss(stats.actor_loss, 3),
                _loss(stats.critic1_loss, 4),
                _loss(stats.critic2_loss, 4),
                f"{stats.wall_time:.0f}",
            )
        return table


def evaluation_table(result: EvalResult, title: str) -> Table:
    """A one-row table of an evaluation."""
    table = Table(title=title)
    for name in ("success rate", "95% interval", "mean return", "mean length", "episodes"):
        table.add_column(name, justify="right")
    low, high = result.ci95
    table.add_row(
        f"{result.success_rate:.1%}",
        f"{low:.0%}-{high:.0%}",
        f"{result.mean_return:.2f}",
        f"{result.mean_length:.1f}",
        str(result.episodes),
    )
    return table


def _loss(value: float, digits: int) -> str:
    """A loss with `digits` decimals, or "-" when there was none (no update ran)."""
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def _critics(stats) -> str:
    """The twin critics' losses as "0.1234/0.1240"."""
    return f"{_loss(stats.critic1_loss, 4)}/{_loss(stats.critic2_loss, 4)}"


def _preset(config: TrainConfig) -> str:
    """ ", preset push (the env's default)" for the first line; empty when unknown."""
    name = config.extra.get("preset")
    if not name:
        return ""
    return f", preset {name}" + (
        " (the env's default)" if config.extra.get("preset_picked_for_env") else ""
    )


def _budget(config: TrainConfig) -> str:
    """ ", at most 1000000 env steps" with --max-env-steps."""
    return f", at most {config.max_env_steps} env steps" if config.max_env_steps else ""


def _eta(stats: EpochStats, config: TrainConfig) -> str:
    """ ", ETA 0:12:34" from the mean time per epoch so far, or per env step when the
    --max-env-steps budget comes first; empty after the last epoch."""
    left = config.epochs - stats.epoch
    if left <= 0 or stats.epoch <= 0:
        return ""
    seconds = stats.wall_time / stats.epoch * left
    if config.max_env_steps and stats.env_steps > 0:
        steps_left = max(config.max_env_steps - stats.env_steps, 0)
        seconds = min(seconds, stats.wall_time / stats.env_steps * steps_left)
    seconds = round(seconds)
    return f", ETA {seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _start_scale(stats: EpochStats, config: TrainConfig) -> str:
    """ " | easier starts x0.62" with --start-fade: the factor the next epoch's shares take."""
    return f" | easier starts x{stats.start_scale:.2f}" if config.start_fade else ""


def _stop_check(stats: EpochStats) -> str:
    """ " | stop check 93% on 100 episodes" when the epoch ran a --stop-at-success check."""
    check = stats.stop_check
    if check is None:
        return ""
    return f" | stop check {check.success_rate:.0%} on {check.episodes} episodes"


def _updates(config: TrainConfig) -> str:
    """A cycle's updates as the banner says them."""
    if config.env_steps_per_block:
        return (
            f"{config.optimization_steps} optimisation steps per "
            f"{config.env_steps_per_block} env steps"
        )
    return f"{config.optimization_steps} optimisation steps"
