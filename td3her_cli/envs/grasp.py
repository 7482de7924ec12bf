"""Exploratory episodes that start with the object already held in the gripper.

The HER paper (Andrychowicz et al., 2017, section 4.1, footnote 3) started half of its
pick-and-place training episodes from a state with the box grasped: without that, a single
learner rarely discovers lifting, and a policy that only pushes tops out where the goals on or
near the table allow (`python -m docs.experiments.probes.goal_height`). `--grasp-start P` does
this for panda-gym tasks whose goal is their objects' positions and whose gripper opens
(PickAndPlace and Stack; Push and Slide block the gripper, Flip's goal is an orientation): after
the env's reset, with probability P, every other goal object is put on its goal (Stack: the
bottom cube), the arm is placed by inverse kinematics, fingers open, at the object whose goal is
highest (Stack: the top cube, which the reset leaves in the air, its underside 4 cm above the
table), and the fingers close on it for a few simulation steps, which are not env steps. So a
grasped start on Stack leaves only the top cube to bring to its goal (a quarter of them start
within the success distance: `python -m docs.experiments.probes.grasped_starts PandaStack-v3`).
The episode then runs as usual from that state. Evaluation episodes never start grasped.
`--tower-start P` starts a share of Stack's exploratory episodes with the bottom cube on its
goal and the top cube and the arm where the reset left them: the rung between a grasped start
(the top cube held over a placed bottom one) and the full task. As with grasped starts, about
a quarter of them start within Stack's success distance (the reset leaves the top cube at its
goal's height, so only its table-plane distance counts), and end after one step.
MuJoCo's FetchPickAndPlace starts grasped the same way through its mocap (`fetch_grasp`).
"""

from __future__ import annotations

import numpy as np

from td3her_cli.envs import fetch_grasp
from td3her_cli.envs.goal_env import is_panda_gym
from td3her_cli.errors import UsageError

GRASP_STREAM = 17
"""With the episode's seed: the generator that decides whether it starts grasped."""
TOWER_STREAM = 23
"""With the episode's seed: the generator that decides whether its tower starts partly built."""
POINTING_DOWN = np.array([1.0, 0.0, 0.0, 0.0])
"""The gripper orientation panda-gym's Panda keeps (quaternion x, y, z, w)."""
IK_TOLERANCE = 5e-4
"""Inverse kinematics repeats, each pass from the pose the last one set, until the end effector
lies this close to its target (metres): one pass misses by about 1 mm near the robot and five
by up to 6 mm at the far side of the table."""
IK_MAX_PASSES = 30
"""...or for at most this many passes."""
CLOSING_STEPS = 5
"""Physics steps with the fingers closing, each as long as an env step (panda-gym's sim.step),
not counted as env steps."""
OPEN_FINGER = 0.04
"""Each finger's joint position when the gripper is fully open (metres)."""
UPRIGHT = np.array([0.0, 0.0, 0.0, 1.0])
"""The orientation panda-gym's resets give its objects (quaternion x, y, z, w)."""


OBJECT_BODIES = (("object",), ("object1", "object2"))
"""The panda-gym bodies whose positions can make up a task's achieved goal, in goal order."""


def goal_objects(env) -> tuple[str, ...]:
    """The panda-gym bodies whose positions, concatenated, are env's achieved goal: ("object",)
    for PickAndPlace, Push and Slide, ("object1", "object2") for Stack, () for anything else."""
    unwrapped = env.unwrapped
    sim, task = getattr(unwrapped, "sim", None), getattr(unwrapped, "task", None)
    if sim is None or task is None or not is_panda_gym(env):
        return ()
    goal = np.asarray(task.get_achieved_goal())
    for bodies in OBJECT_BODIES:
        if not set(bodies) <= set(getattr(sim, "_bodies_idx", {})):
            continue
        positions = np.concatenate([sim.get_base_position(body) for body in bodies])
        if goal.shape == positions.shape and np.allclose(goal, positions):
            return bodies
    return ()


def goal_is_object_position(env) -> bool:
    """Whether env is a panda-gym task whose achieved goal is the position of its one body
    "object" (PickAndPlace, Push, Slide)."""
    return goal_objects(env) == ("object",)


def can_start_grasped(env) -> bool:
    """Whether env's goal is its objects' positions and its gripper opens (PickAndPlace, Stack,
    FetchPickAndPlace)."""
    if fetch_grasp.can_start_grasped(env):
        return True
    robot = getattr(env.unwrapped, "robot", None)
    return bool(goal_objects(env)) and not getattr(robot, "block_gripper", True)


def check_grasp_start(env, fraction: float, env_id: str) -> None:
    """Raise UsageError when `--grasp-start` asks for grasped starts that env cannot give."""
    if fraction > 0 and not can_start_grasped(env):
        raise UsageError(
            "--grasp-start needs a panda-gym task whose goal is its objects' positions and whose "
            f"gripper opens (PickAndPlace, Stack), or FetchPickAndPlace; {env_id} is not one"
        )


def object_to_grasp(env) -> str:
    """The body a grasped start holds: of the goal's objects, the one whose desired position is
    highest (Stack: the top cube; ties go to the first)."""
    bodies = goal_objects(env)
    assert bodies, "object_to_grasp needs an env that passes can_start_grasped"
    goal = np.asarray(env.unwrapped.task.get_goal(), dtype=float)  # raises before a reset
    heights = goal.reshape(len(bodies), 3)[:, 2]
    return bodies[int(np.argmax(heights))]


def starts_grasped(fraction: float, seed: int) -> bool:
    """Whether the exploratory episode with this env seed starts grasped (a fixed draw per seed)."""
    if fraction <= 0:
        return False
    return bool(np.random.default_rng([seed, GRASP_STREAM]).random() < fraction)


def place_all_but_top(env) -> str:
    """Put every goal object but the top one (the one a grasped start holds:
    `object_to_grasp`) on its goal, upright; the top one's name. Call right after env.reset()
    on a panda-gym task."""
    unwrapped = env.unwrapped
    bodies, top = goal_objects(env), object_to_grasp(env)
    goals = np.asarray(unwrapped.task.get_goal(), dtype=float).reshape(len(bodies), 3)
    for body, goal in zip(bodies, goals):
        if body != top:
            unwrapped.sim.set_base_pose(body, goal, UPRIGHT)
    return top


def can_start_built(env) -> bool:
    """Whether env is a panda-gym task with more than one goal object (Stack)."""
    return len(goal_objects(env)) > 1


def check_tower_start(env, fraction: float, env_id: str) -> None:
    """Raise UsageError when `--tower-start` asks for partly built towers env cannot give."""
    if fraction > 0 and not can_start_built(env):
        raise UsageError(
            "--tower-start needs a panda-gym task with more than one goal object (Stack); "
            f"{env_id} is not one"
        )


def starts_built(fraction: float, seed: int) -> bool:
    """Whether the exploratory episode with this env seed starts with its tower partly built
    (a fixed draw per seed, independent of the grasped one)."""
    if fraction <= 0:
        return False
    return bool(np.random.default_rng([seed, TOWER_STREAM]).random() < fraction)


def build_tower(env) -> dict:
    """Put every goal object but the top one on its goal (Stack: the bottom cube), leave the
    top one and the arm where the reset put them; the env's new observation."""
    place_all_but_top(env)
    return env.unwrapped._get_obs()


def grasp_object(env) -> dict:
    """Put every goal object but the one to grasp (`object_to_grasp`) on its goal, put the
    gripper around that one where the reset placed it and close it; the env's new observation.

    Call right after env.reset(); the env must pass `can_start_grasped`. A Fetch task holds its
    one block (`fetch_grasp.grasp_object`).
    """
    if fetch_grasp.can_start_grasped(env):
        return fetch_grasp.grasp_object(env)
    held = place_all_but_top(env)
    target = np.asarray(env.unwrapped.sim.get_base_position(held), dtype=float)
    return place_gripper(env, target, OPEN_FINGER, fingers=-1.0)


def place_gripper(env, target: np.ndarray, finger_joint: float, fingers: float) -> dict:
    """Put panda-gym's gripper, pointing down, with its end effector at `target` and each finger
    joint at `finger_joint` (`move_arm`); then run CLOSING_STEPS physics steps with the arm
    still and the finger action `fingers`. The env's new observation."""
    unwrapped = env.unwrapped
    robot, sim = unwrapped.robot, unwrapped.sim
    move_arm(env, target, finger_joint)
    action = np.zeros(robot.action_space.shape, dtype=np.float32)
    action[-1] = fingers  # arm still
    for _ in range(CLOSING_STEPS):
        robot.set_action(action)
        sim.step()
    return unwrapped._get_obs()


def move_arm(env, target: np.ndarray, finger_joint: float | None = None) -> None:
    """Set panda-gym's arm joints, the gripper pointing down, so that its end effector lies at
    `target` (inverse kinematics, to IK_TOLERANCE); the finger joints at `finger_joint`, or as
    the inverse kinematics leaves them when None. No physics step runs."""
    robot = env.unwrapped.robot
    for _ in range(IK_MAX_PASSES):
        angles = np.array(robot.inverse_kinematics(robot.ee_link, target, POINTING_DOWN))
        if finger_joint is not None:
            angles[-2:] = finger_joint
        robot.set_joint_angles(angles)
        if np.linalg.norm(robot.get_ee_position() - target) < IK_TOLERANCE:
            return
