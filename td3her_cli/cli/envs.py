"""`td3her envs`: the goal-conditioned envs td3her can train on, and those it cannot make."""

from __future__ import annotations

from typing import Annotated

import typer

from td3her_cli.report.display import make_console


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
