"""Exploratory episodes whose goal is pulled toward the object: easy goals mixed into hard tasks.

`--near-goal-share P`: with probability P, after the env's reset, an exploratory episode's goal
is moved a uniformly drawn fraction of the way from what the object achieves at the start to the
goal the reset drew (0: the object's own), and the target markers with it:
- a position goal (Push, Slide, PickAndPlace) along the segment from the object;
- Stack's tower as a whole, its shape kept, so that its base lies that fraction of the way from
  the bottom cube (at 0 the bottom cube is already placed: a tower start where the cube lies);
- an orientation goal (Flip) along the shortest turn from the cube's own, then set down on the
  face nearest the top, so that the goal is a state the cube can rest in (an orientation
  tilted part way is not); which face is up stays that of the part-way turn.
A Slide episode then asks for a short push as often as a long one; of Flip's moved goals 57 %
ask for no tip and 41 % for one, where 67 % of the reset's ask for one tip and 17 % for two
(docs/experiments/2026-12-07-flip-slide-recipe.md). HER still relabels as before. Evaluation
episodes never move their goal. panda-gym tasks whose goal is their objects' positions or their
one object's orientation.
"""

from __future__ import annotations

import numpy as np

from td3her_cli.envs.goal_env import is_panda_gym
from td3her_cli.envs.grasp import UPRIGHT, goal_objects
from td3her_cli.errors import UsageError

NEAR_GOAL_STREAM = 19
"""With the episode's seed: the generator that decides whether its goal moves, and how far."""


def check_near_goal_share(env, share: float, env_id: str) -> None:
    """Raise UsageError when `--near-goal-share` asks for moved goals that env cannot take."""
    if share > 0 and not (goal_objects(env) or goal_is_object_orientation(env)):
        raise UsageError(
            "--near-goal-share needs a panda-gym task whose goal is its objects' positions "
            f"or its object's orientation (Push, Slide, PickAndPlace, Stack, Flip); {env_id} "
            "is not one"
        )


def goal_is_object_orientation(env) -> bool:
    """Whether env is a panda-gym task whose achieved goal is the orientation (a quaternion)
    of its one body "object" (Flip)."""
    unwrapped = env.unwrapped
    sim, task = getattr(unwrapped, "sim", None), getattr(unwrapped, "task", None)
    if not is_panda_gym(env) or "object" not in getattr(sim, "_bodies_idx", {}):
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
    """Move env's goal `fraction` of the way from what its object achieves now to the goal the
    reset drew, and the target markers with it; the env's new observation. Call right after
    env.reset()."""
    task, sim = env.unwrapped.task, env.unwrapped.sim
    drawn = np.asarray(task.goal, dtype=float)
    bodies = goal_objects(env)
    if bodies:  # positions: the whole goal moves with the first (bottom) object's target
        targets = drawn.reshape(len(bodies), 3)
        start = np.asarray(sim.get_base_position(bodies[0]), dtype=float)
        targets = targets + (fraction - 1.0) * (targets[0] - start)
        task.goal = targets.ravel()
        for body, target in zip(bodies, targets):
            sim.set_base_pose(body.replace("object", "target"), target, UPRIGHT)
    else:  # Flip: a quaternion; the marker keeps its place
        start = np.asarray(sim.get_base_rotation("object", "quaternion"), dtype=float)
        task.goal = set_down(turned_part_way(start, drawn, fraction))
        sim.set_base_pose("target", sim.get_base_position("target"), task.goal)
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


def set_down(quaternion: np.ndarray) -> np.ndarray:
    """The resting orientation nearest unit quaternion `quaternion` (x, y, z, w): the cube's
    axis closest to the vertical tilted onto it about a horizontal axis, by the smallest
    angle; written with w >= 0 as Flip's goals are."""
    from scipy.spatial.transform import Rotation

    rotation = Rotation.from_quat(quaternion)
    up_in_cube = rotation.inv().apply([0.0, 0.0, 1.0])
    axis = np.zeros(3)
    nearest = int(np.argmax(np.abs(up_in_cube)))
    axis[nearest] = np.sign(up_in_cube[nearest])
    pointing = rotation.apply(axis)  # that cube axis, in the world
    tilt = np.cross(pointing, [0.0, 0.0, 1.0])
    if np.linalg.norm(tilt) < 1e-12:
        return rotation.as_quat(canonical=True)
    angle = np.arctan2(np.linalg.norm(tilt), pointing[2])
    straighten = Rotation.from_rotvec(tilt / np.linalg.norm(tilt) * angle)
    return (straighten * rotation).as_quat(canonical=True)
