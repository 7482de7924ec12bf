"""`python -m bench.success_windows RUN...`: mean epoch evaluation per window of env steps.

Reads each run's metrics.jsonl (no rerun) and prints a Markdown table: for each 20k-step window
(the first is 0-40k), the mean success rate of the epoch evaluations whose env steps fall in
it, with the number of epochs in brackets. Runs of different settings compare at equal data.
"""

from __future__ import annotations

import sys
from pathlib import Path

from td3her_cli.metrics import METRICS_FILE, read_metrics

EDGES = (0, 40e3, 60e3, 80e3, 100e3, 120e3, 140e3, 160e3, 180e3, 200e3)


def window_means(run_dir: Path) -> list[tuple[float, int] | None]:
    """(mean success, epochs) per window of EDGES, None where no epoch falls."""
    rows, _ = read_metrics(run_dir / METRICS_FILE)  # a run still going may end mid-line
    epochs = [r for r in rows if r["kind"] == "epoch" and r.get("success_rate") is not None]
    means = []
    for low, high in zip(EDGES, EDGES[1:]):
        rates = [e["success_rate"] for e in epochs if low < e["env_steps"] <= high]
        means.append((sum(rates) / len(rates), len(rates)) if rates else None)
    return means


def main() -> None:
    """Print the table for the runs named on the command line."""
    windows = [f"{int(low / 1e3)}–{int(high / 1e3)}k" for low, high in zip(EDGES, EDGES[1:])]
    print("| run | " + " | ".join(windows) + " |")
    print("|---" * (len(windows) + 1) + "|")
    for run in sys.argv[1:]:
        cells = [f"{w[0]:.0%} ({w[1]})" if w else "—" for w in window_means(Path(run))]
        print(f"| {Path(run).name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
