"""`python -m docs.experiments.probes.flip_outcomes RUN [--latest] [--episodes 100] [--seed 0]`:
what did Flip do with the cube?

panda-gym's Flip counts an episode as solved when the cube's orientation is within about 53°
of the goal's (1 - <q, g>^2 < 0.2). A cube resting on the table shows one of its six faces on
top; a goal is met by putting the goal's top face up and then turning the cube about the
vertical. This runs `td3her evaluate`'s episodes (same seeds, so the overall success rate
equals evaluate's) and splits them by what happened: started solved, the goal shows the start's
top face (no tip needed), the cube tilted past 45° at some step, it fell off the table (onto the
floor, in any orientation: Flip's success looks only at the orientation), it ended with the
goal's top face up, it ended on its start face turned about the vertical by more than 20°, and
the fingertips came down on the cube's top at some step, the fingers narrower than the cube
(the start of a press-and-roll tip, `python -m docs.experiments.probes.flip_pushes`).

Prints a Markdown table of counts, successes and failures apart.
"""

from __future__ import annotations

import numpy as np

from docs.experiments.probes.evaluation_episodes import (
    checkpoint_arguments,
    evaluation_episodes,
    print_outcome_table,
)
from td3her_cli.envs.touch import FINGERTIP_DEPTH

THRESHOLD = 0.2
"""panda-gym Flip's success bound on 1 - <q, g>^2."""
TURNED = np.deg2rad(20.0)
"""A turn about the vertical this large counts as turned."""
TABLE_TOP = 0.0
"""The table's top height: a cube centre below it fell off the table."""
END_EFFECTOR = slice(0, 3)
"""The end effector's position in Flip's observation (the gripper's first entries)."""
FINGER_WIDTH = 6
"""The gap between the fingers in Flip's observation."""
CUBE = slice(7, 10)
"""The cube centre's position in Flip's observation (after the gripper's 7 entries)."""
HALF_SIDE = 0.02
"""Half the side of Flip's cube (metres)."""
ON_TOP = HALF_SIDE + FINGERTIP_DEPTH + 0.005
"""An end effector at most this far above the cube's centre has its fingertips on the top,
within 5 mm (they rest FINGERTIP_DEPTH below the end-effector point)."""


def top_face(quaternions: np.ndarray) -> np.ndarray:
    """Which of the cube's six faces points up, per [n, 4] xyzw quaternion: 0..5 for +x, -x,
    +y, -y, +z, -z of the cube's own axes."""
    from scipy.spatial.transform import Rotation

    up_in_cube = Rotation.from_quat(quaternions).inv().apply([0.0, 0.0, 1.0])
    axis = np.argmax(np.abs(up_in_cube), axis=1)
    sign = np.take_along_axis(up_in_cube, axis[:, None], axis=1)[:, 0] < 0
    return 2 * axis + sign


def yaw_turn(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """The turn about the vertical between [n, 4] orientations, in radians (0..pi)."""
    from scipy.spatial.transform import Rotation

    forward = Rotation.from_quat(end).apply(
        Rotation.from_quat(start).inv().apply(np.tile([1.0, 0.0, 0.0], (len(start), 1)))
    )
    return np.abs(np.arctan2(forward[:, 1], forward[:, 0]))


def pressed_on_top(observations: np.ndarray) -> bool:
    """Whether, at some step of one episode's Flip observations [T, obs], the end effector was
    over the cube's top, low enough for the fingertips to rest on it, with the fingers
    narrower than the cube (open, they come down around it)."""
    over = observations[:, END_EFFECTOR] - observations[:, CUBE]
    narrow = observations[:, FINGER_WIDTH] < 2 * HALF_SIDE
    above = np.all(np.abs(over[:, :2]) < HALF_SIDE, axis=1) & (over[:, 2] < ON_TOP)
    return bool(np.any(above & narrow))


def outcomes(
    trajectories: list[np.ndarray], observations: list[np.ndarray], goals: np.ndarray
) -> dict[str, np.ndarray]:
    """Per episode (each trajectory [T, 4] of the cube's orientation and [T, obs] of Flip's
    observations, goals [n, 4]): which outcome flags hold."""
    starts = np.array([t[0] for t in trajectories])
    ends = np.array([t[-1] for t in trajectories])
    goal_face = top_face(goals)
    return {
        "started solved": 1 - np.sum(starts * goals, axis=1) ** 2 < THRESHOLD,
        "goal shows the start's top face": goal_face == top_face(starts),
        "cube tilted onto another face at some step": np.array(
            [bool(np.any(top_face(t) != top_face(t[:1]))) for t in trajectories]
        ),
        "cube fell off the table": np.array(
            [bool(np.min(o[:, CUBE][:, 2]) < TABLE_TOP) for o in observations]
        ),
        "ended with the goal's top face up": top_face(ends) == goal_face,
        "ended turned about the vertical": (top_face(ends) == top_face(starts))
        & (yaw_turn(starts, ends) > TURNED),
        "fingertips came down on the cube's top": np.array(
            [pressed_on_top(o) for o in observations]
        ),
    }


def main() -> None:
    """Run the episodes and print the table."""
    args = checkpoint_arguments(__doc__).parse_args()

    from td3her_cli.envs.near_goal import goal_is_object_orientation

    trajectories, observations, goals, successes = [], [], [], []
    with evaluation_episodes(args, goal_is_object_orientation, "not panda-gym's Flip") as (
        heading,
        _,
        episodes,
    ):
        for episode in episodes:
            trajectories.append(np.asarray(episode.achieved_goal))
            observations.append(np.asarray(episode.observation))
            goals.append(episode.desired_goal[0])
            successes.append(bool(episode.success))
    print_outcome_table(heading, outcomes(trajectories, observations, np.array(goals)), successes)


if __name__ == "__main__":
    main()
