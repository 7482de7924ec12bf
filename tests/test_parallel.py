"""--num-envs: subprocess collection gives exactly the single-env episodes for the same seeds."""

import numpy as np
import pytest

from td3her_cli.config import TrainConfig
from td3her_cli.envs import describe_env, make_env
from td3her_cli.noise import GaussianNoise
from td3her_cli.parallel import ParallelCollector
from td3her_cli.rollout import collect_episode
from td3her_cli.training import train

from .conftest import TINY

pytestmark = pytest.mark.slow


def proportional_policy(observation, goal):
    """Moves toward the goal: reaches it in a few steps, so episodes end at different times."""
    return np.tanh(5.0 * (goal[:, :3] - observation[:, :3])).astype(np.float32)


@pytest.mark.parametrize("env_id", ["PandaReach-v3", "PandaPush-v3"])
def test_parallel_episodes_equal_single_env_episodes(env_id):
    env = make_env(env_id)
    spec = describe_env(env, env_id)
    seeds = [11, 12, 13, 14, 15]
    expected = {seed: collect_episode(env, spec, proportional_policy, seed) for seed in seeds}
    env.close()
    collector = ParallelCollector(env_id, (), 2, spec)
    try:
        assert len(list(collector.episodes([21], proportional_policy))) == 1  # 1 of 2 workers
        silent = [GaussianNoise(spec.action_dim, 0.0, np.random.default_rng(0)) for _ in range(2)]
        collected = list(collector.episodes(seeds, proportional_policy, silent, None, 0))
        next(collector.episodes([23, 24, 25], proportional_policy))  # left mid-episode
        evaluated = list(collector.episodes(seeds, proportional_policy))  # no noise at all
    finally:
        collector.close()
    for got in (collected, evaluated):
        assert len(got) == 5
        by_goal = {tuple(e.desired_goal[0]): e for e in got}
        for episode in expected.values():
            match = by_goal[tuple(episode.desired_goal[0])]
            np.testing.assert_array_equal(match.observation, episode.observation)
            np.testing.assert_array_equal(match.action, episode.action)
            assert match.success == episode.success


def train_one_epoch(tmp_path, **overrides):
    """A 2-cycle epoch with small networks; returns the TrainResult."""
    config = TrainConfig(**{**TINY, "epochs": 1, "hidden": (16,), "batch_size": 16, **overrides})
    return train(config, tmp_path / "run", tensorboard=False)


def test_training_with_two_envs(tmp_path):
    result = train_one_epoch(tmp_path, episodes_per_cycle=3, num_envs=2)
    assert result.epochs[0].episodes == 6


def test_more_envs_than_episodes_per_cycle(tmp_path):
    """--num-envs 3 with 2 episodes per cycle used to die with ResetNeeded in the first cycle."""
    result = train_one_epoch(tmp_path, episodes_per_cycle=2, num_envs=3)
    assert result.epochs[0].episodes == 4
