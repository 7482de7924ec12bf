"""`td3her export`: one ONNX graph acts as the SavedModel does, and `evaluate --onnx` runs it.

The tiny PandaReach run (conftest's `tiny_run`) is exported once per module; its replay buffer
supplies real observations and goals. The graph's branches that Reach leaves unused (a
disabled normaliser, an action box other than [-1, 1]) are checked on a hand-made policy.
"""

import hashlib
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from td3her_cli.core.networks import build_actor
from td3her_cli.core.normalizer import Normalizer
from td3her_cli.core.spec import EnvSpec
from td3her_cli.report.export import default_export_path, export_policy, policy_graph, policy_params
from td3her_cli.run.checkpoint import CheckpointInfo, load_policy, policy_module, resolve_checkpoint

TOLERANCE = 1e-5


def one_error_line(err: str) -> str:
    """The single stderr line of a failed command (asserts there is exactly one)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("td3her: error:"), err
    return lines[0]


def run_graph(model_bytes: bytes, observation: np.ndarray, desired_goal: np.ndarray) -> dict:
    """Both outputs of an ONNX policy graph, by name."""
    session = onnxruntime.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    feeds = {"observation": observation, "desired_goal": desired_goal}
    return dict(zip(("action", "agent_action"), session.run(["action", "agent_action"], feeds)))


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory):
    """(checkpoint info, ExportResult) of the tiny run's best checkpoint."""
    info = resolve_checkpoint(tiny_run)
    return info, export_policy(info, tmp_path_factory.mktemp("export") / "policy.onnx")


def test_onnx_actions_equal_the_savedmodel_on_real_observations(tiny_run, exported):
    info, result = exported
    (buffer_path,) = (tiny_run / "checkpoints").glob("*/buffer.npz")
    with np.load(buffer_path) as buffer:
        observation = buffer["observation"][buffer["valid"]]  # [T, obs], T >= 200
        desired_goal = buffer["desired_goal"][buffer["valid"]]  # [T, goal]
    assert len(observation) >= 200

    onnx_out = run_graph(result.onnx_path.read_bytes(), observation, desired_goal)
    saved_policy = load_policy(info)
    serve = saved_policy.loaded.signatures["serving_default"]
    saved_out = serve(observation=observation, desired_goal=desired_goal)

    assert np.ptp(onnx_out["agent_action"], axis=0).min() > 1e-3  # actions vary: not vacuous
    for name in ("action", "agent_action"):
        difference = np.abs(onnx_out[name] - saved_out[name].numpy()).max()
        assert difference < TOLERANCE, f"{name}: max |ONNX - SavedModel| {difference}"
    rollout_actions = saved_policy(observation, desired_goal)  # what `evaluate` acts with
    assert np.abs(onnx_out["agent_action"] - rollout_actions).max() < TOLERANCE
    assert result.max_abs_difference < TOLERANCE


def test_disabled_normaliser_clips_and_action_box_match_the_tf_policy():
    """The TF policy_module and the ONNX graph on a made-up agent. Obs normaliser on, with
    mean ~0.5 and std ~0.3: raw values above 1.5 clip there (z 3.3, inside +/-5), values
    below -1 reach z < -5 and clip there; goal normaliser off; action box [-2, 0] x [0, 4]."""
    spec = EnvSpec(
        env_id="Made-v0",
        obs_dim=4,
        goal_dim=2,
        action_dim=2,
        action_low=(-2.0, 0.0),
        action_high=(0.0, 4.0),
        max_episode_steps=10,
        reward_bounds=None,
    )
    rng = np.random.default_rng(1)
    obs_norm = Normalizer(4, clip_obs=1.5, clip_normalized=5.0, name="obs_norm")
    obs_norm.update(rng.normal(0.5, 0.3, (100, 4)))
    goal_norm = Normalizer(2, enabled=False, name="goal_norm")
    actor = build_actor(6, 2, (16, 16), rng, "actor")
    actor.kernels[-1].assign(actor.kernels[-1] * 100.0)  # actions spread across the box
    agent = SimpleNamespace(  # a TD3Agent's parts for policy_module, a SavedModel's for
        spec=spec,  # policy_params
        obs_normalizer=obs_norm,
        goal_normalizer=goal_norm,
        evaluated_actor=actor,
        actor=actor,
    )
    meta = {
        "spaces": spec.to_dict(),
        "normalizer": {"observation": obs_norm.state(), "goal": goal_norm.state()},
    }
    observation = rng.normal(0.5, 3.0, (300, 4)).astype(np.float32)  # past both clips
    desired_goal = rng.normal(0.0, 3.0, (300, 2)).astype(np.float32)

    expected = policy_module(agent).serve(observation, desired_goal)
    model = policy_graph(policy_params(agent, meta))
    actual = run_graph(model.SerializeToString(), observation, desired_goal)

    assert actual["action"][:, 0].min() < -1.5 and actual["action"][:, 1].max() > 3.0
    for name in ("action", "agent_action"):
        assert np.abs(actual[name] - expected[name].numpy()).max() < TOLERANCE, name


def test_export_command_writes_the_graph_and_its_description(tiny_run, tmp_path, run_cli):
    out = tmp_path / "policy.onnx"
    code, stdout, err = run_cli(["export", str(tiny_run), "--out", str(out)])
    assert code == 0, err
    info = resolve_checkpoint(tiny_run)
    lines = stdout.strip().splitlines()
    assert lines[0].startswith(f"wrote {out} (") and "PandaReach-v3" in lines[0]
    assert "-> action [N, 3]" in lines[0]
    assert lines[1].startswith("checked against the SavedModel on 256 inputs: max |difference|")
    assert lines[2] == f"wrote {tmp_path / 'policy.json'}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["policy.json", "policy.onnx"]

    description = json.loads((tmp_path / "policy.json").read_text())
    assert description["onnx_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert description["env_id"] == "PandaReach-v3"
    assert description["spaces"] == info.meta["spaces"]
    assert description["checkpoint"] == str(info.path)
    assert description["epoch"] == info.meta["epoch"]
    assert description["versions"]["onnx"] not in ("", "unknown")
    assert description["versions"]["td3her"] not in ("", "unknown")


def test_evaluate_with_the_onnx_file_matches_the_savedmodel(tiny_run, exported, run_cli):
    _, result = exported
    args = ["evaluate", str(tiny_run), "--episodes", "3", "--seed", "5", "--json"]
    code, stdout, err = run_cli(args)
    assert code == 0, err
    code, onnx_stdout, err = run_cli([*args, "--onnx", str(result.onnx_path)])
    assert code == 0, err
    saved, onnx = json.loads(stdout), json.loads(onnx_stdout)
    assert onnx.pop("onnx") == str(result.onnx_path)
    assert onnx == saved
    assert saved["seed"] == 5  # the JSON names its episodes' seed (held-out results: >= 1000)


def test_evaluate_warns_when_the_onnx_file_is_another_checkpoints_policy(
    tiny_run, exported, run_cli
):
    info, result = exported
    other = next(
        path
        for path in sorted((tiny_run / "checkpoints").glob("epoch_*"))
        if path.name != info.path.name
    )
    args = ["evaluate", "--episodes", "1", "--onnx", str(result.onnx_path)]
    code, _, err = run_cli([*args, str(other)])
    assert code == 0 and f"was exported from {info.path}, not {other}: the result is" in err, err
    code, _, err = run_cli([*args, str(info.path)])
    assert code == 0 and "exported from" not in err, err


def test_evaluate_acts_with_the_onnx_file_not_the_savedmodel(tiny_run, tmp_path, run_cli):
    """A hand-written ONNX controller (move the gripper towards the goal) solves Reach, which
    the 2-epoch checkpoint does not: the success rate shows whose actions the env got."""
    constants = [
        numpy_helper.from_array(np.float32(value), name)
        for value, name in ((10.0, "gain"), (-1.0, "low"), (1.0, "high"))
    ] + [  # observation[:, 0:3] is the gripper's position
        numpy_helper.from_array(np.array([value]), name)
        for value, name in ((0, "s"), (3, "e"), (1, "a"))
    ]
    nodes = [
        helper.make_node("Slice", ["observation", "s", "e", "a"], ["gripper"]),
        helper.make_node("Sub", ["desired_goal", "gripper"], ["error"]),
        helper.make_node("Mul", ["error", "gain"], ["push"]),
        helper.make_node("Clip", ["push", "low", "high"], ["agent_action"]),
    ]
    graph = helper.make_graph(
        nodes,
        "reach_controller",
        [
            helper.make_tensor_value_info("observation", TensorProto.FLOAT, ["N", 6]),
            helper.make_tensor_value_info("desired_goal", TensorProto.FLOAT, ["N", 3]),
        ],
        [helper.make_tensor_value_info("agent_action", TensorProto.FLOAT, ["N", 3])],
        constants,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    controller = tmp_path / "controller.onnx"
    controller.write_bytes(model.SerializeToString())

    args = ["evaluate", str(tiny_run), "--episodes", "3", "--json"]
    code, stdout, err = run_cli([*args, "--onnx", str(controller)])
    assert code == 0, err
    assert json.loads(stdout)["success_rate"] == 1.0
    code, stdout, err = run_cli(args)
    assert code == 0, err
    assert json.loads(stdout)["success_rate"] < 1.0


BAD_EXPORTS = {  # case -> what its one error line says
    "no onnx": "td3her export needs onnx, which is not installed: pip install 'td3her[export]'",
    "directory": "is a directory; export writes only regular files: choose another --out",
    "json symlink": "policy.onnx) is a symbolic link (to elsewhere.json); export writes only",
    "suffix": "does not end in .onnx; e.g. --out",
    "user json": "policy.json, which exists and is not a td3her export description",
}


@pytest.mark.parametrize("case", BAD_EXPORTS)
def test_bad_exports_are_one_line_and_write_nothing(case, tiny_run, tmp_path, run_cli, monkeypatch):
    out = tmp_path / ("policy.txt" if case == "suffix" else "policy.onnx")
    if case == "no onnx":
        monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` raises ImportError
    elif case == "directory":
        out.mkdir()
    elif case == "json symlink":
        (tmp_path / "policy.json").symlink_to("elsewhere.json")
    elif case == "user json":
        (tmp_path / "policy.json").write_text('{"mine": 1}')
    before = sorted(tmp_path.iterdir())
    code, _, err = run_cli(["export", str(tiny_run), "--out", str(out)])
    assert code == (1 if case == "no onnx" else 2)
    assert BAD_EXPORTS[case] in one_error_line(err)
    assert sorted(tmp_path.iterdir()) == before
    if case == "user json":
        assert (tmp_path / "policy.json").read_text() == '{"mine": 1}'


def test_evaluate_with_a_missing_onnx_file_is_one_line(tiny_run, tmp_path, run_cli):
    missing = tmp_path / "nope.onnx"
    code, _, err = run_cli(["evaluate", str(tiny_run), "--onnx", str(missing)])
    assert code == 1
    assert f"ONNX policy {missing} does not exist" in one_error_line(err)


def test_default_export_path_is_in_the_run_not_the_checkpoint():
    inside = CheckpointInfo(Path("/r/checkpoints/epoch_003"), {})
    assert default_export_path(inside) == Path("/r/export/epoch_003.onnx")
    alone = CheckpointInfo(Path("/x/my_checkpoint"), {})
    assert default_export_path(alone) == Path("/x/export/my_checkpoint.onnx")
