"""Checkpoints: a SavedModel policy, a resumable trainer state and validated JSON metadata.

Layout of one checkpoint (see README, "Checkpoints"):

    RUN/checkpoints/epoch_003/            (or epoch_004-cycle_017 when interrupted mid-epoch)
        policy/        SavedModel: normalisers + evaluated actor; (observation, goal) -> action
        trainer/       tf.train.Checkpoint of the whole agent (critics, targets, optimisers, ...)
        state.json     counters, NumPy RNG states, exploration noise state
        buffer.npz     the replay buffer (unless --no-save-buffer), loaded with allow_pickle=False;
                       only the newest checkpoint keeps it (older ones drop it to save disk)
        meta.json      versions, the CPUs, env and spaces, config, counters, evaluation,
                       normaliser statistics, --keep and a SHA-256 of every file above;
                       written last
    RUN/checkpoints/latest.json, best.json: {"checkpoint": "epoch_003", ...}
                   (best.json adds the selection score it was picked by: best.py)

Every checkpoint is written into a hidden temporary sibling, fsynced, then renamed into place;
the pointers move (atomic os.replace) only after that, so a crash at any moment leaves the
previous checkpoint whole and `latest` pointing at it.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from td3her_cli import strict_json
from td3her_cli.config import config_problem, is_count, is_float_value, json_text
from td3her_cli.errors import CheckpointError, NewerFormatError, NoCheckpointError
from td3her_cli.run.host import machine, machines_trained_on, with_this_machine
from td3her_cli.run.rundir import CHECKPOINT_NAME, STAGING_NAME, is_checkpoint_dir

if TYPE_CHECKING:
    from td3her_cli.config import TrainConfig
    from td3her_cli.core.agent import TD3Agent
    from td3her_cli.core.spec import EnvSpec

FORMAT_VERSION = 1
CHECKPOINTS_DIR = "checkpoints"
DEFAULT_KEEP = 3  # checkpoints kept besides those the pointers name
META_FILE = "meta.json"
BUFFER_FILE = "buffer.npz"
POINTERS = ("latest", "best")
PAUSE_HOOK = "TD3HER_TEST_PAUSE_IN_CHECKPOINT"  # test-only: "N:marker" pauses inside write N


class ReplayState(Protocol):
    """The replay buffer as a checkpoint holds it (core.replay.HerReplayBuffer is one)."""

    def state_arrays(self) -> dict[str, np.ndarray]: ...
    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None: ...


class RunState(Protocol):
    """What a checkpoint reads of a run and restores into it; training.Trainer is one.

    Checkpointing knows this much, never the trainer itself (training imports checkpoint,
    not the other way round).
    """

    config: TrainConfig  # read: meta.json's config and env id
    spec: EnvSpec  # read: meta.json's spaces
    agent: TD3Agent  # read and restored: policy/, trainer/ (tf.train.Checkpoint), normalisers
    buffer: ReplayState  # read and restored: buffer.npz
    machines: list[dict]  # read, and restored from meta.json: the CPUs the run trained on
    epoch: int  # read: the checkpoint's name and meta.json's counters
    cycle: int
    env_steps: int
    episodes: int
    opt_steps: int

    def state_dict(self) -> dict: ...  # state.json: counters, RNG and noise states
    def load_state_dict(self, state: dict) -> None: ...
    def solved(self) -> bool: ...  # meta.json's "solved": --stop-at-success met


@dataclass(frozen=True)
class CheckpointInfo:
    """A validated checkpoint directory and its metadata."""

    path: Path
    meta: dict[str, Any]
    warning: str = ""
    """Set when the pointer was broken and a fallback was chosen, or --latest named a
    checkpoint directory (for the user to see)."""
    fell_back: bool = False
    """True when a pointer was passed over and another checkpoint stands in."""

    @property
    def policy_dir(self) -> Path:
        """The SavedModel directory of the policy."""
        return self.path / "policy"


def checkpoint_name(epoch: int, cycle: int) -> str:
    """epoch_003 for a whole epoch, epoch_004-cycle_017 for one interrupted mid-epoch."""
    if cycle == 0:
        return f"epoch_{epoch:03d}"
    return f"epoch_{epoch + 1:03d}-cycle_{cycle:03d}"


def versions() -> dict[str, str]:
    """Versions of td3her and the libraries that shape a checkpoint."""
    found = {"python": platform.python_version()}
    for name, dist in (
        ("td3her", "td3her"),
        ("tensorflow", "tensorflow-cpu"),
        ("gymnasium", "gymnasium"),
        ("panda_gym", "panda-gym"),
        ("numpy", "numpy"),
    ):
        try:
            found[name] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            try:
                found[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                found[name] = "unknown"
    return found


# ------------------------------------------------------------------------------ writing
def save_checkpoint(
    trainer: RunState,
    run_dir: Path,
    evaluation: dict | None,
    metrics_rows: int,
    keep: int = DEFAULT_KEEP,
    save_buffer: bool = True,
    best: dict | None = None,
) -> Path:
    """Write the trainer's current state as a new checkpoint and move the pointers.

    `latest` always moves here; `best` moves here with the record `best` when one is given.
    With save_buffer, the replay buffer goes into this checkpoint and leaves the older ones.
    """
    import tensorflow as tf

    root = Path(run_dir) / CHECKPOINTS_DIR
    name = checkpoint_name(trainer.epoch, trainer.cycle)
    final = root / name
    staging = root / f".tmp-{name}-{os.getpid()}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        _write_files(trainer, staging, evaluation, metrics_rows, save_buffer, keep)
        _fsync_tree(staging)
        if final.exists():  # left by a crash between rename and pointer update: replace it
            shutil.rmtree(final)
        os.replace(staging, final)
        _fsync_dir(root)
        _write_pointer(root, "latest", {"checkpoint": name})
        if best is not None:
            _write_pointer(root, "best", {"checkpoint": name, **best})
    except BaseException as exc:  # disk full, Ctrl-C, ...: no half-written checkpoint stays
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, (OSError, tf.errors.OpError)):
            raise CheckpointError(_write_failure(final, root, exc)) from None
        raise
    _prune(root, keep)
    if save_buffer:
        _drop_older_buffers(root, name)
    return final


def _write_files(
    trainer: RunState, staging: Path, evaluation, metrics_rows: int, save_buffer: bool, keep: int
):
    """Write policy/, trainer/, state.json, buffer.npz and (last) meta.json into `staging`."""
    import tensorflow as tf

    agent = trainer.agent
    export = policy_module(agent)
    tf.saved_model.save(
        export, str(staging / "policy"), signatures={"serving_default": export.serve}
    )
    tf.train.Checkpoint(agent=agent).write(str(staging / "trainer" / "agent"))
    _write_json(staging / "state.json", trainer.state_dict())
    if save_buffer:  # uncompressed: float data barely compresses, and zlib took seconds
        np.savez(staging / BUFFER_FILE, **trainer.buffer.state_arrays())
    _pause_hook(staging)
    hashes = _hash_files(staging)
    buffer_hash = hashes.pop(BUFFER_FILE, None)
    meta = {
        "format_version": FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "versions": versions(),
        "machine": machine(),  # TensorFlow's results depend on the CPU (host.py)
        "machines": with_this_machine(trainer.machines),  # every CPU the run trained on
        "env_id": trainer.config.env_id,
        "spaces": trainer.spec.to_dict(),
        "config": trainer.config.to_dict(),
        "epoch": trainer.epoch,
        "cycle": trainer.cycle,
        "complete_epoch": trainer.cycle == 0,
        "solved": trainer.solved(),  # --stop-at-success met: the run is done
        "env_steps": trainer.env_steps,
        "episodes": trainer.episodes,
        "opt_steps": trainer.opt_steps,
        "evaluation": evaluation,
        "normalizer": {
            "observation": agent.obs_normalizer.state(),
            "goal": agent.goal_normalizer.state(),
        },
        "metrics_rows": metrics_rows,
        "has_buffer": save_buffer,
        "keep": keep,  # --keep, which a resume without --keep goes on with
        "buffer_sha256": buffer_hash,
        "files": hashes,
    }
    _write_json(staging / META_FILE, meta)


def _write_failure(final: Path, root: Path, exc: BaseException) -> str:
    """One line: why checkpoint `final` could not be written, and what is still there."""
    reason = getattr(exc, "strerror", None) or getattr(exc, "message", None) or str(exc)
    reason = (reason.strip().splitlines() or [type(exc).__name__])[0]
    previous = (_pointer_meta(root, "latest") or {}).get("checkpoint")
    kept = f"latest still names {root / previous}" if previous else "no earlier checkpoint"
    return (
        f"cannot write checkpoint {final} ({reason}); {kept}; once that is fixed, resume with: "
        f"td3her train --resume {root.parent}"
    )


def _drop_older_buffers(root: Path, newest: str) -> None:
    """Remove buffer.npz from every checkpoint but `newest` (a buffer is ~100-200 MB)."""
    for checkpoint in checkpoint_dirs(root):
        if checkpoint.name != newest:
            (checkpoint / BUFFER_FILE).unlink(missing_ok=True)


def resumed_keep(info: CheckpointInfo) -> int:
    """The --keep of a resume from checkpoint `info` that gives none: the run's own (each
    checkpoint records it), or, where that predates the record, every checkpoint the run holds
    (at least 3), so that a resume never deletes checkpoints the run kept."""
    recorded = info.meta.get("keep")
    if isinstance(recorded, int) and not isinstance(recorded, bool) and recorded >= 1:
        return recorded
    return max(DEFAULT_KEEP, len(checkpoint_dirs(info.path.parent)))


def checkpoint_dirs(root: Path) -> list[Path]:
    """The checkpoints td3her wrote in `root` (RUN/checkpoints); the user's folders excluded."""
    return [p for p in root.iterdir() if is_checkpoint_dir(p)] if root.is_dir() else []


def _pause_hook(staging: Path) -> None:
    """Test-only: with TD3HER_TEST_PAUSE_IN_CHECKPOINT='N:marker', the N-th write (in this
    process) creates `marker` and sleeps, half written, so a test can SIGKILL it there."""
    spec = os.environ.get(PAUSE_HOOK)
    if not spec:
        return
    count, marker = spec.split(":", 1)
    _pause_hook.calls = getattr(_pause_hook, "calls", 0) + 1
    if _pause_hook.calls == int(count):
        Path(marker).write_text(str(staging))
        time.sleep(600)


def _prune(root: Path, keep: int) -> None:
    """Keep the newest `keep` checkpoints plus those the pointers name; drop stale temp dirs."""
    pinned = {p.get("checkpoint") for p in (_pointer_meta(root, n) for n in POINTERS) if p}
    found = sorted(checkpoint_dirs(root), key=lambda p: (p / META_FILE).stat().st_mtime)
    for path in found[:-keep] if keep > 0 else found:
        if path.name not in pinned:
            shutil.rmtree(path, ignore_errors=True)
    for stale in root.iterdir():
        if STAGING_NAME.fullmatch(stale.name) and stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)


def _write_json(path: Path, data: dict) -> None:
    path.write_text(strict_json.dumps(data, indent=2, sort_keys=True) + "\n")


def _write_pointer(root: Path, name: str, data: dict) -> None:
    temporary = root / f".{name}.json.tmp"
    with open(temporary, "w") as handle:
        handle.write(strict_json.dumps(data, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, root / f"{name}.json")
    _fsync_dir(root)


def _pointer_meta(root: Path, name: str) -> dict | None:
    """The pointer `name`.json, if it is whole and names a checkpoint of this run by its name
    (never a path: a pointer must not lead to another run's checkpoint)."""
    pointer = _read_pointer(root, name)
    valid = isinstance(pointer, dict) and isinstance(pointer.get("checkpoint"), str)
    return pointer if valid and CHECKPOINT_NAME.fullmatch(pointer["checkpoint"]) else None


def read_best(run_dir: Path) -> dict | None:
    """RUN/checkpoints/best.json's record, or None if there is none (or it is not whole)."""
    return _pointer_meta(Path(run_dir) / CHECKPOINTS_DIR, "best")


def _read_pointer(root: Path, name: str):
    try:
        return json.loads((root / f"{name}.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def _hash_files(directory: Path) -> dict[str, str]:
    return {
        str(path.relative_to(directory)): _sha256(path)
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name != META_FILE
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_tree(directory: Path) -> None:
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    for path in [directory, *sorted(p for p in directory.rglob("*") if p.is_dir())]:
        _fsync_dir(path)


def _fsync_dir(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# ------------------------------------------------------------------------------ reading
def resolve_checkpoint(path: Path, latest: bool = False, fall_back: bool = False) -> CheckpointInfo:
    """Find and validate a checkpoint: a checkpoint dir, a run dir, or a run's checkpoints/.

    A run directory resolves to its `best` checkpoint (or `latest` with latest=True). When
    best.json cannot be used, `latest` stands in; when no pointer names an existing checkpoint,
    the newest complete one does; `info.warning` then says why, in one line. With fall_back (a
    resume), a checkpoint a pointer names that does not validate (a truncated meta.json,
    SavedModel or state.json) is passed over in the same way; one of a newer td3her never is.
    A checkpoint directory is used as given (with latest=True, `info.warning` says so). A run
    with no checkpoint at all raises NoCheckpointError.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint path {path} does not exist")
    if not path.is_dir():
        raise CheckpointError(f"{path} is not a directory; give a run or checkpoint directory")
    if (path / META_FILE).exists() or (path / "policy").is_dir():
        info = load_checkpoint_info(path)
        if latest:  # the option picks among a run's checkpoints; this one was named
            warning = (
                f"--latest picks a run directory's latest checkpoint; {path} is a checkpoint, "
                "so it is used as given"
            )
            return CheckpointInfo(info.path, info.meta, warning)
        return info
    root = path / CHECKPOINTS_DIR if (path / CHECKPOINTS_DIR).is_dir() else path
    problems = []  # why each pointer tried before was passed over
    for name in ("latest",) if latest else ("best", "latest"):
        pointer = _pointer_meta(root, name)
        if not pointer or not (root / pointer["checkpoint"]).is_dir():
            problems.append(_pointer_problem(root, name))
            continue
        try:
            info = load_checkpoint_info(root / pointer["checkpoint"])
        except NewerFormatError:
            raise
        except CheckpointError as exc:
            if not fall_back:
                raise
            problems.append(str(exc))
            continue
        if not problems:
            return info
        warning = f"{'; '.join(problems)}; using the latest checkpoint, {info.path.name}, instead"
        return CheckpointInfo(info.path, info.meta, warning, fell_back=True)
    newest = newest_complete_checkpoint(root)
    if newest is not None:
        warning = f"{'; '.join(problems)}; using the newest complete checkpoint, {newest.path.name}"
        return CheckpointInfo(newest.path, newest.meta, warning, fell_back=True)
    if (path / "config.json").is_file():
        raise NoCheckpointError(
            f"{path} has no complete checkpoint yet (the run stopped before its first epoch "
            f"ended); `td3her train --resume {path}` starts it again"
        )
    raise CheckpointError(
        f"{path} is not a checkpoint: no meta.json and no {CHECKPOINTS_DIR}/latest.json; "
        "give a run directory written by `td3her train` or one of its checkpoints"
    )


def newest_complete_checkpoint(root: Path) -> CheckpointInfo | None:
    """The checkpoint with the most training in `root` among those that validate, or None."""
    found = []
    for candidate in checkpoint_dirs(root):
        try:
            info = load_checkpoint_info(candidate)
        except CheckpointError:
            continue
        found.append(((int(info.meta.get("epoch", 0)), int(info.meta.get("cycle", 0))), info))
    return max(found, key=lambda item: item[0])[1] if found else None


def _pointer_problem(root: Path, name: str) -> str:
    """What is wrong with the pointer `name`.json, in a few words."""
    path = root / f"{name}.json"
    if not path.exists():
        return f"{path} is missing"
    pointer = _read_pointer(root, name)
    if not isinstance(pointer, dict) or "checkpoint" not in pointer:
        return f"{path} is corrupt"
    named = pointer["checkpoint"]
    if _pointer_meta(root, name) is None:
        return f"{path} names {named!r}, which is not a checkpoint name of this run"
    return f"{path} names {named}, which is missing"


def load_checkpoint_info(path: Path) -> CheckpointInfo:
    """Read and validate meta.json and the files it lists (presence and SHA-256)."""
    meta_path = path / META_FILE
    if not meta_path.exists():
        raise CheckpointError(f"{path} has no {META_FILE}: it is not a complete checkpoint")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{meta_path} is corrupt or truncated ({exc})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("format_version"), int):
        raise CheckpointError(f"{meta_path} has no format_version: not a td3her checkpoint")
    if meta["format_version"] > FORMAT_VERSION:
        raise NewerFormatError(
            f"{path} uses checkpoint format {meta['format_version']}, newer than this td3her "
            f"reads ({FORMAT_VERSION}); upgrade td3her"
        )
    for key, kind in (("env_id", str), ("spaces", dict), ("config", dict), ("files", dict)):
        if not isinstance(meta.get(key), kind):
            raise CheckpointError(f"{meta_path} lacks a valid {key!r}: corrupt checkpoint")
    if not all(isinstance(v, int) for v in (meta.get("epoch", 0), meta.get("cycle", 0))):
        raise CheckpointError(f"{meta_path} has a non-integer epoch or cycle: corrupt checkpoint")
    problem = meta_problem(meta)
    if problem:
        raise CheckpointError(f"{meta_path}: {problem}: corrupt checkpoint")
    for relative, digest in meta["files"].items():
        if relative == BUFFER_FILE:  # optional, checked when a resume loads it (has_buffer)
            continue
        if not (path / relative).is_file():
            raise CheckpointError(f"{path} is missing {relative}; the checkpoint is incomplete")
        if _sha256(path / relative) != digest:
            raise CheckpointError(f"{path / relative} is corrupt (checksum mismatch)")
    return CheckpointInfo(path=path, meta=meta)


def meta_problem(meta: dict) -> str | None:
    """What in meta.json's counters, spaces and config no run could have written, or None."""
    for key in ("env_steps", "episodes", "opt_steps"):
        if key in meta and not is_count(meta[key], 0):
            return f"{key} is {json_text(meta[key])}, not a whole number from 0 to 2**63 - 1"
    spaces = meta["spaces"]
    for key in ("obs_dim", "goal_dim", "action_dim"):
        if not is_count(spaces.get(key)):
            value = json_text(spaces.get(key))
            return f"spaces' {key} is {value}, not a whole number from 1 to 2**63 - 1"
    dim = spaces["action_dim"]
    for key in ("action_low", "action_high"):
        bound = spaces.get(key)
        if not (isinstance(bound, list) and len(bound) == dim and all(map(is_float_value, bound))):
            numbers = "1 number" if dim == 1 else f"{dim} numbers"
            return f"spaces' {key} is {json_text(bound)}, not a list of {numbers}"
    problem = config_problem(meta["config"])
    return f"config's {problem}" if problem else None


def check_spaces(info: CheckpointInfo, spec) -> None:
    """Raise unless the env's spaces match those the checkpoint was trained on."""
    saved = info.meta["spaces"]
    mine = spec.to_dict()
    for key in ("obs_dim", "goal_dim", "action_dim"):
        if saved.get(key) != mine[key]:
            trained_on = info.meta["env_id"]
            advice = (
                f"its {META_FILE} does not match the env it names (edited, or another version "
                "of the env)"
                if spec.env_id == trained_on
                else f"use --env {trained_on}"
            )
            raise CheckpointError(
                f"checkpoint was trained on {trained_on} ({key} {saved.get(key)}) but "
                f"{spec.env_id} has {key} {mine[key]}; {advice}"
            )


def load_policy(info: CheckpointInfo):
    """Load the SavedModel policy: ([N, obs], [N, goal]) -> agent actions in [-1, 1] [N, act]."""
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(str(info.policy_dir))
        serve = loaded.signatures["serving_default"]
    except Exception as exc:  # TF raises many types for damaged SavedModels
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"cannot load SavedModel {info.policy_dir}: {message}") from None

    def policy(observation: np.ndarray, desired_goal: np.ndarray) -> np.ndarray:
        result = serve(
            observation=tf.constant(observation, tf.float32),
            desired_goal=tf.constant(desired_goal, tf.float32),
        )
        return result["agent_action"].numpy()

    policy.loaded = loaded  # keep the module alive with its variables
    return policy


def load_policy_one_thread(info: CheckpointInfo):
    """load_policy in a process that runs little else (a `--num-envs` worker): TensorFlow
    imported without its start-up lines, one thread per pool."""
    from td3her_cli.quiet import import_tensorflow

    import_tensorflow(threads=1)
    return load_policy(info)


def restore_trainer(trainer: RunState, info: CheckpointInfo) -> None:
    """Load agent variables, counters, RNG and noise state (and the buffer, if saved)."""
    import tensorflow as tf

    prefix = info.path / "trainer" / "agent"
    try:
        tf.train.Checkpoint(agent=trainer.agent).read(str(prefix)).assert_existing_objects_matched()
    except Exception as exc:  # noqa: BLE001 - TF raises many types for damaged checkpoints
        raise CheckpointError(f"cannot restore trainer state from {prefix}: {exc}") from None
    state = json.loads((info.path / "state.json").read_text())
    trainer.load_state_dict(state)
    trainer.machines = machines_trained_on(info.meta)
    if has_buffer(info):
        with np.load(info.path / BUFFER_FILE, allow_pickle=False) as arrays:
            trainer.buffer.load_state_arrays(dict(arrays))


def repoint_best(info: CheckpointInfo, best: dict | None) -> None:
    """After a resume fell back to checkpoint `info`: best.json as `info`'s state knows it
    (`best`, the trainer's record), or none. best.json may name a newer checkpoint that was
    passed over, which the resumed run writes again under the same name."""
    root = info.path.parent
    epoch = (best or {}).get("epoch")
    name = checkpoint_name(epoch, 0) if isinstance(epoch, int) else None
    if name is not None and is_checkpoint_dir(root / name):
        _write_pointer(root, "best", {"checkpoint": name, **best})
    else:
        (root / "best.json").unlink(missing_ok=True)


def has_buffer(info: CheckpointInfo) -> bool:
    """Whether the checkpoint still holds its replay buffer (checked against its SHA-256)."""
    path = info.path / BUFFER_FILE
    # Checkpoints written before the buffer became optional list it among their files.
    expected = info.meta.get("buffer_sha256") or info.meta["files"].get(BUFFER_FILE)
    if expected is None or not path.exists():
        return False
    if _sha256(path) != expected:
        raise CheckpointError(f"{path} is corrupt (checksum mismatch); delete it to resume without")
    return True


def policy_module(agent):
    """The tf.Module saved as `policy/`: normalisers + the evaluated actor + scaling to the env's
    action box.

    Its signature returns `action` (env units, ready for env.step) and `agent_action` ([-1, 1]).
    """
    import tensorflow as tf

    spec = agent.spec
    low = tf.constant(spec.action_low, tf.float32)
    high = tf.constant(spec.action_high, tf.float32)
    module = tf.Module(name="td3her_policy")
    module.obs_normalizer = agent.obs_normalizer
    module.goal_normalizer = agent.goal_normalizer
    module.actor = agent.evaluated_actor

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, spec.obs_dim], tf.float32, name="observation"),
            tf.TensorSpec([None, spec.goal_dim], tf.float32, name="desired_goal"),
        ],
        autograph=False,  # straight-line code; AutoGraph only warned about the closure
    )
    def serve(observation, desired_goal):
        inputs = tf.concat(
            [
                module.obs_normalizer.normalize(observation),
                module.goal_normalizer.normalize(desired_goal),
            ],
            axis=-1,
        )
        agent_action = module.actor(inputs)  # [N, act] in [-1, 1]
        action = low + (agent_action + 1.0) * 0.5 * (high - low)
        return {"action": action, "agent_action": agent_action}

    module.serve = serve
    return module
