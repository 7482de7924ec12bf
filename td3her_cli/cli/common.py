"""What several commands share: error and warning lines, env and policy checks, output paths."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

from td3her_cli.config import START_SHARE_FIELDS, field_flag
from td3her_cli.errors import UsageError
from td3her_cli.report.display import make_console
from td3her_cli.run.rundir import folder_problem, probe_writable

stderr = make_console(stderr=True)


def warn(message: str) -> None:
    """Print one `td3her: warning:` line on stderr."""
    stderr.print(f"td3her: warning: {message}", highlight=False, soft_wrap=True, markup=False)


def error_line(message: str, exit_code: int) -> int:
    """Print one error line on stderr (none for an empty message); `exit_code`."""
    if message:
        stderr.print(f"td3her: error: {message}", highlight=False, soft_wrap=True, markup=False)
    return exit_code


def seconds(value: float | None) -> str:
    """A table cell: whole seconds, or - for none."""
    return "-" if value is None else f"{value:.0f}"


def percent(value: float | None) -> str:
    """A table cell or a summary's number: a whole percentage, or - for none."""
    return "-" if value is None else f"{value:.0%}"


def check_env(env_id: str, modules: tuple[str, ...] = (), configs: Sequence = ()) -> None:
    """Raise EnvError unless env_id makes a goal-conditioned env, and UsageError if one of the
    TrainConfigs `configs` asks of it an aid it cannot give (aids.py). Train and sweep call
    it before anything is written."""
    from td3her_cli.envs.aids import TrainingAids
    from td3her_cli.envs.goal_env import import_env_modules, make_env

    import_env_modules(modules)
    env = make_env(env_id)
    try:
        for config in configs:
            TrainingAids.of(env, config)
    finally:
        env.close()


def config_for_env(config, given: dict):
    """config checked against its env as check_env does, with the aids its preset asks for that
    the env cannot give (a Joints variant has no table-plane positions) turned off first, named
    in extra["preset_aids_off"] and in one warning line. Options `given` on the command line
    are never turned off: an aid given that the env cannot give raises UsageError."""
    from td3her_cli.envs.aids import TrainingAids, refused_aids
    from td3her_cli.envs.goal_env import import_env_modules, make_env

    import_env_modules(config.env_modules)
    env = make_env(config.env_id)
    try:
        off = [name for name in refused_aids(env, config) if name not in given]
        if off:
            config = without_aids(config, off)
        TrainingAids.of(env, config)
    finally:
        env.close()
    if off:
        flags = [field_flag(name) for name in off]
        named = flags[0] if len(flags) == 1 else ", ".join(flags[:-1]) + " and " + flags[-1]
        verb, them = ("is", "it") if len(flags) == 1 else ("are", "them")
        preset = config.extra.get("preset")
        warn(f"preset {preset}'s {named} {verb} off: {config.env_id} cannot take {them}")
    return config


def without_aids(config, names: Sequence[str]):
    """config with the aids `names` off, recorded in extra["preset_aids_off"], and with
    --start-fade off when no easier start is left to fade."""
    changes = dict.fromkeys(names, 0.0)
    if not [share for share in START_SHARE_FIELDS if share not in names and getattr(config, share)]:
        changes["start_fade"] = 0.0
    return config.replace(**changes, extra={**config.extra, "preset_aids_off": list(names)})


@contextlib.contextmanager
def policy_in_env(checkpoint: Path, latest: bool, env_id, env_modules, seed: int, make):
    """Resolve and load a checkpoint's policy and make its env (or `env_id`), checking that
    their spaces match; yields (info, env, spec, policy) and closes the env after."""
    from td3her_cli.run.checkpoint import resolve_checkpoint
    from td3her_cli.run.evaluation import checkpoint_in_env

    # A wrong path is reported at once: resolving needs no TensorFlow (seconds to import).
    info = resolve_checkpoint(checkpoint, latest=latest)
    if info.warning:
        warn(info.warning)
    with checkpoint_in_env(info, env_id, env_modules, seed, make) as (env, spec, policy):
        yield info, env, spec, policy


def check_output_path(path: Path) -> None:
    """Raise UsageError unless the file `path` can be created: its nearest folder that exists
    is writable. Missing folders below it are made only when the file is written, so a
    command that fails before then leaves none behind."""
    nearest = next(p for p in (path.parent, *path.parent.parents) if p.exists() or p.is_symlink())
    problem = folder_problem(nearest)
    if problem is not None:
        raise UsageError(f"cannot write {path}: {nearest} {problem}; choose another --out")
    try:
        probe_writable(nearest)
    except OSError as exc:
        raise UsageError(f"cannot write {path} ({exc.strerror}); choose another --out") from None


def check_regular_out(out: Path, command: str, named: str | None = None) -> None:
    """Raise UsageError if `out` exists and is not a regular file (a symbolic link, device,
    FIFO, socket or directory, which os.replace would clobber or fail on). `named`: how the
    message names `out` when the user did not give it as --out."""
    from td3her_cli.report.gif import non_regular_kind

    kind = non_regular_kind(out)
    if kind is not None:
        named = named or f"--out {out}"
        raise UsageError(
            f"{named} is {kind}; {command} writes only regular files: choose another --out"
        )
