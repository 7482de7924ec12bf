"""The shapes and bounds of a goal env, as the agent sees them."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EnvSpec:
    """Shapes and bounds of a goal env, as the agent sees them."""

    env_id: str
    obs_dim: int
    goal_dim: int
    action_dim: int
    action_low: tuple[float, ...]
    action_high: tuple[float, ...]
    max_episode_steps: int | None
    reward_bounds: tuple[float, float] | None
    """(min, max) when the reward takes only two values (sparse), else None (dense)."""
    terminates_on_success: bool = False
    """The env ends an episode as soon as its goal is reached (panda-gym v3 does)."""

    def to_dict(self) -> dict:
        """A JSON-serialisable description of the spaces."""
        return {
            "env_id": self.env_id,
            "obs_dim": self.obs_dim,
            "goal_dim": self.goal_dim,
            "action_dim": self.action_dim,
            "action_low": list(self.action_low),
            "action_high": list(self.action_high),
            "max_episode_steps": self.max_episode_steps,
            "reward_bounds": list(self.reward_bounds) if self.reward_bounds else None,
            "terminates_on_success": self.terminates_on_success,
        }

    @functools.cached_property
    def _action_box(self) -> tuple[np.ndarray, np.ndarray]:
        low = np.asarray(self.action_low, dtype=np.float32)
        return low, np.asarray(self.action_high, dtype=np.float32) - low

    def scale_action(self, action: np.ndarray) -> np.ndarray:
        """Map an agent action in [-1, 1] to the env's action box."""
        low, width = self._action_box
        return low + (np.clip(action, -1.0, 1.0) + 1.0) * 0.5 * width
