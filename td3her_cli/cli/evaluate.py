"""`td3her evaluate`: a checkpoint's policy on deterministic episodes -> success, return, length."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from td3her_cli.cli.common import warn
from td3her_cli.config import MAX_NUM_ENVS
from td3her_cli.envs.rollout import HELD_OUT_SEED
from td3her_cli.report.display import make_console

MAX_EVAL_EPISODES = 1_000_000  # every episode's seed is drawn up front


def evaluate(
    checkpoint: Annotated[Path, typer.Argument(help="A run directory or a checkpoint directory.")],
    episodes: Annotated[
        int, typer.Option(help="Evaluation episodes.", min=1, max=MAX_EVAL_EPISODES)
    ] = 10,
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
        typer.Option(
            help="Worker processes running the episodes; same episodes.", min=1, max=MAX_NUM_ENVS
        ),
    ] = 1,
) -> None:
    """Run a checkpoint's policy deterministically and report success, return and length."""
    import functools
    import json

    from td3her_cli.report.display import evaluation_table
    from td3her_cli.run.checkpoint import resolve_checkpoint
    from td3her_cli.run.evaluation import evaluate_checkpoint

    loader = None
    if onnx is not None:
        from td3her_cli.report.export import onnx_policy, require_packages

        require_packages("onnxruntime", purpose="evaluate --onnx")

        def loader(spec):  # the exported graph, in this process and in each worker
            return functools.partial(onnx_policy, onnx, spec.obs_dim, spec.goal_dim)

    # A wrong path is reported at once: resolving needs no TensorFlow (seconds to import).
    info = resolve_checkpoint(checkpoint, latest=latest)
    if info.warning:
        warn(info.warning)
    if onnx is not None:
        from td3her_cli.report.export import exported_elsewhere

        elsewhere = exported_elsewhere(onnx, info)
        if elsewhere:
            warn(elsewhere)
    evaluation = evaluate_checkpoint(info, episodes, seed, env, env_module, num_envs, loader)
    source = {"checkpoint": str(info.path)} | ({"onnx": str(onnx)} if onnx is not None else {})
    if as_json:
        typer.echo(json.dumps({**source, **evaluation.to_dict()}))
    else:
        title = f"{evaluation.env_id}: {onnx if onnx is not None else info.path}"
        make_console().print(evaluation_table(evaluation.result, title))
