"""`python -m bench [--quick] [--only env,td3,her,memory,fast,breakdown] [--out FILE]`: measure.

Sections (each can run alone with --only):
  env     figures 1-2: raw PandaReach-v3 env.step, and collect_episode with the NumpyPolicy
  td3     figure 3: TD3 steps/s eager / tf.function / XLA, one call per step and fused
          (update_many), default and fast-preset networks, GFLOP/s against matmul references
  her     figure 4: HER batch sampling from a full 1e6-transition buffer
  memory  figure 5: RSS of a child process holding the agent and a full buffer
  fast    figure 6: `td3her train --preset fast` per seed in fresh processes: env steps and
          seconds to >= 95 % evaluation success, and the time outside the training loop
  breakdown  figure 7: the push preset's fused TD3 update in parts (TD target, critic
          gradients, critic Adam, actor step, Polyak, remainder; HER sampling and host-to-TF
          outside the compiled call), ms and % per update, GFLOP/s per part

The whole run takes ~5 min on 2 busy cores, --quick ~2 min; most of it is figure 6.

Output: the report goes to stdout as it is measured and to --out (default
bench/out/benchmarks.md), written atomically (a temporary sibling renamed over it). The report
sits between the lines `<!-- bench:start -->` and `<!-- bench:end -->`. If --out already exists
and holds both markers, only the text between them is replaced, so hand-written sections above
and below survive: `python -m bench --out docs/results/speed.md` (`make bench`) refreshes the
repository's speed report and keeps its header; `make results` then picks BENCHMARKS.md's speed
rows from it. If the markers are missing the whole file is written (with
the markers, ready for the next run). With --only, the marked region holds only the figures
just measured.

Heavy imports (TensorFlow, PyBullet) happen after the arguments are parsed, so --help is instant.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from bench.machine import load_average, machine_info
from bench.plan import FULL, QUICK, Plan
from bench.results import Figure, render_figure, render_machine
from bench.timing import Stopwatch

SECTIONS = {
    "env": "bench.env_throughput",
    "td3": "bench.td3_update",
    "her": "bench.her_sampling",
    "memory": "bench.memory",
    "fast": "bench.fast_preset",
    "breakdown": "bench.update_breakdown",
}
FIRST_FIGURE = {"env": 1, "td3": 3, "her": 4, "memory": 5, "fast": 6, "breakdown": 7}  # fixed
NEEDS_TENSORFLOW = {"env", "td3", "her", "breakdown"}  # memory, fast: in child processes
# memory runs first, while this process is small: Linux hands a child its parent's ru_maxrss.
# fast follows, so its training processes do not share the cores with this one's TF threads.
RUN_ORDER = ("memory", "fast", "env", "td3", "breakdown", "her")
DEFAULT_OUT = Path(__file__).resolve().parent / "out" / "benchmarks.md"
START_MARKER = "<!-- bench:start -->"
END_MARKER = "<!-- bench:end -->"


def parse_sections(text: str) -> list[str]:
    """'env,td3' -> ['env', 'td3'] in report order; unknown names are an argparse error."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in SECTIONS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown section(s) {', '.join(unknown) or '(none)'}; choose from "
            f"{', '.join(SECTIONS)}, comma-separated"
        )
    return [name for name in SECTIONS if name in names]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark td3her: env stepping, acting, TD3 updates, HER sampling, memory.",
        epilog="Sections: env (figures 1-2), td3 (3), her (4), memory (5), fast (6), "
        "breakdown (7).",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer repeats and seeds (~2 min instead of ~5 min on 2 cores)",
    )
    parser.add_argument(
        "--only",
        type=parse_sections,
        default=list(SECTIONS),
        metavar="SECTIONS",
        help=f"comma-separated sections to run (default: all of {','.join(SECTIONS)})",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="Markdown file to write (default: bench/out/benchmarks.md); if it exists with "
        f"{START_MARKER} and {END_MARKER} lines, only the text between them is replaced",
    )
    return parser.parse_args(argv)


def python_command() -> str:
    """The interpreter as the user would type it: `.venv/bin/python` from the repo root."""
    executable = Path(sys.executable)
    try:
        return str(executable.relative_to(Path.cwd()))
    except ValueError:
        return str(executable)


def reproduce_command(section: str, plan: Plan) -> str:
    """The command that re-measures one section with the same plan."""
    quick = " --quick" if plan is QUICK else ""
    return f"{python_command()} -m bench --only {section}{quick}"


def progress(message: str) -> None:
    """Progress goes to stderr so stdout carries only the report."""
    print(f"  [{message}]", file=sys.stderr, flush=True)


def render_report(
    figures: list[Figure], info: list[tuple[str, str]], plan: Plan, seconds: float
) -> str:
    """The whole Markdown document."""
    header = [
        "### `make bench` output",
        "",
        f"Plan: **{plan.name}** ({plan.repeats} interleaved repeats per in-process figure); "
        f"whole run {seconds:.0f} s. Each row is the median over repeats with its min – max "
        "and inter-quartile range; `derived` rows are counted or computed from medians.",
        "",
        "",
    ]
    return (
        "\n".join(header)
        + render_machine(info)
        + "\n"
        + "\n".join(render_figure(figure) for figure in figures)
    )


def write_atomically(path: Path, text: str) -> None:
    """Write to a temporary sibling, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)


def splice_report(existing: str | None, report: str) -> tuple[str, bool]:
    """The new file text, and whether hand-written text around the markers was kept.

    With both markers in `existing` (start before end) only the text between them changes;
    otherwise the result is the report alone, wrapped in the markers for the next run.
    """
    marked = f"{START_MARKER}\n{report.rstrip()}\n{END_MARKER}"
    if existing is not None:
        start = existing.find(START_MARKER)
        end = existing.find(END_MARKER, start + len(START_MARKER)) if start >= 0 else -1
        if start >= 0 and end >= 0:
            return existing[:start] + marked + existing[end + len(END_MARKER) :], True
    return marked + "\n", False


def write_report(path: Path, report: str) -> str:
    """Write the report into `path` (between its markers if it has them); says what it did."""
    existing = path.read_text(encoding="utf-8") if path.exists() else None
    text, spliced = splice_report(existing, report)
    write_atomically(path, text)
    if spliced:
        return f"replaced the text between {START_MARKER} and {END_MARKER} in {path}"
    if existing is not None:
        return f"no {START_MARKER} / {END_MARKER} markers in {path}: rewrote the whole file"
    return f"wrote {path}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    total = Stopwatch()
    info = machine_info()
    print(render_machine(info))
    figures: list[Figure] = []
    for section in sorted(args.only, key=RUN_ORDER.index):
        print(f"Running {section} ...", file=sys.stderr, flush=True)
        if section in NEEDS_TENSORFLOW:
            from td3her_cli.quiet import import_tensorflow

            import_tensorflow()  # before td3her_cli.core.agent imports it: start-up logs stay quiet
        module = importlib.import_module(SECTIONS[section])
        stopwatch = Stopwatch()
        measured = module.run(plan, progress)
        command = reproduce_command(section, plan)
        for offset, figure in enumerate(measured):
            numbered = figure.numbered(FIRST_FIGURE[section] + offset, command, stopwatch.elapsed)
            figures.append(numbered)
            print(render_figure(numbered), flush=True)
    info.append(("Load average at end (1/5/15 min)", load_average()))
    figures.sort(key=lambda figure: figure.number)
    what = write_report(args.out, render_report(figures, info, plan, total.elapsed))
    print(f"{what[0].upper()}{what[1:]} ({total.elapsed:.0f} s).", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
