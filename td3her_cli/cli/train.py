"""`td3her train`: options -> TrainConfig and a run directory -> run.training.train -> summary.

The hyperparameter options come from TrainConfig's fields (cli/options.py); the ones declared
here are about the command itself: the preset, where the run is written, and how.
"""

from __future__ import annotations

import contextlib
import json
import signal
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from td3her_cli.cli.common import config_for_env, stderr, warn
from td3her_cli.cli.options import config_values, with_config_options
from td3her_cli.config import ENVIRONMENT, TrainConfig, field_flag
from td3her_cli.envs.rollout import HELD_OUT_EPISODES, HELD_OUT_SEED
from td3her_cli.errors import Interrupted, NoCheckpointError, RunInUseError, UsageError
from td3her_cli.presets import load_presets, preset_values
from td3her_cli.report.display import make_console
from td3her_cli.run.metrics import METRICS_FILE, write_atomically
from td3her_cli.run.rundir import (
    CONFIG_FILE,
    check_new_run_dir,
    create_run_dir,
    not_a_folder,
    remove_created,
    remove_run_files,
    run_lock,
)

OUTPUT = "Output"  # the --help panel of the options on where and how the run is written


def _option(help_text: str, panel: str, **kwargs):
    """A Typer option of `train` listed in `panel`, its default said in its help text."""
    return typer.Option(help=help_text, rich_help_panel=panel, show_default=False, **kwargs)


@with_config_options(after="preset")
def train(
    preset: Annotated[
        str | None,
        _option(
            f"Named option bundle: {', '.join(load_presets())} "
            "(default: the env's own, e.g. push for PandaPush-v3, else original); options "
            "override.",
            ENVIRONMENT,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        _option("Run directory (default: checkpoints/ENV-seedS-TIME).", OUTPUT),
    ] = None,
    force: Annotated[
        bool, _option("Allow --out to be an existing, non-empty directory.", OUTPUT)
    ] = False,
    resume: Annotated[
        Path | None,
        _option(
            "Continue RUN from its latest checkpoint (only --epochs and --max-env-steps may "
            "change).",
            OUTPUT,
        ),
    ] = None,
    keep: Annotated[
        int | None,
        _option(
            "Checkpoints to keep besides best (default: 3; a resume: the run's own).",
            OUTPUT,
            min=1,
        ),
    ] = None,
    save_buffer: Annotated[
        bool,
        _option(
            "Save the replay buffer in the newest checkpoint, for an exact resume (default: on).",
            OUTPUT,
        ),
    ] = True,
    tensorboard: Annotated[
        bool, _option("Write TensorBoard scalars to RUN/tb/ (default: on).", OUTPUT)
    ] = True,
    threads: Annotated[
        int | None,
        _option(
            "Threads per TensorFlow pool (default 0: TensorFlow's choice, all cores; a resume: "
            "the run's own); 1 lets two runs share two cores.",
            OUTPUT,
            min=0,
        ),
    ] = None,
    **options: Any,
) -> None:
    """Train a TD3 + HER agent; writes config.json and metrics.jsonl into the run directory."""
    given = config_values(options)
    created: list[Path] = []  # folders this command made, removed again if setup fails
    fresh = False  # a new or empty run directory: a start that fails leaves it so again
    if resume is not None:
        if out is not None:
            raise UsageError("--resume RUN continues in RUN; drop --out")
        if force:
            raise UsageError(
                "--resume RUN continues RUN; drop --force (to start RUN over: --out RUN --force)"
            )
        config, run_dir, done = resume_config(resume, given, preset)
        if config.epochs <= done:  # before anything is written: config.json stays as it is
            make_console().print(
                f"{run_dir} has trained {done} epochs already (--epochs {config.epochs}): "
                f"nothing to do; give --epochs above {done} to train longer",
                soft_wrap=True,
            )
            return
    else:
        config = config_for_env(new_config(preset, given), given)  # before any writing
        run_dir = out if out is not None else default_run_dir(config)
        check_new_run_dir(run_dir, force)
        fresh = not run_dir.is_dir() or not any(run_dir.iterdir())
        created = create_run_dir(run_dir)
    threads, config = with_threads(config, threads, run_dir)

    console = make_console()
    stop = StopFlag()
    try:
        with run_lock(run_dir):
            if resume is None:
                # Written first (in place of a replaced run's, atomically): from now on the
                # directory is recognisably a td3her run, so a failed start can be retried.
                write_start_config(run_dir, config)
                if force:  # a fresh run must not inherit an earlier run's checkpoints or curves
                    remove_run_files(run_dir, keep=(CONFIG_FILE,))
            result = _run_training(
                config,
                run_dir,
                console,
                stop,
                resume is not None,
                keep,
                save_buffer,
                tensorboard,
                threads,
            )
    except RunInUseError:  # the other process's run: nothing here is this command's
        raise
    except BaseException:
        if fresh and not _has_metrics(run_dir):  # failed while setting up: leave nothing
            remove_created(created, run_dir)
        raise
    show_result(console, config, result)
    if stop.signal_number is not None and result.interrupted:  # a finished run exits 0
        stderr.print(
            f"stopped by signal {stop.signal_number} after saving {result.last_checkpoint}; "
            f"resume with: td3her train --resume {result.run_dir}",
            soft_wrap=True,
            highlight=False,
        )
        raise typer.Exit(128 + stop.signal_number)


def new_config(preset: str | None, given: dict[str, Any]) -> TrainConfig:
    """A new run's config: the preset (given, or the env's own), then the options given."""
    from td3her_cli.presets import choose_preset

    name, for_env = choose_preset(preset, given.get("env_id"))  # Push gets `push`, not Reach's
    values = {**preset_values(name), **given}
    extra = {"preset": name, **({"preset_picked_for_env": True} if for_env else {})}
    return TrainConfig(**values, extra=extra)


def with_threads(
    config: TrainConfig, threads: int | None, run_dir: Path
) -> tuple[int, TrainConfig]:
    """The --threads to train with (given; else the run's own, recorded in its config; else 0)
    and the config that records it, for a later resume without --threads. UsageError for a
    recorded value that is not a count, when --threads does not replace it."""
    if threads is None:
        recorded = config.extra.get("threads", 0)
        if isinstance(recorded, bool) or not isinstance(recorded, int) or recorded < 0:
            raise UsageError(
                f"{run_dir / CONFIG_FILE} records threads {json.dumps(recorded)}, not a count "
                "of 0 or more; give --threads N (0: TensorFlow's choice)"
            )
        threads = recorded
    return threads, config.replace(extra={**config.extra, "threads": threads})


def show_result(console, config: TrainConfig, result) -> None:
    """The summary after training: where the run is, whether any update ran, its best,
    whether it stopped solved, and the command that tests it on held-out episodes."""
    console.print(f"run directory: {result.run_dir}  ({result.wall_time:.0f}s training)")
    if result.last_checkpoint is not None:
        console.print(f"last checkpoint: {result.last_checkpoint}")
    last = result.epochs[-1] if result.epochs else None
    starved = config.optimization_steps > 0 and last is not None and last.opt_steps == 0
    if starved and last.env_steps < config.batch_size:
        console.print(
            f"no updates ran: the replay buffer never held --batch-size {config.batch_size} "
            "transitions; train longer or lower --batch-size",
            soft_wrap=True,
            highlight=False,
        )
    best_line, held_out_line = best_and_held_out_lines(result.run_dir)
    if best_line is not None:
        console.print(best_line, soft_wrap=True, highlight=False, markup=False)
    if result.solved_epoch is not None:
        check = result.solved_check
        confirmed = (
            f", and {check.success_rate:.0%} on {check.episodes} stop-check episodes"
            if check is not None
            else ""
        )
        console.print(
            f"solved: evaluation success >= {config.stop_gate_success:.0%} in "
            f"{config.stop_patience} epoch(s) in a row{confirmed}, at epoch "
            f"{result.solved_epoch} of {config.epochs}; stopped early (--stop-at-success)",
            soft_wrap=True,
            highlight=False,
        )
        console.print(
            "the episodes that stopped the run chose its last checkpoint, so held-out ones tend "
            "to score a little lower",
            soft_wrap=True,
            highlight=False,
        )
    if result.budget_end is not None:
        epoch, steps = result.budget_end
        console.print(
            f"ended at epoch {epoch} of {config.epochs}, {steps} env steps: another epoch could "
            f"pass --max-env-steps {config.max_env_steps}",
            soft_wrap=True,
            highlight=False,
        )
    if result.last_checkpoint is not None and not result.interrupted:
        console.print(held_out_line, soft_wrap=True, highlight=False, markup=False)


def best_and_held_out_lines(run_dir: Path) -> tuple[str | None, str]:
    """The train summary's line on best.json (its selection score, labelled as such; None
    without a best.json) and the line giving the held-out test that measures the run."""
    from td3her_cli.run.best import selection_line
    from td3her_cli.run.checkpoint import read_best

    best = read_best(run_dir)
    command = (
        f"td3her evaluate {run_dir} --latest --seed {HELD_OUT_SEED} --episodes {HELD_OUT_EPISODES}"
    )
    return (
        selection_line(best) if best is not None else None,
        f"held-out test of the last checkpoint (drop --latest for best): {command}",
    )


def _run_training(config, run_dir, console, stop, resume, keep, save_buffer, tensorboard, threads):
    """training.train with the Rich display and the stop flag; the TrainResult."""
    from td3her_cli.quiet import import_tensorflow

    import_tensorflow(threads)
    from td3her_cli.report.display import TrainingDisplay
    from td3her_cli.run.training import train as run_training

    display = TrainingDisplay(console)
    with stop.installed():
        try:
            result = run_training(
                config,
                run_dir,
                display,
                should_stop=stop,
                resume=resume,
                keep=keep,
                save_buffer=save_buffer,
                tensorboard=tensorboard,
            )
        except KeyboardInterrupt:  # a second Ctrl-C: stop now, without a checkpoint
            raise Interrupted(
                "interrupted again: stopped at once without saving the cycle under way; the "
                f"last complete checkpoint is intact; resume with: td3her train --resume {run_dir}"
            ) from None
        finally:
            display.close()
    if display.epochs:
        console.print(display.summary_table())
    return result


def write_start_config(run_dir: Path, config: TrainConfig) -> None:
    """Write a new run's config.json atomically; UsageError (as for an unwritable --out) when
    it cannot be written, e.g. on a full disk."""
    try:
        write_atomically(run_dir / CONFIG_FILE, config.to_json() + "\n")
    except OSError as exc:
        raise UsageError(
            f"cannot write {run_dir / CONFIG_FILE} ({exc.strerror or exc}); free some space or "
            "choose another --out"
        ) from None


def _has_metrics(run_dir: Path) -> bool:
    path = run_dir / METRICS_FILE
    return path.is_file() and path.stat().st_size > 0


def default_run_dir(config: TrainConfig) -> Path:
    """checkpoints/ENV-seedS-YYYYmmdd-HHMMSS."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("checkpoints") / f"{config.env_id}-seed{config.seed}-{stamp}"


RESUME_MAY_CHANGE = ("epochs", "max_env_steps")
"""The options a resumed run may change: how long it trains."""


def resume_config(
    run_dir: Path, given: dict, preset: str | None = None
) -> tuple[TrainConfig, Path, int]:
    """The saved config of RUN with --epochs and --max-env-steps applied (other options, and
    --preset, must match it), and the epochs its latest checkpoint has done (0 when it has
    none). A run that stopped solved, or whose next epoch could pass --max-env-steps (every
    episode at its time limit, as the training loop counts), exits here, with nothing to do."""
    import json

    from td3her_cli.run.checkpoint import resolve_checkpoint

    config_path = run_dir / CONFIG_FILE
    what = not_a_folder(run_dir)
    if what is not None:
        raise UsageError(f"--resume {run_dir} {what}; give the run directory of a `td3her train`")
    if not config_path.exists():
        raise UsageError(f"--resume {run_dir}: no config.json there; give a td3her run directory")
    try:
        saved = TrainConfig.from_dict(json.loads(config_path.read_text()))
    except (ValueError, TypeError, AttributeError, UsageError) as exc:
        raise UsageError(
            f"--resume {run_dir}: {config_path} is not a valid td3her config ({exc}); give a "
            "td3her run directory, or mend the file"
        ) from None
    recorded = saved.extra.get("preset")
    if preset is not None:
        preset_values(preset)  # an unknown name is said as such
        if preset != recorded:
            raise UsageError(
                f"--preset {preset} differs from the run's preset "
                f"{recorded if recorded else '(none recorded)'}; a resumed run keeps its config: "
                "drop --preset"
            )
    for key, value in given.items():
        if key not in RESUME_MAY_CHANGE and value != getattr(saved, key):
            raise UsageError(
                f"{field_flag(key)} {value} differs from the run's saved value "
                f"{getattr(saved, key)}; a resumed run keeps its config (only --epochs and "
                "--max-env-steps may change)"
            )
    config = saved.replace(**{key: given[key] for key in RESUME_MAY_CHANGE if key in given})
    try:  # training.train(resume=True) resolves it again
        info = resolve_checkpoint(run_dir, latest=True, fall_back=True)
    except NoCheckpointError:
        return config, run_dir, 0
    if info.warning:  # e.g. latest.json lost: the newest complete checkpoint is used
        warn(info.warning)
    meta = info.meta
    done = int(meta.get("epoch", 0))
    if meta.get("solved"):  # stopped by --stop-at-success: done, however many epochs are asked
        make_console().print(
            f"{run_dir} stopped solved at epoch {done} (--stop-at-success): nothing to do",
            soft_wrap=True,
        )
        raise typer.Exit(0)
    taken = int(meta.get("env_steps", 0))
    episode_limit = (meta.get("spaces") or {}).get("max_episode_steps") or 0
    if not config.epoch_fits_budget(taken, episode_limit):  # config.json stays as it is
        needed = taken + config.longest_epoch(episode_limit)
        make_console().print(
            f"{run_dir} has taken {taken} env steps (--max-env-steps {config.max_env_steps}): "
            f"another epoch could pass the limit, nothing to do; give --max-env-steps {needed} "
            "or more (0: no limit) to train longer",
            soft_wrap=True,
        )
        raise typer.Exit(0)
    return config, run_dir, done


def _stopping(signum: int, previous):
    """The handler a second signal meets: the previous one, except that an ignored or default
    SIGINT (e.g. a `nohup ... &` from a script starts with SIGINT ignored) raises
    KeyboardInterrupt, and an ignored SIGTERM terminates."""
    if callable(previous):
        return previous
    if signum == signal.SIGINT:
        return signal.default_int_handler
    return signal.SIG_DFL


class StopFlag:
    """Turns the first SIGINT/SIGTERM into a flag the loop checks at its next safe point.

    A second signal gets the previous handler back (Ctrl-C twice aborts at once).
    """

    def __init__(self) -> None:
        self.signal_number: int | None = None
        self._previous: dict = {}

    def __call__(self) -> bool:
        return self.signal_number is not None

    def _handle(self, signum, _frame) -> None:
        self.signal_number = signum
        for each, handler in self._previous.items():
            signal.signal(each, _stopping(each, handler))
        stderr.print(
            f"signal {signum}: stopping after this cycle (or before the next evaluation "
            "episode) and saving a checkpoint (Ctrl-C again stops at once, without it)",
            highlight=False,
            soft_wrap=True,
        )

    @contextlib.contextmanager
    def installed(self):
        """Install the handlers for the duration of the block."""
        self._previous = {
            s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            yield self
        finally:
            for signum, handler in self._previous.items():
                signal.signal(signum, handler)
