"""The `td3her` command line: parse options -> config -> call the library -> show the result."""

from __future__ import annotations

import os
import signal
import sys
import traceback
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from td3her_cli.config import TrainConfig, parse_hidden
from td3her_cli.errors import Td3HerError, UsageError

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
stderr = Console(stderr=True)
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
    env: Annotated[str | None, _option("Gymnasium goal env id.", ENV, "env_id")] = None,
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
    batch_size: Annotated[int | None, _option("Batch size.", TD3, "batch_size")] = None,
    buffer_size: Annotated[
        int | None, _option("Replay capacity (transitions).", TD3, "buffer_size")
    ] = None,
    actor_lr: Annotated[float | None, _option("Actor learning rate.", TD3, "actor_lr")] = None,
    critic_lr: Annotated[float | None, _option("Critic learning rate.", TD3, "critic_lr")] = None,
    gamma: Annotated[float | None, _option("Discount factor in (0, 1].", TD3, "gamma")] = None,
    tau: Annotated[float | None, _option("Polyak coefficient in (0, 1].", TD3, "tau")] = None,
    policy_delay: Annotated[
        int | None, _option("Critic updates per actor update.", TD3, "policy_delay")
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
    her_strategy: Annotated[
        str | None, _option("future, final, episode or none.", HER, "her_strategy")
    ] = None,
    her_k: Annotated[int | None, _option("Relabelled goals per real one.", HER, "her_k")] = None,
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
    normalize: Annotated[
        bool | None,
        _option("Normalise observations and goals.", EXPLORE, "normalize"),
    ] = None,
    out: Annotated[
        Path | None,
        _option("Run directory (default: checkpoints/ENV-seedS-TIME).", OUTPUT),
    ] = None,
    force: Annotated[
        bool, _option("Allow --out to be an existing, non-empty directory.", OUTPUT)
    ] = False,
) -> None:
    """Train a TD3 + HER agent; writes config.json and metrics.jsonl into the run directory."""
    given = {
        "env_id": env,
        "seed": seed,
        "epochs": epochs,
        "cycles": cycles,
        "episodes_per_cycle": episodes_per_cycle,
        "optimization_steps": optimization_steps,
        "eval_episodes": eval_episodes,
        "batch_size": batch_size,
        "buffer_size": buffer_size,
        "actor_lr": actor_lr,
        "critic_lr": critic_lr,
        "gamma": gamma,
        "tau": tau,
        "policy_delay": policy_delay,
        "target_noise": target_noise,
        "target_noise_clip": target_noise_clip,
        "hidden": parse_hidden(hidden) if hidden is not None else None,
        "action_l2": action_l2,
        "her_strategy": her_strategy,
        "her_k": her_k,
        "noise": noise,
        "noise_sigma": noise_sigma,
        "random_steps": random_steps,
        "normalize": normalize,
    }
    config = DEFAULTS.replace(**{k: v for k, v in given.items() if v is not None})
    check_env(config.env_id)  # before anything is written
    run_dir = prepare_run_dir(out, config, force)

    from td3her_cli.quiet import import_tensorflow

    import_tensorflow()
    from td3her_cli.display import TrainingDisplay
    from td3her_cli.training import train as run_training

    console = Console()
    display = TrainingDisplay(console)
    stop = StopFlag()
    with stop.installed():
        try:
            result = run_training(config, run_dir, display, should_stop=stop)
        finally:
            display.close()
    if display.epochs:
        console.print(display.summary_table())
    console.print(f"run directory: {result.run_dir}  ({result.wall_time:.0f}s training)")
    if stop.signal_number is not None:
        console.print(f"stopped by signal {stop.signal_number} after epoch {len(result.epochs)}")
        raise typer.Exit(128 + stop.signal_number)


class StopFlag:
    """Turns SIGINT/SIGTERM into a flag the loop checks at its next safe point."""

    def __init__(self) -> None:
        self.signal_number: int | None = None

    def __call__(self) -> bool:
        return self.signal_number is not None

    def _handle(self, signum, _frame) -> None:
        self.signal_number = signum

    def installed(self):
        """Context manager installing the handlers for the block."""
        import contextlib

        @contextlib.contextmanager
        def manager():
            previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield self
            finally:
                for signum, handler in previous.items():
                    signal.signal(signum, handler)

        return manager()


def check_env(env_id: str) -> None:
    """Raise EnvError unless env_id makes a goal-conditioned env."""
    from td3her_cli.envs import make_env

    make_env(env_id).close()


def prepare_run_dir(out: Path | None, config: TrainConfig, force: bool) -> Path:
    """The run directory to write: --out, or a fresh one under checkpoints/; checked writable."""
    if out is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path("checkpoints") / f"{config.env_id}-seed{config.seed}-{stamp}"
    if out.exists():
        if not out.is_dir():
            raise UsageError(f"--out {out} exists and is not a directory; choose another path")
        if any(out.iterdir()) and not force:
            raise UsageError(
                f"run directory {out} already exists and is not empty; "
                "choose another --out or pass --force"
            )
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UsageError(
            f"cannot write to run directory {out} ({exc.strerror}); choose another --out"
        ) from None
    return out


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
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


def fail(message: str, exit_code: int) -> None:
    """Print one error line on stderr (none for an empty message) and exit."""
    if message:
        stderr.print(f"td3her: error: {message}", highlight=False, soft_wrap=True, markup=False)
    sys.exit(exit_code)
