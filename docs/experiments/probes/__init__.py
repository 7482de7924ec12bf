"""Probes: small tools written for the experiment notes beside them, kept so a note can be checked.

Each runs from the repository root as `python -m docs.experiments.probes.NAME` (its docstring
gives the arguments) and prints Markdown or a line; none is part of `make bench`, whose lasting
speed and memory benchmarks live in bench/. The notes that cite each one:

- `goal_height`: success by the goal's height above the cube, lifts counted
  (2026-11-26-pnp-push-values, 2026-11-26-pnp-grasped-starts).
- `failures`: which starts fail on Push, PickAndPlace or Slide
  (2026-11-26-push-seed0-past-its-stop).
- `stack_outcomes`: Stack's episodes split by what happened (2026-11-26-stack-three-settings).
- `grasped_starts`: how many grasped starts already count as solved (the same Stack note; cited
  by td3her_cli/envs/grasp.py).
- `stop_check`: kept checkpoints on their run's stop-check episodes, then more
  (2026-11-26-push-stop-check, 2026-11-26-push-seed0-past-its-stop, 2026-11-27-push-stop-at-97).
- `success_windows`: mean epoch evaluation per window of env steps, from metrics.jsonl (most
  notes from 2026-11-26 on).
- `weight_average`: the last actor against the mean of the last K kept actors
  (2026-11-27-push-averaged-actor, 2026-11-27-averaged-actor-pnp-slide).
- `evaluation_episodes`: what goal_height, failures and stack_outcomes share.

A probe whose result is recorded and that nothing cites any more is removed; its note says so
and names the commit that still holds it.
"""
