"""`python -m bench.object_episodes [--env PandaPush-v3]`: what an object task's episode costs.

Interleaves, over repeats and on the same episode seeds, blocks of uniform-random episodes:

- as-is:       panda-gym alone (its resets carry contact state from episode to episode);
- whole-sim:   every reset rebuilds the whole simulation (td3her before 2026-11-26);
- fresh-scene: every reset re-creates the scene's bodies but the robot (td3her's make_env);

and blocks of deterministic evaluation episodes with an untrained 3x256 actor:

- eval 1 env:  one env in this process, one episode after another (`--num-envs 1`);
- eval 2 workers: two worker processes running whole episodes (a run with `--num-envs 2`);

and, as the ceiling for any parallel scheme, fresh-scene random episodes in two free-running
processes at once (consecutive halves of the seeds; no lockstep): `2 processes`, ratio to
fresh-scene.

Prints a Markdown table of env steps per second (median and range over repeats) and each
block's ratio to its reference, computed within each repeat. Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time

import numpy as np

from td3her_cli.quiet import import_tensorflow


def eval_block(episodes_of, seeds: list[int]):
    """Deterministic episodes from `episodes_of(seeds)`: (env steps, seconds)."""
    start = time.perf_counter()
    steps = sum(episode.length for episode in episodes_of(seeds))
    return steps, time.perf_counter() - start


_WORKER_ENV = None


def _worker_start(env_id: str) -> None:
    global _WORKER_ENV
    from td3her_cli.envs.goal_env import make_env

    _WORKER_ENV = make_env(env_id)


def _worker_block(seeds: list[int]) -> tuple[int, float]:
    from bench.env_throughput import raw_block  # imports TensorFlow: not at module level

    return raw_block(_WORKER_ENV, len(seeds), np.random.default_rng(seeds[0]))(seeds[0])


def two_process_block(pool, seeds: list[int]):
    """Half the seeds in each of two worker processes at once: (env steps, wall seconds)."""
    start = time.perf_counter()
    half = len(seeds) // 2
    halves = pool.map(_worker_block, [seeds[:half], seeds[half:]])
    return sum(steps for steps, _ in halves), time.perf_counter() - start


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="PandaPush-v3")
    parser.add_argument("--episodes", type=int, default=20, help="episodes per block")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="TF threads (the policy's)")
    args = parser.parse_args()
    import_tensorflow(args.threads)

    from bench.env_throughput import raw_block
    from td3her_cli.config import TrainConfig
    from td3her_cli.core.agent import TD3Agent
    from td3her_cli.envs.goal_env import (
        FreshSimulationOnReset,
        _make_goal_env,
        describe_env,
        make_env,
    )
    from td3her_cli.envs.rollout import EpisodeJob, deterministic_episodes
    from td3her_cli.envs.workers import EpisodeWorkers

    as_is = _make_goal_env(args.env)
    whole_sim = FreshSimulationOnReset(
        _make_goal_env(args.env), lambda: _make_goal_env(args.env), full_rebuild_every=1
    )
    fresh_scene = make_env(args.env)
    eval_env = make_env(args.env)
    spec = describe_env(eval_env, args.env)
    policy = TD3Agent(TrainConfig(env_id=args.env), spec).numpy_policy()
    workers = EpisodeWorkers(args.env, (), 2, spec)
    workers.set_policy(policy.snapshot)
    pool = multiprocessing.get_context("spawn").Pool(2, _worker_start, (args.env,))
    rng = np.random.default_rng(0)
    blocks = {
        "as-is": lambda seeds: raw_block(as_is, len(seeds), rng)(seeds[0]),
        "whole-sim": lambda seeds: raw_block(whole_sim, len(seeds), rng)(seeds[0]),
        "fresh-scene": lambda seeds: raw_block(fresh_scene, len(seeds), rng)(seeds[0]),
        "eval 1 env": lambda seeds: eval_block(
            lambda s: deterministic_episodes(eval_env, spec, policy, s), seeds
        ),
        "eval 2 workers": lambda seeds: eval_block(
            lambda s: workers.episodes([EpisodeJob(seed) for seed in s]), seeds
        ),
        "2 processes": lambda seeds: two_process_block(pool, seeds),
    }
    pool.map(_worker_block, [[0], [1]])  # both workers up before the clock starts
    rates: dict[str, list[float]] = {name: [] for name in blocks}
    try:
        for repeat in range(args.repeats):
            seeds = list(range(repeat * args.episodes, (repeat + 1) * args.episodes))
            order = list(blocks) if repeat % 2 == 0 else list(reversed(blocks))
            for name in order:
                steps, seconds = blocks[name](seeds)
                rates[name].append(steps / seconds)
    finally:
        pool.close()
        workers.close()
        for env in (as_is, whole_sim, fresh_scene, eval_env):
            env.close()
    print(
        f"{args.env}: {args.episodes} episodes per block, {args.repeats} repeats, "
        f"blocks interleaved (order reversed on odd repeats); TF threads: {args.threads}"
    )
    print("| block | env steps/s, median (min–max) | ratio to its reference, median |")
    print("|---|---|---|")
    for name, values in rates.items():
        references = {"eval 1 env": "eval 1 env", "eval 2 workers": "eval 1 env"}
        reference = references.get(name, "fresh-scene" if name == "2 processes" else "as-is")
        ratio = statistics.median(v / r for v, r in zip(values, rates[reference]))
        print(
            f"| {name} | {statistics.median(values):.0f} ({min(values):.0f}–{max(values):.0f}) "
            f"| {ratio:.2f}x {reference} |"
        )


if __name__ == "__main__":  # the guard matters: the pool's workers import this module
    main()
