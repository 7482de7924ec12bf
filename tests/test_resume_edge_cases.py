"""Resume edge cases: nothing to do, a broken `latest` pointer, a run with no checkpoint yet."""

import json
import shutil

import pytest

from td3her_cli.config import TrainConfig
from td3her_cli.errors import CheckpointError, NoCheckpointError
from td3her_cli.run.checkpoint import checkpoint_dirs, resolve_checkpoint, resumed_keep


def copy_run(tiny_run, tmp_path):
    target = tmp_path / "run"
    shutil.copytree(tiny_run, target)
    return target


def snapshot(run_dir):
    return {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}


def test_a_changed_option_is_refused_and_nothing_is_written(tiny_run, tmp_path, run_cli):
    run_dir = copy_run(tiny_run, tmp_path)
    before = snapshot(run_dir)
    code, _, err = run_cli(["train", "--resume", str(run_dir), "--gamma", "0.9"])
    assert code == 2 and "--gamma 0.9 differs from the run's saved value 0.99" in err
    assert snapshot(run_dir) == before


def test_the_runs_own_preset_may_be_repeated_and_another_is_refused(tiny_run, tmp_path, run_cli):
    run_dir = copy_run(tiny_run, tmp_path)
    config_path = run_dir / "config.json"
    config = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**config, "extra": {"preset": "original"}}))
    before = snapshot(run_dir)
    code, out, err = run_cli(["train", "--resume", str(run_dir), "--preset", "original"])
    assert code == 0 and "nothing to do" in out, err
    code, _, err = run_cli(["train", "--resume", str(run_dir), "--preset", "push"])
    assert code == 2 and "--preset push differs from the run's preset original" in err
    assert snapshot(run_dir) == before


def test_a_preset_on_a_run_that_records_none_or_an_unknown_one_is_refused(tiny_run, run_cli):
    code, _, err = run_cli(["train", "--resume", str(tiny_run), "--preset", "original"])
    assert code == 2 and "differs from the run's preset (none recorded)" in err
    code, _, err = run_cli(["train", "--resume", str(tiny_run), "--preset", "typo"])
    assert code == 2 and "unknown --preset 'typo'" in err


@pytest.mark.parametrize("epochs", ["2", "1"])
def test_epochs_already_done_is_nothing_to_do(epochs, tiny_run, tmp_path, run_cli):
    run_dir = copy_run(tiny_run, tmp_path)  # trained 2 epochs
    before = snapshot(run_dir)
    code, out, err = run_cli(["train", "--resume", str(run_dir), "--epochs", epochs])
    assert code == 0, err
    assert "has trained 2 epochs already" in out and "nothing to do" in out
    assert snapshot(run_dir) == before, "config.json and everything else stay as they were"


def test_a_limit_the_next_epoch_could_pass_is_nothing_to_do(tiny_run, tmp_path, run_cli):
    """As the training loop counts: another epoch needs room for every episode at its time
    limit (TINY: 2 cycles x 2 episodes x 50 steps)."""
    run_dir = copy_run(tiny_run, tmp_path)
    latest = json.loads((run_dir / "checkpoints" / "latest.json").read_text())["checkpoint"]
    taken = json.loads((run_dir / "checkpoints" / latest / "meta.json").read_text())["env_steps"]
    needed = taken + 2 * 2 * 50
    before = snapshot(run_dir)
    for limit in (taken // 2, taken, needed - 1):
        args = ["train", "--resume", str(run_dir), "--epochs", "9", "--max-env-steps", str(limit)]
        code, out, err = run_cli(args)
        assert code == 0, err
        assert f"has taken {taken} env steps" in out and "nothing to do" in out
        assert f"give --max-env-steps {needed} or more" in out
    assert snapshot(run_dir) == before, "config.json and everything else stay as they were"


def test_a_latest_pointer_to_a_missing_checkpoint_falls_back_with_a_warning(tiny_run, tmp_path):
    run_dir = copy_run(tiny_run, tmp_path)
    root = run_dir / "checkpoints"
    named = json.loads((root / "latest.json").read_text())["checkpoint"]
    assert named == "epoch_002"
    shutil.rmtree(root / named)
    info = resolve_checkpoint(run_dir, latest=True)
    assert info.path.name == "epoch_001"
    assert "names epoch_002, which is missing" in info.warning
    assert "newest complete checkpoint, epoch_001" in info.warning

    (root / "latest.json").write_text("{not json")
    info = resolve_checkpoint(run_dir, latest=True)
    assert info.path.name == "epoch_001" and "latest.json is corrupt" in info.warning
    for elsewhere in (str(tiny_run / "checkpoints" / "epoch_002"), ".."):  # never another run's
        (root / "latest.json").write_text(json.dumps({"checkpoint": elsewhere}))
        info = resolve_checkpoint(run_dir, latest=True)
        assert info.path.parent == root and info.path.name == "epoch_001"
        assert "which is not a checkpoint name of this run" in info.warning
    healthy = resolve_checkpoint(tiny_run, latest=True)
    assert healthy.warning == "", "a healthy pointer gives no warning"


def test_evaluate_says_which_checkpoint_it_fell_back_to(tiny_run, tmp_path, run_cli):
    run_dir = copy_run(tiny_run, tmp_path)
    (run_dir / "checkpoints" / "latest.json").unlink()
    (run_dir / "checkpoints" / "best.json").unlink()
    code, out, err = run_cli(["evaluate", str(run_dir), "--episodes", "1", "--json"])
    assert code == 0, err
    assert "td3her: warning:" in err and "latest.json is missing" in err
    assert json.loads(out)["checkpoint"].endswith("epoch_002")


def test_latest_given_with_a_checkpoint_directory_says_that_one_is_used(tiny_run, run_cli):
    checkpoint = tiny_run / "checkpoints" / "epoch_001"
    info = resolve_checkpoint(checkpoint, latest=True)
    assert info.path == checkpoint
    assert info.warning == (
        f"--latest picks a run directory's latest checkpoint; {checkpoint} is a checkpoint, "
        "so it is used as given"
    )
    assert resolve_checkpoint(checkpoint).warning == ""
    args = ["evaluate", str(checkpoint), "--latest", "--episodes", "1", "--json"]
    code, out, err = run_cli(args)
    assert code == 0 and err == f"td3her: warning: {info.warning}\n", err
    assert json.loads(out)["checkpoint"] == str(checkpoint)


@pytest.mark.parametrize("damage", ["corrupt", "names a missing checkpoint"])
def test_a_broken_best_pointer_is_said_before_latest_stands_in(damage, tiny_run, tmp_path, run_cli):
    run_dir = copy_run(tiny_run, tmp_path)
    best = run_dir / "checkpoints" / "best.json"
    best.write_text('{"checkpoint": "epo' if damage == "corrupt" else '{"checkpoint": "epoch_009"}')
    info = resolve_checkpoint(run_dir)
    assert info.path.name == "epoch_002"
    problem = "is corrupt" if damage == "corrupt" else "names epoch_009, which is missing"
    assert info.warning == f"{best} {problem}; using the latest checkpoint, epoch_002, instead"
    code, out, err = run_cli(["evaluate", str(run_dir), "--episodes", "1", "--json"])
    assert code == 0 and err == f"td3her: warning: {info.warning}\n", err
    assert json.loads(out)["checkpoint"].endswith("epoch_002")
    code, _, err = run_cli(["export", str(run_dir), "--out", str(tmp_path / "policy.txt")])
    assert code == 2 and err.startswith(f"td3her: warning: {info.warning}\n"), err


@pytest.mark.parametrize("damaged", ["meta.json", "policy/saved_model.pb", "state.json"])
def test_a_damaged_latest_checkpoint_is_passed_over_by_a_resume(damaged, tiny_run, tmp_path):
    run_dir = copy_run(tiny_run, tmp_path)
    path = run_dir / "checkpoints" / "epoch_002" / damaged
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # truncated
    with pytest.raises(CheckpointError, match="epoch_002"):  # evaluate --latest: this one or none
        resolve_checkpoint(run_dir, latest=True)
    info = resolve_checkpoint(run_dir, latest=True, fall_back=True)
    assert info.path.name == "epoch_001"
    assert info.warning.startswith(str(path)), info.warning
    assert info.warning.endswith("; using the newest complete checkpoint, epoch_001")


def test_a_resume_goes_on_from_the_newest_checkpoint_that_validates(tiny_run, tmp_path, run_cli):
    run_dir = copy_run(tiny_run, tmp_path)
    root = run_dir / "checkpoints"
    best = json.loads((root / "best.json").read_text())  # as if epoch 2 had been promoted
    (root / "best.json").write_text(json.dumps({**best, "checkpoint": "epoch_002", "epoch": 2}))
    meta = root / "epoch_002" / "meta.json"
    meta.write_text(meta.read_text()[:100])  # truncated, as by a full disk long ago
    code, _, err = run_cli(["train", "--resume", str(run_dir), "--epochs", "2", "--no-tensorboard"])
    assert code == 0, err
    warnings = err.strip().splitlines()
    assert len(warnings) == 1 and warnings[0].startswith(f"td3her: warning: {meta} is corrupt")
    assert "using the newest complete checkpoint, epoch_001" in warnings[0]
    latest = resolve_checkpoint(run_dir, latest=True)
    assert latest.path.name == "epoch_002" and latest.warning == ""  # written again, whole
    best = resolve_checkpoint(run_dir)
    assert best.warning == ""
    # best.json is the resumed run's own record, not the passed-over epoch_002's
    state = json.loads((root / "epoch_002" / "state.json").read_text())
    pointer = json.loads((root / "best.json").read_text())
    assert pointer == {"checkpoint": f"epoch_{state['best']['epoch']:03d}", **state["best"]}
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").open()]
    assert [r["epoch"] for r in rows if r["kind"] == "epoch"] == [1, 2]


def test_a_run_without_a_checkpoint_starts_again_on_resume(tiny_run, tmp_path, run_cli):
    run_dir = copy_run(tiny_run, tmp_path)
    shutil.rmtree(run_dir / "checkpoints")  # as if killed before its first epoch ended
    with pytest.raises(NoCheckpointError, match="has no complete checkpoint yet"):
        resolve_checkpoint(run_dir)
    code, out, err = run_cli(
        ["train", "--resume", str(run_dir), "--epochs", "1", "--no-tensorboard"]
    )
    assert code == 0, err
    assert "has no checkpoint yet: starting it again from epoch 1" in out
    assert resolve_checkpoint(run_dir, latest=True).meta["epoch"] == 1
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").open()]
    assert [r["epoch"] for r in rows if r["kind"] == "epoch"] == [1], "old rows are dropped"


def set_recorded_keep(run_dir, keep):
    """Write `keep` (None: drop it, as in checkpoints from before the record) into every meta."""
    for meta_path in (run_dir / "checkpoints").glob("*/meta.json"):
        meta = json.loads(meta_path.read_text())
        meta.pop("keep", None)
        if keep is not None:
            meta["keep"] = keep
        meta_path.write_text(json.dumps(meta))


def test_a_resume_without_keep_goes_on_with_the_runs_own(tiny_run, tmp_path, run_cli):
    run_dir = copy_run(tiny_run, tmp_path)
    assert resolve_checkpoint(run_dir, latest=True).meta["keep"] == 3, "train() records it"
    set_recorded_keep(run_dir, 1)  # as if started with --keep 1
    code, _, err = run_cli(["train", "--resume", str(run_dir), "--epochs", "3", "--no-tensorboard"])
    assert code == 0, err
    best = json.loads((run_dir / "checkpoints" / "best.json").read_text())["checkpoint"]
    kept = {p.name for p in checkpoint_dirs(run_dir / "checkpoints")}
    assert kept == {"epoch_003", best}, "keep 1, not the default 3 (which keeps all three)"
    assert resolve_checkpoint(run_dir, latest=True).meta["keep"] == 1, "and records it again"
    code, _, err = run_cli(
        ["train", "--resume", str(run_dir), "--epochs", "4", "--keep", "2", "--no-tensorboard"]
    )
    assert code == 0, err
    assert resolve_checkpoint(run_dir, latest=True).meta["keep"] == 2, "--keep overrides it"
    assert {"epoch_003", "epoch_004"} <= {p.name for p in checkpoint_dirs(run_dir / "checkpoints")}


def test_checkpoints_without_the_record_resume_keeping_all_the_run_holds(tiny_run, tmp_path):
    run_dir = copy_run(tiny_run, tmp_path)

    def keep_on_resume():
        return resumed_keep(resolve_checkpoint(run_dir, latest=True))

    set_recorded_keep(run_dir, 7)
    assert keep_on_resume() == 7
    for bad in (None, 0, "5", True):
        set_recorded_keep(run_dir, bad)
        assert keep_on_resume() == 3, f"{bad!r}: two checkpoints, so at least the default"
    for cycle in (1, 2, 3):  # five checkpoints, as a run started with --keep 5 would hold
        shutil.copytree(
            run_dir / "checkpoints" / "epoch_001",
            run_dir / "checkpoints" / f"epoch_001-cycle_00{cycle}",
        )
    assert keep_on_resume() == 5
    (run_dir / "checkpoints" / "latest.json").unlink()  # the newest complete one stands in
    assert keep_on_resume() == 5


def test_a_resume_without_threads_goes_on_with_the_runs_own(
    tiny_run, tmp_path, run_cli, monkeypatch
):
    import td3her_cli.quiet
    from td3her_cli.cli.train import with_threads

    used = []
    real = td3her_cli.quiet.import_tensorflow
    monkeypatch.setattr(
        td3her_cli.quiet, "import_tensorflow", lambda t=None: used.append(t) or real()
    )
    run_dir = copy_run(tiny_run, tmp_path)

    def recorded():
        return json.loads((run_dir / "config.json").read_text())["extra"].get("threads")

    assert recorded() is None and with_threads(TrainConfig(), None, run_dir)[0] == 0, (
        "a run that records none: TensorFlow's choice"
    )
    config = json.loads((run_dir / "config.json").read_text())
    (run_dir / "config.json").write_text(json.dumps({**config, "extra": {"threads": 1}}))
    code, _, err = run_cli(["train", "--resume", str(run_dir), "--epochs", "3", "--no-tensorboard"])
    assert code == 0, err
    assert used[-1] == 1 and recorded() == 1, "the run's own --threads 1"
    args = ["train", "--resume", str(run_dir), "--epochs", "4", "--threads", "2"]
    code, _, err = run_cli([*args, "--no-tensorboard"])
    assert code == 0, err
    assert used[-1] == 2 and recorded() == 2, "--threads overrides it, and the next resume reads it"


def test_a_new_run_records_its_threads(tmp_path, run_cli, monkeypatch):
    import td3her_cli.quiet

    real = td3her_cli.quiet.import_tensorflow
    monkeypatch.setattr(td3her_cli.quiet, "import_tensorflow", lambda t=None: real())
    run_dir = tmp_path / "run"
    args = ["train", "--preset", "fast", "--epochs", "1", "--cycles", "1", "--eval-episodes", "1"]
    args += ["--best-eval-episodes", "0", "--optimization-steps", "2", "--random-steps", "10"]
    args += ["--stop-at-success", "0", "--threads", "1", "--no-tensorboard", "--out", str(run_dir)]
    code, _, err = run_cli(args)
    assert code == 0, err
    assert json.loads((run_dir / "config.json").read_text())["extra"]["threads"] == 1


@pytest.mark.parametrize("recorded", ["1", -3, True, 1.5, None])
def test_a_recorded_threads_that_is_not_a_count_is_refused_unless_threads_is_given(
    recorded, tiny_run, tmp_path, run_cli
):
    run_dir = copy_run(tiny_run, tmp_path)
    config = json.loads((run_dir / "config.json").read_text())
    (run_dir / "config.json").write_text(json.dumps({**config, "extra": {"threads": recorded}}))
    before = snapshot(run_dir)
    code, _, err = run_cli(["train", "--resume", str(run_dir), "--epochs", "3"])
    assert code == 2 and f"records threads {json.dumps(recorded)}, not a count" in err, err
    assert err.count("\n") == 1 and snapshot(run_dir) == before


def test_force_on_a_resume_is_refused(tiny_run, tmp_path, run_cli):
    run_dir = copy_run(tiny_run, tmp_path)
    before = snapshot(run_dir)
    code, _, err = run_cli(["train", "--resume", str(run_dir), "--epochs", "3", "--force"])
    assert code == 2 and "drop --force" in err and snapshot(run_dir) == before
