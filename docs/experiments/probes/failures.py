"""`python -m docs.experiments.probes.failures RUN [--latest] [--episodes 100] [--seed 0]`:
which starts fail?

Runs a checkpoint's policy deterministically on `td3her evaluate`'s episodes (same seeds, so
the overall success rate equals evaluate's) of a panda-gym task whose goal is one object's
position (Push, PickAndPlace, Slide), splits success by the start gap (how far the object
starts from its goal) and counts the failures in which the object never moved (the policy did
not reach it) against those in which it was moved but did not arrive. Then lists the failed
episodes: start gap, gripper-object distance in the table's plane, how far the object moved,
how far from the goal it ended and at what height (off the table: below 0).
"""

from __future__ import annotations

import numpy as np

from docs.experiments.probes.evaluation_episodes import checkpoint_arguments, evaluation_episodes

GAP_BANDS = ((0.0, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, np.inf))
"""Start-gap bands, metres."""
UNMOVED = 0.01
"""An object that ends within this many metres of its start never moved."""


def band_label(low: float, high: float) -> str:
    """'a–b cm', the last band open above."""
    if high == np.inf:
        return f"≥ {low * 100:g} cm"
    return f"{low * 100:g}–{high * 100:g} cm"


def failure_table(gaps, moved, successes) -> list[tuple[str, int, int, int]]:
    """Per start-gap band, then all: (band, episodes, successes, failures with the object
    unmoved)."""
    gaps, moved, wins = map(np.asarray, (gaps, moved, successes))
    rows = []
    for low, high in (*GAP_BANDS, (0.0, np.inf)):
        inside = (gaps >= low) & (gaps < high)
        label = "all" if (low, high) == (0.0, np.inf) else band_label(low, high)
        unmoved = inside & ~wins & (moved < UNMOVED)
        rows.append((label, int(inside.sum()), int(wins[inside].sum()), int(unmoved.sum())))
    return rows


def main() -> None:
    """Run the episodes and print the tables."""
    args = checkpoint_arguments(__doc__).parse_args()

    from td3her_cli.envs.grasp import goal_is_object_position

    gripper, starts, goals, ends, successes = [], [], [], [], []
    refusal = "its goal is not one object's position"
    with evaluation_episodes(args, goal_is_object_position, refusal) as (heading, _, episodes):
        for episode in episodes:
            gripper.append(episode.observation[0, :3])  # panda-gym's observation starts with it
            starts.append(episode.achieved_goal[0])
            goals.append(episode.desired_goal[0])
            ends.append(episode.achieved_goal[-1])
            successes.append(bool(episode.success))
    gripper, starts, goals, ends, successes = map(
        np.array, (gripper, starts, goals, ends, successes)
    )
    gaps = np.linalg.norm(starts - goals, axis=1)
    moved = np.linalg.norm(ends - starts, axis=1)

    print(heading)
    print()
    print(
        "| object's start gap to its goal | episodes | successes | success | failed, never moved |"
    )
    print("|---|---|---|---|---|")
    for band, count, wins, unmoved in failure_table(gaps, moved, successes):
        share = f"{100 * wins / count:.0f} %" if count else "—"
        print(f"| {band} | {count} | {wins} | {share} | {unmoved} |")
    print()
    print(
        "Failed episodes (cm): start gap, gripper to object (table plane), moved, end gap, "
        "end height (a cube resting on the table: 2; below 0: off the table)"
    )
    for i in np.flatnonzero(~successes):
        reach = np.linalg.norm(gripper[i, :2] - starts[i, :2])
        end_gap = np.linalg.norm(ends[i] - goals[i])
        print(
            f"- episode {i}: {100 * gaps[i]:.0f}, {100 * reach:.0f}, {100 * moved[i]:.0f}, "
            f"{100 * end_gap:.0f}, {100 * ends[i, 2]:.0f}"
        )


if __name__ == "__main__":
    main()
