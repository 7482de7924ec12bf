"""Benchmarks of the td3her hot paths: env stepping, acting, TD3 updates, HER sampling, memory.

Run `python -m bench [--quick] [--only env,td3,her,memory,fast,breakdown] [--out FILE]`
(or `make bench`).
Every figure is a median over interleaved repeats with its spread, and names the command that
reproduces it. Nothing here asserts on timings: this is a measurement tool, not a test.

Modules: `plan` (repeat counts), `timing` (timed blocks of calls), `results` (typed results
and Markdown), `machine` (what ran it), and one module per section: `env_throughput` (figures
1-2), `td3_update` (3), `her_sampling` (4), `memory` (5, measured in a child process),
`fast_preset` (6, the fast preset trained per seed in fresh processes), `update_breakdown`
(7, where one TD3 update's time goes: TD target, critic gradients, Adam, actor, Polyak).

Stand-alone speed measurements, each `python -m bench.NAME` (not part of `make bench`):
`update_scaling` (TD3 update cost by batch, network widths, critics, precision, XLA and the
averaged actor), `object_episodes` (what an object task's episode costs: resets, worker envs)
and `time_split` (where a finished run's wall-clock went, read from its metrics.jsonl).

Probes written for one experiment live beside their notes, in docs/experiments/probes/.
"""
