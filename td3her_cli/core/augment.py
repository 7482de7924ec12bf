"""Dynamics-invariant augmentation of replayed batches: translation in the table plane, and
reflection through the robot's vertical plane.

Moving the gripper, the objects and the goal of a transition together by one (dx, dy) on a flat
table gives a transition the env could have produced from the moved state with the same action
(an end-effector displacement), with the same reward and done: achieved and desired goals move
together, so their distance is unchanged. Velocities, rotations and relative positions do not
change. It holds while the shift is small against the table and the arm's reach, which bound
the real data. Corrado & Hanna (2023, arXiv:2310.17786) found such augmentations raise data
efficiency on sparse goal tasks.

Reflecting a transition through the vertical plane y = 0 that holds a panda-gym robot's base
(the table, the goal and object ranges are symmetric about it) gives the transition of the
mirrored scene under the mirrored action: every y, y-velocity and action dy changes sign, and
so do each object's roll and yaw and its angular velocity about x and about z (a mirror keeps
pitch and the spin about y); a rotation written as an (x, y, z, w) quaternion, as Flip's cube
and goal are, has its x and z negated. Rewards, dones and distances do not change.

Renaming the faces of a uniform cube (Flip's) by one of the 24 turns that map it onto itself
changes no body in the scene: the cube's orientation q becomes q·s for that turn s, its pose,
velocities and contacts stay, and the goal g becomes g·s, so the distance 1 - <q, g>^2 (the
reward) is unchanged. It teaches that only the turn from q to g matters, not which face is
which.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from td3her_cli.core.replay import Batch


@dataclass(frozen=True)
class PlanePositions:
    """Where a goal env keeps table-plane positions: the column of each position's x (its y is
    the next column) in the observation and in the goal."""

    observation: tuple[int, ...]
    goal: tuple[int, ...]


def translate_rows(
    batch: Batch,
    positions: PlanePositions,
    max_shift: float,
    share: float,
    rng: np.random.Generator,
) -> Batch:
    """A copy of batch in which a random `share` of the rows is translated in the table plane
    by (dx, dy), each uniform in [-max_shift, max_shift] and drawn per row: every position of
    the observation, the next observation and the goal moves by the same row's shift.

    Works on flat ([B, ...]) and stacked ([steps, B, ...]) batches alike.
    """
    rows = batch.reward.shape  # [B] or [steps, B]
    shift = rng.uniform(-max_shift, max_shift, (*rows, 2)).astype(np.float32)  # [..., 2]
    shift *= (rng.random(rows) < share)[..., None]  # rows not drawn stay where they were

    def moved(array: np.ndarray, columns: tuple[int, ...]) -> np.ndarray:
        array = array.copy()
        for column in columns:
            array[..., column : column + 2] += shift
        return array

    return batch._replace(
        observation=moved(batch.observation, positions.observation),
        next_observation=moved(batch.next_observation, positions.observation),
        desired_goal=moved(batch.desired_goal, positions.goal),
    )


@dataclass(frozen=True)
class MirrorColumns:
    """The observation, goal and action columns whose sign a reflection through y = 0 flips."""

    observation: tuple[int, ...]
    goal: tuple[int, ...]
    action: tuple[int, ...]


def reflect_rows(
    batch: Batch, columns: MirrorColumns, share: float, rng: np.random.Generator
) -> Batch:
    """A copy of batch in which a random `share` of the rows (drawn per row) is mirrored: the
    listed columns of the observation, the next observation, the goal and the action change
    sign. Works on flat ([B, ...]) and stacked ([steps, B, ...]) batches alike."""
    rows = batch.reward.shape
    mirrored = rng.random(rows) < share

    def flipped(array: np.ndarray, flips: tuple[int, ...]) -> np.ndarray:
        sign = np.ones(array.shape[-1], dtype=array.dtype)
        sign[list(flips)] = -1
        return np.where(mirrored[..., None], array * sign, array)

    return batch._replace(
        observation=flipped(batch.observation, columns.observation),
        next_observation=flipped(batch.next_observation, columns.observation),
        desired_goal=flipped(batch.desired_goal, columns.goal),
        action=flipped(batch.action, columns.action),
    )


@dataclass(frozen=True)
class FaceColumns:
    """Where Flip-like envs keep (x, y, z, w) quaternions of a symmetric cube: the first column
    of each in the observation and in the goal."""

    observation: tuple[int, ...]
    goal: tuple[int, ...]


@functools.cache
def cube_turns() -> np.ndarray:
    """The 24 turns that map a cube onto itself, as (x, y, z, w) quaternions with w >= 0
    (read-only, built once)."""
    from scipy.spatial.transform import Rotation

    turns = with_w_nonnegative(Rotation.create_group("O").as_quat())
    turns.flags.writeable = False
    return turns


def with_w_nonnegative(quaternions: np.ndarray) -> np.ndarray:
    """quaternions (last axis x, y, z, w), each written with w >= 0 (the same turns)."""
    return np.where(quaternions[..., 3:] < 0, -quaternions, quaternions)


def quaternion_product(q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """The Hamilton product q·r of (x, y, z, w) quaternions, broadcast over leading axes."""
    qx, qy, qz, qw = np.moveaxis(q, -1, 0)
    rx, ry, rz, rw = np.moveaxis(r, -1, 0)
    return np.stack(
        [
            qw * rx + qx * rw + qy * rz - qz * ry,
            qw * ry - qx * rz + qy * rw + qz * rx,
            qw * rz + qx * ry - qy * rx + qz * rw,
            qw * rw - qx * rx - qy * ry - qz * rz,
        ],
        axis=-1,
    )


def rename_faces(
    batch: Batch, columns: FaceColumns, share: float, rng: np.random.Generator
) -> Batch:
    """A copy of batch in which a random `share` of the rows (drawn per row) has its cube's
    faces renamed by one of the cube's 24 turns s, drawn per row: every listed quaternion q of
    the observation, the next observation and the goal becomes q·s, written with w >= 0 (as
    the env's drawn goals are; a renamed row of a cube turned past half a turn, w < 0, so
    changes sign even for the identity turn: the same orientation). Works on flat ([B, ...])
    and stacked ([steps, B, ...]) batches alike."""
    renamed, turns = _draw_turns(batch.reward.shape, share, rng)
    return batch._replace(
        observation=turned(batch.observation, columns.observation, turns, renamed),
        next_observation=turned(batch.next_observation, columns.observation, turns, renamed),
        desired_goal=turned(batch.desired_goal, columns.goal, turns, renamed),
    )


def rename_faces_of(
    array: np.ndarray, starts: tuple[int, ...], share: float, rng: np.random.Generator
) -> np.ndarray:
    """A copy of the rows `array` ([N, columns]) with the quaternions at `starts` renamed as
    rename_faces renames a batch's, in a random `share` of the rows."""
    renamed, turns = _draw_turns(array.shape[:-1], share, rng)
    return turned(array, starts, turns, renamed)


def _draw_turns(
    rows: tuple[int, ...], share: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Which rows are renamed (a random `share`) and each row's cube turn ([..., 4])."""
    renamed = rng.random(rows) < share
    return renamed, cube_turns()[rng.integers(0, 24, rows)]


def turned(
    array: np.ndarray, starts: tuple[int, ...], turns: np.ndarray, renamed: np.ndarray
) -> np.ndarray:
    """A copy of array whose quaternions at `starts` are q·turn (w >= 0) where `renamed`."""
    array = array.copy()
    for start in starts:
        q = array[..., start : start + 4]
        new = with_w_nonnegative(quaternion_product(q, turns)).astype(array.dtype)
        array[..., start : start + 4] = np.where(renamed[..., None], new, q)
    return array
