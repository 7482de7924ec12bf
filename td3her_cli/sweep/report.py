"""The report of a sweep: each setting's learning curve over seeds, the best setting, figures.

For every setting, the evaluation success rate at each epoch is summarised over its seeds as
the mean and a 95 % interval of that mean from rliable's stratified bootstrap (percentile;
seeds resampled with replacement, each point of a curve on its own; Agarwal et al. 2021,
"Deep RL at the edge of the statistical precipice"). With the 3-10 seeds a sweep affords, the
interval is what tells a real difference between settings from seed noise. One figure per
metric draws every setting as its mean with its interval as a band. The bootstrap is seeded
(SEED), so the same sweep gives the same report.

A setting's *final success* is over its finished trials: each one's last checkpoint on the
held-out episodes it was evaluated on after training (RUN/held_out.json, see sweep.py), as the
mean and the IQM (interquartile mean) with their intervals. It is never an epoch evaluation:
for a run that stopped itself, that is the evaluation that passed the gate, chosen on its own
episodes. A finished trial without held_out.json (a sweep from before) is reported as having
no held-out evaluation and left out.

The *best* setting has the highest mean final success; ties go to the one with the larger
area under its mean success curve (it got there sooner), then to the higher final mean return.

Reads only sweep.json and the trials' run directories (metrics.jsonl, checkpoint metadata and
held_out.json), so it works while a sweep is still running, and never imports TensorFlow or
Ray. Figures use matplotlib's object API as plotting.py does.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from rich.table import Table

from td3her_cli.config import is_float_value
from td3her_cli.errors import Td3HerError, UsageError
from td3her_cli.report.plotting import (
    DPI,
    NoMetricsError,
    RunMetrics,
    load_run,
    png_bytes,
    summary_rows,
)
from td3her_cli.run.metrics import write_atomically
from td3her_cli.strict_json import finite_or_none
from td3her_cli.sweep.trials import (
    BROKEN,
    ERROR_FILE,
    FINISHED,
    NEW,
    SWEEP_FILE,
    SweepPlan,
    Trial,
    TrialStatus,
    held_out_record,
    load_plan,
    trial_status,
)

REPORT_DIR = "report"
REPORT_FILE = "report.json"
LEVEL = 0.95
RESAMPLES = 2000
SEED = 0  # of the bootstrap: the same sweep gives the same report
METHOD = "rliable stratified bootstrap, percentile"
RLIABLE_HINT = "td3her sweep-report needs rliable: pip install 'td3her[sweep]'"
# metric -> (y label, epoch- or cycle-level, log scale if all positive)
METRICS = {
    "success_rate": ("eval success rate", "epoch", False),
    "mean_return": ("eval mean return", "epoch", False),
    "actor_loss": ("actor loss (-Q)", "cycle", False),
    "critic_loss": ("critic loss (mean of the twin critics)", "cycle", True),
}
# A trial's state in a report (besides sweep's FINISHED).
PENDING, RUNNING, FAILED, CORRUPT = "pending", "incomplete", "failed", "corrupt"


@dataclass(frozen=True)
class Interval:
    """A mean over seeds and its bootstrap interval, per point of a curve."""

    mean: np.ndarray  # [T]
    low: np.ndarray  # [T]
    high: np.ndarray  # [T]
    count: np.ndarray  # [T] int: seeds that have this point


@dataclass(frozen=True)
class TrialReport:
    """One trial as found on disk."""

    name: str
    seed: int
    state: str
    """finished, incomplete (running or interrupted), failed, pending (not started) or corrupt
    (its config.json or latest checkpoint cannot be read; `error` says why, `run` is None)."""
    epochs_done: int
    error: str | None
    run: RunMetrics | None
    held_out: dict | None = None
    """A finished trial's held_out.json (its last checkpoint on held-out episodes), or None."""


@dataclass(frozen=True)
class Curve:
    """One metric of one setting: x, and the mean and interval over seeds at each x."""

    x: np.ndarray  # [T] epochs (fractional for per-cycle metrics)
    interval: Interval


@dataclass(frozen=True)
class SettingReport:
    """One setting: its trials, its curves and its final numbers."""

    name: str
    overrides: dict
    trials: list[TrialReport]
    curves: dict[str, Curve]
    """metric name (see METRICS) -> curve over all trials with metrics, finished or not."""
    env_steps: np.ndarray  # [E] mean env steps at the end of each epoch
    final_success: Interval
    """Mean over finished trials of their last checkpoint's held-out success (one point)."""
    final_iqm: Interval
    """The same trials' interquartile mean (one point)."""
    final_return: float | None
    """Mean over the same trials of their held-out mean return."""
    area: float | None
    """Mean of the mean success curve over epochs (higher: solved sooner)."""
    solved_epochs: list[int | None]
    """Per finished trial: first epoch at >= 95 % success, or None."""

    @property
    def finished(self) -> int:
        """Trials that reached their last epoch."""
        return sum(t.state == FINISHED for t in self.trials)

    @property
    def failed(self) -> int:
        """Trials whose last attempt crashed."""
        return sum(t.state == FAILED for t in self.trials)

    @property
    def without_held_out(self) -> list[str]:
        """Finished trials with no held-out evaluation (left out of the final success)."""
        return [t.name for t in self.trials if t.state == FINISHED and t.held_out is None]


@dataclass(frozen=True)
class SweepReport:
    """The whole report and the files it wrote."""

    sweep_dir: Path
    plan: SweepPlan
    settings: list[SettingReport]
    best: str | None
    plots: list[Path]
    report_file: Path
    warnings: list[str]


# ------------------------------------------------------------------------------ statistics
def require_rliable():
    """rliable's library and metrics modules, or UsageError saying how to install them."""
    try:
        from rliable import library, metrics
    except ImportError:
        raise UsageError(RLIABLE_HINT) from None
    return library, metrics


@contextlib.contextmanager
def _numpy_seeded(seed: int):
    """NumPy's global generator seeded with `seed` for the block, its state restored after.

    rliable's StratifiedBootstrap draws its resamples with np.random.choice, whatever its
    `random_state` says (rliable 1.2), so seeding that generator is what makes them repeat.
    """
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def mean_interval(
    values: np.ndarray,
    seed: int = SEED,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
) -> Interval:
    """Mean over seeds and its stratified-bootstrap interval (rliable), for every column.

    Args:
        values: [S, T] one row per seed, one column per point of the curve; NaN where a seed
            has no value (a run that is behind or crashed), which leaves it out of that point.
        seed: Seeds the bootstrap: the same values give the same interval.
        resamples: Bootstrap resamples.
        level: Coverage of the interval.

    Returns:
        mean, low, high and count, each [T]; NaN where no seed has a value. With one seed the
        interval is that value.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"values must be [seeds, points], got shape {values.shape}")
    points = values.shape[1]
    mean, low, high = (np.full(points, np.nan) for _ in range(3))
    valid = np.isfinite(values)  # [S, T]
    count = valid.sum(axis=0)
    if points == 0 or not valid.any():
        return Interval(mean, low, high, count)
    library, _ = require_rliable()
    # One rliable call per set of seeds present (usually one: every run has every point).
    # rliable's runs x tasks: seeds x points, each point's seeds resampled on their own.
    patterns, group = np.unique(valid.T, axis=0, return_inverse=True)  # [P, S], [T]
    group = group.reshape(-1)
    for index, pattern in enumerate(patterns):
        seeds = np.flatnonzero(pattern)
        if seeds.size == 0:
            continue
        columns = np.flatnonzero(group == index)
        block = values[np.ix_(seeds, columns)]  # [n, C]
        with _numpy_seeded(seed):
            estimate, interval = library.get_interval_estimates(
                {"mean": block},
                lambda scores: np.mean(scores, axis=0),
                reps=resamples,
                confidence_interval_size=level,
            )
        mean[columns] = estimate["mean"]
        low[columns], high[columns] = interval["mean"]
    return Interval(mean, low, high, count)


def final_intervals(
    values: np.ndarray,
    seed: int = SEED,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
) -> tuple[Interval, Interval]:
    """Mean and IQM over seeds of one final score per seed, each with its stratified-bootstrap
    interval (rliable, both from the same resamples); NaN scores are left out.

    Returns:
        (mean, IQM), each an Interval of one point; NaN with count 0 when no seed has a score.
        With one seed both are that score, and so are their intervals.
    """
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    values = values[np.isfinite(values)]
    count = np.array([values.size])
    if values.size == 0:
        nothing = Interval(*(np.full(1, np.nan) for _ in range(3)), count)
        return nothing, nothing
    library, metrics = require_rliable()

    def aggregates(scores: np.ndarray) -> np.ndarray:
        return np.array([metrics.aggregate_mean(scores), metrics.aggregate_iqm(scores)])

    with _numpy_seeded(seed):
        estimate, interval = library.get_interval_estimates(
            {"final": values.reshape(-1, 1)},  # runs x 1 task
            aggregates,
            reps=resamples,
            confidence_interval_size=level,
        )
    (mean, iqm), (lows, highs) = estimate["final"], interval["final"]
    return (
        Interval(np.array([mean]), lows[:1], highs[:1], count),
        Interval(np.array([iqm]), lows[1:], highs[1:], count),
    )


def _by_epoch(runs: list[RunMetrics], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Epochs 1..E and the [S, E] matrix of an epoch-level field (NaN where a run lacks it)."""
    last = max((int(run.epoch.max()) for run in runs if run.epoch.size), default=0)
    table = np.full((len(runs), last), np.nan)
    for row, run in enumerate(runs):
        table[row, run.epoch - 1] = getattr(run, key)
    return np.arange(1, last + 1, dtype=np.float64), table


def _by_cycle(runs: list[RunMetrics], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Fractional epochs of every cycle and the [S, K] matrix of a cycle-level loss."""
    per_epoch = max(run.cycles_per_epoch for run in runs)
    # cycle_x = epoch - 1 + cycle / cycles_per_epoch, so this is the 1-based global cycle index.
    indices = [np.rint(run.cycle_x * run.cycles_per_epoch).astype(np.int64) for run in runs]
    last = max((int(i.max()) for i in indices if i.size), default=0)
    table = np.full((len(runs), last), np.nan)
    for row, (run, index) in enumerate(zip(runs, indices)):
        if key == "critic_loss":
            with warnings.catch_warnings():  # NaN before the first update stays NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                column = np.nanmean(np.stack([run.critic1_loss, run.critic2_loss]), axis=0)
        else:
            column = getattr(run, key)
        table[row, index - 1] = column
    return np.arange(1, last + 1, dtype=np.float64) / per_epoch, table


# ------------------------------------------------------------------------------ the report
def build_report(
    sweep_dir: Path,
    out_dir: Path | None = None,
    seed: int = SEED,
    width_px: int = 960,
    height_px: int = 600,
) -> SweepReport:
    """Read a sweep directory, summarise every setting, and write the figures and report.json.

    Args:
        sweep_dir: A directory written by `td3her sweep` (complete or not).
        out_dir: Where the PNGs and report.json go (default SWEEP/report).
        seed: Seeds the bootstrap (the same sweep and seed give the same report).
        width_px, height_px: Size of each figure.

    Returns:
        The report; `warnings` lists the metrics lines that were skipped, each with its file
        and line. Corrupt trials are in it as such (state CORRUPT, the reason in `error`).

    Raises:
        Td3HerError: If sweep_dir is not a sweep (or its sweep.json is corrupt) or out_dir
            cannot be written.
        UsageError: Without rliable.
    """
    sweep_dir = Path(sweep_dir)
    try:
        plan = load_plan(sweep_dir)
    except (AttributeError, TypeError) as exc:  # e.g. a text format_version: one line, too
        raise Td3HerError(f"{sweep_dir / SWEEP_FILE} is corrupt ({exc!r})") from None
    require_rliable()
    out_dir = Path(out_dir) if out_dir is not None else sweep_dir / REPORT_DIR
    found_warnings: list[str] = []
    settings = []
    for name in plan.settings:
        trials = [_trial_report(t, found_warnings) for t in plan.trials if t.setting == name]
        overrides = next(t.overrides for t in plan.trials if t.setting == name)
        settings.append(_setting_report(name, overrides, trials, seed))
    best = choose_best(settings)
    files = {  # drawn before out_dir is created: a failure leaves no folder behind
        f"{metric}.png": png_bytes(_metric_figure(settings, metric, (width_px, height_px)))
        for metric in METRICS
    }
    files[REPORT_FILE] = json.dumps(_to_json(settings, best, seed), indent=2) + "\n"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            write_atomically(out_dir / name, content)
    except OSError as exc:
        raise Td3HerError(
            f"cannot write the report to {out_dir} ({exc.strerror}); choose another --out"
        ) from None
    plots = [out_dir / f"{metric}.png" for metric in METRICS]
    report_file = out_dir / REPORT_FILE
    return SweepReport(sweep_dir, plan, settings, best, plots, report_file, found_warnings)


def _trial_report(trial: Trial, found_warnings: list[str]) -> TrialReport:
    """A trial's state and metrics as they are on disk now.

    A corrupt trial is neither finished nor incomplete: its metrics are left out, since the
    directory they are in cannot be trusted (and `td3her sweep` cannot resume it either).
    """
    status, corruption = _status_or_corruption(trial)
    if corruption is not None:
        return TrialReport(trial.name, trial.seed, CORRUPT, 0, corruption, None)
    error_path = trial.run_dir / ERROR_FILE
    error = None
    if status.state == FINISHED:
        state = FINISHED
    elif error_path.is_file():
        state = FAILED
        lines = error_path.read_text(errors="replace").strip().splitlines()
        error = lines[-1] if lines else "crashed"
    else:
        state = PENDING if status.state == NEW else RUNNING
    run = None
    if trial.run_dir.is_dir():
        try:
            run = load_run(trial.run_dir)
        except NoMetricsError as exc:  # none yet, or no whole row yet
            found_warnings.extend(exc.warnings)
        else:
            found_warnings.extend(run.warnings)
    if state == PENDING and run is not None:
        state = RUNNING  # in its first epoch
    epochs_done = int(run.epoch.size) if run is not None else 0
    held_out = held_out_record(trial.run_dir) if state == FINISHED else None
    return TrialReport(trial.name, trial.seed, state, epochs_done, error, run, held_out)


def _status_or_corruption(trial: Trial) -> tuple[TrialStatus | None, str | None]:
    """The trial's status, or why its run directory is corrupt (naming the file and the fix).

    Corrupt: config.json or checkpoints/latest.json is not a JSON object (what `train
    --resume` and trial_status expect, checked here first), or the checkpoint it points to is
    missing or corrupt (trial_status's BROKEN).
    """
    from td3her_cli.run.checkpoint import CHECKPOINTS_DIR

    fix = f"delete {trial.run_dir} to start this trial over"
    for path, key in (
        (trial.run_dir / "config.json", None),
        (trial.run_dir / CHECKPOINTS_DIR / "latest.json", "checkpoint"),
    ):
        if not path.exists():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            return None, f"{path} is corrupt or unreadable ({exc}); {fix}"
        if not isinstance(data, dict):
            return None, f"{path} is corrupt: not a JSON object; {fix}"
        if key is not None and not isinstance(data.get(key), str):
            return None, f"{path} is corrupt: no {key!r} name; {fix}"
    try:
        status = trial_status(trial)
    except (AttributeError, TypeError, ValueError) as exc:  # a meta.json of the wrong shape
        return None, f"its latest checkpoint's meta.json is corrupt ({exc!r}); {fix}"
    if status.state == BROKEN:
        return None, status.detail  # names the fix too
    return status, None


def _setting_report(name: str, overrides: dict, trials: list[TrialReport], seed) -> SettingReport:
    runs = [t.run for t in trials if t.run is not None]
    finished = [t.run for t in trials if t.state == FINISHED and t.run is not None]
    curves: dict[str, Curve] = {}
    env_steps = np.empty(0)
    if runs:
        for metric, (_, level, _) in METRICS.items():
            x, table = _by_epoch(runs, metric) if level == "epoch" else _by_cycle(runs, metric)
            curves[metric] = Curve(x, mean_interval(table, seed))
        _, steps = _by_epoch(runs, "epoch_env_steps")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            env_steps = np.nanmean(steps, axis=0)
    held_out = [t.held_out for t in trials if t.state == FINISHED and t.held_out is not None]
    finals = [float(record["success_rate"]) for record in held_out]  # numbers: held_out_record
    final_success, final_iqm = final_intervals(np.array(finals), seed)
    final_returns = [  # a missing (null) return leaves that seed out
        value
        for value in (_number_or_none(record.get("mean_return")) for record in held_out)
        if value is not None and np.isfinite(value)
    ]
    success = curves.get("success_rate")
    area = None
    if success is not None and np.isfinite(success.interval.mean).any():
        area = float(np.nanmean(success.interval.mean))
    solved = [row["solved_epoch"] for row in summary_rows(finished)]
    return SettingReport(
        name=name,
        overrides=overrides,
        trials=trials,
        curves=curves,
        env_steps=env_steps,
        final_success=final_success,
        final_iqm=final_iqm,
        final_return=float(np.mean(final_returns)) if final_returns else None,
        area=area,
        solved_epochs=solved,
    )


def choose_best(settings: list[SettingReport]) -> str | None:
    """The setting with the highest mean final success over finished trials (ties: larger area
    under the success curve, then higher final return); None while no trial has finished."""
    ranked = [
        (
            float(s.final_success.mean[0]),
            s.area if s.area is not None else -np.inf,
            s.final_return if s.final_return is not None else -np.inf,
            -index,  # a full tie goes to the earlier setting
            s.name,
        )
        for index, s in enumerate(settings)
        if s.finished and np.isfinite(s.final_success.mean[0])
    ]
    return max(ranked)[-1] if ranked else None


def _number_or_none(value) -> float | None:
    """A JSON number as a float; None for null, an integer too long for a float, or anything
    else."""
    return float(value) if is_float_value(value) else None


def _to_json(settings: list[SettingReport], best: str | None, seed: int) -> dict:
    def numbers(array: np.ndarray) -> list:
        return [None if not np.isfinite(v) else float(v) for v in np.asarray(array, float)]

    def held_out(record: dict | None) -> dict | None:
        if record is None:
            return None
        keys = ("checkpoint", "seed", "episodes", "success_rate", "mean_return")
        return finite_or_none({key: record.get(key) for key in keys})

    data = {
        "level": LEVEL,
        "resamples": RESAMPLES,
        "method": METHOD,
        "seed": seed,
        "final": "each finished trial's last checkpoint on held-out episodes (held_out.json)",
        "best": best,
        "settings": [],
    }
    for setting in settings:
        curves = {
            metric: {
                "x": numbers(curve.x),
                "mean": numbers(curve.interval.mean),
                "low": numbers(curve.interval.low),
                "high": numbers(curve.interval.high),
                "seeds": [int(c) for c in curve.interval.count],
            }
            for metric, curve in setting.curves.items()
        }
        final, iqm = setting.final_success, setting.final_iqm
        data["settings"].append(
            {
                "name": setting.name,
                "overrides": {
                    k: list(v) if isinstance(v, tuple) else v for k, v in setting.overrides.items()
                },
                "trials": [
                    {
                        "name": t.name,
                        "seed": t.seed,
                        "state": t.state,
                        "epochs": t.epochs_done,
                        "error": t.error,
                        "held_out": held_out(t.held_out),
                    }
                    for t in setting.trials
                ],
                "final_success": {
                    "mean": numbers(final.mean)[0],
                    "low": numbers(final.low)[0],
                    "high": numbers(final.high)[0],
                    "iqm": numbers(iqm.mean)[0],
                    "iqm_low": numbers(iqm.low)[0],
                    "iqm_high": numbers(iqm.high)[0],
                    "seeds": int(final.count[0]),
                },
                "without_held_out": setting.without_held_out,
                "final_return": setting.final_return,
                "area": setting.area,
                "solved_epochs": setting.solved_epochs,
                "env_steps": numbers(setting.env_steps),
                "curves": curves,
            }
        )
    return data


# ------------------------------------------------------------------------------ figures
def _metric_figure(settings: list[SettingReport], metric: str, size) -> Figure:
    """One figure: every setting's mean curve of `metric` with its 95 % interval as a band."""
    label, level, log_y = METRICS[metric]
    figure = Figure(figsize=(size[0] / DPI, size[1] / DPI), dpi=DPI, layout="constrained")
    axes = figure.subplots()
    colors = [f"C{i % 10}" for i in range(len(settings))]
    drawn = []
    for setting, color in zip(settings, colors):
        curve = setting.curves.get(metric)
        if curve is None or not np.isfinite(curve.interval.mean).any():
            continue
        interval = curve.interval
        seeds = int(interval.count.max())
        axes.fill_between(curve.x, interval.low, interval.high, color=color, alpha=0.2, lw=0)
        marker = "." if curve.x.size <= 60 else None
        axes.plot(
            curve.x, interval.mean, color=color, marker=marker, label=f"{setting.name} (n={seeds})"
        )
        drawn.append(interval.mean[np.isfinite(interval.mean)])
    values = np.concatenate(drawn) if drawn else np.empty(0)
    if log_y and values.size and np.all(values > 0):
        axes.set_yscale("log")
    if metric == "success_rate":
        axes.set_ylim(-0.03, 1.03)
    if not drawn:
        axes.text(0.5, 0.5, "no data yet", ha="center", va="center", transform=axes.transAxes)
    axes.set_title(f"{label}: mean over seeds, {LEVEL:.0%} stratified bootstrap interval")
    axes.set_xlabel("epoch")
    axes.set_ylabel(label)
    axes.set_xlim(left=0)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(True, alpha=0.3)
    if drawn:
        axes.legend(loc="best", fontsize="small")
    return figure


# ------------------------------------------------------------------------------ tables
def setting_table(setting: SettingReport, best: bool = False) -> Table:
    """Rich table of one setting: success rate at each epoch as mean [95 % interval]."""
    mark = " (best)" if best else ""
    states = ", ".join(f"{n} {s}" for s, n in _count_states(setting.trials).items())
    if setting.without_held_out:
        states += f" ({len(setting.without_held_out)} with no held-out evaluation)"
    table = Table(title=f"{setting.name}{mark}: {states}", title_justify="left")
    for name in (
        "epoch",
        "seeds",
        "success (mean)",
        f"{LEVEL:.0%} interval",
        "mean return",
        "env steps",
    ):
        table.add_column(name, justify="right")
    success = setting.curves.get("success_rate")
    returns = setting.curves.get("mean_return")
    if success is None:
        table.add_row("-", "0", "-", "-", "-", "-")
        return table
    interval = success.interval
    for index, epoch in enumerate(success.x):
        table.add_row(
            str(int(epoch)),
            str(int(interval.count[index])),
            _percent(interval.mean[index]),
            _interval(interval.low[index], interval.high[index]),
            _number(returns.interval.mean[index], ".1f"),
            _number(setting.env_steps[index], ".0f"),
        )
    return table


def overview_table(report: SweepReport) -> Table:
    """Rich table with one row per setting: trials, final success (held-out) as mean and IQM
    with their intervals, area under the success curve, seeds solved; the best setting is
    marked."""
    table = Table(
        title="Sweep settings (final = finished trials' last checkpoints on held-out episodes)"
    )
    for name in (
        "setting",
        "finished",
        "failed",
        "held-out",
        "final success",
        f"{LEVEL:.0%} interval",
        "IQM",
        f"IQM {LEVEL:.0%} interval",
        "final return",
        "area",
        "solved (>= 95%)",
    ):
        table.add_column(name, justify="left" if name == "setting" else "right")
    for setting in report.settings:
        final, iqm = setting.final_success, setting.final_iqm
        solved = [e for e in setting.solved_epochs if e is not None]
        solved_text = f"{len(solved)}/{len(setting.solved_epochs)}" if setting.finished else "-"
        if solved:
            solved_text += f", median epoch {float(np.median(solved)):g}"
        table.add_row(
            ("* " if setting.name == report.best else "") + setting.name,
            f"{setting.finished}/{len(setting.trials)}",
            str(setting.failed),
            f"{int(final.count[0])}/{setting.finished}",
            _percent(final.mean[0]),
            _interval(final.low[0], final.high[0]),
            _percent(iqm.mean[0]),
            _interval(iqm.low[0], iqm.high[0]),
            _number(setting.final_return, ".1f"),
            _number(setting.area, ".2f"),
            solved_text,
        )
    return table


def _count_states(trials: list[TrialReport]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial.state] = counts.get(trial.state, 0) + 1
    return counts


def _percent(value) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{value:.0%}"


def _interval(low, high) -> str:
    return "-" if not np.isfinite(low) else f"{_percent(low)} - {_percent(high)}"


def _number(value, spec: str) -> str:
    return "-" if value is None or not np.isfinite(value) else format(value, spec)
