"""Learning curves from metrics.jsonl: evaluation score, actor loss and critic losses as PNGs.

This module never imports TensorFlow, so `td3her plot` works on a machine that only has the
run directories. Figures are built with matplotlib's object API (`Figure` + the Agg canvas)
rather than pyplot: no global backend switch, no figure registry to leak, safe headless.
"""

from __future__ import annotations

import io
import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from td3her_cli.config import is_count, is_float_value
from td3her_cli.errors import Td3HerError
from td3her_cli.run.metrics import METRICS_FILE, read_numbered_metrics, write_atomically
from td3her_cli.run.rundir import not_a_folder

DPI = 100  # figsize = pixels / DPI, saved at the same DPI: the PNG is exactly width x height
SUCCESS_THRESHOLD = 0.95  # "solved" in summary_rows
X_AXES = ("epoch", "env_steps")
CRITIC_COLORS = ("tab:orange", "tab:green")
# The numeric fields each row kind is plotted from; a value may be null (or NaN in old files):
# missing, e.g. no loss in a cycle that ran no update.
CYCLE_FIELDS = ("env_steps", "actor_loss", "critic1_loss", "critic2_loss")
EPOCH_FIELDS = ("env_steps", "success_rate", "mean_return", "wall_time", "train_seconds")
# Files from before strict JSON hold NaN for a loss no update gave; no other field was ever
# NaN, and none was ever infinite: such a value makes the row unusable.
OLD_NAN_FIELDS = ("actor_loss", "critic1_loss", "critic2_loss")


@dataclass(frozen=True)
class RunMetrics:
    """One run's curves, read from its metrics.jsonl.

    Epoch arrays have one entry per completed epoch (its evaluation); cycle arrays one entry
    per cycle, at x = epoch - 1 + cycle / cycles_per_epoch (so cycle C of epoch 1 sits at 1.0,
    where epoch 1's evaluation is plotted).
    """

    name: str
    epoch: np.ndarray  # [E] int, 1-based
    epoch_env_steps: np.ndarray  # [E] env steps at the end of each epoch
    success_rate: np.ndarray  # [E] deterministic evaluation success rate in [0, 1]
    mean_return: np.ndarray  # [E] deterministic evaluation mean return
    epoch_wall_time: np.ndarray  # [E] seconds of the training loop at each epoch's end
    epoch_train_seconds: np.ndarray  # [E] the same less evaluation and checkpointing (NaN: old)
    cycle_x: np.ndarray  # [K] fractional epochs
    cycle_env_steps: np.ndarray  # [K] env steps at the end of each cycle
    actor_loss: np.ndarray  # [K] mean actor loss of the cycle's updates (NaN if none)
    critic1_loss: np.ndarray  # [K]
    critic2_loss: np.ndarray  # [K]
    cycles_per_epoch: int
    env_id: str | None = None  # config.json's, if it names one
    warnings: tuple[str, ...] = ()


class NoMetricsError(Td3HerError):
    """A run has no metrics.jsonl, or no row of it can be plotted.

    `warnings` names each line that was skipped, so a caller can still show them.
    """

    def __init__(self, message: str, warnings: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.warnings = warnings


def load_run(run_dir: Path) -> RunMetrics:
    """Read RUN/metrics.jsonl into arrays.

    Args:
        run_dir: A run directory written by `td3her train`.

    Returns:
        The run's epoch-level and cycle-level curves. Lines that cannot be plotted (not whole
        JSON, as after a run killed mid-write; not a JSON object; not a cycle or epoch row
        with integer epoch and cycle and numeric fields) are skipped, each reported in
        `warnings` with the file and line. A null or NaN value is read as NaN (missing).

    Raises:
        NoMetricsError: If there is no metrics.jsonl or no row of it can be plotted.
    """
    run_dir = Path(run_dir)
    path = run_dir / METRICS_FILE
    what = not_a_folder(run_dir)
    if what is not None:
        raise NoMetricsError(f"{run_dir} {what}; pass a run directory written by `td3her train`")
    if not path.is_file():
        what = f"{path} is not a file" if path.exists() else f"{run_dir} has no {METRICS_FILE}"
        raise NoMetricsError(f"{what}; pass a run directory written by `td3her train`")
    numbered_rows, read_warnings = read_numbered_metrics(path)
    # Keyed so that a row written twice counts once, the last one winning (td3her writes each
    # once: a resume drops the rows after its checkpoint), with a warning naming both lines.
    cycles: dict[tuple[int, int], dict] = {}
    epochs: dict[int, dict] = {}
    lines: dict[tuple, int] = {}  # (kind, epoch[, cycle]) -> the line it was read from
    for number, row in numbered_rows:
        problem = _row_problem(row)
        if problem:
            read_warnings.append(f"{path}: line {number} was skipped ({problem})")
            continue
        if row["kind"] == "cycle":
            key, what = ("cycle", row["epoch"], row["cycle"]), f"cycle {row['cycle']} of epoch"
            cycles[key[1:]] = row
        else:
            key, what = ("epoch", row["epoch"]), "epoch"
            epochs[row["epoch"]] = row
        if key in lines:
            read_warnings.append(
                f"{path}: line {number} repeats {what} {row['epoch']} (line {lines[key]}); "
                "the later row is used"
            )
        lines[key] = number
    if not cycles and not epochs:
        raise NoMetricsError(
            f"{path} holds no whole metrics rows; let `td3her train` run at least one cycle",
            tuple(read_warnings),
        )
    cycle_rows = [cycles[key] for key in sorted(cycles)]
    epoch_rows = [epochs[key] for key in sorted(epochs)]
    config = _saved_config(run_dir)
    cycles_per_epoch = _cycles_per_epoch(config, cycle_rows)
    env_id = config.get("env_id")

    def column(rows_: list[dict], key: str) -> np.ndarray:
        return np.array([_number(r.get(key)) for r in rows_], dtype=np.float64)

    return RunMetrics(
        name=run_dir.resolve().name,
        epoch=np.array([r["epoch"] for r in epoch_rows], dtype=np.int64),
        epoch_env_steps=column(epoch_rows, "env_steps"),
        success_rate=column(epoch_rows, "success_rate"),
        mean_return=column(epoch_rows, "mean_return"),
        epoch_wall_time=column(epoch_rows, "wall_time"),
        epoch_train_seconds=column(epoch_rows, "train_seconds"),
        cycle_x=np.array(
            [r["epoch"] - 1 + r["cycle"] / cycles_per_epoch for r in cycle_rows], dtype=np.float64
        ),
        cycle_env_steps=column(cycle_rows, "env_steps"),
        actor_loss=column(cycle_rows, "actor_loss"),
        critic1_loss=column(cycle_rows, "critic1_loss"),
        critic2_loss=column(cycle_rows, "critic2_loss"),
        cycles_per_epoch=cycles_per_epoch,
        env_id=env_id if isinstance(env_id, str) else None,
        warnings=tuple(read_warnings),
    )


def _row_problem(row: dict) -> str | None:
    """Why a metrics row cannot be plotted, or None if it can.

    Fields we do not plot are not checked; a missing numeric field is missing data (older runs
    lack train_seconds), except the success rate an epoch row is plotted for. A NaN or infinite
    value is not data, except the NaN of a loss in a file from before strict JSON.
    """
    kind = row.get("kind")
    if kind not in ("cycle", "epoch"):
        return f"kind is {kind!r}, not 'cycle' or 'epoch'"
    keys = ("epoch", "cycle") if kind == "cycle" else ("epoch",)
    for key in keys:
        if not is_count(row.get(key)):
            return f"{key} is {_shown(row.get(key))}, not a whole number from 1 to 2**63 - 1"
    if kind == "epoch" and "success_rate" not in row:
        return "an epoch row without success_rate"
    for key in CYCLE_FIELDS if kind == "cycle" else EPOCH_FIELDS:
        value = row.get(key)
        if value is not None and not is_float_value(value):
            return f"{key} is {_shown(value)}, not a number or null"
        if isinstance(value, float) and not math.isfinite(value):  # json's NaN, Infinity
            if not (math.isnan(value) and key in OLD_NAN_FIELDS):
                return f"{key} is {json.dumps(value)}, not a finite number or null"
    return None


def _shown(value, limit: int = 40) -> str:
    """A value as a warning shows it: its repr, cut to `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _number(value) -> float:
    """A finite float, or NaN (missing) for null, NaN, infinity or an absent field."""
    number = float(value) if is_float_value(value) else float("nan")
    return number if np.isfinite(number) else float("nan")


def _saved_config(run_dir: Path) -> dict:
    """The run's config.json as a dict; empty if it is missing or not a JSON object."""
    try:
        config = json.loads((run_dir / "config.json").read_text())
    except (OSError, ValueError):
        return {}
    return config if isinstance(config, dict) else {}


def _cycles_per_epoch(config: dict, cycle_rows: list[dict]) -> int:
    """Cycles per epoch from config.json, else (or if the data saw more) the largest cycle seen.

    config.json matters while the first epoch is still running: the largest cycle seen is then
    smaller than the real count, which would stretch the first epoch's cycles.
    """
    seen = max((int(r["cycle"]) for r in cycle_rows), default=1)
    configured = config.get("cycles")
    if is_count(configured):
        return max(configured, seen)
    return max(seen, 1)


def plot_runs(
    runs: list[RunMetrics],
    out_dir: Path,
    width_px: int = 960,
    height_px: int = 600,
    x_axis: str = "epoch",
    compare: bool = False,
) -> list[Path]:
    """Write score.png, actor.png and critics.png for one run or the aggregate of several.

    Several runs are aligned by epoch index and by cycle index, truncated to the shortest run,
    and drawn as their mean with a shaded min-max band; with compare=True each run is drawn
    as its own line instead (an A/B of settings).

    Args:
        runs: Runs from `load_run`, at least one.
        out_dir: Directory for the PNGs (created if missing).
        width_px: Width of each PNG in pixels.
        height_px: Height of each PNG in pixels.
        x_axis: "epoch" (fractional epochs for per-cycle losses, with env steps on a secondary
            axis on top) or "env_steps" (mean env steps across runs at each point).

    Returns:
        The paths of the three PNGs, in the order score, actor, critics.

    Raises:
        Td3HerError: On no runs, a bad x_axis or size, or an unwritable out_dir.
    """
    if not runs:
        raise Td3HerError("no runs to plot; pass at least one run directory")
    if x_axis not in X_AXES:
        raise Td3HerError(f"x axis must be one of {', '.join(X_AXES)}, not {x_axis!r}")
    if width_px < 200 or height_px < 150:
        raise Td3HerError(f"plot size {width_px}x{height_px} is too small; use at least 200x150")
    out_dir = Path(out_dir)
    size = (width_px, height_px)
    title = runs[0].name if len(runs) == 1 else f"{len(runs)} runs"
    groups = [[run] for run in runs] if compare else [runs]
    figures = {
        "score.png": _score_figure(groups, size, x_axis, title),
        "actor.png": _loss_figure(groups, size, x_axis, f"actor loss - {title}", ("actor_loss",)),
        "critics.png": _loss_figure(
            groups,
            size,
            x_axis,
            f"critic losses - {title}",
            ("critic1_loss", "critic2_loss"),
            log_y=True,
        ),
    }
    pngs = {name: png_bytes(figure) for name, figure in figures.items()}  # drawn before out_dir
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise Td3HerError(
            f"cannot create {out_dir} ({exc.strerror}); choose another --out"
        ) from None
    paths = []
    for name, png in pngs.items():
        path = out_dir / name
        try:
            write_atomically(path, png)
        except OSError as exc:
            raise Td3HerError(
                f"cannot write {path} ({exc.strerror}); choose a writable --out"
            ) from None
        paths.append(path)
    return paths


def png_bytes(figure: Figure) -> bytes:
    """`figure` drawn as a PNG file's bytes. Drawing everything before creating a folder means
    a figure that fails to draw leaves no folder behind; write_atomically then writes it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, dpi=DPI, format="png")
    return buffer.getvalue()


def _new_figure(size: tuple[int, int], rows: int = 1) -> tuple[Figure, list]:
    """A figure of exactly size pixels with `rows` stacked axes sharing x."""
    figure = Figure(figsize=(size[0] / DPI, size[1] / DPI), dpi=DPI, layout="constrained")
    axes = figure.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    return figure, list(axes)


def _group_color(groups: list, index: int, default: str) -> str:
    """The fixed color of a curve, or one color per group when several are compared."""
    return default if len(groups) == 1 else f"C{index % 10}"


def _score_figure(groups: list[list[RunMetrics]], size, x_axis: str, title: str) -> Figure:
    """Evaluation success rate (top) and mean return (bottom) per epoch."""
    figure, (success_axes, return_axes) = _new_figure(size, rows=2)
    lengths = []
    for index, runs in enumerate(groups):
        length = min(len(run.epoch) for run in runs)
        lengths.append(length)
        x = _x_values(runs, length, x_axis, "epoch", "epoch_env_steps")
        success = [r.success_rate[:length] for r in runs]
        returns = [r.mean_return[:length] for r in runs]
        _draw_curve(success_axes, runs, x, success, _group_color(groups, index, "tab:blue"))
        _draw_curve(return_axes, runs, x, returns, _group_color(groups, index, "tab:purple"))
    success_axes.set_ylabel("eval success rate")
    success_axes.set_ylim(-0.03, 1.03)
    return_axes.set_ylabel("eval mean return")
    runs = [run for group in groups for run in group]
    if max(lengths) == 0:
        success_axes.text(
            0.5,
            0.5,
            "no evaluation yet",
            ha="center",
            va="center",
            transform=success_axes.transAxes,
        )
    _finish(figure, success_axes, return_axes, runs, x_axis, title)
    return figure


def _loss_figure(
    groups, size, x_axis: str, title: str, keys: tuple[str, ...], log_y: bool = False
) -> Figure:
    """Per-cycle losses; one curve (or mean + band) per key, and per run when compared."""
    figure, (axes,) = _new_figure(size)
    all_values = []
    for group_index, runs in enumerate(groups):
        length = min(len(run.cycle_x) for run in runs)
        x = _x_values(runs, length, x_axis, "cycle_x", "cycle_env_steps")
        # Compared runs differ by color and show their first critic only, to stay readable.
        for index, key in enumerate(keys if len(groups) == 1 else keys[:1]):
            values = [getattr(run, key)[:length] for run in runs]
            # Only points that are drawn (x known) decide the scale: log of no data fails.
            all_values.append(np.concatenate([v[np.isfinite(x)] for v in values]))
            color = "tab:red" if len(keys) == 1 else CRITIC_COLORS[index % len(CRITIC_COLORS)]
            color = _group_color(groups, group_index, color)
            prefix = key.replace("_loss", "").replace("critic", "critic ") + ": "
            prefix = prefix if len(keys) > 1 and len(groups) == 1 else ""
            _draw_curve(axes, runs, x, values, color, label_prefix=prefix)
    runs = [run for group in groups for run in group]
    finite = np.concatenate(all_values)
    finite = finite[np.isfinite(finite)]
    # Critic losses are positive and fall by orders of magnitude; the actor loss (-Q) has no sign.
    if log_y and finite.size and np.all(finite > 0):
        axes.set_yscale("log")
    axes.set_ylabel("critic loss (mean squared TD error)" if len(keys) > 1 else "actor loss (-Q)")
    _finish(figure, axes, axes, runs, x_axis, title)
    return figure


def _x_values(runs, length: int, x_axis: str, epoch_field: str, steps_field: str) -> np.ndarray:
    """X coordinates of the first `length` points: epochs of the first run, or mean env steps
    (over the runs that have them: NaN where none has)."""
    if x_axis == "env_steps":
        steps = np.array([getattr(run, steps_field)[:length] for run in runs])  # [runs, length]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN column: stays NaN
            return np.nanmean(steps, axis=0) if length else np.empty(0)
    return np.asarray(getattr(runs[0], epoch_field)[:length], dtype=np.float64)


def _draw_curve(axes, runs, x: np.ndarray, values: list[np.ndarray], color, label_prefix=""):
    """One run as a line with markers, or several as their mean with a min-max band."""
    if len(runs) == 1:
        marker = "." if x.size <= 60 else None  # markers only while they do not crowd
        axes.plot(x, values[0], color=color, marker=marker, label=f"{label_prefix}{runs[0].name}")
        return
    stacked = np.stack(values) if x.size else np.empty((len(runs), 0))  # [runs, points]
    with warnings.catch_warnings():  # all-NaN columns (cycles with no updates) stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(stacked, axis=0)
        low, high = np.nanmin(stacked, axis=0), np.nanmax(stacked, axis=0)
    axes.fill_between(x, low, high, color=color, alpha=0.25, linewidth=0)
    axes.plot(x, mean, color=color, label=f"{label_prefix}mean of {len(runs)} runs (min–max band)")


def _finish(figure: Figure, top_axes, bottom_axes, runs, x_axis: str, title: str) -> None:
    """Title, x label, grid, legend, and env steps as a secondary x axis when x is epochs."""
    top_axes.set_title(title)
    bottom_axes.set_xlabel("epoch" if x_axis == "epoch" else "env steps")
    for axes in {id(top_axes): top_axes, id(bottom_axes): bottom_axes}.values():
        axes.grid(True, alpha=0.3)
        if axes.get_legend_handles_labels()[0]:
            axes.legend(loc="best", fontsize="small")
    bottom_axes.set_xlim(left=0)  # training starts at epoch 0 / env step 0
    if x_axis == "epoch":
        bottom_axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        _add_env_steps_axis(top_axes, runs[0])


def _add_env_steps_axis(axes, run: RunMetrics) -> None:
    """Env steps on top: at up to 6 epoch ticks, the first run's env step count there.

    Env steps per epoch shrink as the agent learns (episodes end on success), so a continuous
    steps axis would crowd its first ticks; labelled epoch ticks stay readable.
    """
    if run.epoch.size == 0:
        return
    stride = max(1, int(np.ceil(run.epoch.size / 6)))
    ticks = run.epoch[::stride]
    labels = [_compact_count(steps) for steps in run.epoch_env_steps[::stride]]
    secondary = axes.secondary_xaxis("top")
    secondary.set_xticks(ticks, labels)
    secondary.set_xlabel(f"env steps at epoch end ({run.name})", fontsize="small")
    secondary.tick_params(labelsize="small")


def _compact_count(value: float) -> str:
    """12345 -> '12k', 1234567 -> '1.2M'."""
    if not np.isfinite(value):
        return "?"
    if value >= 1e6:
        return f"{value / 1e6:.1f}M"
    if value >= 1e4:
        return f"{value / 1e3:.0f}k"
    return f"{value:.0f}"


def summary_rows(runs: list[RunMetrics], threshold: float = SUCCESS_THRESHOLD) -> list[dict]:
    """One summary dict per run, for a table.

    Args:
        runs: Runs from `load_run`.
        threshold: Success rate that counts as solved.

    Returns:
        Dicts with keys name, epochs (completed), final_success_rate, best_success_rate
        (None before the first evaluation), solved_epoch (first epoch with success rate
        >= threshold, else None), solved_env_steps, solved_wall_time and solved_train_seconds
        (env steps, loop seconds, and loop seconds less evaluation and checkpointing at that
        epoch, else None) and wall_time (loop seconds at the last epoch). A value that is
        missing (null or NaN in metrics.jsonl) is None.
    """
    rows = []
    for run in runs:
        solved = np.flatnonzero(run.success_rate >= threshold)  # NaN (missing) is never solved
        first = int(solved[0]) if solved.size else None
        measured = run.success_rate[np.isfinite(run.success_rate)]
        steps = _at(run.epoch_env_steps, first)
        rows.append(
            {
                "name": run.name,
                "epochs": int(run.epoch.size),
                "final_success_rate": _at(run.success_rate, -1),
                "best_success_rate": float(measured.max()) if measured.size else None,
                "solved_epoch": int(run.epoch[first]) if first is not None else None,
                "solved_env_steps": int(steps) if steps is not None else None,
                "solved_wall_time": _at(run.epoch_wall_time, first),
                "solved_train_seconds": _at(run.epoch_train_seconds, first),
                "wall_time": _at(run.epoch_wall_time, -1),
            }
        )
    return rows


def _at(values: np.ndarray, index: int | None) -> float | None:
    """values[index], or None without an index, without epochs, or for NaN (a missing value:
    null in the file, or a field older runs lack)."""
    if index is None or not values.size or np.isnan(values[index]):
        return None
    return float(values[index])
