"""--num-envs: worker processes run exactly the single-env episodes for the same seeds, and
what a run collects with workers does not depend on how many there are."""

import subprocess
import sys

import numpy as np
import pytest

from td3her_cli.config import TrainConfig
from td3her_cli.core.policy_snapshot import PolicySnapshot
from td3her_cli.envs.goal_env import describe_env, make_env
from td3her_cli.envs.rollout import EpisodeJob, EvaluationStopped, collect_episode, run_episode_job
from td3her_cli.envs.starts import EpisodeStart
from td3her_cli.envs.workers import EpisodeWorkers
from td3her_cli.errors import EnvError
from td3her_cli.run.training import Trainer, train

from .conftest import TINY, metrics_rows_without_timings

pytestmark = pytest.mark.slow


def proportional_snapshot(spec) -> PolicySnapshot:
    """tanh(5 (goal - gripper position)): reaches the goal in a few steps, so episodes end at
    different times; a one-layer PolicySnapshot, so the workers can have it."""
    kernel = np.zeros((spec.obs_dim + spec.goal_dim, spec.action_dim), np.float32)
    for axis in range(3):
        kernel[axis, axis] = -5.0  # observation's gripper position
        kernel[spec.obs_dim + axis, axis] = 5.0  # the goal
    inputs = spec.obs_dim + spec.goal_dim
    return PolicySnapshot(
        (kernel,),
        (np.zeros(spec.action_dim, np.float32),),
        np.zeros(inputs, np.float32),
        np.ones(inputs, np.float32),
        200.0,
        5.0,
        False,
    )


@pytest.mark.parametrize("env_id", ["PandaReach-v3", "PandaPush-v3"])
def test_worker_episodes_equal_single_env_episodes(env_id):
    env = make_env(env_id)
    spec = describe_env(env, env_id)
    policy = proportional_snapshot(spec)
    seeds = [11, 12, 13, 14, 15]
    expected = {seed: collect_episode(env, spec, policy, seed) for seed in seeds}
    config = TrainConfig(env_id=env_id, noise="gaussian", noise_sigma=0.3, random_action_prob=0.2)
    # Push: some episodes start with a near goal, which must reach the workers with the job.
    starts = [
        EpisodeStart(goal_fraction=0.5 if env_id == "PandaPush-v3" and seed % 2 else 1.0)
        for seed in seeds
    ]
    explore = [
        EpisodeJob(seed, True, (7, seed), random_steps=3, start=start)
        for seed, start in zip(seeds, starts)
    ]
    explored = [run_episode_job(env, spec, policy, job, config) for job in explore]
    env.close()
    workers = EpisodeWorkers(env_id, (), 2, spec, config)
    try:
        workers.set_policy(policy)
        assert len(list(workers.episodes([EpisodeJob(21)]))) == 1  # 1 of 2 workers
        evaluated = list(workers.episodes([EpisodeJob(seed) for seed in seeds]))
        next(workers.episodes([EpisodeJob(s) for s in (23, 24, 25)]))  # left early
        workers.submit(explore)
        collected = workers.results()
    finally:
        workers.close()
    assert len(evaluated) == 5
    by_goal = {tuple(e.desired_goal[0]): e for e in evaluated}  # they end in any order
    for episode in expected.values():
        match = by_goal[tuple(episode.desired_goal[0])]
        np.testing.assert_array_equal(match.observation, episode.observation)
        np.testing.assert_array_equal(match.action, episode.action)
        assert match.success == episode.success
    for got, want in zip(collected, explored, strict=True):  # in job order
        np.testing.assert_array_equal(got.action, want.action)
        np.testing.assert_array_equal(got.observation, want.observation)
    assert not np.array_equal(explored[0].action, expected[11].action)  # it did explore


def test_a_stop_ends_an_evaluation_before_its_next_episode():
    env = make_env("PandaReach-v3")
    spec = describe_env(env, "PandaReach-v3")
    env.close()
    workers = EpisodeWorkers("PandaReach-v3", (), 2, spec)
    calls = []
    try:
        workers.set_policy(proportional_snapshot(spec))
        with pytest.raises(EvaluationStopped):
            for _ in workers.episodes([EpisodeJob(s) for s in range(6)], lambda: len(calls) > 2):
                calls.append(1)
        # stop() turns true at the third episode; an episode started before then on the
        # other worker may still end and be yielded, none may start after it
        assert len(calls) <= 3 + workers.num_workers - 1
        assert len(list(workers.episodes([EpisodeJob(s) for s in range(3)]))) == 3  # in sync
    finally:
        workers.close()


def test_a_worker_that_cannot_make_its_env_is_one_error():
    env = make_env("PandaReach-v3")
    spec = describe_env(env, "PandaReach-v3")
    env.close()
    with pytest.raises(EnvError, match="unknown env 'NoSuchEnv-v0'"):
        EpisodeWorkers("NoSuchEnv-v0", (), 2, spec)


def test_a_failing_episode_is_one_error():
    env = make_env("PandaReach-v3")
    spec = describe_env(env, "PandaReach-v3")
    env.close()
    workers = EpisodeWorkers("PandaReach-v3", (), 2, spec)
    try:
        workers.submit([EpisodeJob(1), EpisodeJob(2)])  # no policy sent yet
        with pytest.raises(EnvError, match="a worker running PandaReach-v3 failed: TypeError"):
            workers.results()
    finally:
        workers.close()


def test_the_warm_up_is_shared_out_in_seed_order(tmp_path):
    """random_steps remaining - i * T, clipped to [0, T] (T = 50 on PandaReach)."""
    trainer = Trainer(TrainConfig(**{**TINY, "episodes_per_cycle": 3, "num_envs": 2}))
    try:
        trainer.random_until, trainer.env_steps, trainer.episodes = 175, 100, 6
        jobs = trainer.collection_jobs()
    finally:
        trainer.close()
    assert [job.random_steps for job in jobs] == [50, 25, 0]
    assert [job.rng_seed[-1] for job in jobs] == [6, 7, 8]  # the run's episode numbers
    assert len({job.seed for job in jobs}) == 3 and all(job.explore for job in jobs)


def test_workers_never_closed_do_not_hang_the_exit():
    """Workers ignore SIGTERM (a signal to the whole group must not kill them mid-cycle), which
    multiprocessing's exit handler sends them: an owner that forgets close() must still exit."""
    code = (
        "from td3her_cli.envs.goal_env import describe_env, make_env\n"
        "from td3her_cli.envs.workers import EpisodeWorkers\n"
        "env = make_env('PandaReach-v3')\n"
        "workers = EpisodeWorkers('PandaReach-v3', (), 2, describe_env(env, 'PandaReach-v3'))\n"
    )
    try:
        done = subprocess.run([sys.executable, "-c", code], timeout=60, capture_output=True)
    except subprocess.TimeoutExpired:
        pytest.fail("the exit hung: workers ignore SIGTERM and were never closed")
    assert done.returncode == 0, done.stderr.decode()[-2000:]


def train_one_epoch(tmp_path, name, **overrides):
    """A 2-cycle epoch with small networks; returns the TrainResult."""
    config = TrainConfig(**{**TINY, "epochs": 1, "hidden": (16,), "batch_size": 16, **overrides})
    return train(config, tmp_path / name, tensorboard=False)


def test_a_run_with_workers_does_not_depend_on_how_many(tmp_path):
    """Two and three workers collect the same episodes, so the runs are identical."""
    results = [
        train_one_epoch(tmp_path, f"envs{n}", episodes_per_cycle=3, num_envs=n) for n in (2, 3)
    ]
    assert [r.epochs[0].episodes for r in results] == [6, 6]
    rows = [metrics_rows_without_timings(r.run_dir) for r in results]
    assert rows[0] == rows[1]


def test_more_envs_than_episodes_per_cycle(tmp_path):
    """--num-envs 3 with 2 episodes per cycle uses 2 workers."""
    result = train_one_epoch(tmp_path, "run", episodes_per_cycle=2, num_envs=3)
    assert result.epochs[0].episodes == 4
