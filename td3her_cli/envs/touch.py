"""Exploratory episodes that start with the closed fingertips resting on Flip's cube.

A push only slides PandaFlip's cube across the table; pressing the fingertips down on its top
near an edge and moving outward tips it onto the next face, every time
(`python -m docs.experiments.probes.flip_pushes`,
docs/experiments/2026-12-07-flip-slide-recipe.md). Exploration rarely makes that narrow motion.
`--touch-start P` starts that share of Flip's exploratory episodes, after the env's reset, with
the arm placed by inverse kinematics, fingers closed, so that the fingertips rest on (or within
about 3 mm above) the cube's top at a uniformly drawn point of it, as `--grasp-start` puts
PickAndPlace's cube in the hand. About a third of the points lie near enough to an edge (1.5 cm
or more off centre) for a press there to tip the cube; the policy still has to press and move
outward. The draw is independent of `--near-goal-share`'s, and a moved goal met at the start
ends the episode at once as usual. The episode then runs as usual. Evaluation episodes never
start touching.
"""

from __future__ import annotations

import numpy as np

from td3her_cli.envs.grasp import place_gripper
from td3her_cli.envs.near_goal import goal_is_object_orientation
from td3her_cli.errors import UsageError

TOUCH_STREAM = 29
"""With the episode's seed: the generator that decides whether it starts touching, and where."""
FINGERTIP_DEPTH = 0.004
"""How far panda-gym's end-effector point lies above the closed fingertips' underside (metres;
measured: it rests 3.8 mm above the table and 4.2 mm above the cube's top)."""
TOP_REACH = 0.9
"""The drawn point lies within this fraction of the half-side from the top's centre, along each
of the table's axes (so the fingertips rest on the top, not over its edge)."""


def can_start_touching(env) -> bool:
    """Whether env is a panda-gym task whose goal is its one object's orientation (Flip)."""
    return goal_is_object_orientation(env)


def check_touch_start(env, fraction: float, env_id: str) -> None:
    """Raise UsageError when `--touch-start` asks for starts env cannot give."""
    if fraction > 0 and not can_start_touching(env):
        raise UsageError(
            "--touch-start needs a panda-gym task whose goal is its object's orientation "
            f"(Flip); {env_id} is not one"
        )


def touch_point(fraction: float, seed: int) -> tuple[float, float] | None:
    """Where on the cube's top the exploratory episode with this env seed starts touching, as
    fractions in [-1, 1] of the half-side along x and y; None (from the reset) unless a fixed
    draw per seed falls within `fraction`."""
    if fraction <= 0:
        return None
    rng = np.random.default_rng([seed, TOUCH_STREAM])
    if rng.random() >= fraction:
        return None
    x, y = rng.uniform(-1.0, 1.0, size=2)
    return float(x), float(y)


def touch_object(env, point: tuple[float, float]) -> dict:
    """Rest the closed fingertips on the top of env's cube at `point` (fractions of the
    half-side along x and y, see touch_point); the env's new observation. Call right after
    env.reset() on an env that passes `can_start_touching`."""
    sim = env.unwrapped.sim
    half_side = env.unwrapped.task.object_size / 2
    centre = np.asarray(sim.get_base_position("object"), dtype=float)
    offset = TOP_REACH * half_side * np.asarray(point, dtype=float)
    target = centre + np.array([offset[0], offset[1], half_side + FINGERTIP_DEPTH])
    return place_gripper(env, target, finger_joint=0.0, fingers=-1.0)
