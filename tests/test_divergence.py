"""Divergence: non-finite losses or weights stop the run with exit 1, and `latest`/`best`
never name a checkpoint with NaN or infinite weights."""

import json
import shutil

from td3her_cli.run.checkpoint import resolve_checkpoint

from .conftest import tiny_cli_args

HUGE_RATES = {"actor_lr": 1e30, "critic_lr": 1e30}


def test_a_diverging_resume_stops_and_keeps_the_finite_checkpoints(tiny_run, tmp_path, run_cli):
    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run, run_dir)  # 2 finite epochs
    config_path = run_dir / "config.json"
    config_path.write_text(json.dumps({**json.loads(config_path.read_text()), **HUGE_RATES}))
    root = run_dir / "checkpoints"
    pointers = {name: (root / name).read_text() for name in ("latest.json", "best.json")}
    rows = (run_dir / "metrics.jsonl").read_text()

    code, _, err = run_cli(["train", "--resume", str(run_dir), "--epochs", "3"])
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1, err
    assert "training diverged in epoch 3, cycle 1" in lines[0]
    assert "so latest and best still name finite checkpoints" in lines[0]
    assert "lower --actor-lr / --critic-lr" in lines[0]
    assert {name: (root / name).read_text() for name in pointers} == pointers
    assert not list(root.glob("epoch_003*")), "nothing of the diverged epoch is saved"
    assert (run_dir / "metrics.jsonl").read_text() == rows, "no row of the diverged cycle"
    assert resolve_checkpoint(run_dir, latest=True).path.name == "epoch_002"


def test_a_fresh_run_that_diverges_at_once_exits_1(tmp_path, run_cli):
    out = tmp_path / "run"
    args = tiny_cli_args() + ["--actor-lr", "1e30", "--critic-lr", "1e30", "--out", str(out)]
    code, _, err = run_cli(["train", *args])
    assert code == 1 and "training diverged in epoch 1, cycle 1" in err, err
    assert "(the run has no checkpoint yet)" in err and "name finite" not in err, err
    assert not (out / "checkpoints").exists()
