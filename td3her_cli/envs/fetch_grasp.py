"""Grasped starts for gymnasium-robotics' MuJoCo Fetch tasks (FetchPickAndPlace).

The Fetch counterpart of `grasp.grasp_object`: right after the env's reset, the gripper is
moved through its mocap target (as the env's own `_env_setup` does) above the block, lowered
around it with the fingers open and closed on it. Every step here is a physics step, none is an
env step, and no randomness is drawn, so the start depends only on the reset's seed. The
object stays where the reset put it. Push and Slide are refused: they are built with the
gripper blocked (both fingers pinned shut after every env step), so they could not hold it.
"""

from __future__ import annotations

import numpy as np

GRIP_SITE = "robot0:grip"
GRIPPER_BODY = "robot0:gripper_link"
MOCAP_BODY = "robot0:mocap"
FINGER_JOINTS = ("robot0:r_gripper_finger_joint", "robot0:l_gripper_finger_joint")
OBJECT = "object0"
"""The site (and body) of a Fetch task's block, whose position is the achieved goal."""
OPEN_FINGER = 0.05
"""Each finger joint's upper limit (metres): 5 cm either side of the centre, the block is 5 cm."""
DOWN = np.array([1.0, 0.0, 1.0, 0.0]) / np.sqrt(2.0)
"""The gripper orientation every Fetch env keeps (quaternion w, x, y, z)."""
REACH_TOLERANCE = 0.003
"""A move ends when the grip site is this close to its target (metres)."""
MAX_MOVE_BLOCKS = 25
"""At most this many blocks of physics (one env step's worth each) per move."""
CLOSING_STEPS = 5
"""Blocks of physics with the fingers closing, as `grasp.CLOSING_STEPS` for panda-gym."""


def mujoco_fetch(env):
    """env.unwrapped when it is a gymnasium-robotics MuJoCo (not mujoco-py) Fetch env, else None."""
    unwrapped = env.unwrapped
    if not type(unwrapped).__module__.startswith("gymnasium_robotics.envs.fetch"):
        return None
    if not hasattr(unwrapped, "model") or not hasattr(unwrapped, "_model_names"):
        return None
    return unwrapped


def can_start_grasped(env) -> bool:
    """Whether env is a Fetch task with a block and a gripper that opens (FetchPickAndPlace)."""
    fetch = mujoco_fetch(env)
    return (
        fetch is not None
        and bool(getattr(fetch, "has_object", False))
        and not getattr(fetch, "block_gripper", True)
    )


def _physics(fetch, blocks: int) -> None:
    fetch._mujoco.mj_step(fetch.model, fetch.data, nstep=blocks * fetch.n_substeps)


def _move_grip_to(fetch, target: np.ndarray) -> None:
    """Drive the mocap until the grip site is at target (or MAX_MOVE_BLOCKS have passed)."""
    utils, model, data = fetch._utils, fetch.model, fetch.data
    body = fetch._model_names.body_name2id[GRIPPER_BODY]
    for _ in range(MAX_MOVE_BLOCKS):
        grip = utils.get_site_xpos(model, data, GRIP_SITE)
        # the weld holds the gripper body on the mocap; the grip site sits below that body
        utils.set_mocap_pos(model, data, MOCAP_BODY, target + (data.xpos[body] - grip))
        _physics(fetch, 1)
        if np.linalg.norm(utils.get_site_xpos(model, data, GRIP_SITE) - target) < REACH_TOLERANCE:
            return


def grasp_object(env) -> dict:
    """Put the open gripper around the block where the reset placed it and close it; the env's
    new observation. Call right after env.reset(); env must pass `can_start_grasped`."""
    fetch = mujoco_fetch(env)
    assert can_start_grasped(env), "fetch_grasp.grasp_object needs FetchPickAndPlace"
    utils, model, data = fetch._utils, fetch.model, fetch.data
    # the reset leaves the mocap at the origin; env.step re-seats it on the gripper, so must we
    utils.reset_mocap2body_xpos(model, data)
    utils.set_mocap_quat(model, data, MOCAP_BODY, DOWN)
    for joint in FINGER_JOINTS:
        utils.set_joint_qpos(model, data, joint, OPEN_FINGER)
    data.ctrl[:] = OPEN_FINGER
    fetch._mujoco.mj_forward(model, data)
    block = utils.get_site_xpos(model, data, OBJECT).copy()
    grip_height = utils.get_site_xpos(model, data, GRIP_SITE)[2]
    _move_grip_to(fetch, np.array([block[0], block[1], grip_height]))  # above, then down
    _move_grip_to(fetch, utils.get_site_xpos(model, data, OBJECT).copy())
    data.ctrl[:] = 0.0  # the fingers' position targets that gripper action -1 gives
    _physics(fetch, CLOSING_STEPS)
    fetch._mujoco.mj_forward(model, data)
    return fetch._get_obs()
