"""`python -m docs.experiments.probes.goal_height RUN [--latest] [--episodes 100] [--seed 0]`:
does the policy lift?

Runs a checkpoint's policy deterministically on `td3her evaluate`'s episodes (same seeds, so
the overall success rate equals evaluate's) of a panda-gym task whose goal is one cube's
position (PickAndPlace, Push, Slide), and splits success by the goal's height above the resting
cube. panda-gym's PickAndPlace puts 30 % of goals on the table and 70 % up to 20 cm above it,
so a policy that only pushes succeeds on the table goals and on the air goals within the
success distance (5 cm) of the table: about 0.3 + 0.7 x 0.25 = 47.5 % at best. The table also
counts episodes in which the cube was ever lifted by more than `--lift` metres.

Prints a Markdown table: goal height band, episodes, successes, success rate, episodes in which
the cube was lifted.
"""

from __future__ import annotations

import numpy as np

from docs.experiments.probes.evaluation_episodes import checkpoint_arguments, evaluation_episodes

BANDS = ((-1.0, 0.005), (0.005, 0.05), (0.05, 0.1), (0.1, 1.0))
"""Goal height bands above the resting cube, metres: on the table, within the success
distance, and two bands above it."""


def band_label(low: float, high: float) -> str:
    """'on the table' or 'a-b cm' (the last band open above)."""
    if low < 0:
        return "on the table (< 0.5 cm)"
    if high >= 1.0:
        return f"≥ {low * 100:g} cm"
    return f"{low * 100:g}–{high * 100:g} cm"


def height_table(heights, successes, lifted) -> list[tuple[str, int, int, int]]:
    """(band, episodes, successes, lifted) per band, then the total row."""
    heights, successes, lifted = map(np.asarray, (heights, successes, lifted))
    rows = []
    for low, high in BANDS:
        inside = (heights >= low) & (heights < high)
        rows.append(
            (
                band_label(low, high),
                int(inside.sum()),
                int(successes[inside].sum()),
                int(lifted[inside].sum()),
            )
        )
    rows.append(("all", len(heights), int(successes.sum()), int(lifted.sum())))
    return rows


def main() -> None:
    """Run the episodes and print the table."""
    parser = checkpoint_arguments(__doc__)
    parser.add_argument("--lift", type=float, default=0.01, help="Lifted: metres above rest.")
    args = parser.parse_args()

    from td3her_cli.envs.grasp import goal_is_object_position

    heights, successes, lifted = [], [], []
    refusal = "its goal is not one object's position"
    with evaluation_episodes(args, goal_is_object_position, refusal) as (heading, env, episodes):
        resting = env.unwrapped.task.object_size / 2  # the cube's centre, lying on the table
        for episode in episodes:
            heights.append(float(episode.desired_goal[0, 2]) - resting)
            successes.append(bool(episode.success))
            lifted.append(float(episode.achieved_goal[:, 2].max()) - resting > args.lift)
    print(heading)
    print()
    print(
        "| goal above the resting cube | episodes | successes | success | cube lifted > "
        f"{args.lift * 100:g} cm |"
    )
    print("|---|---|---|---|---|")
    for band, count, wins, up in height_table(heights, successes, lifted):
        rate = f"{100 * wins / count:.0f} %" if count else "—"
        print(f"| {band} | {count} | {wins} | {rate} | {up} |")


if __name__ == "__main__":
    main()
