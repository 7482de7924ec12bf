"""`python -m docs.experiments.probes.flip_starts RUN [--latest] [--episodes 100] [--seed 0]`:
does a Flip policy do better when it starts with its fingertips on the cube?

Runs the checkpoint's noiseless policy on `td3her evaluate`'s episodes (same seeds and goals)
three times: from the env's reset, from a touch start at a uniformly drawn point of the cube's
top (`--touch-start`'s draw), and from a touch start at the edge nearest that point. If the
touch starts score much higher, reaching the cube is what the policy lacks; if not, it is what
it does once there.

Prints a Markdown table: per start, the success rate on all episodes and on those whose goal
needs a tip (another face up).
"""

from __future__ import annotations

import numpy as np

from docs.experiments.probes.evaluation_episodes import checkpoint_arguments
from docs.experiments.probes.flip_outcomes import top_face

POINT_SEED = 5
"""Seeds the drawn touch points (the same for every checkpoint)."""


def edge_of(point: np.ndarray) -> np.ndarray:
    """The point on the top's edge nearest `point` (fractions of the half-side along x, y)."""
    edge = np.array(point, dtype=float)
    axis = int(np.argmax(np.abs(edge)))
    edge[axis] = 1.0 if edge[axis] >= 0 else -1.0
    return edge


def main() -> None:
    """Run the episodes from each start and print the table."""
    args = checkpoint_arguments(__doc__).parse_args()

    from td3her_cli.cli.common import policy_in_env
    from td3her_cli.envs.goal_env import make_env
    from td3her_cli.envs.near_goal import goal_is_object_orientation
    from td3her_cli.envs.rollout import collect_episode, evaluation_seeds
    from td3her_cli.envs.starts import RESET, EpisodeStart

    with policy_in_env(args.run, args.latest, None, None, args.seed, make_env) as loaded:
        info, env, spec, policy = loaded
        if not goal_is_object_orientation(env):
            raise SystemExit(f"{spec.env_id}: not panda-gym's Flip")
        rng = np.random.default_rng(POINT_SEED)
        results: dict[str, list[tuple[bool, bool]]] = {"reset": [], "touch": [], "edge": []}
        for seed in evaluation_seeds(args.seed, args.episodes):
            point = rng.uniform(-1.0, 1.0, 2)
            starts = {
                "reset": RESET,
                "touch": EpisodeStart(touch=tuple(point)),
                "edge": EpisodeStart(touch=tuple(edge_of(point))),
            }
            for name, start in starts.items():
                episode = collect_episode(env, spec, policy, seed, start=start)
                before = np.asarray(episode.achieved_goal[:1])
                needs_tip = top_face(episode.desired_goal[:1])[0] != top_face(before)[0]
                results[name].append((bool(episode.success), bool(needs_tip)))
    print(f"{spec.env_id}, {info.path}, {args.episodes} episodes (evaluate --seed {args.seed})")
    print()
    print("| start | success | success on goals that need a tip |")
    print("|---|---|---|")
    labels = {
        "reset": "the env's reset",
        "touch": "fingertips on the top, uniform point",
        "edge": "fingertips on the top, at an edge",
    }
    for name, rows in results.items():
        success, needs_tip = np.array(rows).T
        print(
            f"| {labels[name]} | {success.mean():.0%} "
            f"| {success[needs_tip].mean():.0%} of {needs_tip.sum()} |"
        )


if __name__ == "__main__":
    main()
