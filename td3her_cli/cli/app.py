"""The `td3her` command line: the Typer app, its commands (one module each) and `main`.

Each command parses its options -> builds a config -> calls the library -> shows the result.
Heavy imports (TensorFlow, gymnasium, Ray) stay inside the commands, so `--help` is instant.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Annotated

import typer

from td3her_cli.cli.common import error_line
from td3her_cli.cli.envs import envs
from td3her_cli.cli.evaluate import evaluate
from td3her_cli.cli.export import export_onnx
from td3her_cli.cli.plot import plot
from td3her_cli.cli.render import render
from td3her_cli.cli.sweep import sweep
from td3her_cli.cli.sweep_report import sweep_report
from td3her_cli.cli.train import train
from td3her_cli.errors import Interrupted, Td3HerError

try:  # Typer >= 0.22 vendors click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - older Typer with click as a dependency
    from click.exceptions import ClickException

app = typer.Typer(
    name="td3her",
    help="Train, evaluate and show robot-arm agents with TD3 + Hindsight Experience Replay.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
DEBUG = {"on": False}


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    DEBUG["on"] = debug


def interruptible(command: Callable[..., None]) -> Callable[..., None]:
    """`command` with a Ctrl-C that escapes it raised as Interrupted (one line, exit 130);
    Typer would turn it into a silent exit 130."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt:
            raise Interrupted("interrupted") from None

    return run


# In the order `td3her --help` lists them.
app.command()(interruptible(train))
app.command()(interruptible(evaluate))
app.command()(interruptible(envs))
app.command()(interruptible(render))
app.command("export")(interruptible(export_onnx))
app.command()(interruptible(plot))
app.command()(interruptible(sweep))
app.command("sweep-report")(interruptible(sweep_report))


def main() -> None:
    """Console-script entry point: one friendly line and an exit code for every user error.
    Once the code is known the work is over: a Ctrl-C then only hurries the exit, with that
    code and without a traceback (e.g. a second one that lands while a stopped run exits)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        code = run_app()
    except KeyboardInterrupt:  # a Ctrl-C while the error line was being written
        code = 130
    signal.signal(signal.SIGINT, exit_at_once(code))
    sys.exit(code)


def run_app() -> int:
    """Run the app; its exit code, after the one line a user error gets."""
    try:
        code = app(standalone_mode=False)
    except Td3HerError as exc:
        if DEBUG["on"]:
            traceback.print_exc()
        return error_line(str(exc), exc.exit_code)
    except ClickException as exc:  # bad option values and usage: click's exit code (2)
        return error_line(exc.format_message(), exc.exit_code)
    except typer.Abort:  # click's for an end of input at a prompt
        return error_line("aborted", 130)
    except OSError as exc:  # disk full, permissions, ...: the environment, not a bug
        if DEBUG["on"]:
            traceback.print_exc()
        where = f": {exc.filename}" if exc.filename else ""
        return error_line(f"{exc.strerror or exc}{where}", 1)
    except typer.Exit as exc:
        return exc.exit_code
    return code if isinstance(code, int) else 0


def exit_at_once(code: int):
    """The SIGINT handler once main knows its exit `code`: flush the output, leave with it."""

    def handler(_signum, _frame) -> None:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)

    return handler
