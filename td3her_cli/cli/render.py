"""`td3her render`: a checkpoint's policy acting deterministically -> an animated GIF or MP4."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from td3her_cli.cli.common import check_output_path, check_regular_out, policy_in_env, warn
from td3her_cli.envs.rollout import evaluation_seeds
from td3her_cli.errors import UsageError
from td3her_cli.report.display import make_console


def render(
    checkpoint: Annotated[Path, typer.Argument(help="A run directory or a checkpoint directory.")],
    episodes: Annotated[int, typer.Option(help="Episodes to record.", min=1, max=100)] = 3,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Output file (.gif, or .mp4 with --mp4; default: RUN-epoch_N.gif, named after the "
            "checkpoint rendered, in the current directory)."
        ),
    ] = None,
    fps: Annotated[int, typer.Option(help="Frames per second.", min=1)] = 25,
    width: Annotated[int, typer.Option(help="Frame width in pixels.", min=16, max=4096)] = 480,
    height: Annotated[int, typer.Option(help="Frame height in pixels.", min=16, max=4096)] = 320,
    seed: Annotated[int, typer.Option(help="Seed of the recorded episodes.", min=0)] = 0,
    env: Annotated[str | None, typer.Option(help="Env id (default: the checkpoint's).")] = None,
    latest: Annotated[
        bool, typer.Option("--latest", help="Use the run's latest checkpoint instead of best.")
    ] = False,
    mp4: Annotated[bool, typer.Option("--mp4", help="Write MP4 (needs imageio-ffmpeg).")] = False,
    env_module: Annotated[
        list[str] | None, typer.Option(help="Module to import for envs it registers.")
    ] = None,
) -> None:
    """Record the policy acting deterministically as an animated GIF (headless)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from td3her_cli.envs.goal_env import make_env
    from td3her_cli.envs.render_child import RemoteEnv
    from td3her_cli.report.gif import render_episodes, write_animation
    from td3her_cli.run.checkpoint import resolve_checkpoint

    given = out is not None
    if out is None:  # named after the checkpoint: resolved here (no TensorFlow needed)
        chosen = resolve_checkpoint(checkpoint, latest=latest)
        if chosen.warning:
            warn(chosen.warning)
        checkpoint, latest = chosen.path, False
        out = default_render_out(checkpoint, mp4)
    check_render_out(out, mp4, given)  # before the checkpoint is loaded and TensorFlow imported
    console = make_console()
    with contextlib.ExitStack() as stack:
        info, _, spec, policy = stack.enter_context(
            policy_in_env(checkpoint, latest, env, env_module, seed, make_env)
        )
        # The env renders in a child process without TensorFlow (MuJoCo's GL crashes beside it).
        modules = (*info.meta.get("config", {}).get("env_modules", []), *(env_module or ()))
        render_env = RemoteEnv(spec.env_id, tuple(modules), width, height)
        stack.callback(render_env.close)
        total = episodes * ((spec.max_episode_steps or 50) + 1)
        with Progress(
            TextColumn("rendering"), BarColumn(), MofNCompleteColumn(), console=console
        ) as progress:
            task = progress.add_task("render", total=total)
            frames, successes = render_episodes(
                render_env,
                spec,
                policy,
                evaluation_seeds(seed, episodes),
                width,
                height,
                on_frame=lambda _episode, _step: progress.advance(task),
            )
            progress.update(task, completed=total)
    path = write_animation(frames, out, fps, mp4=mp4)
    size_mb = path.stat().st_size / 1e6
    console.print(
        f"wrote {path}: {len(frames)} frames, {size_mb:.2f} MB, "
        f"{sum(successes)}/{len(successes)} episodes successful"
    )


def default_render_out(checkpoint: Path, mp4: bool) -> Path:
    """Where `render` writes without --out: RUN-epoch_N.gif for checkpoint epoch_N of run RUN
    (RUN.gif for a run directory), .mp4 with --mp4, in the current directory."""
    path = Path(checkpoint).resolve()
    name = path.name
    if path.parent.name == "checkpoints":
        name = f"{path.parent.parent.name}-{name}"
    return Path(name + (".mp4" if mp4 else ".gif"))


def check_render_out(out: Path, mp4: bool, given: bool = True) -> None:
    """Raise unless `render` can write --out (or, `given` false, its default file): a new or
    regular file (never a symbolic link, device, FIFO, socket or directory, which os.replace
    would clobber), named .gif (.mp4 with --mp4), in a writable directory, and with --mp4 the
    MP4 writer installed."""
    from td3her_cli.report.gif import require_mp4_writer

    check_regular_out(out, "render", None if given else f"{out} (render's default output file)")
    wanted, other = (".mp4", ".gif") if mp4 else (".gif", ".mp4")
    suffix = out.suffix.lower()
    if suffix != wanted:
        fixed = out.parent / (out.stem + wanted)
        if suffix == other:
            toggle = "drop --mp4" if mp4 else "add --mp4"
            raise UsageError(f"--out {out} names a {suffix} file: {toggle}, or write {fixed}")
        what = "an MP4 (--mp4)" if mp4 else "a GIF (or an MP4 with --mp4 and a .mp4 name)"
        raise UsageError(
            f"--out {out} does not end in {wanted}: render writes {what}; e.g. --out {fixed}"
        )
    if mp4:
        require_mp4_writer()
    check_output_path(out)
