"""Domain errors: each becomes one friendly line and an exit code in the CLI."""


def one_line(exc: BaseException, limit: int | None = None) -> str:
    """'TypeName: first line of the message' (at most `limit` characters), for error lines."""
    lines = str(exc).strip().splitlines()
    line = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return line if limit is None else line[:limit]


class Td3HerError(Exception):
    """A user-facing error. The message names the problem and, where possible, the fix."""

    exit_code = 1


class UsageError(Td3HerError):
    """A bad option value or combination of options (exit code 2)."""

    exit_code = 2


class EnvError(Td3HerError):
    """The environment cannot be created or is not a goal-conditioned env."""

    exit_code = 2


class CheckpointError(Td3HerError):
    """A checkpoint is missing, corrupt, or does not match the request."""

    exit_code = 1


class NoCheckpointError(CheckpointError):
    """A td3her run directory that has no complete checkpoint yet."""


class NewerFormatError(CheckpointError):
    """A checkpoint written by a newer td3her (a format this one cannot read)."""


class RunInUseError(UsageError):
    """Another td3her process is writing the run directory (exit code 2)."""


class DivergenceError(Td3HerError):
    """Training produced non-finite losses or weights (exit code 1)."""


class Interrupted(Td3HerError):
    """Stopped by a Ctrl-C that the command could not finish on (train: a second one, without
    a final checkpoint); exit code 130."""

    exit_code = 130


class EnvCrashError(Td3HerError):
    """The env raised inside reset() or step() (exit code 1)."""


class NotAGoalEnvError(EnvError):
    """The env exists but is not goal-conditioned (or has no continuous actions)."""
