"""A tiny goal-conditioned env registered on import, for `--env-module tests.point_goal_env`.

A point in the unit square moves by its action; the goal is another point; the reward is
sparse (0 within 0.1 of the goal, else -1), as panda-gym's.
"""

import gymnasium as gym
import numpy as np
from gymnasium import spaces

THRESHOLD = 0.1


class PointGoalEnv(gym.Env):
    """2-D point reaching: observation = position, goals are positions, action = velocity."""

    def __init__(self):
        box = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.observation_space = spaces.Dict(
            {"observation": box, "achieved_goal": box, "desired_goal": box}
        )
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)

    def _obs(self):
        return {
            "observation": self.position.copy(),
            "achieved_goal": self.position.copy(),
            "desired_goal": self.goal.copy(),
        }

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.position = self.np_random.uniform(-0.5, 0.5, 2).astype(np.float32)
        self.goal = self.np_random.uniform(-0.5, 0.5, 2).astype(np.float32)
        return self._obs(), {}

    def step(self, action):
        self.position = np.clip(self.position + 0.1 * np.asarray(action), -1, 1).astype(np.float32)
        reward = float(self.compute_reward(self.position, self.goal, {}))
        success = reward == 0.0
        return self._obs(), reward, False, False, {"is_success": success}

    def compute_reward(self, achieved_goal, desired_goal, info):
        distance = np.linalg.norm(np.asarray(achieved_goal) - np.asarray(desired_goal), axis=-1)
        return -(distance > THRESHOLD).astype(np.float32)


if "PointGoal-v0" not in gym.registry:
    gym.register("PointGoal-v0", entry_point=PointGoalEnv, max_episode_steps=20)
