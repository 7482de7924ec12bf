"""`python -m bench.time_split RUN [RUN ...]`: where a finished run's wall-clock went.

Read from metrics.jsonl alone (no rerun): each cycle row has the seconds of its TD3
updates with their HER sampling (`update_seconds`; in runs before it existed: the cycle
minus its env steps / collection speed), and the rest of the cycle is collection: with
worker envs (`--num-envs`), only the part the updates did not hide. Each epoch row has its
evaluation seconds (the epoch's evaluation plus any best-candidate re-evaluation); what is
left is checkpoints and the first cycle of each epoch (not timed on its own).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from td3her_cli.run.metrics import METRICS_FILE, read_metrics


def time_split(run_dir: Path) -> dict[str, float]:
    """Seconds of collection, updates (+ HER sampling), evaluation and the rest of a run."""
    rows, _ = read_metrics(Path(run_dir) / METRICS_FILE)
    epochs = [r for r in rows if r["kind"] == "epoch"]
    done = epochs[-1]["epoch"] if epochs else 0  # a run still going has cycles past it
    cycles = [r for r in rows if r["kind"] == "cycle" and r["epoch"] <= done]
    update = timed = 0.0
    for before, after in zip(cycles, cycles[1:]):
        if before["epoch"] != after["epoch"] or not after.get("env_steps_per_s"):
            continue  # a cycle's own duration needs the previous cycle of the same epoch
        seconds = after["wall_time"] - before["wall_time"]
        timed += seconds
        if "update_seconds" in after:
            update += after["update_seconds"]
        else:
            steps = after["env_steps"] - before["env_steps"]
            update += seconds - steps / after["env_steps_per_s"]
    wall = epochs[-1]["wall_time"] if epochs else 0.0
    evaluation = sum(e["eval_seconds"] for e in epochs)
    return {
        "epochs": len(epochs),
        "env_steps": epochs[-1]["env_steps"] if epochs else 0,
        "wall": wall,
        "collect": timed - update,
        "update": update,
        "evaluate": evaluation,
        "other": wall - timed - evaluation,
    }


def main() -> None:
    """Print one line per run: seconds and shares of the wall-clock."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    for run in parser.parse_args().runs:
        split = time_split(run)
        wall = split["wall"] or 1.0
        shares = ", ".join(
            f"{key} {split[key]:.0f} s ({split[key] / wall:.0%})"
            for key in ("collect", "update", "evaluate", "other")
        )
        print(
            f"{run}: {split['epochs']} epochs, {split['env_steps']} env steps, "
            f"{split['wall']:.0f} s: {shares}"
        )


if __name__ == "__main__":
    main()
