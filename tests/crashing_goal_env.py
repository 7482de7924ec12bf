"""Goal envs that fail, registered on import: one raises on its first step (a sweep trial that
crashes, an env bug mid-episode), one raises in its constructor, two cannot render (a broken
rendering backend, and no frame at all).

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


class UnbuildablePointGoalEnv(PointGoalEnv):
    """PointGoalEnv whose constructor raises (e.g. a missing simulator asset)."""

    def __init__(self):
        raise FileNotFoundError("injected: robot.xml not found")


class NoRenderPointGoalEnv(PointGoalEnv):
    """PointGoalEnv whose rendering backend raises (render_mode="none") or gives no frame."""

    def __init__(self, render_mode=None, fault="raises"):
        super().__init__()
        self.fault = fault

    def render(self):
        if self.fault == "raises":
            raise RuntimeError("EGL: cannot open display\n(no GPU here)")
        return None


if "PointGoalNoRender-v0" not in gym.registry:
    gym.register("PointGoalNoRender-v0", entry_point=NoRenderPointGoalEnv, max_episode_steps=20)
    gym.register(
        "PointGoalNoFrame-v0",
        entry_point=NoRenderPointGoalEnv,
        max_episode_steps=20,
        kwargs={"fault": "none"},
    )
if "PointGoalBroken-v0" not in gym.registry:
    gym.register("PointGoalBroken-v0", entry_point=UnbuildablePointGoalEnv, max_episode_steps=20)
if "PointGoalCrash-v0" not in gym.registry:
    gym.register("PointGoalCrash-v0", entry_point=CrashingPointGoalEnv, max_episode_steps=20)
