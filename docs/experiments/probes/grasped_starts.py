"""`python -m docs.experiments.probes.grasped_starts ENV_ID [--episodes 300] [--steps 10]`: how
many grasped starts (`--grasp-start`) already count as solved.

For episode seeds 0 to N-1: reset, `grasp.grasp_object`, then a few env steps with a zero action
(the arm and fingers hold still). An episode counts as solved when the env reports success at
any of those steps. On Stack a grasped start puts the bottom cube on its goal and holds the top
cube at its goal's height, so only the top cube's gap in the table's plane decides.

Prints one line.
"""

from __future__ import annotations

import argparse

import numpy as np


def main() -> None:
    """Run the starts and print how many count as solved."""
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("env_id")
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--steps", type=int, default=10, help="still env steps after the grasp")
    args = parser.parse_args()

    from td3her_cli.envs.goal_env import make_env
    from td3her_cli.envs.grasp import check_grasp_start, grasp_object

    env = make_env(args.env_id)
    check_grasp_start(env, 1.0, args.env_id)
    still = np.zeros(env.action_space.shape, dtype=np.float32)
    solved = 0
    for seed in range(args.episodes):
        env.reset(seed=seed)
        grasp_object(env)
        for _ in range(args.steps):
            *_, info = env.step(still)
            if info.get("is_success"):
                solved += 1
                break
    env.close()
    print(
        f"{args.env_id}: {solved} of {args.episodes} grasped starts (seeds 0-{args.episodes - 1}) "
        f"count as solved within {args.steps} still env steps"
    )


if __name__ == "__main__":
    main()
