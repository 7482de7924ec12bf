"""Memory a run will need (replay buffer when full, networks with targets and Adam moments),
checked against the machine's memory before anything is allocated."""

from __future__ import annotations

import os

from td3her_cli.config import TrainConfig
from td3her_cli.core.spec import EnvSpec
from td3her_cli.errors import UsageError

FLOAT_BYTES = 4
COPIES_PER_WEIGHT = 4  # online weights, target weights, Adam's first and second moments


def buffer_bytes_per_transition(spec: EnvSpec) -> int:
    """Bytes one stored transition takes in HerReplayBuffer's arrays."""
    floats = 2 * spec.obs_dim + spec.action_dim + 1 + 2 * spec.goal_dim
    return floats * FLOAT_BYTES + 4 + 4 + 1  # + episode start, end (int32) and valid flag


def mlp_parameters(in_dim: int, hidden: tuple[int, ...], out_dim: int) -> int:
    """Weights and biases of an MLP in_dim -> hidden... -> out_dim."""
    sizes = (in_dim, *hidden, out_dim)
    return sum((fan_in + 1) * fan_out for fan_in, fan_out in zip(sizes[:-1], sizes[1:]))


def required_bytes(config: TrainConfig, spec: EnvSpec) -> tuple[int, int]:
    """(replay buffer when full, actor and critics with targets and Adam state)."""
    actor_in = spec.obs_dim + spec.goal_dim
    parameters = mlp_parameters(actor_in, config.hidden, spec.action_dim) + config.critics * (
        mlp_parameters(actor_in + spec.action_dim, config.hidden, 1)
    )
    networks = parameters * FLOAT_BYTES * COPIES_PER_WEIGHT
    return config.buffer_size * buffer_bytes_per_transition(spec), networks


def physical_memory() -> int | None:
    """This machine's RAM in bytes (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(config: TrainConfig, spec: EnvSpec, total: int | None = None) -> None:
    """Raise UsageError when the full buffer plus the networks exceed the machine's memory;
    the message names the option that takes the most (the buffer, the layer widths, or the
    number of critics, each one a copy of the network)."""
    total = physical_memory() if total is None else total
    buffer, networks = required_bytes(config, spec)
    if total is None or buffer + networks <= total:
        return
    hidden = f"--hidden {','.join(map(str, config.hidden))}"
    if buffer >= networks:
        lower = "--buffer-size"
    elif config.critics > 2:  # more critics than TD3's two: the ensemble is what grew
        lower = "--critics or --hidden"
    else:
        lower = "--hidden"
    raise UsageError(
        f"this run needs {_size(buffer + networks)} of memory ({_size(buffer)} for "
        f"--buffer-size {config.buffer_size:,} {spec.env_id} transitions, {_size(networks)} "
        f"for the actor and --critics {config.critics} critics of {hidden}) but this machine "
        f"has {_size(total)}; lower {lower}"
    )


def _size(count: int) -> str:
    """Bytes as a short human figure: 92.5 MiB, 1.6 TiB."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{int(value)} B"
        value /= 1024
    raise AssertionError("unreachable")
