"""The `td3her` command line: parse options -> config -> call the library -> show the result."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import traceback
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from td3her_cli.config import TrainConfig, parse_count, parse_hidden
from td3her_cli.envs.rollout import HELD_OUT_EPISODES, HELD_OUT_SEED, evaluation_seeds
from td3her_cli.errors import (
    Interrupted,
    NoCheckpointError,
    RunInUseError,
    Td3HerError,
    UsageError,
)
from td3her_cli.report.display import make_console
from td3her_cli.run.metrics import METRICS_FILE, write_atomically
from td3her_cli.run.rundir import (
    CONFIG_FILE,
    PLOT_FILES,
    check_new_run_dir,
    check_out_folder,
    create_run_dir,
    folder_problem,
    not_a_folder,
    probe_writable,
    remove_created,
    remove_run_files,
    run_lock,
)
from td3her_cli.sweep.trials import HELD_OUT_EPISODES as SWEEP_HELD_OUT_EPISODES

try:  # Typer >= 0.22 vendors click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - older Typer with click as a dependency
    from click.exceptions import ClickException

app = typer.Typer(
    name="td3her",
    help="Train, evaluate and show robot-arm agents with TD3 + Hindsight Experience Replay.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
stderr = make_console(stderr=True)
DEFAULTS = TrainConfig()
DEBUG = {"on": False}

ENV, LOOP, TD3, HER, EXPLORE, OUTPUT = (
    "Environment",
    "Loop units",
    "TD3",
    "HER",
    "Exploration and normalisation",
    "Output",
)


def _option(help_text: str, panel: str, field: str | None = None, **kwargs):
    """A Typer option whose help shows the original design's default for `field`."""
    if field is not None:
        default = getattr(DEFAULTS, field)
        if isinstance(default, tuple):
            default = ",".join(str(v) for v in default)
        help_text = f"{help_text} (default: {default})"
    return typer.Option(help=help_text, rich_help_panel=panel, show_default=False, **kwargs)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    DEBUG["on"] = debug


@app.command()
def train(
    preset: Annotated[
        str | None,
        _option(
            "Named option bundle: original, fast, push, pick-and-place, slide, stack, flip "
            "(default: the env's own, e.g. push for PandaPush-v3, else original); options "
            "override.",
            ENV,
        ),
    ] = None,
    env: Annotated[str | None, _option("Gymnasium goal env id.", ENV, "env_id")] = None,
    env_module: Annotated[
        list[str] | None,
        _option("Module to import for envs it registers (repeatable).", ENV),
    ] = None,
    seed: Annotated[int | None, _option("Run seed (all RNGs, every episode).", ENV, "seed")] = None,
    epochs: Annotated[
        int | None, _option("Epochs; each ends with an evaluation.", LOOP, "epochs")
    ] = None,
    cycles: Annotated[int | None, _option("Cycles per epoch.", LOOP, "cycles")] = None,
    episodes_per_cycle: Annotated[
        int | None, _option("Episodes collected per cycle.", LOOP, "episodes_per_cycle")
    ] = None,
    optimization_steps: Annotated[
        int | None, _option("TD3 updates per cycle.", LOOP, "optimization_steps")
    ] = None,
    eval_episodes: Annotated[
        int | None, _option("Evaluation episodes per epoch.", LOOP, "eval_episodes")
    ] = None,
    best_eval_episodes: Annotated[
        int | None,
        _option(
            "Episodes that re-evaluate a best candidate (0: off).",
            LOOP,
            "best_eval_episodes",
        ),
    ] = None,
    stop_check_episodes: Annotated[
        int | None,
        _option(
            "Episodes of the best-check stream that must reach --stop-at-success too "
            "(0: --best-eval-episodes); the epoch's best check counts as their start.",
            LOOP,
            "stop_check_episodes",
        ),
    ] = None,
    stop_at_success: Annotated[
        float | None,
        _option(
            "Stop once the stop-check episodes (without them: the epoch evaluations) reach "
            "this success, after --stop-patience epoch evaluations at the stop gate (0: never).",
            LOOP,
            "stop_at_success",
        ),
    ] = None,
    stop_patience: Annotated[
        int | None,
        _option(
            "Evaluations in a row at the stop gate before it stops the run.",
            LOOP,
            "stop_patience",
        ),
    ] = None,
    stop_gate: Annotated[
        float | None,
        _option(
            "Epoch evaluations at or above this start the stop check, which must reach "
            "--stop-at-success (0, above it, or no stop-check episodes: --stop-at-success).",
            LOOP,
            "stop_gate",
        ),
    ] = None,
    num_envs: Annotated[
        int | None, _option("Worker processes collecting while the updates run.", LOOP, "num_envs")
    ] = None,
    batch_size: Annotated[int | None, _option("Batch size.", TD3, "batch_size")] = None,
    buffer_size: Annotated[
        int | None,
        _option(
            "Replay capacity (transitions).",
            TD3,
            "buffer_size",
            parser=lambda text: parse_count(text, "--buffer-size"),  # 1e6 as well as 1000000
        ),
    ] = None,
    actor_lr: Annotated[float | None, _option("Actor learning rate.", TD3, "actor_lr")] = None,
    critic_lr: Annotated[float | None, _option("Critic learning rate.", TD3, "critic_lr")] = None,
    gamma: Annotated[float | None, _option("Discount factor in (0, 1].", TD3, "gamma")] = None,
    tau: Annotated[float | None, _option("Polyak coefficient in (0, 1].", TD3, "tau")] = None,
    policy_delay: Annotated[
        int | None, _option("Critic updates per actor update.", TD3, "policy_delay")
    ] = None,
    policy_average: Annotated[
        float | None,
        _option(
            "Polyak coefficient of the averaged actor that evaluations, checks and saved "
            "policies use (0: evaluate the actor itself).",
            TD3,
            "policy_average",
        ),
    ] = None,
    target_noise: Annotated[
        float | None, _option("Target smoothing noise std.", TD3, "target_noise")
    ] = None,
    target_noise_clip: Annotated[
        float | None, _option("Target smoothing noise clip.", TD3, "target_noise_clip")
    ] = None,
    hidden: Annotated[
        str | None, _option("Hidden layer widths, comma-separated.", TD3, "hidden")
    ] = None,
    action_l2: Annotated[
        float | None, _option("L2 penalty on actor actions.", TD3, "action_l2")
    ] = None,
    critics: Annotated[
        int | None, _option("Critics in the ensemble (2: TD3; more: REDQ-style).", TD3, "critics")
    ] = None,
    target_critics: Annotated[
        int | None,
        _option(
            "Critics in the TD target's minimum, a random subset per update (REDQ's M).",
            TD3,
            "target_critics",
        ),
    ] = None,
    xla: Annotated[bool | None, _option("Compile the update loop with XLA.", TD3, "xla")] = None,
    precision: Annotated[
        str | None,
        _option(
            "Hidden layers' dtype in the update: float32 or bfloat16 (use with --no-xla).",
            TD3,
            "precision",
        ),
    ] = None,
    her_strategy: Annotated[
        str | None, _option("future, final, episode or none.", HER, "her_strategy")
    ] = None,
    her_k: Annotated[int | None, _option("Relabelled goals per real one.", HER, "her_k")] = None,
    n_step: Annotated[
        int | None,
        _option("Transitions summed into each replayed return (1: one-step TD3).", HER, "n_step"),
    ] = None,
    terminal_on_success: Annotated[
        str | None,
        _option(
            "Replayed transitions end where their goal is reached: auto (if the env ends "
            "episodes on success), on, off.",
            HER,
            "terminal_on_success",
        ),
    ] = None,
    noise: Annotated[
        str | None, _option("Exploration noise: ou or gaussian.", EXPLORE, "noise")
    ] = None,
    noise_sigma: Annotated[
        float | None, _option("Exploration noise scale.", EXPLORE, "noise_sigma")
    ] = None,
    random_steps: Annotated[
        int | None,
        _option("Initial env steps with uniform random actions.", EXPLORE, "random_steps"),
    ] = None,
    random_action_prob: Annotated[
        float | None,
        _option("Probability of a uniform random exploratory step.", EXPLORE, "random_action_prob"),
    ] = None,
    grasp_start: Annotated[
        float | None,
        _option(
            "Fraction of exploratory episodes starting with the object in the gripper "
            "(panda-gym PickAndPlace; Stack: the top cube).",
            EXPLORE,
            "grasp_start",
        ),
    ] = None,
    normalize: Annotated[
        bool | None,
        _option("Normalise observations and goals.", EXPLORE, "normalize"),
    ] = None,
    normalize_goals_from: Annotated[
        str | None,
        _option(
            "Goal statistics from stored episodes' goals (episodes) or HER's relabelled "
            "goals (her).",
            EXPLORE,
            "normalize_goals_from",
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
        _option("Continue RUN from its latest checkpoint (only --epochs may change).", OUTPUT),
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
        int,
        _option(
            "Threads per TensorFlow pool (default 0: TensorFlow's choice, all cores); "
            "1 lets two runs share two cores.",
            OUTPUT,
            min=0,
        ),
    ] = 0,
) -> None:
    """Train a TD3 + HER agent; writes config.json and metrics.jsonl into the run directory."""
    given = {
        "env_id": env,
        "env_modules": tuple(env_module) if env_module else None,
        "seed": seed,
        "epochs": epochs,
        "cycles": cycles,
        "episodes_per_cycle": episodes_per_cycle,
        "optimization_steps": optimization_steps,
        "eval_episodes": eval_episodes,
        "best_eval_episodes": best_eval_episodes,
        "stop_check_episodes": stop_check_episodes,
        "stop_at_success": stop_at_success,
        "stop_patience": stop_patience,
        "stop_gate": stop_gate,
        "num_envs": num_envs,
        "batch_size": batch_size,
        "buffer_size": buffer_size,
        "actor_lr": actor_lr,
        "critic_lr": critic_lr,
        "gamma": gamma,
        "tau": tau,
        "policy_delay": policy_delay,
        "policy_average": policy_average,
        "target_noise": target_noise,
        "target_noise_clip": target_noise_clip,
        "hidden": parse_hidden(hidden) if hidden is not None else None,
        "action_l2": action_l2,
        "critics": critics,
        "target_critics": target_critics,
        "xla": xla,
        "precision": precision,
        "her_strategy": her_strategy,
        "her_k": her_k,
        "n_step": n_step,
        "terminal_on_success": terminal_on_success,
        "noise": noise,
        "noise_sigma": noise_sigma,
        "random_steps": random_steps,
        "random_action_prob": random_action_prob,
        "grasp_start": grasp_start,
        "normalize": normalize,
        "normalize_goals_from": normalize_goals_from,
    }
    given = {k: v for k, v in given.items() if v is not None}
    created: list[Path] = []  # folders this command made, removed again if setup fails
    fresh = False  # a new or empty run directory: a start that fails leaves it so again
    if resume is not None:
        if out is not None:
            raise UsageError("--resume RUN continues in RUN; drop --out")
        if preset is not None:
            raise UsageError("--resume keeps the run's saved config; drop --preset")
        config, run_dir, done = resume_config(resume, given)
        if config.epochs <= done:  # before anything is written: config.json stays as it is
            make_console().print(
                f"{run_dir} has trained {done} epochs already (--epochs {config.epochs}): "
                f"nothing to do; give --epochs above {done} to train longer",
                soft_wrap=True,
            )
            return
    else:
        from td3her_cli.presets import choose_preset, preset_values

        name, for_env = choose_preset(preset, env)  # Push gets `push`, not Reach's settings
        values = {**preset_values(name), **given}
        extra = {"preset": name, **({"preset_picked_for_env": True} if for_env else {})}
        config = DEFAULTS.replace(**values, extra=extra)
        check_env(config.env_id, config.env_modules, config.grasp_start)  # before any writing
        run_dir = out if out is not None else default_run_dir(config)
        check_new_run_dir(run_dir, force)
        fresh = not run_dir.is_dir() or not any(run_dir.iterdir())
        created = create_run_dir(run_dir)

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
    console.print(f"run directory: {result.run_dir}  ({result.wall_time:.0f}s training)")
    if result.last_checkpoint is not None:
        console.print(f"last checkpoint: {result.last_checkpoint}")
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
    if result.last_checkpoint is not None and not result.interrupted:
        console.print(held_out_line, soft_wrap=True, highlight=False, markup=False)
    if stop.signal_number is not None and result.interrupted:  # a finished run exits 0
        stderr.print(
            f"stopped by signal {stop.signal_number} after saving {result.last_checkpoint}; "
            f"resume with: td3her train --resume {result.run_dir}",
            soft_wrap=True,
            highlight=False,
        )
        raise typer.Exit(128 + stop.signal_number)


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


def resume_config(run_dir: Path, given: dict) -> tuple[TrainConfig, Path, int]:
    """The saved config of RUN with --epochs applied (other options must match it), and the
    epochs its latest checkpoint has done (0 when it has none). A run that stopped solved
    exits here, with nothing to do."""
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
            f"--resume {run_dir}: {config_path} is not a td3her config ({exc}); give a td3her "
            "run directory"
        ) from None
    for key, value in given.items():
        if key != "epochs" and value != getattr(saved, key):
            raise UsageError(
                f"--{key.replace('_', '-')} {value} differs from the run's saved value "
                f"{getattr(saved, key)}; a resumed run keeps its config (only --epochs may change)"
            )
    config = saved.replace(epochs=given.get("epochs", saved.epochs))
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
    return config, run_dir, done


@app.command()
def evaluate(
    checkpoint: Annotated[Path, typer.Argument(help="A run directory or a checkpoint directory.")],
    episodes: Annotated[int, typer.Option(help="Evaluation episodes.", min=1)] = 10,
    seed: Annotated[
        int,
        typer.Option(
            help=f"Seed of the evaluation episodes; {HELD_OUT_SEED} and up are the held-out "
            "test episodes that reported results use.",
            min=0,
        ),
    ] = 0,
    env: Annotated[str | None, typer.Option(help="Env id (default: the checkpoint's).")] = None,
    latest: Annotated[
        bool, typer.Option("--latest", help="Use the run's latest checkpoint instead of best.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    env_module: Annotated[
        list[str] | None, typer.Option(help="Module to import for envs it registers.")
    ] = None,
    onnx: Annotated[
        Path | None,
        typer.Option(help="Act with this `td3her export` file (onnxruntime), not the SavedModel."),
    ] = None,
    num_envs: Annotated[
        int,
        typer.Option(help="Worker processes running the episodes; same episodes.", min=1),
    ] = 1,
) -> None:
    """Run a checkpoint's policy deterministically and report success, return and length."""
    import json

    from td3her_cli.envs.goal_env import make_env
    from td3her_cli.envs.rollout import deterministic_episodes
    from td3her_cli.envs.rollout import evaluate as run_evaluation
    from td3her_cli.report.display import evaluation_table

    if onnx is not None:
        from td3her_cli.report.export import require_packages

        require_packages("onnxruntime", purpose="evaluate --onnx")
    with policy_in_env(checkpoint, latest, env, env_module, seed, make_env, onnx) as loaded:
        info, gym_env, spec, policy = loaded
        seeds = evaluation_seeds(seed, episodes)
        if min(num_envs, episodes) > 1:
            from td3her_cli.envs.rollout import EpisodeJob
            from td3her_cli.envs.workers import EpisodeWorkers

            modules = env_modules_for(info, env_module)
            workers = EpisodeWorkers(spec.env_id, modules, min(num_envs, episodes), spec)
            try:  # each worker loads the policy itself, so it acts exactly as `policy` does
                workers.load_policy(policy_loader(info, spec, onnx))
                result = run_evaluation(workers.episodes([EpisodeJob(s) for s in seeds]))
            finally:
                workers.close()
        else:
            result = run_evaluation(deterministic_episodes(gym_env, spec, policy, seeds))
    source = {"checkpoint": str(info.path)} | ({"onnx": str(onnx)} if onnx is not None else {})
    if as_json:
        typer.echo(json.dumps({**source, "env_id": spec.env_id, "seed": seed, **result.to_dict()}))
    else:
        title = f"{spec.env_id}: {onnx if onnx is not None else info.path}"
        make_console().print(evaluation_table(result, title))


@contextlib.contextmanager
def policy_in_env(
    checkpoint: Path, latest: bool, env_id, env_modules, seed: int, make, onnx: Path | None = None
):
    """Resolve and load a checkpoint's policy and make its env (or `env_id`), checking that
    their spaces match; yields (info, env, spec, policy) and closes the env after. With
    `onnx`, the policy is that exported graph (onnxruntime) instead of the SavedModel."""
    from td3her_cli.envs.goal_env import describe_env, import_env_modules
    from td3her_cli.quiet import import_tensorflow
    from td3her_cli.run.checkpoint import check_spaces, load_policy, resolve_checkpoint

    # A wrong path is reported at once: resolving needs no TensorFlow (seconds to import).
    info = resolve_checkpoint(checkpoint, latest=latest)
    if info.warning:
        warn(info.warning)
    import_tensorflow()
    env_id = env_id or info.meta["env_id"]
    import_env_modules(env_modules_for(info, env_modules))
    gym_env = make(env_id)
    try:
        spec = describe_env(gym_env, env_id, seed)
        check_spaces(info, spec)
        if onnx is None:
            yield info, gym_env, spec, load_policy(info)
        else:
            from td3her_cli.report.export import onnx_policy

            yield info, gym_env, spec, onnx_policy(onnx, spec.obs_dim, spec.goal_dim)
    finally:
        gym_env.close()


def policy_loader(info, spec, onnx: Path | None):
    """A picklable no-argument function that loads the policy `policy_in_env` yields (for
    worker processes)."""
    import functools

    if onnx is None:
        from td3her_cli.run.checkpoint import load_policy_one_thread

        return functools.partial(load_policy_one_thread, info)
    from td3her_cli.report.export import onnx_policy

    return functools.partial(onnx_policy, onnx, spec.obs_dim, spec.goal_dim)


def env_modules_for(info, extra: list[str] | None) -> tuple[str, ...]:
    """The env modules a checkpoint's run imported, then the --env-module ones given now."""
    return tuple(info.meta.get("config", {}).get("env_modules", [])) + tuple(extra or ())


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
            signal.signal(each, handler)
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


def check_env(env_id: str, modules: tuple[str, ...] = (), grasp_start: float = 0.0) -> None:
    """Raise EnvError unless env_id makes a goal-conditioned env, and UsageError if it cannot
    start episodes grasped when `grasp_start` asks for that."""
    from td3her_cli.envs.goal_env import import_env_modules, make_env
    from td3her_cli.envs.grasp import check_grasp_start

    import_env_modules(modules)
    env = make_env(env_id)
    try:
        check_grasp_start(env, grasp_start, env_id)
    finally:
        env.close()


def main() -> None:
    """Console-script entry point: one friendly line and an exit code for every user error."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        code = app(standalone_mode=False)
    except Td3HerError as exc:
        if DEBUG["on"]:
            traceback.print_exc()
        fail(str(exc), exc.exit_code)
    except ClickException as exc:  # bad option values and usage: click's exit code (2)
        fail(exc.format_message(), exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        fail("aborted", 130)
    except OSError as exc:  # disk full, permissions, ...: the environment, not a bug
        if DEBUG["on"]:
            traceback.print_exc()
        where = f": {exc.filename}" if exc.filename else ""
        fail(f"{exc.strerror or exc}{where}", 1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


def warn(message: str) -> None:
    """Print one `td3her: warning:` line on stderr."""
    stderr.print(f"td3her: warning: {message}", highlight=False, soft_wrap=True, markup=False)


def fail(message: str, exit_code: int) -> None:
    """Print one error line on stderr (none for an empty message) and exit."""
    if message:
        stderr.print(f"td3her: error: {message}", highlight=False, soft_wrap=True, markup=False)
    sys.exit(exit_code)


@app.command()
def envs(
    env_module: Annotated[
        list[str] | None, typer.Option(help="Module to import for envs it registers.")
    ] = None,
    all_ids: Annotated[
        bool, typer.Option("--all", help="Probe every registered env, not only panda-gym's.")
    ] = False,
) -> None:
    """List the goal-conditioned envs td3her can train on, with their dimensions, and those
    that could not be created, with the reason."""
    from rich.table import Table

    from td3her_cli.envs.goal_env import list_goal_envs

    specs, failures = list_goal_envs(tuple(env_module or ()), all_ids)
    table = Table(title="Goal-conditioned envs")
    for name in ("env id", "obs", "goal", "action", "max steps", "reward"):
        table.add_column(name, justify="right" if name != "env id" else "left")
    for spec in specs:
        table.add_row(
            spec.env_id,
            str(spec.obs_dim),
            str(spec.goal_dim),
            str(spec.action_dim),
            str(spec.max_episode_steps),
            "sparse" if spec.reward_bounds else "dense",
        )
    console = make_console()
    console.print(table)
    if failures:
        broken = Table(title=f"Could not be created ({len(failures)})")
        broken.add_column("env id")
        broken.add_column("reason")
        for env_id, reason in failures:
            broken.add_row(env_id, reason.replace(f"cannot create env {env_id!r}: ", ""))
        console.print(broken)


@app.command()
def render(
    checkpoint: Annotated[Path, typer.Argument(help="A run directory or a checkpoint directory.")],
    episodes: Annotated[int, typer.Option(help="Episodes to record.", min=1)] = 3,
    out: Annotated[Path, typer.Option(help="Output file (.gif, or .mp4 with --mp4).")] = Path(
        "reach.gif"
    ),
    fps: Annotated[int, typer.Option(help="Frames per second.", min=1)] = 25,
    width: Annotated[int, typer.Option(help="Frame width in pixels.", min=16)] = 480,
    height: Annotated[int, typer.Option(help="Frame height in pixels.", min=16)] = 320,
    seed: Annotated[int, typer.Option(help="Seed of the recorded episodes.", min=0)] = 0,
    env: Annotated[str | None, typer.Option(help="Env id (default: the checkpoint's).")] = None,
    latest: Annotated[
        bool, typer.Option("--latest", help="Use the run's latest checkpoint instead of best.")
    ] = False,
    mp4: Annotated[bool, typer.Option("--mp4", help="Write MP4 (needs imageio-ffmpeg).")] = False,
    env_module: Annotated[
        list[str] | None, typer.Option(help="Module to import for envs it registers.")
    ] = None,
) -> None:
    """Record the policy acting deterministically as an animated GIF (headless)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from td3her_cli.envs.goal_env import make_env
    from td3her_cli.envs.render_child import RemoteEnv
    from td3her_cli.report.gif import render_episodes, write_animation

    check_render_out(out, mp4)  # before the checkpoint is read, TensorFlow imported, frames made
    console = make_console()
    with contextlib.ExitStack() as stack:
        info, _, spec, policy = stack.enter_context(
            policy_in_env(checkpoint, latest, env, env_module, seed, make_env)
        )
        # The env renders in a child process without TensorFlow (MuJoCo's GL crashes beside it).
        modules = (*info.meta.get("config", {}).get("env_modules", []), *(env_module or ()))
        render_env = RemoteEnv(spec.env_id, tuple(modules), width, height)
        stack.callback(render_env.close)
        total = episodes * ((spec.max_episode_steps or 50) + 1)
        with Progress(
            TextColumn("rendering"), BarColumn(), MofNCompleteColumn(), console=console
        ) as progress:
            task = progress.add_task("render", total=total)
            frames, successes = render_episodes(
                render_env,
                spec,
                policy,
                evaluation_seeds(seed, episodes),
                width,
                height,
                on_frame=lambda _episode, _step: progress.advance(task),
            )
            progress.update(task, completed=total)
    path = write_animation(frames, out, fps, mp4=mp4)
    size_mb = path.stat().st_size / 1e6
    console.print(
        f"wrote {path}: {len(frames)} frames, {size_mb:.2f} MB, "
        f"{sum(successes)}/{len(successes)} episodes successful"
    )


@app.command("export")
def export_onnx(
    checkpoint: Annotated[Path, typer.Argument(help="A run directory or a checkpoint directory.")],
    out: Annotated[
        Path | None,
        typer.Option(
            help="Output .onnx file (default: RUN/export/CHECKPOINT.onnx, e.g. "
            "RUN/export/epoch_010.onnx); its description goes beside it as FILE.json."
        ),
    ] = None,
    latest: Annotated[
        bool, typer.Option("--latest", help="Use the run's latest checkpoint instead of best.")
    ] = False,
) -> None:
    """Write the policy as one ONNX file (normalisers, actor, action scaling) that runs
    without TensorFlow, e.g. in onnxruntime; needs the export extra (onnx, onnxruntime)."""
    from td3her_cli.quiet import import_tensorflow
    from td3her_cli.report.export import (
        check_sidecar_is_ours,
        default_export_path,
        export_policy,
        require_packages,
        sidecar_path,
    )
    from td3her_cli.run.checkpoint import resolve_checkpoint

    require_packages("onnx", "onnxruntime")
    info = resolve_checkpoint(checkpoint, latest=latest)
    if info.warning:
        warn(info.warning)
    out = out if out is not None else default_export_path(info)
    if out.suffix.lower() != ".onnx":
        raise UsageError(
            f"--out {out} does not end in .onnx; e.g. --out {out.with_suffix('.onnx')}"
        )
    for path in (out, sidecar_path(out)):
        check_regular_out(path, "export")
    check_sidecar_is_ours(sidecar_path(out), out)
    check_output_path(out)
    import_tensorflow()
    result = export_policy(info, out)
    obs_dim, goal_dim, action_dim = result.dims
    console = make_console()
    lines = (
        f"wrote {result.onnx_path} ({result.size_bytes / 1e3:.1f} kB): {info.meta['env_id']} "
        f"epoch {info.meta.get('epoch')}, (observation [N, {obs_dim}], desired_goal "
        f"[N, {goal_dim}]) -> action [N, {action_dim}]",
        f"checked against the SavedModel on {result.check_inputs} inputs: "
        f"max |difference| {result.max_abs_difference:.2g}",
        f"wrote {result.json_path}",
    )
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True, markup=False)


@app.command()
def plot(
    runs: Annotated[list[Path], typer.Argument(help="One or more run directories.")],
    out: Annotated[Path | None, typer.Option(help="Output directory (default: RUN/plots).")] = None,
    width: Annotated[int, typer.Option(help="Figure width in pixels.", min=200)] = 960,
    height: Annotated[int, typer.Option(help="Figure height in pixels.", min=150)] = 600,
    x_axis: Annotated[str, typer.Option(help="epoch or env_steps.")] = "epoch",
    compare: Annotated[
        bool, typer.Option("--compare", help="One line per run (an A/B) instead of mean and band.")
    ] = False,
) -> None:
    """Plot score, actor loss and critic losses from metrics.jsonl (mean and band over runs)."""
    from rich.table import Table

    from td3her_cli.report.plotting import NoMetricsError, load_run, plot_runs, summary_rows

    if x_axis not in ("epoch", "env_steps"):
        raise UsageError(f"--x-axis must be epoch or env_steps, got {x_axis!r}")
    loaded = []
    for run_dir in runs:
        try:
            loaded.append(load_run(run_dir))
        except NoMetricsError as exc:  # the lines it skipped, then the error
            for warning in exc.warnings:
                warn(warning)
            raise
        for warning in loaded[-1].warnings:  # one line each: file and line number
            warn(warning)
    out_dir = out if out is not None else runs[0] / "plots"
    check_out_folder(out_dir)  # plot writes a folder of PNGs there
    for name in PLOT_FILES:  # never write through a link or onto a device
        check_regular_out(out_dir / name, "plot")
    check_output_path(out_dir / "score.png")
    paths = plot_runs(loaded, out_dir, width, height, x_axis, compare)
    table = Table(title="Runs")
    for name in (
        "run",
        "epochs",
        "final success",
        "best success",
        "first epoch >= 95%",
        "env steps then",
        "seconds then",
        "run seconds",
    ):
        table.add_column(name, justify="right")
    for row in summary_rows(loaded):
        table.add_row(
            row["name"],
            str(row["epochs"]),
            _percent(row["final_success_rate"]),
            _percent(row["best_success_rate"]),
            str(row["solved_epoch"] or "-"),
            str(row["solved_env_steps"] or "-"),
            _seconds(row["solved_wall_time"]),
            _seconds(row["wall_time"]),
        )
    console = make_console()
    console.print(table)
    for path in paths:
        console.print(f"wrote {path}")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def check_output_path(path: Path) -> None:
    """Raise UsageError unless the file `path` can be created (its directory is writable)."""
    problem = folder_problem(path.parent)
    if problem is not None:
        raise UsageError(f"cannot write {path}: {path.parent} {problem}; choose another --out")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe_writable(path.parent)
    except OSError as exc:
        raise UsageError(f"cannot write {path} ({exc.strerror}); choose another --out") from None


def check_render_out(out: Path, mp4: bool) -> None:
    """Raise unless `render` can write --out: a new or regular file (never a symbolic link,
    device, FIFO, socket or directory, which os.replace would clobber), named .gif (.mp4 with
    --mp4), in a writable directory, and with --mp4 the MP4 writer installed."""
    from td3her_cli.report.gif import require_mp4_writer

    check_regular_out(out, "render")
    wanted, other = (".mp4", ".gif") if mp4 else (".gif", ".mp4")
    suffix = out.suffix.lower()
    if suffix != wanted:
        fixed = out.parent / (out.stem + wanted)
        if suffix == other:
            toggle = "drop --mp4" if mp4 else "add --mp4"
            raise UsageError(f"--out {out} names a {suffix} file: {toggle}, or write {fixed}")
        what = "an MP4 (--mp4)" if mp4 else "a GIF (or an MP4 with --mp4 and a .mp4 name)"
        raise UsageError(
            f"--out {out} does not end in {wanted}: render writes {what}; e.g. --out {fixed}"
        )
    if mp4:
        require_mp4_writer()
    check_output_path(out)


def check_regular_out(out: Path, command: str) -> None:
    """Raise UsageError if `out` exists and is not a regular file (a symbolic link, device,
    FIFO, socket or directory, which os.replace would clobber or fail on)."""
    from td3her_cli.report.gif import non_regular_kind

    kind = non_regular_kind(out)
    if kind is not None:
        raise UsageError(
            f"--out {out} is {kind}; {command} writes only regular files: choose another --out"
        )


@app.command()
def sweep(
    env: Annotated[
        str | None, typer.Option(help="Gymnasium goal env id (default: the preset's).")
    ] = None,
    seeds: Annotated[int, typer.Option(help="Seeds per setting: 0 .. N-1.", min=1)] = 5,
    preset: Annotated[
        str | None, typer.Option(help="Named option bundle the trials start from (see train).")
    ] = None,
    grid: Annotated[
        list[str] | None,
        typer.Option(
            help="One grid axis NAME=V1,V2,... (repeatable), e.g. critic-lr=5e-4,1e-3; "
            "tuple values like hidden=64x64."
        ),
    ] = None,
    set_values: Annotated[
        list[str] | None,
        typer.Option("--set", help="NAME=VALUE for every trial (repeatable), e.g. epochs=5."),
    ] = None,
    env_module: Annotated[
        list[str] | None, typer.Option(help="Module to import for envs it registers.")
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(
            help="Ray cluster to join: ray://HOST:10001, HOST:6379 or auto "
            "(default: start Ray here on all cores)."
        ),
    ] = None,
    cpus_per_trial: Annotated[
        float, typer.Option(help="CPUs Ray reserves for each trial.", min=0.01)
    ] = 1.0,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Sweep directory (default: sweeps/ENV-HASH, the same for the same sweep)."
        ),
    ] = None,
    keep: Annotated[
        int | None,
        typer.Option(
            help="Checkpoints each trial keeps besides best (default: 3; a resumed trial: its "
            "own).",
            min=1,
        ),
    ] = None,
    save_buffer: Annotated[
        bool, typer.Option(help="Save each trial's replay buffer in its newest checkpoint.")
    ] = True,
    tensorboard: Annotated[bool, typer.Option(help="Write TensorBoard scalars per trial.")] = True,
    held_out_episodes: Annotated[
        int,
        typer.Option(
            help="Held-out episodes each finished trial's last checkpoint is evaluated on "
            f"(evaluate's seeds from {HELD_OUT_SEED}); the report's final success.",
            min=1,
        ),
    ] = SWEEP_HELD_OUT_EPISODES,
) -> None:
    """Train every (setting, seed) pair of a grid with Ray; re-running skips finished trials."""
    from rich.markup import escape

    from td3her_cli.presets import choose_preset, preset_values
    from td3her_cli.sweep.report import require_rliable
    from td3her_cli.sweep.trials import (
        DONE,
        FINISHED,
        RESUME,
        SKIPPED,
        check_ray_address,
        default_sweep_dir,
        held_out_record,
        parse_grid,
        parse_overrides,
        plan_sweep,
        prepare_sweep_dir,
        require_ray,
        run_sweep,
    )

    require_ray()  # before anything is checked or written
    require_rliable()  # the report at the end needs it
    if address is not None:  # in seconds, not after ray.init's minutes of retries
        check_ray_address(address)
    name, _ = choose_preset(preset, env)
    given = {"env_id": env, "env_modules": tuple(env_module) if env_module else None}
    values = {**preset_values(name), **{k: v for k, v in given.items() if v is not None}}
    base = DEFAULTS.replace(**values, extra={"preset": name})
    overrides = parse_overrides(set_values or [], base)
    base = base.replace(**overrides)
    axes = parse_grid(grid or [], base)
    fixed_and_swept = sorted(set(overrides) & {axis.field for axis in axes})
    if fixed_and_swept:
        raise UsageError(f"{fixed_and_swept[0]} is given to both --set and --grid; keep one")
    plan = plan_sweep(base, axes, seeds, out if out is not None else default_sweep_dir(base, axes))
    largest_grasp_start: dict[str, float] = {}  # one env per env id to check
    for trial in plan.trials:
        env_id, fraction = trial.config.env_id, trial.config.grasp_start
        largest_grasp_start[env_id] = max(fraction, largest_grasp_start.get(env_id, 0.0))
    for env_id, grasp_start in largest_grasp_start.items():
        check_env(env_id, base.env_modules, grasp_start)
    prepare_sweep_dir(plan)

    console = make_console()
    total = len(plan.trials)
    ended: list = []

    def on_start(statuses: dict, cpus: float) -> None:
        states = [status.state for status in statuses.values()]
        finished, resume = states.count(FINISHED), states.count(RESUME)
        unevaluated = sum(
            statuses[t.name].state == FINISHED and held_out_record(t.run_dir) is None
            for t in plan.trials
        )
        to_evaluate = (
            f", {unevaluated} of them to evaluate on held-out episodes" if unevaluated else ""
        )
        console.print(
            f"[bold]td3her sweep[/] {base.env_id}: {len(plan.settings)} settings x "
            f"{len(plan.seeds)} seeds = {total} trials ({finished} finished before{to_evaluate}, "
            f"{resume} to resume, {total - finished - resume} to start) on Ray with {cpus:g} "
            f"CPUs, {cpus_per_trial:g} per trial -> {plan.sweep_dir}",
            soft_wrap=True,
        )

    def on_trial_end(outcome) -> None:
        ended.append(outcome)
        prefix = f"[{len(ended)}/{total}] {outcome.name}:"
        if outcome.status == SKIPPED:
            console.print(f"{prefix} finished before, skipped", highlight=False)
        elif outcome.status == DONE:
            resumed = (
                f" (resumed from epoch {outcome.resumed_from_epoch})"
                if outcome.resumed_from_epoch is not None and not outcome.evaluated_only
                else ""
            )
            what = "evaluated" if outcome.evaluated_only else "finished"
            episodes = outcome.held_out_episodes
            console.print(
                f"{prefix} {what} in {outcome.seconds:.0f}s{resumed}, final success "
                f"{_percent(outcome.final_success_rate)}"
                + (f" on {episodes} held-out episodes" if episodes else ""),
                highlight=False,
            )
        else:
            console.print(
                f"{prefix} [red]failed[/]: {escape(str(outcome.error))} "
                f"(traceback in {escape(str(plan.sweep_dir / outcome.name / 'error.txt'))})",
                highlight=False,
                soft_wrap=True,
            )

    try:
        result = run_sweep(
            plan,
            address=address,
            cpus_per_trial=cpus_per_trial,
            keep=keep,
            save_buffer=save_buffer,
            tensorboard=tensorboard,
            on_start=on_start,
            on_trial_end=on_trial_end,
            held_out_episodes=held_out_episodes,
        )
    except KeyboardInterrupt:
        console.print(
            "interrupted; re-run the same command to resume (finished trials are skipped)"
        )
        raise typer.Exit(130) from None
    print_sweep_report(plan.sweep_dir, None, 960, 600)
    if result.failed:
        raise Td3HerError(
            f"{len(result.failed)} of {total} trials failed (see their error.txt); "
            "re-run the same command to retry them"
        )


@app.command("sweep-report")
def sweep_report(
    sweep_dir: Annotated[Path, typer.Argument(help="A directory written by `td3her sweep`.")],
    out: Annotated[
        Path | None, typer.Option(help="Output directory (default: SWEEP_DIR/report).")
    ] = None,
    width: Annotated[int, typer.Option(help="Figure width in pixels.", min=200)] = 960,
    height: Annotated[int, typer.Option(help="Figure height in pixels.", min=150)] = 600,
) -> None:
    """Tables and figures of a sweep, finished or still running (no Ray needed)."""
    print_sweep_report(sweep_dir, out, width, height)


def no_held_out_warning(names: list[str]) -> str:
    """One line on finished trials that have no held-out evaluation (`names`, at least one)."""
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return (
        f"{len(names)} finished trial(s) have no held-out evaluation ({shown}), so their final "
        "success is not reported; re-run the sweep's `td3her sweep` command to evaluate them"
    )


def print_sweep_report(sweep_dir: Path, out: Path | None, width: int, height: int) -> None:
    """Build a sweep's report (figures, report.json) and print its tables."""
    from td3her_cli.sweep.report import CORRUPT, build_report, overview_table, setting_table

    if out is not None:
        check_out_folder(out)
        check_output_path(out / "report.json")
    report = build_report(sweep_dir, out, width_px=width, height_px=height)
    corrupt = [t for s in report.settings for t in s.trials if t.state == CORRUPT]
    unevaluated = [name for s in report.settings for name in s.without_held_out]
    for warning in [
        *report.warnings,
        *(f"trial {t.name} is left out of the report: {t.error}" for t in corrupt),
        *([no_held_out_warning(unevaluated)] if unevaluated else []),
    ]:
        warn(warning)
    console = make_console()
    for setting in report.settings:
        console.print(setting_table(setting, best=setting.name == report.best))
    console.print(overview_table(report))
    if report.best is None:
        console.print("best setting: none yet (no finished trial with a held-out evaluation)")
    else:
        best = next(s for s in report.settings if s.name == report.best)
        final, iqm = best.final_success, best.final_iqm
        console.print(
            f"best setting: [bold]{report.best}[/] (final success on held-out episodes "
            f"{_percent(final.mean[0])}, 95% interval {_percent(final.low[0])} - "
            f"{_percent(final.high[0])}; IQM {_percent(iqm.mean[0])}; "
            f"{int(final.count[0])} seeds)",
            highlight=False,
            soft_wrap=True,
        )
    for path in [*report.plots, report.report_file]:
        console.print(f"wrote {path}", highlight=False)
