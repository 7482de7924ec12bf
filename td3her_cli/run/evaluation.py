"""A saved checkpoint's policy, run deterministically in a fresh env: what `td3her evaluate`
reports and what a sweep trial records as its held-out result (held_out.json).

Both go through `evaluate_checkpoint`, so the same checkpoint, seed and episodes give the same
numbers whichever asks. The library neither prints nor exits: a checkpoint's `warning` (a
broken pointer passed over) is the caller's to show.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from td3her_cli.core.spec import EnvSpec
from td3her_cli.envs import goal_env
from td3her_cli.envs.rollout import (
    EpisodeJob,
    EvalResult,
    Policy,
    deterministic_episodes,
    evaluate,
    evaluation_seeds,
)
from td3her_cli.envs.workers import EpisodeWorkers
from td3her_cli.quiet import import_tensorflow
from td3her_cli.run.checkpoint import (
    CheckpointInfo,
    check_spaces,
    load_policy,
    load_policy_one_thread,
)

PolicyLoader = Callable[[], Policy]
"""A picklable function of no arguments that loads a policy (worker processes call it too)."""
LoaderFor = Callable[[EnvSpec], PolicyLoader]
"""Given the env's spec, the PolicyLoader of the policy to act with (e.g. an exported ONNX
graph: `lambda spec: functools.partial(onnx_policy, path, spec.obs_dim, spec.goal_dim)`)."""


@dataclass(frozen=True)
class CheckpointEvaluation:
    """A checkpoint's policy on deterministic episodes: where, on which env and seed, and how
    well."""

    info: CheckpointInfo
    env_id: str  # the env the episodes ran in (the checkpoint's unless another was asked for)
    seed: int  # of the episodes: envs.rollout.evaluation_seeds(seed, episodes)
    result: EvalResult

    def to_dict(self) -> dict:
        """The object `td3her evaluate --json` prints (for a SavedModel policy)."""
        return {
            "checkpoint": str(self.info.path),
            "env_id": self.env_id,
            "seed": self.seed,
            **self.result.to_dict(),
        }


def env_modules_for(info: CheckpointInfo, extra: Sequence[str] | None = ()) -> tuple[str, ...]:
    """The env modules a checkpoint's run imported, then `extra` (--env-module) after them."""
    return tuple(info.meta.get("config", {}).get("env_modules", [])) + tuple(extra or ())


def saved_model_loader(info: CheckpointInfo) -> PolicyLoader:
    """A picklable loader of the checkpoint's SavedModel policy for a worker process (one TF
    thread per pool: the worker runs little else)."""
    return functools.partial(load_policy_one_thread, info)


@contextlib.contextmanager
def checkpoint_in_env(
    info: CheckpointInfo,
    env_id: str | None = None,
    env_modules: Sequence[str] | None = (),
    seed: int = 0,
    make: Callable[[str], Any] | None = None,
    loader: LoaderFor | None = None,
) -> Iterator[tuple[Any, EnvSpec, Policy]]:
    """Make the checkpoint's env (or `env_id`) and load its policy, checking that their spaces
    match; yields (env, spec, policy) and closes the env after.

    Args:
        info: A resolved checkpoint (run.checkpoint.resolve_checkpoint).
        env_id: The env to run in; None: the one the checkpoint was trained on.
        env_modules: Modules to import after the run's own, for envs they register.
        seed: Seeds the env's description (its spaces and bounds).
        make: Makes the env from its id (default envs.goal_env.make_env).
        loader: The policy to act with, given the env's spec; None: the checkpoint's SavedModel.

    Raises:
        CheckpointError: If the spaces differ or the SavedModel cannot be loaded.
    """
    import_tensorflow()  # without its start-up lines; a no-op where TF is imported already
    env_id = env_id or info.meta["env_id"]
    goal_env.import_env_modules(env_modules_for(info, env_modules))
    env = (make or goal_env.make_env)(env_id)
    try:
        spec = goal_env.describe_env(env, env_id, seed)
        check_spaces(info, spec)
        yield env, spec, load_policy(info) if loader is None else loader(spec)()
    finally:
        env.close()


def evaluate_checkpoint(
    info: CheckpointInfo,
    episodes: int,
    seed: int,
    env_id: str | None = None,
    env_modules: Sequence[str] | None = (),
    num_envs: int = 1,
    loader: LoaderFor | None = None,
) -> CheckpointEvaluation:
    """Run a checkpoint's policy without exploration noise on `episodes` episodes of the
    `td3her evaluate` stream from `seed` (HELD_OUT_SEED and up: the held-out test episodes).

    Args:
        info: A resolved checkpoint (run.checkpoint.resolve_checkpoint).
        episodes: How many episodes.
        seed: Seed of the episodes (envs.rollout.evaluation_seeds).
        env_id, env_modules, loader: As for `checkpoint_in_env`.
        num_envs: Worker processes running the episodes (each loads the policy itself); the
            episodes, and so the result, are the same for any number.

    Returns:
        The evaluation, with the env it ran in.

    Raises:
        CheckpointError: If the spaces differ or the policy cannot be loaded.
        EnvError: If an env cannot be made or crashes.
    """
    seeds = evaluation_seeds(seed, episodes)
    with checkpoint_in_env(info, env_id, env_modules, seed, loader=loader) as (env, spec, policy):
        workers = min(num_envs, episodes)
        if workers > 1:
            modules = env_modules_for(info, env_modules)
            pool = EpisodeWorkers(spec.env_id, modules, workers, spec)
            try:  # each worker loads the policy itself, so it acts exactly as `policy` does
                pool.load_policy(saved_model_loader(info) if loader is None else loader(spec))
                result = evaluate(pool.episodes([EpisodeJob(s) for s in seeds]))
            finally:
                pool.close()
        else:
            result = evaluate(deterministic_episodes(env, spec, policy, seeds))
    return CheckpointEvaluation(info, spec.env_id, seed, result)
