"""`python -m bench [--quick] [--only env,td3,her,memory] [--out FILE]`: measure, print, write.

Sections (each can run alone with --only):
  env     figures 1-2: raw PandaReach-v3 env.step, and collect_episode with the NumpyPolicy
  td3     figure 3: TD3 steps/s eager / tf.function / XLA, GFLOP/s against matmul references
  her     figure 4: HER batch sampling from a full 1e6-transition buffer
  memory  figure 5: RSS of a child process holding the agent and a full buffer

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
}
FIRST_FIGURE = {"env": 1, "td3": 3, "her": 4, "memory": 5}  # numbers stay put under --only
NEEDS_TENSORFLOW = {"env", "td3", "her"}  # memory measures in a child process
# memory runs first, while this process is small: Linux hands a child its parent's ru_maxrss.
RUN_ORDER = ("memory", "env", "td3", "her")
DEFAULT_OUT = Path(__file__).resolve().parent / "out" / "benchmarks.md"


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
        epilog="Sections: env (figures 1-2), td3 (3), her (4), memory (5).",
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer repeats (~40 s instead of ~2 min on 2 cores)"
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
        help="Markdown file to write (default: bench/out/benchmarks.md)",
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
        "# td3her benchmarks",
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
    temporary.write_text(text)
    temporary.replace(path)


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

            import_tensorflow()  # before td3her_cli.agent imports it: start-up logs stay quiet
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
    write_atomically(args.out, render_report(figures, info, plan, total.elapsed))
    print(f"Wrote {args.out} ({total.elapsed:.0f} s).", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
