"""A goal env that raises on its first step, registered on import: a sweep trial that crashes.

`--env-module tests.crashing_goal_env --env PointGoalCrash-v0` (or a grid over env_id) makes
every trial on it fail inside `training.train`, as a real bug in an env would.
"""

import gymnasium as gym

from tests.point_goal_env import PointGoalEnv

MESSAGE = "injected failure for the sweep tests"


class CrashingPointGoalEnv(PointGoalEnv):
    """PointGoalEnv whose step raises."""

    def step(self, action):
        raise RuntimeError(MESSAGE)


if "PointGoalCrash-v0" not in gym.registry:
    gym.register("PointGoalCrash-v0", entry_point=CrashingPointGoalEnv, max_episode_steps=20)
