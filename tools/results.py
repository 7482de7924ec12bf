"""`make results`: BENCHMARKS.md, its learning curves, README's results table and the index of
docs/experiments/, all rebuilt from the data kept in docs/results/.

    python -m tools.results                 # rebuild everything from docs/results/
    python -m tools.results --check         # exit 1, naming the stale files, if a rebuild differs
    python -m tools.results collect RUN --name push-s0 --alone
                                            # keep a finished run's data (held-out evaluation
                                            # included) in docs/results/runs/push-s0/

A kept run is a directory docs/results/runs/NAME/ holding the run's config.json and
metrics.jsonl, heldout.json (`td3her evaluate RUN --latest --seed 1000 --episodes 300 --json`)
and run.json (how it was trained: command, alone or sharing the machine, versions, machine).
Text around the tables lives in docs/results/BENCHMARKS.template.md; each line
`<!-- results:NAME [ARG] -->` there is replaced by a generated block.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from td3her_cli.config import TrainConfig, field_flag, option_of
from td3her_cli.envs.rollout import HELD_OUT_EPISODES, HELD_OUT_SEED
from td3her_cli.errors import UsageError
from td3her_cli.presets import choose_preset, preset_values
from td3her_cli.run.metrics import METRICS_FILE, read_metrics

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results"
RUNS = RESULTS / "runs"
TEMPLATE = RESULTS / "BENCHMARKS.template.md"
ABLATIONS = RESULTS / "ablations.toml"
SPEED = RESULTS / "speed.md"
CURVES = RESULTS / "curves"
BENCHMARKS = ROOT / "BENCHMARKS.md"
README = ROOT / "README.md"
EXPERIMENTS = ROOT / "docs" / "experiments"

TASK_ORDER = (
    "PandaReach-v3",
    "PandaPush-v3",
    "PandaPickAndPlace-v3",
    "PandaSlide-v3",
    "PandaFlip-v3",
    "PandaStack-v3",
    "FetchPush-v4",
    "FetchPickAndPlace-v4",
    "FetchSlide-v4",
)
BOOTSTRAP_REPS = 2_000  # 3 seeds have 27 distinct resamples; more reps only cost time
BOOTSTRAP_SEED = 0  # the intervals are reproducible, so BENCHMARKS.md rebuilds byte for byte
README_START = "<!-- results:start -->"
README_END = "<!-- results:end -->"
PLACEHOLDER = re.compile(r"^<!-- results:(?P<name>[a-z-]+)(?: (?P<arg>\S+))? -->$", re.MULTILINE)


class ResultsError(Exception):
    """Kept data that cannot be read or a template that cannot be filled."""


@dataclass(frozen=True)
class KeptRun:
    """One headline run as kept in docs/results/runs/NAME/."""

    name: str
    env_id: str
    preset: str
    seed: int
    command: str
    alone: bool
    epochs_run: int
    epochs_max: int
    env_steps: int
    stopped_itself: bool
    heldout_successes: int
    heldout_episodes: int
    curve_env_steps: tuple[int, ...]  # [E] at each epoch's end
    curve_success: tuple[float, ...]  # [E] the epoch's evaluation (development episodes)
    curve_minutes: tuple[float, ...]  # [E] the training loop's wall-clock at each epoch's end
    cpu: str
    versions: dict
    repeat_options: tuple[str, ...] = ()  # what repeats the run under today's preset

    @property
    def loop_minutes(self) -> float:
        """The training loop's wall-clock at the last epoch's end."""
        return self.curve_minutes[-1]

    @property
    def heldout_success(self) -> float:
        return self.heldout_successes / self.heldout_episodes


def load_run(directory: Path) -> KeptRun:
    """Read one kept run; a missing or malformed file is a ResultsError naming it."""
    try:
        info = json.loads((directory / "run.json").read_text())
        config = json.loads((directory / "config.json").read_text())
        heldout = json.loads((directory / "heldout.json").read_text())
        rows, unreadable = read_metrics(directory / METRICS_FILE)
    except (OSError, json.JSONDecodeError) as error:
        raise ResultsError(f"{directory}: {error}") from error
    if unreadable:
        raise ResultsError("; ".join(unreadable))
    epochs = [row for row in rows if row.get("kind") == "epoch"]
    if not epochs:
        raise ResultsError(f"{directory}/metrics.jsonl has no epoch row")
    protocol = (heldout.get("seed"), heldout.get("episodes"))
    if protocol != (HELD_OUT_SEED, HELD_OUT_EPISODES):
        raise ResultsError(
            f"{directory}/heldout.json: seed {protocol[0]} x {protocol[1]} episodes is not the "
            f"held-out protocol (seed {HELD_OUT_SEED} x {HELD_OUT_EPISODES})"
        )
    last = epochs[-1]
    return KeptRun(
        name=directory.name,
        env_id=config["env_id"],
        preset=config.get("extra", {}).get("preset", "original"),
        seed=config["seed"],
        command=info["command"],
        alone=info["alone"],
        epochs_run=last["epoch"],
        epochs_max=config["epochs"],
        env_steps=last["env_steps"],
        stopped_itself=stopped_itself(last, config),
        heldout_successes=round(heldout["success_rate"] * heldout["episodes"]),
        heldout_episodes=heldout["episodes"],
        curve_env_steps=tuple(row["env_steps"] for row in epochs),
        curve_success=tuple(row["success_rate"] for row in epochs),
        curve_minutes=tuple(row["wall_time"] / 60 for row in epochs),
        cpu=info.get("machine", {}).get("cpu", "?"),
        versions=info.get("versions", {}),
        repeat_options=repeat_options(config, info["command"]),
    )


def stopped_itself(last_epoch: dict, config: dict) -> bool:
    """Whether a run's last epoch row shows its --stop-at-success check met (a check below
    the target, e.g. at the epoch budget, is not a stop)."""
    target = config.get("stop_at_success", 0)
    return target > 0 and last_epoch.get("stop_check_success", -1.0) >= target


def option_text(value) -> str:
    """A config value as `td3her train` takes it: 0.5, 100, 128,128,128."""
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def repeat_options(config: dict, command: str) -> tuple[str, ...]:
    """The options the first `td3her train` of a kept run's command needs to repeat the run
    today: each setting it left to a preset (the one the command picks today) or a default
    that now has another value, as `--flag value`. A setting missing from an older
    config.json had today's default, as a resume reads it; an aid its env refused
    (extra["preset_aids_off"]) is refused again."""
    named = re.search(r"(?<!\S)--preset[ =](\S+)", command)
    try:
        preset, _ = choose_preset(named.group(1) if named else None, config.get("env_id"))
        today = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
        today |= preset_values(preset)
    except UsageError as error:
        raise ResultsError(f"{command}: {error}") from None
    given = set(re.findall(r"(?<!\S)--(?:no-)?([a-z][a-z0-9-]*)", command))
    skipped = {"seed", "env_id", *config.get("extra", {}).get("preset_aids_off", ())}
    options = []
    for each in dataclasses.fields(TrainConfig):
        option, flag = option_of(each), field_flag(each.name)
        if option is None or flag[2:] in given or each.name in skipped:
            continue
        was, now = config.get(each.name, each.default), today[each.name]
        if option_text(was) == option_text(now):
            continue
        if isinstance(was, bool):
            options.append(flag if was else f"--no-{flag[2:]}")
        elif isinstance(was, (list, tuple)) and option.from_text is None:  # a repeated option
            options += [f"{flag} {value}" for value in was]
        else:
            options.append(f"{flag} {option_text(was)}")
    return tuple(options)


def load_runs(runs_dir: Path = RUNS) -> list[KeptRun]:
    """Every kept run, in task order, then seed."""
    runs = [load_run(path) for path in sorted(runs_dir.iterdir()) if path.is_dir()]
    order = {task: index for index, task in enumerate(TASK_ORDER)}
    return sorted(runs, key=lambda run: (order.get(run.env_id, len(order)), run.env_id, run.seed))


def by_task(runs: list[KeptRun]) -> dict[tuple[str, str], list[KeptRun]]:
    """The runs of each (env id, preset), in the order of `runs`."""
    tasks: dict[tuple[str, str], list[KeptRun]] = {}
    for run in runs:
        tasks.setdefault((run.env_id, run.preset), []).append(run)
    return tasks


def mean_interval(successes: list[float]) -> tuple[float, float, float]:
    """Mean over seeds and its 95 % stratified-bootstrap interval (rliable, seeded: the same
    successes give the same interval), as `td3her sweep-report` computes it."""
    from td3her_cli.sweep.report import final_intervals

    mean, _ = final_intervals(np.asarray(successes), seed=BOOTSTRAP_SEED, resamples=BOOTSTRAP_REPS)
    return float(mean.mean[0]), float(mean.low[0]), float(mean.high[0])


def steps(count: int) -> str:
    """Env steps for a table cell: 540, 9,875, 123k."""
    return f"{count / 1000:.0f}k" if count >= 10_000 else f"{count:,}"


def seed_commands(runs: list[KeptRun]) -> list[str]:
    """The runs' train commands, those that differ only in the seed written once with S, each
    followed by the options that repeat its runs under today's presets where those changed."""
    commands: dict[str, list[KeptRun]] = {}
    for run in runs:
        command = re.sub(rf"--seed {run.seed}\b", "--seed S", run.command)
        commands.setdefault(command, []).append(run)
    lines = []
    for command, group in commands.items():
        seeded = "--seed S" in command
        lines.append(f"{command}   # S = {seed_list(group)}" if seeded else command)
        by_options: dict[tuple[str, ...], list[KeptRun]] = {}
        for run in group:
            by_options.setdefault(run.repeat_options, []).append(run)
        for options, those in by_options.items():
            if not options:
                continue
            which = f"S = {seed_list(those)}: " if seeded and len(by_options) > 1 else ""
            lines.append(
                f"# {which}to repeat with today's presets, the first td3her train also takes "
                f"{' '.join(options)}"
            )
    return lines


def seed_list(runs: list[KeptRun]) -> str:
    return ", ".join(str(run.seed) for run in runs)


def preset_cell(preset: str, runs: list[KeptRun]) -> str:
    """A table's preset cell, marked when the preset has changed since any of the runs."""
    changed = any(run.repeat_options for run in runs)
    return f"`{preset}` (changed since)" if changed else f"`{preset}`"


def interval_cell(low: float, high: float, seeds: int) -> str:
    """The interval over seeds, or a dash where one seed has none to give."""
    return f"[{100 * low:.1f}, {100 * high:.1f}]" if seeds > 1 else "(one seed)"


def percent(value: float) -> str:
    return f"{100 * value:.1f} %"


def short_cpu(cpu: str) -> str:
    """'Intel(R) Xeon(R) Processor' -> 'Intel Xeon': the CPU as a minutes cell names it."""
    words = cpu.replace("(R)", "").replace("(TM)", "").split()
    return " ".join(word for word in words if word not in ("Processor", "CPU")) or "?"


def machine_word(run: KeptRun) -> str:
    """Where a run's minutes were measured: alone or shared, and on which CPU (minutes on
    different CPUs do not compare)."""
    return f"{'alone' if run.alone else 'shared'}, {short_cpu(run.cpu)}"


def minutes_cell(runs: list[KeptRun]) -> str:
    """Per-seed minutes, marked alone or shared and with the CPU: once when all runs share
    them."""
    words = {machine_word(run) for run in runs}
    if len(words) == 1:
        return f"{', '.join(f'{run.loop_minutes:.1f}' for run in runs)} ({words.pop()})"
    return ", ".join(f"{run.loop_minutes:.1f} ({machine_word(run)})" for run in runs)


def curve_name(env_id: str, preset: str) -> str:
    """The learning-curve file of a task's runs with one preset."""
    return f"{env_id}-{preset}.png"


def results_table(runs: list[KeptRun]) -> str:
    """One row per task: the headline table of BENCHMARKS.md and README.md."""
    lines = [
        "| Task | Preset | Seeds | Env steps | Minutes of training loop | "
        "Held-out success per seed | Mean [95 % CI] |",
        "|---|---|---|---|---|---|---|",
    ]
    for (env_id, preset), task_runs in by_task(runs).items():
        mean, low, high = mean_interval([run.heldout_success for run in task_runs])
        lines.append(
            f"| {env_id} | {preset_cell(preset, task_runs)} "
            f"| {', '.join(str(run.seed) for run in task_runs)} "
            f"| {', '.join(steps(run.env_steps) for run in task_runs)} "
            f"| {minutes_cell(task_runs)} "
            f"| {', '.join(percent(run.heldout_success) for run in task_runs)} "
            f"| **{percent(mean)}** {interval_cell(low, high, len(task_runs))} |"
        )
    return "\n".join(lines)


def task_section(task: str, runs: list[KeptRun]) -> str:
    """The command, a per-seed table and the learning curve of one task: `ENV` or `ENV:PRESET`."""
    env_id, _, preset = task.partition(":")
    task_runs = [r for r in runs if r.env_id == env_id and preset in ("", r.preset)]
    if not task_runs:
        raise ResultsError(f"the template asks for {task}, but no kept run trained it")
    lines = ["```bash", *seed_commands(task_runs), "```", ""]
    lines += [
        "| Seed | Last epoch (of max) | Stopped itself | Env steps | Minutes of training loop "
        "| Held-out successes | Held-out success |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in task_runs:
        lines.append(
            f"| {run.seed} | {run.epochs_run} ({run.epochs_max}) "
            f"| {'yes' if run.stopped_itself else 'no'} | {run.env_steps:,} "
            f"| {run.loop_minutes:.1f} ({machine_word(run)}) "
            f"| {run.heldout_successes}/{run.heldout_episodes} "
            f"| {percent(run.heldout_success)} |"
        )
    curve = curve_name(env_id, task_runs[0].preset)
    lines += ["", f"![{env_id} learning curves](docs/results/curves/{curve})"]
    return "\n".join(lines)


def ablation_table(path: Path = ABLATIONS) -> str:
    """Levers tried, their effect and the note with the numbers (docs/results/ablations.toml)."""
    rows = tomllib.loads(path.read_text())["ablation"]
    lines = ["| Lever | Task | Effect | Note |", "|---|---|---|---|"]
    for row in rows:
        note = row["note"]
        lines.append(
            f"| {row['lever']} | {row['task']} | {row['effect']} "
            f"| [{Path(note).stem}](docs/experiments/{note}) |"
        )
    return "\n".join(lines)


def speed_table(path: Path = SPEED) -> str:
    """The rows of `make bench`'s report (docs/results/speed.md) named in speed.toml."""
    wanted = tomllib.loads(path.with_suffix(".toml").read_text())["row"]
    report = path.read_text()
    date = _machine_value(report, "Date").split()[0]  # the day, not the hour
    cpu = _machine_value(report, "CPU")
    lines = [
        f"Measured {date} on {cpu}.",
        "",
        "| Figure | Measure | Median | Min – max | n |",
        "|---|---|---|---|---|",
    ]
    for want in wanted:
        cells = _bench_row(report, want["measure"])
        lines.append(
            f"| {want['figure']} | {want['measure']} ({cells[1]}) | {cells[2]} | {cells[3]} "
            f"| {cells[5]} |"
        )
    return "\n".join(lines)


def _machine_value(report: str, key: str) -> str:
    """A value of the report's machine table (`| Date | 2026-11-24 13:00 UTC |`)."""
    match = re.search(rf"^\| {re.escape(key)} \| (.+?) \|$", report, re.MULTILINE)
    if match is None:
        raise ResultsError(f"{SPEED.name}'s machine table has no '{key}' row")
    return match.group(1)


def _bench_row(report: str, measure: str) -> list[str]:
    for line in report.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells and cells[0] == measure and len(cells) >= 6:
            return cells
    raise ResultsError(f"{SPEED.name} has no row '{measure}' (docs/results/speed.toml names it)")


def versions_line(runs: list[KeptRun]) -> str:
    """The CPUs and package versions the kept runs recorded."""
    cpus = sorted({run.cpu for run in runs})
    versions = sorted({json.dumps(run.versions, sort_keys=True) for run in runs})
    parts = [f"CPU: {', '.join(cpus)}"]
    for text in versions:
        parts.append(", ".join(f"{name} {value}" for name, value in json.loads(text).items()))
    return "  " + "; ".join(parts) + "."  # continues the protocol's list item


def experiments_index(directory: Path = EXPERIMENTS) -> str:
    """docs/experiments/README.md: one row per note, newest first."""
    notes = []
    for path in sorted(directory.glob("*.md")):
        if path.name == "README.md":
            continue
        text = path.read_text()
        title = re.search(r"^# (.+)$", text, re.MULTILINE)
        date = re.search(r"\*\*Date:\*\* (\d{4}-\d{2}-\d{2})", text)
        answer = re.search(r"\*\*Answer:\*\* (.+)$", text, re.MULTILINE)
        if not (title and date and answer):
            raise ResultsError(f"{path}: needs a '# title', a **Date:** and an **Answer:** line")
        notes.append((date.group(1), path.name, title.group(1).strip(), answer.group(1).strip()))
    notes.sort(key=lambda note: (note[0], note[1]), reverse=True)
    lines = [
        "# Experiment notes",
        "",
        "One dated note per question: question, setup, result, decision, commands. History,",
        "negative results and the road to each preset live here, nowhere else. New note: copy",
        "the shape of any note below; `make results` rebuilds this index from the notes' title,",
        "**Date:** and **Answer:** lines.",
        "",
        "| Date | Question | Answer |",
        "|---|---|---|",
    ]
    lines += [f"| {date} | [{title}]({name}) | {answer} |" for date, name, title, answer in notes]
    return "\n".join(lines) + "\n"


def fill_template(template: str, runs: list[KeptRun]) -> str:
    """The template with every `<!-- results:NAME [ARG] -->` line replaced by its block."""
    blocks: dict[str, Callable[[str | None], str]] = {
        "table": lambda _: results_table(runs),
        "task": lambda env_id: task_section(env_id, runs),
        "ablations": lambda _: ablation_table(),
        "speed": lambda _: speed_table(),
        "versions": lambda _: versions_line(runs),
    }

    def replace(match: re.Match) -> str:
        name = match.group("name")
        if name not in blocks:
            raise ResultsError(f"{TEMPLATE.name}: unknown placeholder results:{name}")
        return blocks[name](match.group("arg"))

    return PLACEHOLDER.sub(replace, template)


def readme_with_table(readme: str, runs: list[KeptRun]) -> str:
    """README.md with the results table between its markers."""
    start, end = readme.find(README_START), readme.find(README_END)
    if start < 0 or end < start:
        raise ResultsError(f"README.md lacks the lines {README_START} ... {README_END}")
    table = results_table(runs)
    return f"{readme[: start + len(README_START)]}\n{table}\n{readme[end:]}"


def generated_texts() -> dict[Path, str]:
    """Every text file `make results` writes, with its content."""
    runs = load_runs()
    return {
        BENCHMARKS: fill_template(TEMPLATE.read_text(), runs),
        README: readme_with_table(README.read_text(), runs),
        EXPERIMENTS / "README.md": experiments_index(),
    }


def draw_curves(runs: list[KeptRun], out: Path = CURVES) -> list[Path]:
    """One PNG per task: each seed's epoch evaluations against env steps and against minutes of
    training loop, and its held-out result as a dot."""
    from matplotlib.figure import Figure

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for (env_id, preset), task_runs in by_task(runs).items():
        figure = Figure(figsize=(11, 3.6), dpi=100)
        by_steps, by_minutes = figure.subplots(1, 2, sharey=True)
        for index, run in enumerate(task_runs):
            color = f"C{index}"
            for axes, curve_x, last_x in (
                (by_steps, run.curve_env_steps, run.env_steps),
                (by_minutes, run.curve_minutes, run.loop_minutes),
            ):
                axes.plot(
                    curve_x,
                    np.asarray(run.curve_success) * 100,
                    color=color,
                    alpha=0.6,
                    linewidth=1,
                    label=f"seed {run.seed}: epoch evaluations (development episodes)",
                )
                axes.plot(
                    [last_x],
                    [run.heldout_success * 100],
                    "o",
                    color=color,
                    markeredgecolor="black",
                    label=f"seed {run.seed}: last checkpoint, "
                    f"{run.heldout_episodes} held-out episodes",
                )
        machines = sorted({machine_word(run) for run in task_runs})
        by_steps.set_xlabel("env steps")
        by_minutes.set_xlabel(f"minutes of training loop ({' and '.join(machines)})")
        by_steps.set_ylabel("success (%)")
        by_steps.set_ylim(-2, 102)
        for axes in (by_steps, by_minutes):
            axes.grid(alpha=0.3)
        figure.suptitle(f"{env_id}, preset {preset}", fontsize=10)
        by_minutes.legend(fontsize=7, loc="lower right")
        figure.tight_layout()
        path = out / curve_name(env_id, preset)
        figure.savefig(path, metadata={"Software": None})
        written.append(path)
    return written


def build() -> list[Path]:
    """Write BENCHMARKS.md, README's table, the experiments index and the curves."""
    texts = generated_texts()
    for path, text in texts.items():
        path.write_text(text)
    return [*texts, *draw_curves(load_runs())]


def stale_files() -> list[Path]:
    """The generated text files whose committed content differs from a rebuild."""
    return [path for path, text in generated_texts().items() if path.read_text() != text]


def held_out_evaluation(run_dir: Path) -> dict:
    """The run's last checkpoint on the held-out episodes: the object
    `td3her evaluate RUN --latest --seed 1000 --episodes 300 --num-envs 2 --json` prints,
    computed here by the library function behind that command."""
    from td3her_cli.errors import Td3HerError
    from td3her_cli.run.checkpoint import resolve_checkpoint
    from td3her_cli.run.evaluation import evaluate_checkpoint

    try:
        info = resolve_checkpoint(run_dir, latest=True)
        return evaluate_checkpoint(info, HELD_OUT_EPISODES, HELD_OUT_SEED, num_envs=2).to_dict()
    except Td3HerError as error:
        raise ResultsError(str(error)) from None


def collect(run_dir: Path, name: str, alone: bool, command: str | None) -> Path:
    """Keep a finished run's data in docs/results/runs/NAME/, evaluating its last checkpoint
    on the held-out episodes unless RUN/heldout.json already holds that evaluation."""
    config = json.loads((run_dir / "config.json").read_text())
    latest = json.loads((run_dir / "checkpoints" / "latest.json").read_text())
    meta_path = run_dir / "checkpoints" / latest["checkpoint"] / "meta.json"
    meta = json.loads(meta_path.read_text())
    heldout_path = run_dir / "heldout.json"
    if heldout_path.exists():
        heldout = json.loads(heldout_path.read_text())
    else:
        heldout = held_out_evaluation(run_dir)
    heldout.setdefault("seed", HELD_OUT_SEED)  # evaluate's JSON before it named its seed
    if heldout["episodes"] != HELD_OUT_EPISODES or heldout["seed"] != HELD_OUT_SEED:
        raise ResultsError(f"{heldout_path} is not the held-out evaluation")
    if Path(heldout["checkpoint"]).name != latest["checkpoint"]:
        raise ResultsError(f"{heldout_path} evaluated {heldout['checkpoint']}, not the latest")
    heldout["checkpoint"] = latest["checkpoint"]  # relative: the run directory is not kept
    seed = config["seed"]
    target = RUNS / name
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run_dir / "config.json", target / "config.json")
    shutil.copyfile(run_dir / "metrics.jsonl", target / "metrics.jsonl")
    (target / "heldout.json").write_text(json.dumps(heldout, indent=2, sort_keys=True) + "\n")
    info = {
        "command": command or f"td3her train --env {config['env_id']} --seed {seed}",
        "alone": alone,
        "machine": meta.get("machine", {}),
        "versions": meta.get("versions", {}),
        "last_checkpoint": latest["checkpoint"],
    }
    (target / "run.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.results", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command")
    keep = commands.add_parser("collect", help="keep a finished run's data in docs/results/runs/")
    keep.add_argument("run", type=Path)
    keep.add_argument("--name", required=True)
    keep.add_argument(
        "--command", dest="train_command", help="the train command (default: preset's)"
    )
    machine = keep.add_mutually_exclusive_group(required=True)
    machine.add_argument("--alone", action="store_true", help="nothing else ran on the machine")
    machine.add_argument("--shared", action="store_true", help="other work shared the cores")
    parser.add_argument("--check", action="store_true", help="fail if a rebuild would differ")
    args = parser.parse_args(argv)
    try:
        if args.command == "collect":
            print(collect(args.run, args.name, args.alone, args.train_command))
            return 0
        if args.check:
            stale = stale_files()
            if stale:
                names = ", ".join(str(path.relative_to(ROOT)) for path in stale)
                print(f"stale: {names}; run `make results`", file=sys.stderr)
                return 1
            return 0
        for path in build():
            print(f"wrote {path.relative_to(ROOT)}")
        return 0
    except ResultsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
