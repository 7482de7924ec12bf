"""`python -m docs.experiments.probes.flip_pushes [--seeds 4]`: can a scripted push tip
PandaFlip-v3's cube?

A scripted controller (no policy) lowers the gripper behind the cube, then pushes it along +x
for 30 steps at one fingertip height, fingers closed (-1) or open (+1); a second script pinches
the cube at one height and drags it. Per setting and episode seed it reports how far the cube's
top face tilted from the vertical (most, and at the end) and how far the cube slid. A tilt of
90° or more means the cube went onto another face.

Prints a Markdown table, one row per setting.
"""

from __future__ import annotations

import argparse

import numpy as np

STEPS = 50
APPROACH = 9
"""Steps spent above the start point before going down to the push height."""
PUSH_FROM = 20
"""The step from which the gripper pushes (or drags) the cube."""
GAIN = 10.0


def tilt(observation: np.ndarray) -> float:
    """The cube's top-face tilt from the vertical in degrees (Flip's observation)."""
    from scipy.spatial.transform import Rotation

    up = Rotation.from_quat(observation[10:14]).apply([0.0, 0.0, 1.0])
    return float(np.degrees(np.arccos(np.clip(up[2], -1.0, 1.0))))


def push(env, seed: int, height: float, fingers: float) -> tuple[float, float, float]:
    """(most tilt, end tilt, slide in metres) of a push along +x at `height`."""
    obs, _ = env.reset(seed=seed)
    cube = obs["observation"][7:10].copy()
    start = np.array([cube[0] - 0.05, cube[1], height])
    tilts = []
    for step in range(STEPS):
        o = obs["observation"]
        if step < APPROACH:
            target = np.array([start[0], start[1], 0.12])
        elif step < PUSH_FROM:
            target = start
        else:
            target = np.array([o[7] + 0.05, o[8], height])
        action = np.append(np.clip((target - o[0:3]) * GAIN, -1, 1), fingers)
        obs, *_ = env.step(action)
        tilts.append(tilt(obs["observation"]))
    return max(tilts), tilts[-1], float(np.linalg.norm(obs["observation"][7:9] - cube[:2]))


def pinch_and_drag(env, seed: int, height: float) -> tuple[float, float, float]:
    """(most tilt, end tilt, slide) of a pinch at `height` followed by a 10 cm drag along +x."""
    obs, _ = env.reset(seed=seed)
    cube = obs["observation"][7:10].copy()
    tilts = []
    for step in range(STEPS):
        o = obs["observation"]
        above, at = np.array([cube[0], cube[1], 0.10]), np.array([cube[0], cube[1], height])
        target, fingers = (
            (above, 1.0)
            if step < 12
            else (at, 1.0)
            if step < 22
            else (at, -1.0)
            if step < 28
            else (at + [0.1, 0.0, 0.0], -1.0)
        )
        obs, *_ = env.step(np.append(np.clip((target - o[0:3]) * GAIN, -1, 1), fingers))
        tilts.append(tilt(obs["observation"]))
    return max(tilts), tilts[-1], float(np.linalg.norm(obs["observation"][7:9] - cube[:2]))


def main() -> None:
    """Run the scripts and print the table."""
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--seeds", type=int, default=4, help="Episode seeds 1..N per setting.")
    args = parser.parse_args()

    from td3her_cli.envs.goal_env import make_env

    env = make_env("PandaFlip-v3")
    settings = [
        (
            f"push at {h * 100:.1f} cm, fingers {'closed' if f < 0 else 'open'}",
            lambda s, h=h, f=f: push(env, s, h, f),
        )
        for h in (0.0, 0.005, 0.01, 0.015, 0.02, 0.03, 0.04)
        for f in (-1.0, 1.0)
    ] + [
        (f"pinch at {h * 100:.1f} cm and drag", lambda s, h=h: pinch_and_drag(env, s, h))
        for h in (0.01, 0.02, 0.03)
    ]
    print(f"PandaFlip-v3, scripted, episode seeds 1-{args.seeds}")
    print()
    print("| script | onto another face (end tilt ≥ 45°) | most tilt (°) | slide (cm) |")
    print("|---|---|---|---|")
    for name, run in settings:
        results = np.array([run(seed) for seed in range(1, args.seeds + 1)])
        tipped = int(np.sum(results[:, 1] >= 45))
        most = f"{results[:, 0].min():.0f}–{results[:, 0].max():.0f}"
        print(f"| {name} | {tipped}/{args.seeds} | {most} | {100 * results[:, 2].mean():.0f} |")
    env.close()


if __name__ == "__main__":
    main()
