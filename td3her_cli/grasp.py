"""Exploratory episodes that start with the object already held in the gripper.

The HER paper (Andrychowicz et al., 2017, section 4.1, footnote 3) started half of its
pick-and-place training episodes from a state with the box grasped: without that, a single
learner rarely discovers lifting, and a policy that only pushes tops out where the goals on or
near the table allow (`python -m bench.goal_height`). `--grasp-start P` does this for panda-gym
tasks whose goal is one object's position and whose gripper opens (PickAndPlace; Push and
Slide block the gripper, Flip's goal is an orientation, Stack has two objects): after
the env's reset, with probability P, the arm is placed at the object by inverse kinematics with
its fingers open, and the fingers close on it for a few simulation steps, which are not env
steps. The episode then runs as usual from that state. Evaluation episodes never start grasped.
"""

from __future__ import annotations

import numpy as np

from td3her_cli.errors import UsageError

GRASP_STREAM = 17
"""With the episode's seed: the generator that decides whether it starts grasped."""
POINTING_DOWN = np.array([1.0, 0.0, 0.0, 0.0])
"""The gripper orientation panda-gym's Panda keeps (quaternion x, y, z, w)."""
IK_PASSES = 5
"""Inverse-kinematics passes, each from the pose the last one set (one pass misses by ~1 mm)."""
CLOSING_STEPS = 5
"""Physics steps with the fingers closing, each as long as an env step (panda-gym's sim.step),
not counted as env steps."""
OPEN_FINGER = 0.04
"""Each finger's joint position when the gripper is fully open (metres)."""


def goal_is_object_position(env) -> bool:
    """Whether env is a panda-gym task whose achieved goal is the position of its body
    "object" (PickAndPlace, Push, Slide)."""
    unwrapped = env.unwrapped
    sim, task = getattr(unwrapped, "sim", None), getattr(unwrapped, "task", None)
    if sim is None or task is None or not type(unwrapped).__module__.startswith("panda_gym"):
        return False
    if "object" not in getattr(sim, "_bodies_idx", {}):
        return False
    goal = np.asarray(task.get_achieved_goal())
    position = np.asarray(sim.get_base_position("object"))
    return goal.shape == position.shape and bool(np.allclose(goal, position))


def can_start_grasped(env) -> bool:
    """Whether env's goal is its object's position and its gripper opens (PickAndPlace)."""
    robot = getattr(env.unwrapped, "robot", None)
    return goal_is_object_position(env) and not getattr(robot, "block_gripper", True)


def check_grasp_start(env, fraction: float, env_id: str) -> None:
    """Raise UsageError when `--grasp-start` asks for grasped starts that env cannot give."""
    if fraction > 0 and not can_start_grasped(env):
        raise UsageError(
            "--grasp-start needs a panda-gym task whose goal is one object's position and whose "
            f"gripper opens (e.g. PandaPickAndPlace-v3); {env_id} is not one"
        )


def starts_grasped(fraction: float, seed: int) -> bool:
    """Whether the exploratory episode with this env seed starts grasped (a fixed draw per seed)."""
    if fraction <= 0:
        return False
    return bool(np.random.default_rng([seed, GRASP_STREAM]).random() < fraction)


def grasp_object(env) -> dict:
    """Put the gripper around the object where it lies and close it; the env's new observation.

    Call right after env.reset(); the env must pass `can_start_grasped`.
    """
    unwrapped = env.unwrapped
    robot, sim = unwrapped.robot, unwrapped.sim
    target = np.asarray(sim.get_base_position("object"), dtype=float)
    for _ in range(IK_PASSES):
        angles = np.array(robot.inverse_kinematics(robot.ee_link, target, POINTING_DOWN))
        angles[-2:] = OPEN_FINGER
        robot.set_joint_angles(angles)
    close = np.zeros(robot.action_space.shape, dtype=np.float32)
    close[-1] = -1.0  # arm still, fingers closing
    for _ in range(CLOSING_STEPS):
        robot.set_action(close)
        sim.step()
    return unwrapped._get_obs()
