"""`td3her plot`: runs' metrics.jsonl -> score and loss figures and a summary table."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from td3her_cli.cli.common import check_output_path, check_regular_out, percent, seconds, warn
from td3her_cli.errors import UsageError
from td3her_cli.report.display import make_console
from td3her_cli.run.rundir import PLOT_FILES, check_out_folder


def plot(
    runs: Annotated[list[Path], typer.Argument(help="One or more run directories.")],
    out: Annotated[Path | None, typer.Option(help="Output directory (default: RUN/plots).")] = None,
    width: Annotated[int, typer.Option(help="Figure width in pixels.", min=200)] = 960,
    height: Annotated[int, typer.Option(help="Figure height in pixels.", min=150)] = 600,
    x_axis: Annotated[str, typer.Option(help="epoch or env_steps.")] = "epoch",
    compare: Annotated[
        bool, typer.Option("--compare", help="One line per run (an A/B) instead of mean and band.")
    ] = False,
) -> None:
    """Plot score, actor loss and critic losses from metrics.jsonl (mean and band over runs)."""
    from rich.table import Table

    from td3her_cli.report.plotting import NoMetricsError, load_run, plot_runs, summary_rows

    if x_axis not in ("epoch", "env_steps"):
        raise UsageError(f"--x-axis must be epoch or env_steps, got {x_axis!r}")
    loaded = []
    for run_dir in distinct_runs(runs):
        try:
            loaded.append(load_run(run_dir))
        except NoMetricsError as exc:  # the lines it skipped, then the error
            for warning in exc.warnings:
                warn(warning)
            raise
        for warning in loaded[-1].warnings:  # one line each: file and line number
            warn(warning)
    envs = sorted({run.env_id for run in loaded if run.env_id is not None})
    if len(envs) > 1 and not compare:
        warn(
            f"these runs are of {len(envs)} envs ({', '.join(envs)}): their mean mixes tasks; "
            "--compare draws one line per run"
        )
    out_dir = out if out is not None else runs[0] / "plots"
    check_out_folder(out_dir)  # plot writes a folder of PNGs there
    for name in PLOT_FILES:  # never write through a link or onto a device
        check_regular_out(out_dir / name, "plot", f"{out_dir / name} (a file plot writes)")
    check_output_path(out_dir / "score.png")
    paths = plot_runs(loaded, out_dir, width, height, x_axis, compare)
    table = Table(title="Runs")
    for name in (
        "run",
        "epochs",
        "final success",
        "best success",
        "first epoch >= 95%",
        "env steps then",
        "seconds then",
        "run seconds",
    ):
        table.add_column(name, justify="right")
    for row in summary_rows(loaded):
        table.add_row(
            row["name"],
            str(row["epochs"]),
            percent(row["final_success_rate"]),
            percent(row["best_success_rate"]),
            str(row["solved_epoch"] or "-"),
            str(row["solved_env_steps"] or "-"),
            seconds(row["solved_wall_time"]),
            seconds(row["wall_time"]),
        )
    console = make_console()
    console.print(table)
    for path in paths:
        console.print(f"wrote {path}")


def distinct_runs(runs: list[Path]) -> list[Path]:
    """`runs` with a run given again (by any path to it) left out, with a warning."""
    seen: dict[str, Path] = {}
    for run_dir in runs:
        first = seen.setdefault(os.path.realpath(run_dir), run_dir)  # realpath never raises
        if first is not run_dir:
            again = "given twice" if run_dir == first else f"{first} again"
            warn(f"{run_dir} is {again}; it is plotted once")
    return list(seen.values())
