"""Parallel episode collection (--num-envs N): N env copies in gymnasium AsyncVectorEnv workers.

The cycle's episodes are collected N at a time: every worker runs one episode; when it ends,
the worker starts the next episode the cycle still needs, with that episode's own seed, so
every episode is exactly the one the single-env loop would run for the same seed and actions.
The policy acts on all N observations in one batched call. A cycle still collects
`episodes_per_cycle` episodes and runs `optimization_steps` updates, so the update-to-data
ratio does not change with N; only the wall-clock of collection does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

import numpy as np

from td3her_cli.envs import GOAL_KEYS, EnvSpec
from td3her_cli.replay import Episode
from td3her_cli.rollout import EvaluationStopped


def _worker_env(env_id: str, modules: tuple[str, ...]):
    """Runs in each worker process: register envs, then make one (PyBullet chatter filtered).

    Workers ignore SIGINT: Ctrl-C reaches the whole process group, and the parent must keep
    its workers alive to finish the cycle and write a checkpoint. (gymnasium also calls this
    factory once in the parent to read the spaces; there the parent's handler stays.)
    """
    import multiprocessing
    import signal

    from td3her_cli.envs import import_env_modules, make_env

    if multiprocessing.parent_process() is not None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    import_env_modules(modules)
    return make_env(env_id)


class _EpisodeRecord:
    """Lists that grow into an Episode."""

    def __init__(self, observation, achieved_goal, desired_goal) -> None:
        self.observations, self.achieved_goals = [observation], [achieved_goal]
        self.desired_goals, self.actions, self.rewards, self.terminations = [], [], [], []
        self.current_goal = desired_goal

    def finish(self, success: bool) -> Episode:
        return Episode(
            observation=np.stack(self.observations),
            achieved_goal=np.stack(self.achieved_goals),
            desired_goal=np.stack(self.desired_goals),
            action=np.stack(self.actions),
            reward=np.asarray(self.rewards, np.float32),
            terminated=np.asarray(self.terminations, bool),
            success=success,
        )


class ParallelCollector:
    """Collects whole episodes from N subprocess envs in lockstep."""

    def __init__(self, env_id: str, modules: tuple[str, ...], num_envs: int, spec: EnvSpec):
        from gymnasium.vector import AsyncVectorEnv, AutoresetMode

        self.spec = spec
        self.num_envs = num_envs
        factory = functools.partial(_worker_env, env_id, tuple(modules))
        # spawn, not fork: the parent has TensorFlow's thread pools running.
        self.envs = AsyncVectorEnv(
            [factory] * num_envs, context="spawn", autoreset_mode=AutoresetMode.DISABLED
        )
        # Every step steps all workers, idle ones too: none may be stepped before a reset
        # (an evaluation of fewer episodes than workers may come first, after a resume).
        self.envs.reset(seed=list(range(num_envs)))

    def close(self) -> None:
        """Stop the worker processes."""
        self.envs.close()

    def episodes(
        self,
        seeds: list[int],
        policy: Callable[[np.ndarray, np.ndarray], np.ndarray],
        noises: list | None = None,
        rng: np.random.Generator | None = None,
        random_steps: int = 0,
        random_action_prob: float = 0.0,
        stop: Callable[[], bool] | None = None,
    ) -> Iterator[Episode]:
        """One episode per seed, yielded as each ends (not in seed order); the caller's work
        at each yield happens before the next step, so it may change what `policy` does next.
        The first `random_steps` env steps (counted over all workers) act uniformly at random,
        and later steps with probability `random_action_prob`; the others add `noises[w]()`.
        Without `noises` the policy acts deterministically (an evaluation).
        With `stop`, EvaluationStopped is raised instead of starting another episode once
        stop() is true (episodes under way are dropped). Leaving the loop early is fine: the
        next call resets every worker it uses."""
        count = len(seeds)
        n = self.num_envs
        current = {
            key: np.zeros((n, *self.envs.single_observation_space[key].shape), np.float32)
            for key in GOAL_KEYS
        }
        records: list[_EpisodeRecord | None] = [None] * n
        next_episode = 0
        steps = 0

        def start(workers: list[int]) -> None:
            nonlocal next_episode
            if stop is not None and stop():
                raise EvaluationStopped
            mask = np.zeros(n, bool)
            worker_seeds: list[int | None] = [None] * n
            for worker in workers:
                mask[worker] = True
                worker_seeds[worker] = seeds[next_episode]
                next_episode += 1
            raw, _ = self.envs.reset(seed=worker_seeds, options={"reset_mask": mask})
            for worker in workers:
                for key in GOAL_KEYS:
                    current[key][worker] = raw[key][worker]
                records[worker] = _EpisodeRecord(
                    current["observation"][worker].copy(),
                    current["achieved_goal"][worker].copy(),
                    current["desired_goal"][worker].copy(),
                )
                if noises is not None:
                    noises[worker].reset()

        start(list(range(min(n, count))))
        while any(record is not None for record in records):
            active = [w for w in range(n) if records[w] is not None]
            actions = policy(current["observation"], current["desired_goal"])  # [N, act]
            for worker in active:
                if steps < random_steps or (
                    random_action_prob > 0 and rng.random() < random_action_prob
                ):
                    actions[worker] = rng.uniform(-1.0, 1.0, self.spec.action_dim)
                elif noises is not None:
                    actions[worker] = np.clip(actions[worker] + noises[worker](), -1.0, 1.0)
                steps += 1
            raw, rewards, terminated, truncated, infos = self.envs.step(
                self.spec.scale_action(actions)
            )
            ended = []
            for worker in active:
                record = records[worker]
                record.desired_goals.append(record.current_goal)
                record.actions.append(actions[worker].astype(np.float32))
                record.rewards.append(float(rewards[worker]))
                record.terminations.append(bool(terminated[worker]))
                for key in GOAL_KEYS:
                    current[key][worker] = raw[key][worker]
                record.observations.append(current["observation"][worker].copy())
                record.achieved_goals.append(current["achieved_goal"][worker].copy())
                record.current_goal = current["desired_goal"][worker].copy()
                if terminated[worker] or truncated[worker]:
                    success = bool(np.asarray(infos.get("is_success", np.zeros(n)))[worker])
                    yield record.finish(success)
                    records[worker] = None
                    ended.append(worker)
            restart = ended[: max(0, count - next_episode)]
            if restart:
                start(restart)
