"""Shared fixtures: quiet TensorFlow, a small fake env spec."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from td3her_cli.envs import EnvSpec  # noqa: E402


@pytest.fixture
def small_spec() -> EnvSpec:
    """A made-up goal env spec: 4-dim observation, 2-dim goal and action, sparse reward."""
    return EnvSpec(
        env_id="Fake-v0",
        obs_dim=4,
        goal_dim=2,
        action_dim=2,
        action_low=(-1.0, -1.0),
        action_high=(1.0, 1.0),
        max_episode_steps=10,
        reward_bounds=(-1.0, 0.0),
    )
