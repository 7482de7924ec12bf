"""`python -m docs.experiments.probes.success_windows RUN... [--width 20000] [--until 200000]`:
mean epoch evaluation per window of env steps.

Reads each run's metrics.jsonl (no rerun) and prints a Markdown table: for each window of
`--width` env steps up to `--until` (the first window is two widths, e.g. 0-40k), the mean
success rate of the epoch evaluations whose env steps fall in it, with the number of epochs in
brackets. Runs of different settings compare at equal data.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from td3her_cli.run.metrics import METRICS_FILE, read_metrics


def window_edges(width: float, until: float) -> tuple[float, ...]:
    """0, then 2*width, 3*width, ... up to the first multiple of `width` at or past `until`."""
    return (0.0, *(k * width for k in range(2, max(2, math.ceil(until / width)) + 1)))


EDGES = window_edges(20e3, 200e3)  # 0-40k, 40-60k, ..., 180-200k


def window_means(run_dir: Path, edges: tuple[float, ...] = EDGES) -> list[tuple[float, int] | None]:
    """(mean success, epochs) per window between consecutive `edges`, None where no epoch falls."""
    rows, _ = read_metrics(run_dir / METRICS_FILE)  # a run still going may end mid-line
    epochs = [r for r in rows if r["kind"] == "epoch" and r.get("success_rate") is not None]
    means = []
    for low, high in zip(edges, edges[1:]):
        rates = [e["success_rate"] for e in epochs if low < e["env_steps"] <= high]
        means.append((sum(rates) / len(rates), len(rates)) if rates else None)
    return means


def main() -> None:
    """Print the table for the runs named on the command line."""
    parser = argparse.ArgumentParser(prog="python -m docs.experiments.probes.success_windows")
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--width", type=float, default=20e3, help="env steps per window")
    parser.add_argument("--until", type=float, default=200e3, help="last window's end")
    args = parser.parse_args()
    if args.width <= 0 or args.until <= 0:
        parser.error("--width and --until must be positive")
    edges = window_edges(args.width, args.until)
    windows = [f"{low / 1e3:g}–{high / 1e3:g}k" for low, high in zip(edges, edges[1:])]
    print("| run | " + " | ".join(windows) + " |")
    print("|---" * (len(windows) + 1) + "|")
    for run in args.runs:
        cells = [f"{w[0]:.0%} ({w[1]})" if w else "—" for w in window_means(run, edges)]
        print(f"| {run.name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
