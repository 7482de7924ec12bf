"""`td3her sweep-report`: a sweep directory -> its tables, figures and report.json."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from td3her_cli.cli.common import check_output_path, percent, warn
from td3her_cli.report.display import make_console
from td3her_cli.run.rundir import check_out_folder


def sweep_report(
    sweep_dir: Annotated[Path, typer.Argument(help="A directory written by `td3her sweep`.")],
    out: Annotated[
        Path | None, typer.Option(help="Output directory (default: SWEEP_DIR/report).")
    ] = None,
    width: Annotated[int, typer.Option(help="Figure width in pixels.", min=200)] = 960,
    height: Annotated[int, typer.Option(help="Figure height in pixels.", min=150)] = 600,
) -> None:
    """Tables and figures of a sweep, finished or still running (no Ray needed)."""
    print_sweep_report(sweep_dir, out, width, height)


def no_held_out_warning(names: list[str]) -> str:
    """One line on finished trials that have no held-out evaluation (`names`, at least one)."""
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return (
        f"{len(names)} finished trial(s) have no held-out evaluation ({shown}), so their final "
        "success is not reported; re-run the sweep's `td3her sweep` command to evaluate them"
    )


def print_sweep_report(sweep_dir: Path, out: Path | None, width: int, height: int) -> None:
    """Build a sweep's report (figures, report.json) and print its tables."""
    from td3her_cli.sweep.report import CORRUPT, build_report, overview_table, setting_table

    if out is not None:
        check_out_folder(out)
        check_output_path(out / "report.json")
    report = build_report(sweep_dir, out, width_px=width, height_px=height)
    corrupt = [t for s in report.settings for t in s.trials if t.state == CORRUPT]
    unevaluated = [name for s in report.settings for name in s.without_held_out]
    for warning in [
        *report.warnings,
        *(f"trial {t.name} is left out of the report: {t.error}" for t in corrupt),
        *([no_held_out_warning(unevaluated)] if unevaluated else []),
    ]:
        warn(warning)
    console = make_console()
    for setting in report.settings:
        console.print(setting_table(setting, best=setting.name == report.best))
    console.print(overview_table(report))
    if report.best is None:
        console.print("best setting: none yet (no finished trial with a held-out evaluation)")
    else:
        best = next(s for s in report.settings if s.name == report.best)
        final, iqm = best.final_success, best.final_iqm
        console.print(
            f"best setting: [bold]{report.best}[/] (final success on held-out episodes "
            f"{percent(final.mean[0])}, 95% interval {percent(final.low[0])} - "
            f"{percent(final.high[0])}; IQM {percent(iqm.mean[0])}; "
            f"{int(final.count[0])} seeds)",
            highlight=False,
            soft_wrap=True,
        )
    for path in [*report.plots, report.report_file]:
        console.print(f"wrote {path}", highlight=False)
