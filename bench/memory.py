"""Figure 5: resident memory of a process holding the agent and a full 1e6-transition buffer.

Measured in fresh child processes (`python -m bench.memory --child`), so nothing the parent
allocated counts. The child records its RSS (VmRSS) after each stage, in training order:

  python + numpy -> TensorFlow imported -> env + default agent created (the baseline)
  -> first compiled update traced -> buffer allocated (np.zeros maps pages lazily)
  -> buffer filled past capacity (ring wrapped) -> one HER batch sampled + one more update

and at the end its peak, resource.getrusage(RUSAGE_SELF).ru_maxrss (KiB on Linux).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from bench.plan import Plan
from bench.results import Figure, Row, Summary, Table

ENV_ID = "PandaReach-v3"
STAGES = (
    ("start", "python + numpy"),
    ("tensorflow", "+ TensorFlow imported"),
    ("agent", "+ env and default agent created (baseline)"),
    ("traced", "+ first compiled update (tf.function traced)"),
    ("allocated", "+ 1e6 buffer allocated (np.zeros, pages not yet touched)"),
    ("filled", "+ buffer filled (ring wrapped)"),
    ("trained", "+ one HER batch sampled and one more update"),
)
MARKER = "bench.memory report: "
REPO_ROOT = Path(__file__).resolve().parent.parent


def rss_mib() -> float:
    """Current resident set size (VmRSS) of this process in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def peak_rss_mib() -> float:
    """Peak resident set size of this process in MiB (ru_maxrss is in KiB on Linux).

    Linux carries ru_maxrss across fork + exec: a child started by a parent holding 1 GB
    starts with ru_maxrss = 1 GB. So the child also reports VmHWM (below), and __main__
    runs this section before the parent imports TensorFlow.
    """
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def high_water_mib() -> float:
    """Peak RSS of this address space (VmHWM): starts afresh at exec, unlike ru_maxrss."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def child(capacity: int) -> dict:
    """Run the stages in this process; returns RSS per stage, the peak and the buffer size."""
    import numpy as np

    rss = {"start": rss_mib()}
    peak_at_start = peak_rss_mib()  # above rss["start"] when inherited from the parent
    from td3her_cli.quiet import import_tensorflow

    import_tensorflow()
    rss["tensorflow"] = rss_mib()

    from bench.her_sampling import fill_buffer
    from bench.td3_update import synthetic_batches
    from td3her_cli.config import TrainConfig
    from td3her_cli.core.agent import TD3Agent
    from td3her_cli.core.replay import HerReplayBuffer
    from td3her_cli.envs.goal_env import describe_env, make_env, reward_function

    config = TrainConfig(env_id=ENV_ID, buffer_size=capacity)
    env = make_env(ENV_ID)
    spec = describe_env(env, ENV_ID, config.seed)
    agent = TD3Agent(config, spec)
    rss["agent"] = rss_mib()

    rng = np.random.default_rng(0)
    agent.update(synthetic_batches(spec, config.batch_size, 1, rng)[0])
    rss["traced"] = rss_mib()

    reward_fn = reward_function(env)
    buffer = HerReplayBuffer(
        capacity,
        spec.obs_dim,
        spec.goal_dim,
        spec.action_dim,
        reward_fn,
        config.her_strategy,
        config.her_k,
        gamma=config.gamma,
    )
    rss["allocated"] = rss_mib()
    fill_buffer(buffer, reward_fn, rng)
    rss["filled"] = rss_mib()
    agent.update(buffer.sample(config.batch_size, rng))
    rss["trained"] = rss_mib()
    env.close()
    return {
        "rss": rss,
        "peak": peak_rss_mib(),
        "peak_at_start": peak_at_start,
        "high_water": high_water_mib(),
        "nbytes": buffer.nbytes,
        "size": buffer.size,
    }


def run(plan: Plan, progress: Callable[[str], None] = lambda _: None) -> list[Figure]:
    """Start `plan.memory_repeats` child processes and summarise their memory."""
    capacity = 1_000_000
    reports = []
    for repeat in range(plan.memory_repeats):
        progress(f"memory: child process {repeat + 1}/{plan.memory_repeats}")
        completed = subprocess.run(
            [sys.executable, "-m", "bench.memory", "--child", "--capacity", str(capacity)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"memory child failed:\n{completed.stderr[-4000:]}")
        lines = [line for line in completed.stdout.splitlines() if line.startswith(MARKER)]
        if not lines:
            raise RuntimeError(f"memory child printed no report:\n{completed.stdout[-4000:]}")
        reports.append(json.loads(lines[-1][len(MARKER) :]))
    return [figure(reports, capacity)]


def figure(reports: list[dict], capacity: int) -> Figure:
    """Figure 5's tables from the children's reports."""

    def over_reports(function: Callable[[dict], float]) -> Summary:
        return Summary.of(function(report) for report in reports)

    stage_rows = tuple(
        Row(f"RSS {label}", "MiB", over_reports(lambda r, key=key: r["rss"][key]))
        for key, label in STAGES
    )
    nbytes_mib = reports[0]["nbytes"] / 2**20
    peak = over_reports(lambda r: r["peak"])
    peak_over_baseline = over_reports(lambda r: r["peak"] - r["rss"]["agent"])
    fill_growth = over_reports(lambda r: r["rss"]["filled"] - r["rss"]["allocated"])
    high_water = over_reports(lambda r: r["high_water"])
    inherited = max(r["peak_at_start"] - r["rss"]["start"] for r in reports)
    headline = (
        Row("Peak RSS of the whole process, ru_maxrss", "MiB", peak),
        Row("Peak RSS of the whole process, VmHWM (cross-check)", "MiB", high_water),
        Row("Peak RSS - baseline (TF + env + agent)", "MiB", peak_over_baseline),
        Row("RSS growth from filling the buffer", "MiB", fill_growth),
        Row.exact("Buffer nbytes at capacity (HerReplayBuffer.nbytes)", "MiB", nbytes_mib),
        Row.exact("Buffer bytes per transition", "B", reports[0]["nbytes"] / capacity),
        Row.exact(
            "Fill growth / nbytes (ratio of medians)", "%", 100 * fill_growth.median / nbytes_mib
        ),
    )
    return Figure(
        section="memory",
        title="Memory: a process holding a full 1e6-transition PandaReach buffer plus the agent",
        description=(
            f"{len(reports)} fresh child process(es), each: import TF, create the PandaReach-v3 "
            "env and the default agent (3x256 actor, twin critics, targets, Adam state), trace "
            f"the update, allocate a {capacity:,}-transition HER buffer and fill it with "
            f"synthetic episodes ({reports[0]['size']:,} valid after wrapping), then sample and "
            "update once more. RSS is VmRSS after each stage; the peak is ru_maxrss, "
            "cross-checked with VmHWM. This section runs before the parent imports TF."
        ),
        tables=(Table("Headline", headline), Table("RSS after each stage", stage_rows)),
        notes=(
            "Peak - baseline includes the traced update graph and the buffer; the fill growth "
            "row isolates the buffer.",
            *(
                [
                    f"ru_maxrss was {inherited:.0f} MiB above the child's RSS at its start: "
                    "Linux carries it over from the parent through fork + exec, so trust VmHWM."
                ]
                if inherited > 16
                else []
            ),
        ),
    )


def main(argv: list[str] | None = None) -> None:
    """Child entry point: print one JSON line with the stages' memory."""
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--child", action="store_true", help="measure this process (JSON out)")
    parser.add_argument("--capacity", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    if not args.child:
        parser.error("run `python -m bench --only memory`; --child is the measured process")
    report = child(args.capacity)
    print(MARKER + json.dumps(report), flush=True)  # marked: PyBullet may print at exit


if __name__ == "__main__":
    main()
