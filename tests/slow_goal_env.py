"""PointGoal that turns slow on demand, for `--env-module tests.slow_goal_env`.

SlowPointGoal-v0 steps as PointGoal-v0 until the file named by $SLOW_GOAL_ENV_MARKER exists,
then sleeps 50 ms per step: a test can make a run slow from a point it names (e.g. the
checkpoint pointer that an epoch's end writes). Its first slow step creates the file named by
$SLOW_GOAL_ENV_STARTED, if set: the run is then inside a slow collection.
"""

import os
import time

import gymnasium as gym

from tests.point_goal_env import PointGoalEnv

STEP_SECONDS = 0.05


class SlowPointGoalEnv(PointGoalEnv):
    """PointGoalEnv whose steps take STEP_SECONDS once the marker file exists."""

    def step(self, action):
        marker = os.environ.get("SLOW_GOAL_ENV_MARKER")
        if marker and os.path.exists(marker):
            started = os.environ.get("SLOW_GOAL_ENV_STARTED")
            if started and not os.path.exists(started):
                open(started, "w").close()
            time.sleep(STEP_SECONDS)
        return super().step(action)


if "SlowPointGoal-v0" not in gym.registry:
    gym.register("SlowPointGoal-v0", entry_point=SlowPointGoalEnv, max_episode_steps=20)
