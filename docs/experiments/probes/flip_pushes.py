"""`python -m docs.experiments.probes.flip_pushes [--seeds 6]`: which scripted motions of the
gripper tip PandaFlip-v3's cube onto another face?

Scripted controllers (no policy), fingers closed unless the script opens them, each from the
reset of episode seeds 1..N:
- push: from 5 cm behind the cube at one fingertip height, follow it along a direction;
- press and roll: lower the fingertips onto the cube's top at some distance from its centre
  along a direction, then move 4 mm per step that way;
- pinch and lift: close the fingers on the cube at some distance from its centre, lift it 8 cm
  and set it down again.

Prints a Markdown table, one row per script: how many episodes ended with the cube on another
face (its top tilted 45° or more) on the table, how many pushed it off the table, the most tilt
during each episode (range over seeds) and the mean slide across the table.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

from docs.experiments.probes.flip_outcomes import TABLE_TOP

GAIN = 10.0
"""Action per metre of distance to the script's target point (actions are clipped to ±1)."""
CLOSED, OPEN = -1.0, 1.0
"""The finger action."""

Phase = tuple[int, Callable[[np.ndarray, np.ndarray, int], np.ndarray], float]
"""(steps, target point from (the cube's start position, the observation now, the step within
the phase), finger action)."""


def tilt(observation: np.ndarray) -> float:
    """The cube's top-face tilt from the vertical in degrees (Flip's observation)."""
    from scipy.spatial.transform import Rotation

    up = Rotation.from_quat(observation[10:14]).apply([0.0, 0.0, 1.0])
    return float(np.degrees(np.arccos(np.clip(up[2], -1.0, 1.0))))


def run_script(env, seed: int, phases: list[Phase]) -> tuple[float, float, bool, float]:
    """(most tilt, end tilt, fell off the table, slide in metres) of one scripted episode."""
    obs, _ = env.reset(seed=seed)
    start = obs["observation"][7:10].copy()
    tilts, fell = [], False
    for steps, target, fingers in phases:
        for step in range(steps):
            o = obs["observation"]
            move = np.clip((target(start, o, step) - o[0:3]) * GAIN, -1.0, 1.0)
            obs, *_ = env.step(np.append(move, fingers))
            tilts.append(tilt(obs["observation"]))
            fell = fell or obs["observation"][9] < TABLE_TOP
    slide = float(np.linalg.norm(obs["observation"][7:9] - start[:2]))
    return max(tilts), tilts[-1], fell, slide


def above(point: np.ndarray) -> np.ndarray:
    """10 cm above the table at `point`'s place in the table's plane."""
    return np.array([point[0], point[1], 0.10])


def push(height: float, direction: np.ndarray) -> list[Phase]:
    """Push the cube along `direction` with the fingertips at `height`."""
    behind = lambda start: np.append(start[:2] - 0.05 * direction[:2], height)  # noqa: E731
    return [
        (9, lambda start, o, k: above(behind(start)), CLOSED),
        (11, lambda start, o, k: behind(start), CLOSED),
        (30, lambda start, o, k: np.append(o[7:9] + 0.05 * direction[:2], height), CLOSED),
    ]


def press_and_roll(offset: float, height: float, direction: np.ndarray) -> list[Phase]:
    """Press the fingertips down to `height` at `offset` from the cube's centre along
    `direction`, then move that way 4 mm per step."""
    at = lambda start: np.append(start[:2] + offset * direction[:2], height)  # noqa: E731
    return [
        (10, lambda start, o, k: above(at(start)), CLOSED),
        (8, lambda start, o, k: at(start), CLOSED),
        (32, lambda start, o, k: at(start) + 0.004 * (k + 1) * direction, CLOSED),
    ]


def pinch_and_lift(offset: float, height: float) -> list[Phase]:
    """Pinch the cube at `height`, `offset` from its centre along x; lift it 8 cm; set it down."""
    at = lambda start: np.array([start[0] + offset, start[1], height])  # noqa: E731
    return [
        (10, lambda start, o, k: above(at(start)), OPEN),
        (10, lambda start, o, k: at(start), OPEN),
        (6, lambda start, o, k: at(start), CLOSED),
        (12, lambda start, o, k: at(start) + [0.0, 0.0, 0.08], CLOSED),
        (8, lambda start, o, k: at(start), CLOSED),
        (4, lambda start, o, k: at(start), OPEN),
    ]


def scripts() -> list[tuple[str, list[Phase]]]:
    """The named scripts."""
    toward_table_edge, toward_robot = np.array([1.0, 0.0, 0.0]), np.array([-1.0, 0.0, 0.0])
    named = []
    for height in (0.005, 0.01, 0.02, 0.03, 0.04):
        for name, direction in (("+x", toward_table_edge), ("-x", toward_robot)):
            named.append((f"push along {name} at {height * 100:.1f} cm", push(height, direction)))
    for offset in (0.0, 0.01, 0.015, 0.019):
        for height in (0.01, 0.03):
            name = f"press {offset * 100:.1f} cm off centre down to {height * 100:.0f} cm, roll"
            named.append((name, press_and_roll(offset, height, toward_table_edge)))
    for offset in (0.0, 0.015):
        name = f"pinch {offset * 100:.1f} cm off centre, lift, set down"
        named.append((name, pinch_and_lift(offset, 0.02)))
    return named


def main() -> None:
    """Run the scripts and print the table."""
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--seeds", type=int, default=6, help="Episode seeds 1..N per script.")
    args = parser.parse_args()

    from td3her_cli.envs.goal_env import make_env

    env = make_env("PandaFlip-v3")
    print(f"PandaFlip-v3, scripted, fingers closed unless opened, episode seeds 1-{args.seeds}")
    print()
    print("| script | on another face, on the table | off the table | most tilt (°) | slide (cm) |")
    print("|---|---|---|---|---|")
    for name, phases in scripts():
        runs = [run_script(env, seed, phases) for seed in range(1, args.seeds + 1)]
        most, end, fell, slide = (np.array(column) for column in zip(*runs))
        tipped = int(np.sum((end >= 45) & ~fell))
        print(
            f"| {name} | {tipped}/{args.seeds} | {int(fell.sum())}/{args.seeds} "
            f"| {most.min():.0f}–{most.max():.0f} | {100 * slide.mean():.0f} |"
        )
    env.close()


if __name__ == "__main__":
    main()
