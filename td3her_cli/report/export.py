"""ONNX export: a checkpoint's policy as one ONNX graph that runs without TensorFlow.

The graph restates the SavedModel's `serve` (checkpoint.policy_module) op by op with the
`onnx` package's helpers, from the SavedModel's own variables:

    observation  [N, obs]  -> clip +/-clip_obs -> (x - mean) / std -> clip +/-clip_normalized
    desired_goal [N, goal] -> the same with the goal normaliser
    concat -> (MatMul + Add -> LeakyRelu 0.3) per hidden layer -> MatMul + Add -> Tanh
           = agent_action [N, act] in [-1, 1]
    low + (agent_action + 1) * 0.5 * (high - low) = action [N, act], the env's action box

Before anything is written, onnxruntime runs the graph next to the SavedModel on the same
inputs and the largest difference is reported (and must stay below CHECK_TOLERANCE).
`onnx_policy` reads an exported file back as a rollout Policy, with onnxruntime alone.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from td3her_cli import strict_json
from td3her_cli.core.policy_snapshot import LEAKY_SLOPE
from td3her_cli.errors import CheckpointError, Td3HerError, UsageError
from td3her_cli.run.checkpoint import CHECKPOINTS_DIR, CheckpointInfo, load_policy, versions
from td3her_cli.run.metrics import write_atomically

OPSET = 17  # onnxruntime >= 1.17 runs it; IR_VERSION 8 is the IR that opset 17 came with
IR_VERSION = 8
EXPORT_DIR = "export"
EXTRA = "pip install 'td3her[export]'"
CHECK_INPUTS = 256  # (observation, goal) pairs both runtimes act on before the file is written
CHECK_SPREAD = 3.0  # check inputs lie around mean +/- 3 std, so the clip at +/-5 std is hit too
CHECK_TOLERANCE = 1e-4  # float32 matmuls in two runtimes differ by ~1e-7, a wrong op by far more
OUTPUTS = ("action", "agent_action")
POLICY_WEIGHTS = "policy/variables/variables.data-00000-of-00001"  # meta.json's files names it


@dataclass(frozen=True)
class NormalizerParams:
    """One normaliser as the graph needs it (see normalizer.Normalizer.normalize)."""

    mean: np.ndarray  # [size] float32
    std: np.ndarray  # [size] float32
    clip_obs: float
    clip_normalized: float
    enabled: bool


@dataclass(frozen=True)
class PolicyParams:
    """Everything the policy graph computes with, as float32 NumPy arrays."""

    observation: NormalizerParams
    goal: NormalizerParams
    kernels: tuple[np.ndarray, ...]  # [fan_in, fan_out] per layer
    biases: tuple[np.ndarray, ...]  # [fan_out] per layer
    action_low: np.ndarray  # [act]
    action_high: np.ndarray  # [act]

    @property
    def dims(self) -> tuple[int, int, int]:
        """(obs_dim, goal_dim, action_dim)."""
        return self.observation.mean.size, self.goal.mean.size, self.action_low.size


@dataclass(frozen=True)
class ExportResult:
    """What `export_policy` wrote, and how closely the graph matches the SavedModel."""

    onnx_path: Path
    json_path: Path
    size_bytes: int
    dims: tuple[int, int, int]  # (obs_dim, goal_dim, action_dim)
    max_abs_difference: float  # over CHECK_INPUTS inputs, both outputs
    check_inputs: int


def require_packages(*modules: str, purpose: str = "td3her export") -> None:
    """Raise Td3HerError (exit 1) unless every module imports, naming the extra to install.

    Args:
        modules: Importable names, e.g. "onnx", "onnxruntime".
        purpose: What needs them, for the message.
    """
    missing = []
    for module in modules:
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise Td3HerError(
            f"{purpose} needs {' and '.join(missing)}, which {verb} not installed: {EXTRA}"
        )


def default_export_path(info: CheckpointInfo) -> Path:
    """RUN/export/CHECKPOINT.onnx, e.g. RUN/export/epoch_003.onnx, in the run that holds the
    checkpoint (beside the checkpoint for one outside a run): never inside the checkpoint,
    which pruning deletes."""
    parent = info.path.parent
    run_dir = parent.parent if parent.name == CHECKPOINTS_DIR else parent
    return run_dir / EXPORT_DIR / f"{info.path.name}.onnx"


def sidecar_path(onnx_path: Path) -> Path:
    """The JSON description written beside an exported graph: FILE.onnx -> FILE.json."""
    return Path(onnx_path).with_suffix(".json")


def check_sidecar_is_ours(sidecar: Path, out: Path) -> None:
    """Raise UsageError if `sidecar` exists and is not an earlier td3her export description
    (exporting would replace a file td3her did not write)."""
    if not sidecar.exists():
        return
    try:
        ours = json.loads(sidecar.read_text()).get("format") == "td3her-onnx-policy"
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        ours = False
    if not ours:
        raise UsageError(
            f"the description of {out} would go to {sidecar}, which exists and is not a td3her "
            "export description; move it away or choose another --out"
        )


def policy_params(loaded, meta: dict) -> PolicyParams:
    """Read the graph's parameters from a loaded policy SavedModel and its checkpoint's meta.

    The arrays come from the SavedModel's variables (the values `serve` computes with); the
    clip values and whether normalisation is on are plain Python attributes, which a
    SavedModel does not keep, so they come from meta["normalizer"].

    Args:
        loaded: tf.saved_model.load() of a checkpoint's policy/ directory.
        meta: The checkpoint's meta.json.

    Raises:
        CheckpointError: If the SavedModel or meta.json lacks a part the graph needs.
    """
    settings = meta.get("normalizer") or {}
    spaces = meta["spaces"]
    try:
        normalizers = tuple(
            NormalizerParams(
                mean=np.asarray(module.mean.numpy(), np.float32),
                std=np.asarray(module.std.numpy(), np.float32),
                clip_obs=float(settings[key]["clip_obs"]),
                clip_normalized=float(settings[key]["clip_normalized"]),
                enabled=bool(settings[key]["enabled"]),
            )
            for module, key in (
                (loaded.obs_normalizer, "observation"),
                (loaded.goal_normalizer, "goal"),
            )
        )
        kernels = tuple(np.asarray(v.numpy(), np.float32) for v in loaded.actor.kernels)
        biases = tuple(np.asarray(v.numpy(), np.float32) for v in loaded.actor.biases)
        low = np.asarray(spaces["action_low"], np.float32)
        high = np.asarray(spaces["action_high"], np.float32)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(
            f"the checkpoint lacks what the ONNX graph needs ({type(exc).__name__}: {exc}); "
            "export a checkpoint written by this td3her"
        ) from None
    return PolicyParams(normalizers[0], normalizers[1], kernels, biases, low, high)


def policy_graph(params: PolicyParams, properties: dict[str, str] | None = None):
    """The whole policy as an onnx.ModelProto (opset OPSET), checked by onnx.checker.

    Inputs `observation` [N, obs] and `desired_goal` [N, goal]; outputs `action` [N, act]
    (the env's action box) and `agent_action` [N, act] (in [-1, 1]); all float32.

    Args:
        params: The weights and constants, e.g. from `policy_params`.
        properties: Metadata strings stored in the file (env id, checkpoint, ...).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, constants = [], []

    def constant(name: str, value) -> str:
        constants.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
        return name

    def op(kind: str, inputs: list[str], output: str, **attributes) -> str:
        nodes.append(helper.make_node(kind, inputs, [output], name=output, **attributes))
        return output

    def normalize(values: str, norm: NormalizerParams, prefix: str) -> str:
        # As Normalizer.normalize: clip raw values, standardise, clip the standardised ones.
        if not norm.enabled:
            return values
        raw_low = constant(f"{prefix}_clip_low", -norm.clip_obs)  # scalars: Clip's min/max
        raw_high = constant(f"{prefix}_clip_high", norm.clip_obs)
        clipped = op("Clip", [values, raw_low, raw_high], f"{prefix}_clipped")
        centred = op("Sub", [clipped, constant(f"{prefix}_mean", norm.mean)], f"{prefix}_centred")
        standard = op("Div", [centred, constant(f"{prefix}_std", norm.std)], f"{prefix}_standard")
        z_low = constant(f"{prefix}_z_low", -norm.clip_normalized)
        z_high = constant(f"{prefix}_z_high", norm.clip_normalized)
        return op("Clip", [standard, z_low, z_high], f"{prefix}_normalized")

    hidden = op(
        "Concat",
        [
            normalize("observation", params.observation, "obs"),
            normalize("desired_goal", params.goal, "goal"),
        ],
        "actor_input",  # [N, obs + goal]
        axis=1,
    )
    last = len(params.kernels) - 1
    for index, (kernel, bias) in enumerate(zip(params.kernels, params.biases)):
        product = op("MatMul", [hidden, constant(f"kernel_{index}", kernel)], f"matmul_{index}")
        hidden = op("Add", [product, constant(f"bias_{index}", bias)], f"dense_{index}")
        if index < last:
            hidden = op("LeakyRelu", [hidden], f"hidden_{index}", alpha=LEAKY_SLOPE)
    agent_action = op("Tanh", [hidden], "agent_action")  # [N, act] in [-1, 1]
    # As policy_module: low + (agent_action + 1) * 0.5 * (high - low), in this order.
    shifted = op("Add", [agent_action, constant("one", 1.0)], "shifted")
    halved = op("Mul", [shifted, constant("half", 0.5)], "halved")
    width = constant("action_width", params.action_high - params.action_low)
    spread = op("Mul", [halved, width], "spread")
    op("Add", [constant("action_low", params.action_low), spread], "action")

    obs_dim, goal_dim, action_dim = params.dims
    graph = helper.make_graph(
        nodes,
        "td3her_policy",
        inputs=[
            helper.make_tensor_value_info("observation", TensorProto.FLOAT, ["N", obs_dim]),
            helper.make_tensor_value_info("desired_goal", TensorProto.FLOAT, ["N", goal_dim]),
        ],
        outputs=[
            helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", action_dim])
            for name in OUTPUTS
        ],
        initializer=constants,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="td3her",
        producer_version=versions()["td3her"],
        doc_string="td3her policy: (observation, desired_goal) -> action, agent_action",
    )
    model.ir_version = IR_VERSION  # the newest onnx writes a newer IR than older runtimes read
    helper.set_model_props(model, properties or {})
    onnx.checker.check_model(model, full_check=True)
    return model


def export_policy(info: CheckpointInfo, out: Path) -> ExportResult:
    """Write a checkpoint's policy as `out` (ONNX) and its description as sidecar_path(out).

    The graph is built from the SavedModel's variables (no training code runs), checked
    against the SavedModel with onnxruntime on CHECK_INPUTS inputs, then written atomically
    (temporary sibling, fsync, os.replace); the JSON goes last and names the graph's SHA-256.

    Args:
        info: A resolved checkpoint (checkpoint.resolve_checkpoint).
        out: The .onnx file to write (missing folders are made).

    Raises:
        CheckpointError: If the SavedModel cannot be loaded or lacks a part of the policy.
        Td3HerError: If the graph and the SavedModel disagree by more than CHECK_TOLERANCE.
    """
    loaded = load_policy(info).loaded
    params = policy_params(loaded, info.meta)
    properties = {
        "env_id": str(info.meta["env_id"]),
        "checkpoint": str(info.path),
        "epoch": str(info.meta.get("epoch", "")),
        "policy_sha256": str(info.meta["files"].get(POLICY_WEIGHTS, "")),  # which policy it is
    }
    model_bytes = policy_graph(params, properties).SerializeToString()
    difference = _max_difference(model_bytes, loaded, params)
    if not difference <= CHECK_TOLERANCE:  # also catches NaN
        raise Td3HerError(
            f"the ONNX graph differs from the SavedModel {info.policy_dir} by {difference:.2g} "
            f"(more than {CHECK_TOLERANCE:g}); nothing was written. This is a td3her bug: "
            "please report it"
        )
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(out, model_bytes)
    except OSError as exc:  # a full disk: one line naming the file, which is left as it was
        raise Td3HerError(write_failure(out, exc, "it was left as it was")) from None
    description = {
        "format": "td3her-onnx-policy",
        "format_version": 1,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "onnx_file": out.name,
        "onnx_sha256": hashlib.sha256(model_bytes).hexdigest(),
        "opset": OPSET,
        "inputs": {"observation": ["N", params.dims[0]], "desired_goal": ["N", params.dims[1]]},
        "outputs": {
            "action": ["N", params.dims[2], "the env's action box, ready for env.step"],
            "agent_action": ["N", params.dims[2], "in [-1, 1]"],
        },
        "env_id": info.meta["env_id"],
        "spaces": info.meta["spaces"],
        "checkpoint": str(info.path),
        "epoch": info.meta.get("epoch"),
        "cycle": info.meta.get("cycle"),
        "evaluation": info.meta.get("evaluation"),
        "check": {"inputs": CHECK_INPUTS, "max_abs_difference": difference},
        "versions": {**_export_versions(), "trained_with": info.meta.get("versions")},
    }
    json_path = sidecar_path(out)
    text = strict_json.dumps(description, indent=2, sort_keys=True) + "\n"
    try:
        write_atomically(json_path, text)
    except OSError as exc:
        raise Td3HerError(write_failure(json_path, exc, f"{out} is written, without it")) from None
    return ExportResult(out, json_path, len(model_bytes), params.dims, difference, CHECK_INPUTS)


def onnx_policy(path: Path, obs_dim: int, goal_dim: int):
    """An exported graph as a rollout Policy: ([N, obs], [N, goal]) -> agent actions [N, act]
    in [-1, 1] (its `agent_action` output; the rollout scales to the env's box itself).

    Args:
        path: A .onnx file written by `export_policy`.
        obs_dim: The env's observation size, checked against the graph's input.
        goal_dim: The env's goal size, checked against the graph's input.

    Raises:
        CheckpointError: If the file is missing, is not a td3her policy graph, or was
            exported for other dimensions.
    """
    import onnxruntime

    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"ONNX policy {path} does not exist; write one with td3her export")
    if not path.is_file():
        raise CheckpointError(f"ONNX policy {path} is not a regular file; give an .onnx file")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # one observation per step: threads only add overhead
    try:
        session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own types for unreadable graphs
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"cannot load ONNX policy {path}: {message}") from None
    inputs = {node.name: node.shape for node in session.get_inputs()}
    outputs = {node.name for node in session.get_outputs()}
    if set(inputs) != {"observation", "desired_goal"} or "agent_action" not in outputs:
        raise CheckpointError(
            f"{path} is not a td3her policy: it needs inputs observation and desired_goal and "
            "an output agent_action; write one with td3her export"
        )
    for name, size in (("observation", obs_dim), ("desired_goal", goal_dim)):
        if inputs[name][-1] != size:
            raise CheckpointError(
                f"{path} takes {name} of size {inputs[name][-1]} but the env gives {size}: "
                "export the checkpoint trained on this env"
            )

    def policy(observation: np.ndarray, desired_goal: np.ndarray) -> np.ndarray:
        feeds = {
            "observation": np.asarray(observation, np.float32),
            "desired_goal": np.asarray(desired_goal, np.float32),
        }
        return session.run(["agent_action"], feeds)[0]

    policy.session = session
    return policy


def exported_elsewhere(path: Path, info: CheckpointInfo) -> str | None:
    """A warning if the .onnx file `path` names a policy other than checkpoint `info`'s; None
    if it is that policy, or names none (a hand-made graph, an export from before the name)."""
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        properties = session.get_modelmeta().custom_metadata_map
    except Exception:  # an unreadable file: onnx_policy says so in one line
        return None
    exported = properties.get("policy_sha256")
    if not exported or exported == info.meta["files"].get(POLICY_WEIGHTS):
        return None
    source = properties.get("checkpoint") or "another checkpoint"
    return f"{path} was exported from {source}, not {info.path}: the result is {path}'s policy"


def _max_difference(model_bytes: bytes, loaded, params: PolicyParams) -> float:
    """Largest |ONNX - SavedModel| over both outputs, on inputs around the normalisers' means."""
    import onnxruntime
    import tensorflow as tf

    rng = np.random.default_rng(0)
    feeds = {}
    for name, norm in (("observation", params.observation), ("desired_goal", params.goal)):
        noise = rng.standard_normal((CHECK_INPUTS, norm.mean.size))  # [CHECK_INPUTS, size]
        feeds[name] = (norm.mean + CHECK_SPREAD * norm.std * noise).astype(np.float32)
    session = onnxruntime.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    mine = dict(zip(OUTPUTS, session.run(list(OUTPUTS), feeds)))
    theirs = loaded.serve(tf.constant(feeds["observation"]), tf.constant(feeds["desired_goal"]))
    return max(float(np.max(np.abs(mine[name] - theirs[name].numpy()))) for name in OUTPUTS)


def write_failure(path: Path, exc: OSError, kept: str) -> str:
    """One line on a file export could not write (a full disk): which, why, what is kept."""
    reason = exc.strerror or exc
    return f"cannot write {path} ({reason}); {kept}; free some space or choose another --out"


def _export_versions() -> dict[str, str]:
    """Versions of td3her and of the ONNX packages that wrote and checked the graph."""
    found = {"td3her": versions()["td3her"]}
    for name in ("onnx", "onnxruntime"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "unknown"
    return found
