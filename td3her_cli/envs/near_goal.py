"""Exploratory episodes whose goal is pulled toward the object: easy goals mixed into hard tasks.

`--near-goal-share P`: with probability P, after the env's reset, an exploratory episode's goal
is moved a uniformly drawn fraction of the way from what the object achieves at the start to the
goal the reset drew (0: the object's own, 1: unchanged), and the target marker with it: along
the segment for a position goal (Push, Slide, PickAndPlace), along the shortest turn for an
orientation goal (Flip). A Slide episode then asks for a short push as often as a long one, a
Flip episode for a small turn as often as a large one, so the behaviour the replay holds spans
both from the start; HER still relabels as before. Evaluation episodes never move their goal.
panda-gym tasks whose goal is their one object's position or orientation.
"""

from __future__ import annotations

import numpy as np

from td3her_cli.envs.grasp import UPRIGHT, goal_is_object_position
from td3her_cli.errors import UsageError

NEAR_GOAL_STREAM = 19
"""With the episode's seed: the generator that decides whether its goal moves, and how far."""


def check_near_goal_share(env, share: float, env_id: str) -> None:
    """Raise UsageError when `--near-goal-share` asks for moved goals that env cannot take."""
    if share > 0 and not (goal_is_object_position(env) or goal_is_object_orientation(env)):
        raise UsageError(
            "--near-goal-share needs a panda-gym task whose goal is its one object's position "
            f"or orientation (Push, Slide, PickAndPlace, Flip); {env_id} is not one"
        )


def goal_is_object_orientation(env) -> bool:
    """Whether env is a panda-gym task whose achieved goal is the orientation (a quaternion)
    of its one body "object" (Flip)."""
    unwrapped = env.unwrapped
    sim, task = getattr(unwrapped, "sim", None), getattr(unwrapped, "task", None)
    if sim is None or task is None or "object" not in getattr(sim, "_bodies_idx", {}):
        return False
    achieved = np.asarray(task.get_achieved_goal())
    rotation = np.asarray(sim.get_base_rotation("object", "quaternion"))
    return achieved.shape == (4,) and np.allclose(achieved, rotation)


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
    """Move env's goal to `fraction` of the way from its object's position or orientation to
    the goal the reset drew, and the target marker with it; the env's new observation. Call
    right after env.reset()."""
    task, sim = env.unwrapped.task, env.unwrapped.sim
    drawn = np.asarray(task.goal, dtype=float)
    if drawn.shape == (4,):  # Flip: a quaternion; the marker keeps its place
        start = np.asarray(sim.get_base_rotation("object", "quaternion"), dtype=float)
        task.goal = turned_part_way(start, drawn, fraction)
        sim.set_base_pose("target", sim.get_base_position("target"), task.goal)
    else:
        start = np.asarray(sim.get_base_position("object"), dtype=float)
        task.goal = start + fraction * (drawn - start)
        sim.set_base_pose("target", task.goal, UPRIGHT)
    return env.unwrapped._get_obs()


def turned_part_way(start: np.ndarray, goal: np.ndarray, fraction: float) -> np.ndarray:
    """The orientation `fraction` of the way along the shortest turn from unit quaternion
    `start` to `goal` (spherical linear interpolation), as a unit quaternion."""
    if np.dot(start, goal) < 0:  # q and -q are one orientation: take the short way round
        goal = -goal
    cosine = min(float(np.dot(start, goal)), 1.0)
    half_turn = np.arccos(cosine)
    if half_turn < 1e-9:
        return start.copy()
    turned = (
        np.sin((1 - fraction) * half_turn) * start + np.sin(fraction * half_turn) * goal
    ) / np.sin(half_turn)
    return turned / np.linalg.norm(turned)
