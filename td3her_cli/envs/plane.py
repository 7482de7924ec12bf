"""Which observation and goal columns of a goal env are table-plane positions (--augment-shift),
which change sign in a reflection through the robot's vertical plane (--augment-reflect), and
which hold a cube's orientation whose faces may be renamed (--augment-faces).

Found on the built env, by matching the simulator's positions of the gripper and the objects
against the observation, so every panda-gym task and gymnasium-robotics Fetch task is covered
without a per-task table. Envs whose actions are not end-effector displacements (panda-gym's
Joints variants) have none: translating the gripper would not keep their dynamics.
"""

from __future__ import annotations

import numpy as np

from td3her_cli.core.augment import FaceColumns, MirrorColumns, PlanePositions
from td3her_cli.envs import fetch_grasp
from td3her_cli.envs.goal_env import is_panda_gym
from td3her_cli.envs.grasp import goal_objects
from td3her_cli.envs.near_goal import goal_is_object_orientation
from td3her_cli.errors import UsageError

PANDA_BODIES = ("object", "object1", "object2")
"""panda-gym's object bodies, in the order its tasks put them in the observation."""


def positions_to_shift(env, shift: float, env_id: str) -> PlanePositions | None:
    """The positions `--augment-shift` moves: None when it is 0; UsageError when env has none."""
    return _columns_for(
        shift,
        plane_positions,
        env,
        "--augment-shift needs an end-effector-controlled panda-gym task or a Fetch task "
        f"(their table-plane positions are known); {env_id} is not one",
    )


def _columns_for(share: float, find, env, refusal: str):
    """find(env) when an aid's `share` is on (None when it is 0); UsageError(refusal) when
    find finds none."""
    if share == 0:
        return None
    columns = find(env)
    if columns is None:
        raise UsageError(refusal)
    return columns


def plane_positions(env) -> PlanePositions | None:
    """The table-plane position columns of env's observation and goal, or None when env is
    neither an end-effector-controlled panda-gym task nor a gymnasium-robotics Fetch task."""
    if is_panda_gym(env):
        return _panda(env.unwrapped)
    fetch = fetch_grasp.mujoco_fetch(env)
    if fetch is not None:
        return _fetch(fetch)
    return None


def _panda(unwrapped) -> PlanePositions | None:
    robot, task, sim = unwrapped.robot, unwrapped.task, unwrapped.sim
    if robot.control_type != "ee":
        return None
    observation = np.concatenate([robot.get_obs(), task.get_obs()])
    points = [robot.get_ee_position()]
    points += [sim.get_base_position(b) for b in PANDA_BODIES if b in sim._bodies_idx]
    columns = _columns(observation, points)
    if columns is None:
        return None
    goal_bodies = goal_objects(unwrapped)
    if goal_bodies:  # Push, Slide, PickAndPlace, Stack: the objects' positions
        goal = tuple(3 * i for i in range(len(goal_bodies)))
    elif _same(task.get_achieved_goal(), robot.get_ee_position()):  # Reach
        goal = (0,)
    else:  # Flip: an orientation
        goal = ()
    return PlanePositions(columns, goal)


OBJECT_COLUMNS = 12
"""A panda-gym object's observation columns: position, rotation (roll, pitch, yaw), velocity,
angular velocity, 3 each."""
MIRRORED_IN_OBJECT = (1, 3, 5, 7, 9, 11)
"""Of those, the ones a reflection through y = 0 negates: y, roll, yaw, y-velocity, and the
angular velocity about x and about z."""
TURNING_OBJECT_COLUMNS = 13
"""Flip's object columns: position, rotation as an (x, y, z, w) quaternion, velocity, angular
velocity."""
MIRRORED_IN_TURNING_OBJECT = (1, 3, 5, 8, 10, 12)
"""Of those, the ones a reflection through y = 0 negates: y, the quaternion's x and z (the
mirror image of a turn by an angle about (nx, ny, nz) is the turn by it about (-nx, ny, -nz)),
y-velocity, and the angular velocity about x and about z."""
MIRRORED_IN_ORIENTATION_GOAL = (0, 2)
"""The columns of Flip's goal (a quaternion) a reflection through y = 0 negates: x and z."""
MIRRORED_IN_GRIPPER = (1, 4)
"""The panda-gym robot's y and y-velocity (its observation: position, velocity, finger width)."""


def columns_to_mirror(env, share: float, env_id: str) -> MirrorColumns | None:
    """The columns `--augment-reflect` negates: None when it is 0; UsageError when env has none."""
    return _columns_for(
        share,
        mirror_columns,
        env,
        "--augment-reflect needs an end-effector-controlled panda-gym task (Reach, Push, "
        f"Slide, PickAndPlace, Stack, Flip); {env_id} is not one",
    )


def mirror_columns(env) -> MirrorColumns | None:
    """The columns a reflection through the vertical plane y = 0 negates, for an
    end-effector-controlled panda-gym task whose goal is positions or its cube's orientation
    (Fetch tasks, whose robot stands off y = 0, and the Joints variants: None)."""
    positions = plane_positions(env) if is_panda_gym(env) else None
    if positions is None or not _symmetric_about_y0(env.unwrapped):
        return None
    robot, task = env.unwrapped.robot, env.unwrapped.task
    gripper, objects = len(robot.get_obs()), positions.observation[1:]
    width = len(task.get_obs())
    if positions.goal and width == OBJECT_COLUMNS * len(objects):
        in_object, goal = MIRRORED_IN_OBJECT, tuple(column + 1 for column in positions.goal)
    elif goal_is_object_orientation(env) and width == TURNING_OBJECT_COLUMNS:
        in_object, goal = MIRRORED_IN_TURNING_OBJECT, MIRRORED_IN_ORIENTATION_GOAL
    else:
        return None  # a layout this module does not know
    observation = [c for c in MIRRORED_IN_GRIPPER if c < gripper]
    observation += [start + c for start in objects for c in in_object]
    return MirrorColumns(tuple(observation), goal, action=(1,))


def columns_to_rename(env, share: float, env_id: str) -> FaceColumns | None:
    """The quaternions `--augment-faces` turns: None when it is 0; UsageError when env has none."""
    return _columns_for(
        share,
        face_columns,
        env,
        "--augment-faces needs a panda-gym task whose goal is a cube's orientation (Flip); "
        f"{env_id} is not one",
    )


def face_columns(env) -> FaceColumns | None:
    """Where the observation and the goal hold the orientation of a panda-gym task's cube when
    the goal is that orientation (Flip), or None (other tasks, other bodies than a cube)."""
    if not goal_is_object_orientation(env) or not _object_is_a_cube(env.unwrapped):
        return None
    robot, task = env.unwrapped.robot, env.unwrapped.task
    if len(task.get_obs()) != TURNING_OBJECT_COLUMNS:
        return None  # a layout this module does not know
    return FaceColumns(observation=(len(robot.get_obs()) + 3,), goal=(0,))


def _object_is_a_cube(unwrapped) -> bool:
    """Whether the body "object" is one box with equal sides (its 24 turns leave it in place)."""
    sim = unwrapped.sim
    shapes = sim.physics_client.getCollisionShapeData(sim._bodies_idx["object"], -1)
    box = 3  # pybullet.GEOM_BOX
    return len(shapes) == 1 and shapes[0][2] == box and np.ptp(shapes[0][3]) < 1e-9


def _symmetric_about_y0(unwrapped) -> bool:
    """Whether the robot's base stands on y = 0 and the task draws its goals and objects from
    ranges symmetric about it, as panda-gym's own tasks do (Flip draws no goal position: its
    goal turns are uniform, which a mirror keeps)."""
    base = unwrapped.sim.get_base_position(unwrapped.robot.body_name)
    task = unwrapped.task
    ranges = [("goal_range_low", "goal_range_high"), ("obj_range_low", "obj_range_high")]
    found = [(getattr(task, low, None), getattr(task, high, None)) for low, high in ranges]
    found = [(low, high) for low, high in found if low is not None]
    if not found or abs(base[1]) > 1e-6:
        return False
    return all(np.isclose(np.asarray(low)[1], -np.asarray(high)[1]) for low, high in found)


def _fetch(fetch) -> PlanePositions | None:
    observation = fetch._get_obs()["observation"]
    sites = [fetch_grasp.GRIP_SITE] + ([fetch_grasp.OBJECT] if fetch.has_object else [])
    points = [fetch._utils.get_site_xpos(fetch.model, fetch.data, site) for site in sites]
    columns = _columns(observation, points)
    # The goal is the block's position, or the gripper's for FetchReach.
    return None if columns is None else PlanePositions(columns, (0,))


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and np.allclose(a, b, atol=1e-6)


def _columns(observation: np.ndarray, points: list) -> tuple[int, ...] | None:
    """For each point, the first column at which observation holds its three coordinates;
    None when one is not there (a layout this module does not know)."""
    columns = []
    for point in points:
        found = [c for c in range(observation.shape[0] - 2) if _same(observation[c : c + 3], point)]
        if not found:
            return None
        columns.append(found[0])
    return tuple(columns)
