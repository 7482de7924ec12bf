"""Sweeps: every (setting, seed) pair of a hyperparameter grid is one `td3her train` run.

A *setting* is one combination of grid values (`critic_lr=0.0005,tau=0.05`); a *trial* is one
setting with one seed, trained by `training.train` in its own run directory:

    SWEEP/sweep.json                          the plan: base config, grid, seeds, trials
    SWEEP/critic_lr=0.0005,tau=0.05/seed0/    a `td3her train` run directory
                                              (+ error.txt with the traceback if it crashed)
        held_out.json                         its last checkpoint on held-out episodes
    SWEEP/report/                             `td3her sweep-report`: report.json, one PNG per metric

**Why plain Ray tasks, not Ray Tune.** A trial is exactly one call of `training.train`, which
already owns everything Tune would add around it: checkpoints written atomically, resume from
the latest one, metrics.jsonl, TensorBoard. A full grid with no early stopping needs none of
Tune's schedulers (ASHA, PBT) or search algorithms, and Tune's Trainable/`tune.report` API
would bring a second checkpoint and result store (`~/ray_results`, `Tuner.restore`) beside
ours, i.e. two sources of truth about which trial finished. With tasks, the run directory is
the only state: "finished" and "resume from epoch N" are read off its checkpoint metadata, the
same that `td3her train --resume` uses, so re-running the sweep command is the whole restore
story and `sweep-report` needs nothing but the directory. A task with
`num_cpus=cpus_per_trial` is all the scheduling needed; Ray packs tasks onto the local cores or
onto a cluster's nodes. `max_calls=1` gives each trial a fresh worker process, so TF thread
pools, PyBullet clients and memory never carry over from one trial to the next.

**A trial's result is its last checkpoint on held-out episodes.** Once trained, a trial
evaluates its last checkpoint on `--held-out-episodes` episodes of the held-out stream (what
`td3her evaluate RUN --latest --seed 1000 --episodes N` runs) and writes held_out.json;
`sweep-report` reports that, never an epoch evaluation (for a run that stopped itself, the
one that passed the gate: chosen on its own episodes). A finished trial without it (a sweep
from before, or one stopped during that evaluation) is evaluated when the sweep is re-run.

Ray is an optional dependency (`pip install 'td3her[sweep]'`); it is imported only by
`require_ray` and `run_sweep`, so planning, status and reports work without it.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import hashlib
import itertools
import json
import logging
import math
import re
import socket
import time
import traceback
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from td3her_cli import strict_json
from td3her_cli.config import TrainConfig
from td3her_cli.errors import CheckpointError, Td3HerError, UsageError, one_line
from td3her_cli.run.metrics import write_atomically
from td3her_cli.run.rundir import check_out_folder, not_a_folder, remove_run_files, run_lock

SWEEP_FILE = "sweep.json"
ERROR_FILE = "error.txt"
HELD_OUT_FILE = "held_out.json"
HELD_OUT_EPISODES = 100  # a trial's held-out evaluation (the sweep's --held-out-episodes)
FORMAT_VERSION = 1
BASE_SETTING = "base"  # the one setting of a sweep without a grid
INSTALL_HINT = "td3her sweep needs Ray: pip install 'td3her[sweep]'"
ADDRESS_PROBE_SECONDS = 5.0  # ray.init retries an address nothing listens at for minutes
NOT_SWEPT = {
    "seed": "use --seeds",
    "env_modules": "use --env-module",
    "extra": "it holds notes, not hyperparameters",
}
TRUE_WORDS, FALSE_WORDS = ("true", "1", "yes", "on"), ("false", "0", "no", "off")
UNSAFE_CHARACTERS = re.compile(r"[^A-Za-z0-9_.+\-]")

# Trial states, read off the run directory (see trial_status).
NEW, RESUME, FINISHED, BROKEN = "new", "resume", "finished", "broken"
# Outcomes of run_trial: trained to the end, already finished before, or crashed.
DONE, SKIPPED, FAILED = "finished", "skipped", "failed"


# ------------------------------------------------------------------------------ the plan
@dataclass(frozen=True)
class GridAxis:
    """One swept TrainConfig field and its values, in the order given."""

    field: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Trial:
    """One (setting, seed) pair: a full config and the run directory it trains in."""

    setting: str
    """The setting's name: `field=value` pairs of the grid joined by commas, or "base"."""
    overrides: dict[str, Any]
    """The grid values of this setting (field -> value)."""
    seed: int
    config: TrainConfig
    run_dir: Path

    @property
    def name(self) -> str:
        """setting/seedN, also the run directory relative to the sweep directory."""
        return f"{self.setting}/seed{self.seed}"


@dataclass(frozen=True)
class SweepPlan:
    """A whole sweep: the base config, the grid and the trials it expands to."""

    sweep_dir: Path
    base: TrainConfig
    grid: tuple[GridAxis, ...]
    seeds: tuple[int, ...]
    trials: tuple[Trial, ...]

    @property
    def settings(self) -> list[str]:
        """Setting names in grid order."""
        return list(dict.fromkeys(trial.setting for trial in self.trials))

    def identity(self) -> dict:
        """What makes two sweep commands "the same sweep": the base config without seed and
        epochs (so seeds can be added and epochs raised later) and the grid."""
        return sweep_identity(self.base, self.grid)

    def to_dict(self) -> dict:
        """The JSON of sweep.json."""
        return {
            "format_version": FORMAT_VERSION,
            "identity": self.identity(),
            "base_config": self.base.to_dict(),
            "grid": [
                {"field": a.field, "values": [_jsonable(v) for v in a.values]} for a in self.grid
            ],
            "seeds": list(self.seeds),
            "trials": [
                {
                    "name": t.name,
                    "setting": t.setting,
                    "seed": t.seed,
                    "overrides": {k: _jsonable(v) for k, v in t.overrides.items()},
                }
                for t in self.trials
            ],
        }


def parse_grid(specs: list[str], base: TrainConfig, option: str = "--grid") -> tuple[GridAxis, ...]:
    """Parse `--grid critic-lr=5e-4,1e-3` options into axes of typed, validated values.

    Args:
        specs: One `FIELD=V1,V2,...` string per axis; FIELD is a TrainConfig field, with dashes
            or underscores. Tuple fields (hidden) write one value as 64x64.
        base: The config the values are checked against (each value through TrainConfig's own
            validation, so the message is the one `td3her train` would give).
        option: The option name for messages.

    Returns:
        The axes, in the order given.

    Raises:
        UsageError: On a malformed spec, an unknown or unsweepable field, a field given twice,
            a value of the wrong type or out of range, or a value repeated within an axis.
    """
    axes: list[GridAxis] = []
    for spec in specs:
        name, texts = _split_assignment(spec, option)
        if any(axis.field == name for axis in axes):
            raise UsageError(f"{option} {_dashed(name)} is given twice; list all its values once")
        values = tuple(parse_value(name, text, base, f"{option} {spec}") for text in texts)
        repeated = [v for i, v in enumerate(values) if v in values[:i]]
        if repeated:
            raise UsageError(
                f"{option} {spec}: value {_format_value(repeated[0])} is listed twice; "
                "each setting must differ"
            )
        axes.append(GridAxis(name, values))
    return tuple(axes)


def parse_overrides(specs: list[str], base: TrainConfig, option: str = "--set") -> dict[str, Any]:
    """Parse `--set epochs=5` options (one value each) into {field: typed value}."""
    overrides: dict[str, Any] = {}
    for spec in specs:
        name, texts = _split_assignment(spec, option)
        if len(texts) != 1:
            raise UsageError(
                f"{option} {spec}: takes one value (use --grid to sweep several; "
                "write tuple values like hidden=64x64)"
            )
        if name in overrides:
            raise UsageError(f"{option} {_dashed(name)} is given twice")
        overrides[name] = parse_value(name, texts[0], base, f"{option} {spec}")
    return overrides


def parse_value(name: str, text: str, base: TrainConfig, context: str) -> Any:
    """`text` as the type of TrainConfig field `name`, checked by TrainConfig's validation."""
    kind = _field_types()[name]
    text = text.strip()
    try:
        if kind is bool:
            if text.lower() not in TRUE_WORDS + FALSE_WORDS:
                raise ValueError
            value: Any = text.lower() in TRUE_WORDS
        elif kind is int:
            value = _integer(text)
        elif kind is float:
            value = float(text)
        elif kind is str:
            if not text:
                raise ValueError
            value = text
        else:  # tuple[int, ...]: layer widths written as 64x64
            value = tuple(_integer(part) for part in text.split("x"))
    except ValueError:
        expected = {bool: "true or false", int: "an integer", float: "a number", str: "a word"}
        raise UsageError(
            f"{context}: {text!r} is not {expected.get(kind, 'integers joined by x, e.g. 64x64')}"
        ) from None
    try:
        base.replace(**{name: value})
    except UsageError as exc:
        raise UsageError(f"{context}: {exc}") from None
    return value


def plan_sweep(
    base: TrainConfig, grid: tuple[GridAxis, ...], seeds: int, sweep_dir: Path
) -> SweepPlan:
    """Expand base config x grid x seeds 0..seeds-1 into trials.

    Trials are ordered seed-major (seed 0 of every setting first), so a sweep that is stopped
    early has covered every setting.

    Raises:
        UsageError: If seeds < 1, or a combination of values is invalid as a whole (e.g. a
            batch larger than the buffer), or two settings would share a directory name.
    """
    if seeds < 1:
        raise UsageError(f"--seeds must be >= 1, got {seeds}")
    sweep_dir = Path(sweep_dir).absolute()  # Ray workers may run in another directory
    combinations = list(itertools.product(*(axis.values for axis in grid)))
    settings: list[tuple[str, dict[str, Any]]] = []
    for values in combinations:
        overrides = {axis.field: value for axis, value in zip(grid, values)}
        name = setting_name(overrides)
        if any(name == other for other, _ in settings):
            raise UsageError(f"--grid values give two settings the directory name {name!r}")
        settings.append((name, overrides))
    trials = []
    for seed in range(seeds):
        for name, overrides in settings:
            extra = {**base.extra, "sweep_setting": name}
            try:
                config = base.replace(seed=seed, extra=extra, **overrides)
            except UsageError as exc:
                raise UsageError(f"setting {name}: {exc}") from None
            trials.append(Trial(name, overrides, seed, config, sweep_dir / name / f"seed{seed}"))
    return SweepPlan(sweep_dir, base, tuple(grid), tuple(range(seeds)), tuple(trials))


def setting_name(overrides: dict[str, Any]) -> str:
    """`critic_lr=0.0005,tau=0.05` for those overrides; "base" for none. Safe as a directory
    name: characters outside letters, digits and `_.+-` become `_`."""
    if not overrides:
        return BASE_SETTING
    return ",".join(f"{key}={_safe(_format_value(value))}" for key, value in overrides.items())


def sweep_identity(base: TrainConfig, grid: tuple[GridAxis, ...]) -> dict:
    """The JSON that must match for a re-run to continue a sweep: the grid, and the base
    config's fields that differ from TrainConfig's defaults, seed and epochs excluded (so a
    field td3her adds later, at its default, leaves a sweep's identity and directory as
    they were)."""
    defaults = _default_config_json()
    config = {
        key: value
        for key, value in _normalised(base.to_dict()).items()
        if key not in ("seed", "epochs") and value != defaults.get(key)
    }
    grid_json = [{"field": a.field, "values": [_jsonable(v) for v in a.values]} for a in grid]
    return _normalised({"config": config, "grid": grid_json})


def _normalised(data: dict) -> dict:
    """`data` as it reads back from JSON (tuples as lists, keys sorted)."""
    return json.loads(json.dumps(data, sort_keys=True))


def _default_config_json() -> dict:
    return _normalised(TrainConfig().to_dict())


def default_sweep_dir(base: TrainConfig, grid: tuple[GridAxis, ...]) -> Path:
    """sweeps/ENV-HASH: the same for the same sweep, so re-running the command continues it."""
    digest = hashlib.sha256(
        json.dumps(sweep_identity(base, grid), sort_keys=True).encode()
    ).hexdigest()
    return Path("sweeps") / f"{_safe(base.env_id)}-{digest[:8]}"


def prepare_sweep_dir(plan: SweepPlan) -> None:
    """Create the sweep directory and write sweep.json, refusing a directory that holds a
    different sweep (or anything else).

    Raises:
        UsageError: If the directory holds another sweep or non-sweep files, or is not writable.
    """
    path = plan.sweep_dir / SWEEP_FILE
    check_out_folder(plan.sweep_dir)
    if path.exists():
        saved = _read_sweep_file(plan.sweep_dir)
        difference = _first_difference(saved.get("identity", {}), plan.identity())
        if difference:
            raise UsageError(
                f"{plan.sweep_dir} holds a different sweep ({difference}); re-run that sweep's "
                "command to continue it, or choose another --out"
            )
    elif plan.sweep_dir.exists() and (not plan.sweep_dir.is_dir() or any(plan.sweep_dir.iterdir())):
        raise UsageError(
            f"{plan.sweep_dir} exists and is not a td3her sweep (no {SWEEP_FILE}); "
            "choose another --out"
        )
    try:
        plan.sweep_dir.mkdir(parents=True, exist_ok=True)
        write_atomically(path, strict_json.dumps(plan.to_dict(), indent=2, sort_keys=True) + "\n")
    except OSError as exc:
        raise UsageError(
            f"cannot write sweep directory {plan.sweep_dir} ({exc.strerror}); choose another --out"
        ) from None


def load_plan(sweep_dir: Path) -> SweepPlan:
    """The plan recorded in SWEEP/sweep.json.

    Raises:
        Td3HerError: If there is no readable sweep.json.
    """
    sweep_dir = Path(sweep_dir)
    saved = _read_sweep_file(sweep_dir)
    try:
        base = TrainConfig.from_dict(saved["base_config"])
        grid = tuple(
            GridAxis(axis["field"], tuple(_from_json(v) for v in axis["values"]))
            for axis in saved["grid"]
        )
        return plan_sweep(base, grid, len(saved["seeds"]), sweep_dir)
    except (KeyError, TypeError, ValueError, UsageError) as exc:
        cause = exc if isinstance(exc, UsageError) else repr(exc)
        raise Td3HerError(f"{sweep_dir / SWEEP_FILE} is corrupt ({cause})") from None


def _read_sweep_file(sweep_dir: Path) -> dict:
    path = Path(sweep_dir) / SWEEP_FILE
    what = not_a_folder(Path(sweep_dir))
    if what is not None:
        raise Td3HerError(f"{sweep_dir} {what}; give a directory written by `td3her sweep`")
    if not path.is_file():
        raise Td3HerError(
            f"{sweep_dir} has no {SWEEP_FILE}; give a directory written by `td3her sweep`"
        )
    try:
        saved = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Td3HerError(f"{path} is corrupt or unreadable ({exc})") from None
    version = saved.get("format_version", 0) if isinstance(saved, dict) else None
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise Td3HerError(f"{path} is not a sweep file this td3her reads; upgrade td3her")
    return saved


# ------------------------------------------------------------------------------ trials
@dataclass(frozen=True)
class TrialStatus:
    """Where a trial's run directory stands."""

    state: str
    """new (no checkpoint), resume (a checkpoint before the last epoch), finished, or broken
    (the latest checkpoint cannot be read)."""
    epoch: int = 0
    """Complete epochs in the latest checkpoint."""
    detail: str = ""


def trial_status(trial: Trial) -> TrialStatus:
    """Read the trial's state off its latest checkpoint (the one `train --resume` would use).

    Finished means the latest checkpoint is an epoch's end at or past config.epochs.
    """
    from td3her_cli.run.checkpoint import CHECKPOINTS_DIR, resolve_checkpoint

    if not (trial.run_dir / CHECKPOINTS_DIR / "latest.json").is_file():
        return TrialStatus(NEW)
    try:
        info = resolve_checkpoint(trial.run_dir, latest=True)
    except CheckpointError as exc:
        return TrialStatus(BROKEN, detail=f"{exc}; delete {trial.run_dir} to start this trial over")
    epoch = int(info.meta.get("epoch", 0))
    if info.meta.get("solved") or (epoch >= trial.config.epochs and info.meta.get("cycle", 0) == 0):
        return TrialStatus(FINISHED, epoch)
    return TrialStatus(RESUME, epoch)


@dataclass(frozen=True)
class TrialOutcome:
    """What became of one trial in one sweep run."""

    name: str
    setting: str
    seed: int
    status: str
    """finished (trained to the end, or only evaluated, now), skipped (finished before) or
    failed."""
    resumed_from_epoch: int | None = None
    """The checkpoint's epoch when the trial continued an earlier run, else None."""
    seconds: float = 0.0
    final_success_rate: float | None = None
    """The last checkpoint's success on the held-out episodes (held_out.json)."""
    held_out_episodes: int | None = None
    evaluated_only: bool = False
    """Finished training before; only its held-out evaluation ran now."""
    error: str | None = None
    """One line: the exception (details in RUN/error.txt)."""


def run_trial(
    trial: Trial,
    keep: int | None = None,
    save_buffer: bool = True,
    tensorboard: bool = True,
    threads: int | None = None,
    held_out_episodes: int = HELD_OUT_EPISODES,
) -> TrialOutcome:
    """Train one trial to config.epochs (start it, or continue it from its latest
    checkpoint), then evaluate its last checkpoint on held-out episodes (held_out.json). A
    finished trial is skipped, or only evaluated if it has no held_out.json for that
    checkpoint. Any exception becomes a failed outcome (and RUN/error.txt).

    This is the Ray task body, and plain Python too (tests call it in-process).

    Args:
        trial: The trial.
        keep, save_buffer, tensorboard: As for `training.train`.
        threads: Cap TensorFlow's thread pools at this many threads (a fresh process only).
        held_out_episodes: Episodes of the held-out evaluation.
    """
    start = time.perf_counter()

    def outcome(status: str, **values) -> TrialOutcome:
        seconds = time.perf_counter() - start
        return TrialOutcome(
            trial.name, trial.setting, trial.seed, status, seconds=seconds, **values
        )

    status = trial_status(trial)
    if status.state == FINISHED and held_out_record(trial.run_dir) is not None:
        return outcome(SKIPPED)
    error_path = trial.run_dir / ERROR_FILE
    held_out = None
    try:
        if status.state == BROKEN:
            raise CheckpointError(status.detail)
        trial.run_dir.mkdir(parents=True, exist_ok=True)
        with run_lock(trial.run_dir, "td3her sweep trial"):
            if status.state == NEW:  # e.g. crashed in its first epoch: start clean
                remove_run_files(trial.run_dir)
            error_path.unlink(missing_ok=True)
            (trial.run_dir / HELD_OUT_FILE).unlink(missing_ok=True)  # of an earlier checkpoint
            from td3her_cli.quiet import import_tensorflow

            import_tensorflow(threads)
            if status.state != FINISHED:
                from td3her_cli.run.training import train

                train(
                    trial.config,
                    trial.run_dir,
                    resume=status.state == RESUME,
                    keep=keep,
                    save_buffer=save_buffer,
                    tensorboard=tensorboard,
                )
            if trial_status(trial).state == FINISHED:
                held_out = evaluate_held_out(trial, held_out_episodes)
    except Exception as exc:  # noqa: BLE001 - a crashing trial is reported; the others go on
        with contextlib.suppress(OSError):
            trial.run_dir.mkdir(parents=True, exist_ok=True)
            write_atomically(error_path, traceback.format_exc())
        return outcome(FAILED, error=one_line(exc))
    resumed = status.epoch if status.state in (RESUME, FINISHED) else None
    return outcome(
        DONE,
        resumed_from_epoch=resumed,
        final_success_rate=held_out["success_rate"] if held_out else None,
        held_out_episodes=held_out["episodes"] if held_out else None,
        evaluated_only=status.state == FINISHED,
    )


def evaluate_held_out(trial: Trial, episodes: int = HELD_OUT_EPISODES) -> dict:
    """Evaluate the trial's latest checkpoint on `episodes` held-out episodes, the ones
    `td3her evaluate RUN --latest --seed 1000 --episodes N` runs, and write RUN/held_out.json
    (atomically); returns its record. To cap TensorFlow's thread pools, import it first
    (import_tensorflow(threads), as run_trial does)."""
    from td3her_cli.envs.rollout import HELD_OUT_SEED
    from td3her_cli.run.checkpoint import resolve_checkpoint
    from td3her_cli.run.evaluation import evaluate_checkpoint

    info = resolve_checkpoint(trial.run_dir, latest=True)
    evaluation = evaluate_checkpoint(info, episodes, HELD_OUT_SEED)
    record = {
        "checkpoint": info.path.name,
        "env_id": evaluation.env_id,
        "seed": evaluation.seed,
        **evaluation.result.to_dict(),
        "command": f"td3her evaluate RUN --latest --seed {HELD_OUT_SEED} --episodes {episodes}",
    }
    write_atomically(
        trial.run_dir / HELD_OUT_FILE, strict_json.dumps(record, indent=2, sort_keys=True) + "\n"
    )
    return record


def held_out_record(run_dir: Path) -> dict | None:
    """RUN/held_out.json if it is whole and evaluated the checkpoint latest.json names now;
    None otherwise (none yet, a sweep from before held-out evaluations, unreadable, or of an
    earlier checkpoint)."""
    from td3her_cli.run.checkpoint import CHECKPOINTS_DIR

    try:
        record = json.loads((Path(run_dir) / HELD_OUT_FILE).read_text(encoding="utf-8"))
        latest = json.loads(
            (Path(run_dir) / CHECKPOINTS_DIR / "latest.json").read_text(encoding="utf-8")
        )
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(record, dict) or not isinstance(latest, dict):
        return None
    numbers = [record.get(key) for key in ("success_rate", "episodes")]
    if not all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in numbers):
        return None
    if not math.isfinite(numbers[0]):  # e.g. a NaN token
        return None
    if record.get("checkpoint") != latest.get("checkpoint"):
        return None
    return record


# ------------------------------------------------------------------------------ Ray
@dataclass
class SweepResult:
    """Every trial's outcome, in the order they ended, and the CPUs Ray offered."""

    plan: SweepPlan
    outcomes: list[TrialOutcome] = field(default_factory=list)
    cluster_cpus: float = 0.0

    @property
    def failed(self) -> list[TrialOutcome]:
        """The outcomes of trials that crashed."""
        return [o for o in self.outcomes if o.status == FAILED]


def require_ray():
    """Import Ray, or raise UsageError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    return ray


def run_sweep(
    plan: SweepPlan,
    address: str | None = None,
    cpus_per_trial: float = 1.0,
    keep: int | None = None,
    save_buffer: bool = True,
    tensorboard: bool = True,
    on_start: Callable[[dict[str, TrialStatus], float], None] | None = None,
    on_trial_end: Callable[[TrialOutcome], None] | None = None,
    held_out_episodes: int = HELD_OUT_EPISODES,
) -> SweepResult:
    """Run every unfinished trial of the plan as a Ray task; finished ones are skipped (a
    finished trial without its held-out evaluation runs that only).

    If Ray is not initialised yet, it is started for the call: locally with all this machine's
    cores (address None), or joining a cluster ("auto", "HOST:PORT" or "ray://HOST:10001"),
    and shut down after. A Ray already initialised by the caller is used as it is. The sweep
    directory must be one path that every node sees (a shared filesystem on a cluster), and
    every node needs td3her installed.

    Args:
        plan: From plan_sweep; prepare_sweep_dir should have written it.
        address: Ray address to join, or None to start Ray locally.
        cpus_per_trial: CPUs Ray reserves for each trial (TF is capped at as many threads).
        keep, save_buffer, tensorboard: As for `training.train`.
        on_start: Called once with every trial's status and the cluster's CPUs.
        on_trial_end: Called as each trial ends (skipped ones first).
        held_out_episodes: Episodes of each trial's held-out evaluation.

    Raises:
        UsageError: Without Ray, on an unreachable address, or cpus_per_trial larger than the
            cluster.
    """
    ray = require_ray()
    started_here = not ray.is_initialized()
    if started_here:
        _init_ray(ray, address)
    result = SweepResult(plan)

    def report(outcome: TrialOutcome) -> None:
        result.outcomes.append(outcome)
        if on_trial_end is not None:
            on_trial_end(outcome)

    try:
        result.cluster_cpus = float(ray.cluster_resources().get("CPU", 0.0))
        if cpus_per_trial > result.cluster_cpus:
            raise UsageError(
                f"--cpus-per-trial {cpus_per_trial:g} is more than the {result.cluster_cpus:g} "
                "CPUs of the Ray cluster; lower it"
            )
        statuses = {trial.name: trial_status(trial) for trial in plan.trials}
        if on_start is not None:
            on_start(statuses, result.cluster_cpus)
        skipped = {
            trial.name
            for trial in plan.trials
            if statuses[trial.name].state == FINISHED and held_out_record(trial.run_dir)
        }
        for trial in plan.trials:
            if trial.name in skipped:
                report(TrialOutcome(trial.name, trial.setting, trial.seed, SKIPPED))
        task = ray.remote(num_cpus=cpus_per_trial, max_calls=1, max_retries=0)(run_trial)
        threads = max(1, round(cpus_per_trial))
        pending = {
            task.remote(trial, keep, save_buffer, tensorboard, threads, held_out_episodes): trial
            for trial in plan.trials
            if trial.name not in skipped
        }
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
                for ref in done:
                    trial = pending.pop(ref)
                    try:
                        outcome = ray.get(ref)
                    except ray.exceptions.RayError as exc:  # the worker died (OOM, segfault)
                        outcome = TrialOutcome(
                            trial.name, trial.setting, trial.seed, FAILED, error=one_line(exc)
                        )
                    report(outcome)
        except KeyboardInterrupt:  # checkpoints are atomic: a re-run resumes from them
            for ref in pending:
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)
            raise
    finally:
        if started_here:
            ray.shutdown()
    return result


def check_ray_address(address: str, timeout: float = ADDRESS_PROBE_SECONDS) -> None:
    """Raise UsageError unless something listens at the HOST:PORT of a Ray address
    ("HOST:PORT" or "ray://HOST:PORT") within `timeout` seconds: ray.init retries an address
    nothing listens at for minutes, deaf to SIGTERM. Other addresses ("auto") go to Ray as
    they are."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    host = host.strip("[]")  # [::1]:6379
    if not sep or not host or not port.isdigit():
        return
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as exc:  # refused, no route, unknown host, or nothing within `timeout`
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise UsageError(
            f"cannot reach a Ray cluster at --address {address} ({reason}); start one there "
            "(`ray start --head`) or drop --address to run the sweep on this machine's cores"
        ) from None


def _init_ray(ray, address: str | None) -> None:
    """Start Ray locally (address None; "local" so that a running `ray start` cluster is not
    joined by accident) or join the cluster at `address`."""
    kwargs: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    if address is None:
        kwargs["include_dashboard"] = False
    else:
        check_ray_address(address)
    try:
        ray.init(address=address or "local", **kwargs)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        where = f"--address {address}" if address else "a local Ray"
        raise UsageError(f"cannot start or join {where} ({one_line(exc)})") from None


# ------------------------------------------------------------------------------ helpers
def _split_assignment(spec: str, option: str) -> tuple[str, list[str]]:
    """FIELD=V1,V2 -> (field name, ["V1", "V2"]) with the name checked."""
    name, sep, values = spec.partition("=")
    texts = values.split(",") if sep else []
    if not sep or not name.strip() or not all(t.strip() for t in texts):
        raise UsageError(
            f"{option} must look like NAME=VALUE[,VALUE...], e.g. critic-lr=5e-4,1e-3; got {spec!r}"
        )
    name = name.strip().replace("-", "_")
    types = _field_types()
    if name in NOT_SWEPT:
        raise UsageError(f"{option} cannot set {_dashed(name)}: {NOT_SWEPT[name]}")
    if name not in types:
        close = difflib.get_close_matches(name, list(types), n=1)
        hint = f"; did you mean {_dashed(close[0])}?" if close else "; see `td3her train --help`"
        raise UsageError(f"{option}: unknown hyperparameter {_dashed(name)!r}{hint}")
    return name, texts


@functools.cache
def _field_types() -> dict[str, type]:
    """TrainConfig field -> its type: bool, int, float, str or tuple[int, ...] (hidden)."""
    hints = typing.get_type_hints(TrainConfig)
    return {
        name: (tuple if typing.get_origin(kind) is tuple else kind) for name, kind in hints.items()
    }


def _integer(text: str) -> int:
    """An int from '1000' or '1e6' (a float written for an integral value)."""
    try:
        return int(text)
    except ValueError:
        number = float(text)
        if not number.is_integer():
            raise
        return int(number)


def _format_value(value: Any) -> str:
    """A value as written in setting names: 0.0005, 64x64, true."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    return repr(value) if isinstance(value, float) else str(value)


def _safe(text: str) -> str:
    """Characters that do not belong in a directory name become _ (e.g. the / of ALE/Pong)."""
    return UNSAFE_CHARACTERS.sub("_", text)


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _from_json(value: Any) -> Any:
    """A grid value read back from JSON (lists become tuples again)."""
    return tuple(value) if isinstance(value, list) else value


def _dashed(name: str) -> str:
    return name.replace("_", "-")


def _first_difference(saved: dict, current: dict) -> str:
    """'critic_lr: 0.0005 then, 0.001 now' for the first differing key, or '' if equal; a
    key one side lacks has its default (identities list only fields away from it; older
    ones listed every field)."""
    saved_config, current_config = saved.get("config", {}), current.get("config", {})
    defaults = _default_config_json()
    for key in sorted(set(saved_config) | set(current_config)):
        then = saved_config.get(key, defaults.get(key))
        now = current_config.get(key, defaults.get(key))
        if then != now:
            return f"{key}: {then} then, {now} now"
    if saved.get("grid") != current.get("grid"):
        return "its --grid differs"
    return ""
