"""`td3her sweep`: a grid of settings x seeds -> Ray trials (sweep.trials) -> the sweep report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from td3her_cli.cli.common import check_env, config_for_env, percent
from td3her_cli.cli.options import config_values
from td3her_cli.cli.sweep_report import print_sweep_report
from td3her_cli.config import TrainConfig
from td3her_cli.envs.rollout import HELD_OUT_SEED
from td3her_cli.errors import Td3HerError, UsageError
from td3her_cli.report.display import make_console
from td3her_cli.sweep.trials import HELD_OUT_EPISODES as SWEEP_HELD_OUT_EPISODES


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
    from td3her_cli.sweep.report import require_rliable
    from td3her_cli.sweep.trials import check_ray_address, require_ray, run_sweep

    require_ray()  # before anything is checked or written
    require_rliable()  # the report at the end needs it
    if address is not None:  # in seconds, not after ray.init's minutes of retries
        check_ray_address(address)
    given = config_values({"env": env, "env_module": env_module})  # as train reads them
    base, plan = plan_and_prepare(preset, given, set_values or [], grid or [], seeds, out)
    progress = SweepProgress(base, plan, cpus_per_trial)
    try:
        result = run_sweep(
            plan,
            address=address,
            cpus_per_trial=cpus_per_trial,
            keep=keep,
            save_buffer=save_buffer,
            tensorboard=tensorboard,
            on_start=progress.on_start,
            on_trial_end=progress.on_trial_end,
            held_out_episodes=held_out_episodes,
        )
    except KeyboardInterrupt:
        progress.console.print(
            "interrupted; re-run the same command to resume (finished trials are skipped)"
        )
        raise typer.Exit(130) from None
    print_sweep_report(plan.sweep_dir, None, 960, 600)
    if result.failed:
        raise Td3HerError(
            f"{len(result.failed)} of {progress.total} trials failed (see their error.txt); "
            "re-run the same command to retry them"
        )


def plan_and_prepare(preset, given: dict, set_values: list[str], grid: list[str], seeds, out):
    """The sweep's base config (the preset, the options `given`, then --set) and its plan of
    trials, with every env checked and the sweep directory prepared: (base, plan)."""
    from td3her_cli.presets import choose_preset, preset_values
    from td3her_cli.sweep.trials import (
        default_sweep_dir,
        parse_grid,
        parse_overrides,
        plan_sweep,
        prepare_sweep_dir,
    )

    name, _ = choose_preset(preset, given.get("env_id"))
    base = TrainConfig(**{**preset_values(name), **given}, extra={"preset": name})
    overrides = parse_overrides(set_values, base)
    base = config_for_env(base.replace(**overrides), {**given, **overrides})
    axes = parse_grid(grid, base)
    fixed_and_swept = sorted(set(overrides) & {axis.field for axis in axes})
    if fixed_and_swept:
        raise UsageError(f"{fixed_and_swept[0]} is given to both --set and --grid; keep one")
    plan = plan_sweep(base, axes, seeds, out if out is not None else default_sweep_dir(base, axes))
    by_env: dict[str, list[TrainConfig]] = {}  # one env per env id, checked for every trial
    for trial in plan.trials:
        by_env.setdefault(trial.config.env_id, []).append(trial.config)
    for env_id, configs in by_env.items():
        check_env(env_id, base.env_modules, configs)
    prepare_sweep_dir(plan)
    return base, plan


class SweepProgress:
    """The sweep's console lines: one when Ray starts, one as each trial ends."""

    def __init__(self, base: TrainConfig, plan, cpus_per_trial: float) -> None:
        self.base, self.plan, self.cpus_per_trial = base, plan, cpus_per_trial
        self.console = make_console()
        self.total = len(plan.trials)
        self.ended: list = []

    def on_start(self, statuses: dict, cpus: float) -> None:
        """What the sweep will do: trials finished before, to evaluate, resume and start."""
        from td3her_cli.sweep.trials import FINISHED, RESUME, held_out_record

        plan, total = self.plan, self.total
        states = [status.state for status in statuses.values()]
        finished, resume = states.count(FINISHED), states.count(RESUME)
        unevaluated = sum(
            statuses[t.name].state == FINISHED and held_out_record(t.run_dir) is None
            for t in plan.trials
        )
        to_evaluate = (
            f", {unevaluated} of them to evaluate on held-out episodes" if unevaluated else ""
        )
        self.console.print(
            f"[bold]td3her sweep[/] {self.base.env_id}: {len(plan.settings)} settings x "
            f"{len(plan.seeds)} seeds = {total} trials ({finished} finished before{to_evaluate}, "
            f"{resume} to resume, {total - finished - resume} to start) on Ray with {cpus:g} "
            f"CPUs, {self.cpus_per_trial:g} per trial -> {plan.sweep_dir}",
            soft_wrap=True,
        )

    def on_trial_end(self, outcome) -> None:
        """One line: skipped, finished (or evaluated) with its final success, or failed."""
        from rich.markup import escape

        from td3her_cli.sweep.trials import DONE, SKIPPED

        self.ended.append(outcome)
        prefix = f"[{len(self.ended)}/{self.total}] {outcome.name}:"
        if outcome.status == SKIPPED:
            self.console.print(f"{prefix} finished before, skipped", highlight=False)
        elif outcome.status == DONE:
            resumed = (
                f" (resumed from epoch {outcome.resumed_from_epoch})"
                if outcome.resumed_from_epoch is not None and not outcome.evaluated_only
                else ""
            )
            what = "evaluated" if outcome.evaluated_only else "finished"
            episodes = outcome.held_out_episodes
            self.console.print(
                f"{prefix} {what} in {outcome.seconds:.0f}s{resumed}, final success "
                f"{percent(outcome.final_success_rate)}"
                + (f" on {episodes} held-out episodes" if episodes else ""),
                highlight=False,
            )
        else:
            error_file = self.plan.sweep_dir / outcome.name / "error.txt"
            self.console.print(
                f"{prefix} [red]failed[/]: {escape(str(outcome.error))} "
                f"(traceback in {escape(str(error_file))})",
                highlight=False,
                soft_wrap=True,
            )
