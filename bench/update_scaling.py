"""`python -m bench.update_scaling [--threads N]`: TD3 update cost by batch, network widths,
critics, TQC quantiles, dtype, XLA and the averaged actor.

Times `agent.update_many` (K fused steps in one compiled call, as a training cycle runs them) on
synthetic PandaPush-v3-shaped batches (obs 18, goal 3, action 3) for each batch size, hidden
layer widths (--hiddens; default 3x256), critic-ensemble size, TQC quantiles per critic
(--quantiles; 0: TD3's one value), hidden-layer precision
(--precision), compiler (XLA or plain tf.function) and averaged-actor coefficient
(--policy-average; 0: none), interleaving the configurations over repeats so machine drift is
shared. Prints a Markdown table: milliseconds per update (median and range) and updates per
second, which bound the update-to-data ratio a run can afford at a given env-step rate.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import statistics
import time

from td3her_cli.quiet import import_tensorflow

PANDA_PUSH_OBS_DIM = 18  # goal and action dims are Reach's (3 each)
XLA_SETTINGS = {"on": True, "off": False}


def main() -> None:
    """Measure and print the update cost table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="TF threads (default: all)")
    parser.add_argument("--batches", default="256,512,1024,2048")
    parser.add_argument("--hiddens", default="256,256,256", help="widths; ';' between settings")
    parser.add_argument("--critics", default="2:2,10:2", help="N:M pairs (critics, target critics)")
    parser.add_argument("--quantiles", default="0", help="TQC quantiles per critic (0: TD3)")
    parser.add_argument("--precisions", default="float32", help="float32 and/or bfloat16")
    parser.add_argument("--xla", default="on", help="on and/or off: XLA or plain tf.function")
    parser.add_argument("--policy-averages", default="0", help="--policy-average values (0: off)")
    parser.add_argument("--steps", type=int, default=40, help="updates per fused call")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    import_tensorflow(args.threads)

    import numpy as np

    from bench.td3_update import PANDA_REACH, stack_batches, synthetic_batches
    from td3her_cli.config import TrainConfig, parse_hidden
    from td3her_cli.core.agent import TD3Agent

    spec = dataclasses.replace(PANDA_REACH, env_id="PandaPush-v3", obs_dim=PANDA_PUSH_OBS_DIM)
    rng = np.random.default_rng(0)
    calls = {}
    for batch, hidden, pair, quantiles, precision, xla, average in itertools.product(
        (int(b) for b in args.batches.split(",")),
        (h for h in args.hiddens.split(";") if h.strip()),
        args.critics.split(","),
        (int(q) for q in args.quantiles.split(",")),
        args.precisions.split(","),
        (XLA_SETTINGS[x] for x in args.xla.split(",")),
        (float(a) for a in args.policy_averages.split(",")),
    ):
        critics, target = (int(x) for x in pair.split(":"))
        config = TrainConfig(
            batch_size=batch,
            hidden=parse_hidden(hidden),
            critics=critics,
            target_critics=target,
            quantiles=quantiles,
            policy_delay=2,
            precision=precision,
            policy_average=average,
        )
        agent = TD3Agent(config, spec, jit_compile=xla)
        stacked = stack_batches(synthetic_batches(spec, batch, 4, rng), args.steps)
        agent.update_many(stacked)  # trace and compile
        key = (batch, hidden, critics, target, quantiles, precision, xla, average)
        calls[key] = (agent, stacked, [])
    for _ in range(args.repeats):
        for agent, stacked, seconds in calls.values():
            start = time.perf_counter()
            agent.update_many(stacked)
            seconds.append((time.perf_counter() - start) / args.steps)
    threads = args.threads or "all"
    print(f"TF threads: {threads}; {args.steps} fused updates per call; {args.repeats} repeats")
    print(
        "| batch | hidden | critics (target subset) | quantiles | precision | compiler "
        "| policy average | ms per update, median (min–max) | updates/s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for key, (_, _, seconds) in calls.items():
        batch, hidden, critics, target, quantiles, precision, xla, average = key
        median = statistics.median(seconds)
        compiler = "XLA" if xla else "tf.function"
        print(
            f"| {batch} | {hidden} | {critics} ({target}) | {quantiles} | {precision} | {compiler} "
            f"| {average:g} "
            f"| {median * 1e3:.2f} "
            f"({min(seconds) * 1e3:.2f}–{max(seconds) * 1e3:.2f}) | {1 / median:.0f} |"
        )


if __name__ == "__main__":
    main()
