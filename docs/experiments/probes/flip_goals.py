"""`python -m docs.experiments.probes.flip_goals [--draws 20000]`: how many tips do Flip's goals
ask for, evaluation goals against `--near-goal-share`'s moved goals?

The cube starts upright. A goal asks for no tip when it shows the start's top face, two when it
shows the bottom face, one otherwise. Draws uniform random goals (as PandaFlip-v3's reset does)
and, for near goals, uniform fractions of the turn toward them, with and without `set_down`;
prints a Markdown table of the share of goals per number of tips and the share met at the
start (Flip's 1 - <q, g>^2 < 0.2).
"""

from __future__ import annotations

import argparse

import numpy as np

from docs.experiments.probes.flip_outcomes import THRESHOLD, top_face

UPRIGHT = np.array([0.0, 0.0, 0.0, 1.0])
TOP, BOTTOM = 4, 5
"""top_face's numbers for the cube's +z and -z faces."""


def tips(goals: np.ndarray) -> np.ndarray:
    """Per [n, 4] goal: the tips it asks of an upright cube (0, 1 or 2)."""
    faces = top_face(goals)
    return np.where(faces == TOP, 0, np.where(faces == BOTTOM, 2, 1))


def main() -> None:
    """Draw the goals and print the table."""
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--draws", type=int, default=20000)
    args = parser.parse_args()

    from scipy.spatial.transform import Rotation

    from td3her_cli.envs.near_goal import set_down, turned_part_way

    rng = np.random.default_rng(0)
    drawn = Rotation.random(args.draws, rng=rng).as_quat(canonical=True)
    part_way = np.array(
        [turned_part_way(UPRIGHT, goal, f) for goal, f in zip(drawn, rng.random(args.draws))]
    )
    kinds = {
        "evaluation goals (the reset's)": drawn,
        "near goals, turned part way": part_way,
        "near goals, turned part way and set down": np.array([set_down(q) for q in part_way]),
    }
    print(f"PandaFlip-v3 goals from an upright cube, {args.draws} draws")
    print()
    print("| goals | no tip | one tip | two tips | met at the start |")
    print("|---|---|---|---|---|")
    for name, goals in kinds.items():
        shares = [np.mean(tips(goals) == n) for n in (0, 1, 2)]
        met = np.mean(1 - (goals @ UPRIGHT) ** 2 < THRESHOLD)
        print(f"| {name} | " + " | ".join(f"{100 * s:.0f} %" for s in [*shares, met]) + " |")


if __name__ == "__main__":
    main()
