"""Exploratory episodes whose goal is pulled toward the object: easy goals mixed into hard tasks.

`--near-goal-share P`: with probability P, after the env's reset, an exploratory episode's goal
is moved onto the segment from the object's start to the goal the reset drew, at a uniformly
drawn fraction of the way (0: on the object, 1: unchanged), and the target marker with it. A
Slide or Push episode then asks for a short push as often as a long one, so the behaviour the
replay holds spans short and long pushes from the start; HER still relabels as before.
Evaluation episodes never move their goal. panda-gym tasks whose goal is the position of their
one object (Push, Slide, PickAndPlace).
"""

from __future__ import annotations

import numpy as np

from td3her_cli.envs.grasp import UPRIGHT, goal_is_object_position
from td3her_cli.errors import UsageError

NEAR_GOAL_STREAM = 19
"""With the episode's seed: the generator that decides whether its goal moves, and how far."""


def check_near_goal_share(env, share: float, env_id: str) -> None:
    """Raise UsageError when `--near-goal-share` asks for moved goals that env cannot take."""
    if share > 0 and not goal_is_object_position(env):
        raise UsageError(
            "--near-goal-share needs a panda-gym task whose goal is its one object's position "
            f"(Push, Slide, PickAndPlace); {env_id} is not one"
        )


def goal_fraction(share: float, seed: int) -> float:
    """How far along from the object to its drawn goal the exploratory episode with this env
    seed puts its goal: 1.0 (unchanged) unless a fixed draw per seed falls within `share`."""
    if share <= 0:
        return 1.0
    rng = np.random.default_rng([seed, NEAR_GOAL_STREAM])
    if rng.random() >= share:
        return 1.0
    return float(rng.random())


def pull_goal(env, fraction: float) -> dict:
    """Move env's goal to `fraction` of the way from its object to the goal the reset drew, and
    the target marker with it; the env's new observation. Call right after env.reset()."""
    task, sim = env.unwrapped.task, env.unwrapped.sim
    start = np.asarray(sim.get_base_position("object"), dtype=float)
    goal = start + fraction * (np.asarray(task.goal, dtype=float) - start)
    task.goal = goal
    sim.set_base_pose("target", goal, UPRIGHT)
    return env.unwrapped._get_obs()
