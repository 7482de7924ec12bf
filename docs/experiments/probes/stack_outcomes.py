"""`python -m docs.experiments.probes.stack_outcomes RUN [--latest] [--episodes 100] [--seed 0]
[--start reset|tower|grasped]`: what did Stack do?

panda-gym's Stack counts an episode as solved when the 6-D distance between both cubes'
positions and their goals is under 10 cm, so two cubes side by side near the goal can count, and
some episodes start solved. This runs `td3her evaluate`'s episodes (same seeds, so the overall
success rate equals evaluate's) and splits them by what happened: started solved (within the
threshold at the first observation), ended stacked (the top cube at least 3 cm above the table
and within 2 cm of the bottom cube in the table's plane), and each cube within 5 cm of its goal
at the end. `--start tower` starts each episode with the bottom cube on its goal
(`--tower-start`'s start), `--start grasped` also with the top cube in the gripper
(`--grasp-start`'s); the default is the env's reset, as evaluate.

Prints a Markdown table of counts, successes and failures apart.
"""

from __future__ import annotations

import numpy as np

from docs.experiments.probes.evaluation_episodes import (
    checkpoint_arguments,
    evaluation_episodes,
    print_outcome_table,
)

THRESHOLD = 0.1
"""panda-gym Stack's success distance (6-D)."""
STACKED_HEIGHT = 0.03
"""The top cube's centre this far above the bottom cube's resting centre: it is lifted."""
STACKED_XY = 0.02
"""...and this close to the bottom cube in the table's plane: it is on it."""
NEAR_GOAL = 0.05
"""A cube this close to its own goal is near it."""


def outcomes(starts, ends, goals) -> dict[str, np.ndarray]:
    """Per episode ([n, 6] cube positions at the start and end, and the goals): which outcome
    flags hold."""
    starts, ends, goals = map(np.asarray, (starts, ends, goals))
    bottom, top = ends[:, :3], ends[:, 3:]
    return {
        "started solved": np.linalg.norm(starts - goals, axis=1) < THRESHOLD,
        "ended stacked": (top[:, 2] - bottom[:, 2] > STACKED_HEIGHT)
        & (np.linalg.norm(top[:, :2] - bottom[:, :2], axis=1) < STACKED_XY),
        "bottom cube near its goal": np.linalg.norm(bottom - goals[:, :3], axis=1) < NEAR_GOAL,
        "top cube near its goal": np.linalg.norm(top - goals[:, 3:], axis=1) < NEAR_GOAL,
    }


def main() -> None:
    """Run the episodes and print the table."""
    parser = checkpoint_arguments(__doc__)
    parser.add_argument("--start", choices=("reset", "tower", "grasped"), default="reset")
    args = parser.parse_args()

    from td3her_cli.envs.grasp import goal_objects
    from td3her_cli.envs.starts import EpisodeStart

    starts_from = {
        "reset": None,
        "tower": EpisodeStart(built=True),
        "grasped": EpisodeStart(grasped=True),
    }[args.start]

    def is_stack(env) -> bool:
        return goal_objects(env) == ("object1", "object2")

    starts, ends, goals, successes = [], [], [], []
    refusal = "not panda-gym's Stack"
    with evaluation_episodes(args, is_stack, refusal, starts_from) as (heading, _, episodes):
        for episode in episodes:
            starts.append(episode.achieved_goal[0])
            ends.append(episode.achieved_goal[-1])
            goals.append(episode.desired_goal[0])
            successes.append(bool(episode.success))
    heading += "" if starts_from is None else f", each from the {args.start} start"
    print_outcome_table(heading, outcomes(starts, ends, goals), successes)


if __name__ == "__main__":
    main()
