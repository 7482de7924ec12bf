"""`make results`: BENCHMARKS.md, README's table and the experiments index rebuild from the
data kept in docs/results/, and the committed files are what a rebuild writes."""

import json

import pytest

from td3her_cli.config import TrainConfig
from td3her_cli.presets import default_preset, preset_values
from tools import results


def keep_run(directory, env_id="PandaPush-v3", seed=0, successes=291, episodes=300, heldout=None):
    """A kept run as `tools.results collect` writes it, with two epochs."""
    directory.mkdir(parents=True)
    preset = default_preset(env_id)
    config = TrainConfig(env_id=env_id, seed=seed, **preset_values(preset)).to_dict()
    config |= {"epochs": 66, "stop_at_success": 0.97, "extra": {"preset": preset}}
    (directory / "config.json").write_text(json.dumps(config))
    rows = [
        {"kind": "cycle", "epoch": 1, "env_steps": 100},
        {"kind": "epoch", "epoch": 1, "env_steps": 3000, "success_rate": 0.1, "wall_time": 60.0},
        {"kind": "epoch", "epoch": 2, "env_steps": 6100, "success_rate": 0.9, "wall_time": 126.0}
        | {"stop_check_success": 0.97},
    ]
    (directory / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    evaluation = {"seed": 1000, "episodes": episodes, "success_rate": successes / episodes}
    (directory / "heldout.json").write_text(json.dumps(evaluation | (heldout or {})))
    info = {"command": f"td3her train --env {env_id} --seed {seed}", "alone": seed != 1}
    (directory / "run.json").write_text(json.dumps(info | {"machine": {"cpu": "Xeon"}}))
    return directory


def test_a_kept_run_reads_as_its_last_epoch_and_held_out_evaluation(tmp_path):
    run = results.load_run(keep_run(tmp_path / "push-s0"))
    assert (run.env_steps, run.epochs_run, run.loop_minutes) == (6100, 2, 2.1)
    assert run.stopped_itself and run.alone
    assert (run.heldout_successes, run.heldout_success) == (291, 0.97)
    assert run.curve_env_steps == (3000, 6100)
    assert run.curve_minutes == (1.0, 2.1)


@pytest.mark.parametrize("check, stopped", [(0.97, True), (0.886, False), (None, False)])
def test_a_run_stopped_itself_only_when_its_last_check_met_the_target(check, stopped):
    last = {"kind": "epoch", "epoch": 100}
    if check is not None:
        last["stop_check_success"] = check
    assert results.stopped_itself(last, {"stop_at_success": 0.97}) is stopped
    assert results.stopped_itself(last, {"stop_at_success": 0.0}) is False


def push_config(**changes) -> dict:
    """A PandaPush run's config.json as the push preset writes it today, with `changes`."""
    config = TrainConfig(env_id="PandaPush-v3", **preset_values("push")).to_dict()
    return config | {"extra": {"preset": "push"}} | changes


def test_a_run_repeats_under_a_changed_preset_with_the_settings_its_command_left_to_it():
    command = "td3her train --env PandaPush-v3 --seed 3 --gamma 0.9"
    config = push_config(augment_faces=0.25, xla=False, gamma=0.9)
    assert results.repeat_options(config, command) == ("--no-xla", "--augment-faces 0.25")
    assert results.repeat_options(push_config(), command) == ()
    older = push_config()
    del older["gate_action_l2"]  # a config.json older than the option: it had the default
    assert results.repeat_options(older, command) == ("--gate-action-l2 -1",)


def test_repeat_options_count_what_any_part_of_the_command_gives():
    config = push_config(gamma=0.9, epochs=80, env_modules=["a", "b"])
    command = "td3her train --env PandaPush-v3 --gamma=0.9; td3her train --resume R --epochs 80"
    assert results.repeat_options(config, command) == ("--env-module a", "--env-module b")


def test_repeat_options_compare_with_the_preset_the_command_picks_today():
    command = "td3her train --env PandaPush-v3 --preset original"
    assert "--gamma 0.95" in results.repeat_options(push_config(), command)
    with pytest.raises(results.ResultsError, match="unknown --preset"):
        results.repeat_options(push_config(), "td3her train --preset gone")


def test_a_changed_preset_is_marked_and_its_options_named_for_the_seeds_they_concern(tmp_path):
    for seed in (0, 1):
        keep_run(tmp_path / f"push-s{seed}", seed=seed)
    config = json.loads((tmp_path / "push-s1" / "config.json").read_text())
    config["best_eval_episodes"] = 100
    (tmp_path / "push-s1" / "config.json").write_text(json.dumps(config))
    runs = results.load_runs(tmp_path)
    assert "| PandaPush-v3 | `push` (changed since) |" in results.results_table(runs)
    assert results.seed_commands(runs) == [
        "td3her train --env PandaPush-v3 --seed S   # S = 0, 1",
        "# S = 1: to repeat with today's presets, the first td3her train also takes "
        "--best-eval-episodes 100",
    ]
    assert "(changed since)" not in results.results_table(runs[:1])


@pytest.mark.parametrize("seed, episodes", [(0, 300), (1000, 100)])
def test_an_evaluation_off_the_held_out_protocol_is_refused(tmp_path, seed, episodes):
    directory = keep_run(
        tmp_path / "s0", successes=episodes, heldout={"seed": seed, "episodes": episodes}
    )
    with pytest.raises(results.ResultsError, match="not the held-out protocol"):
        results.load_run(directory)


def test_the_table_has_one_row_per_task_with_every_seed_and_a_bootstrap_interval(tmp_path):
    for seed, successes in enumerate((291, 285, 300)):
        keep_run(tmp_path / f"push-s{seed}", seed=seed, successes=successes)
    keep_run(tmp_path / "reach-s0", env_id="PandaReach-v3", successes=300)
    runs = results.load_runs(tmp_path)
    table = results.results_table(runs).splitlines()
    assert len(table) == 4  # header, rule, Reach (task order), Push
    assert table[2].startswith("| PandaReach-v3 ")
    push = table[3]
    assert "97.0 %, 95.0 %, 100.0 %" in push
    assert "2.1 (alone, Xeon), 2.1 (shared, Xeon), 2.1 (alone, Xeon)" in push
    mean, low, high = results.mean_interval([0.97, 0.95, 1.0])
    assert mean == pytest.approx(0.9733, abs=1e-4)
    assert 0.95 - 1e-9 <= low < mean < high <= 1.0 + 1e-9
    assert f"**97.3 %** [{100 * low:.1f}, {100 * high:.1f}]" in push
    assert results.mean_interval([0.97, 0.95, 1.0]) == (mean, low, high)  # seeded


def test_minutes_name_the_cpu_and_say_it_once_when_every_run_shares_it(tmp_path):
    assert results.short_cpu("Intel(R) Xeon(R) Processor") == "Intel Xeon"
    assert results.short_cpu("AMD EPYC") == "AMD EPYC"
    runs = [results.load_run(keep_run(tmp_path / f"s{seed}", seed=seed)) for seed in (0, 2)]
    assert results.minutes_cell(runs) == "2.1, 2.1 (alone, Xeon)"


def test_a_task_section_gives_the_command_each_seed_and_the_curve(tmp_path):
    runs = [results.load_run(keep_run(tmp_path / "push-s0"))]
    section = results.task_section("PandaPush-v3", runs)
    assert "td3her train --env PandaPush-v3 --seed S   # S = 0" in section
    assert "| 0 | 2 (66) | yes | 6,100 | 2.1 (alone, Xeon) | 291/300 | 97.0 % |" in section
    assert "docs/results/curves/PandaPush-v3-push.png" in section
    with pytest.raises(results.ResultsError, match="no kept run trained it"):
        results.task_section("PandaSlide-v3", runs)


def test_the_template_placeholders_are_filled_and_unknown_ones_refused(tmp_path):
    runs = [results.load_run(keep_run(tmp_path / "push-s0"))]
    filled = results.fill_template("# B\n<!-- results:task PandaPush-v3 -->\ntext\n", runs)
    assert filled.startswith("# B\n```bash\n") and filled.endswith("\ntext\n")
    with pytest.raises(results.ResultsError, match="unknown placeholder"):
        results.fill_template("<!-- results:nonsense -->\n", runs)


def test_the_experiments_index_lists_each_note_newest_first(tmp_path):
    note = "# {}\n\n- **Date:** {} · **Issue:** 11\n- **Answer:** {}\n\n## Question\n"
    (tmp_path / "2026-11-20-a.md").write_text(note.format("Old?", "2026-11-20", "no"))
    (tmp_path / "2026-11-27-b.md").write_text(note.format("New?", "2026-11-27", "yes, 97 %"))
    index = results.experiments_index(tmp_path)
    rows = [line for line in index.splitlines() if line.startswith("| 2026")]
    assert rows == [
        "| 2026-11-27 | [New?](2026-11-27-b.md) | yes, 97 % |",
        "| 2026-11-20 | [Old?](2026-11-20-a.md) | no |",
    ]
    (tmp_path / "2026-11-28-c.md").write_text("# No answer line\n")
    with pytest.raises(results.ResultsError, match="Answer"):
        results.experiments_index(tmp_path)


def test_the_readme_table_goes_between_its_markers(tmp_path):
    runs = [results.load_run(keep_run(tmp_path / "push-s0"))]
    readme = f"intro\n{results.README_START}\nold table\n{results.README_END}\nrest\n"
    written = results.readme_with_table(readme, runs)
    assert "old table" not in written and "| PandaPush-v3 |" in written
    assert written.startswith("intro\n") and written.endswith(f"{results.README_END}\nrest\n")
    with pytest.raises(results.ResultsError, match="lacks"):
        results.readme_with_table("no markers", runs)


def test_committed_benchmarks_readme_and_index_are_what_make_results_writes():
    stale = [str(path.relative_to(results.ROOT)) for path in results.stale_files()]
    assert stale == [], f"stale: {', '.join(stale)}; run `make results`"
