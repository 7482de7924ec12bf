"""bench.update_breakdown on tiny networks: every part is timed, and each part is what its
docstring says (the actor step leaves the targets alone, Polyak moves only them, ...)."""

import math

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from bench import update_breakdown as breakdown  # noqa: E402
from bench.results import Grid, Table  # noqa: E402
from bench.td3_update import update_flops  # noqa: E402
from td3her_cli.config import TrainConfig  # noqa: E402
from td3her_cli.core.spec import EnvSpec  # noqa: E402

PUSH_LIKE = EnvSpec(
    env_id="PushLike-v0",
    obs_dim=18,
    goal_dim=3,
    action_dim=3,
    action_low=(-1.0,) * 3,
    action_high=(1.0,) * 3,
    max_episode_steps=50,
    reward_bounds=(-1.0, 0.0),
    terminates_on_success=True,
)
STEPS = 4


def distance(achieved, desired):
    return np.linalg.norm(achieved - desired, axis=-1)


def reward_fn(achieved, desired):
    """panda-gym's sparse reward with Push's 5 cm threshold."""
    return -(distance(achieved, desired) > 0.05).astype(np.float32)


def success_fn(achieved, desired):
    return (distance(achieved, desired) < 0.05).astype(np.float32)


def tiny_config(**changes) -> TrainConfig:
    values = dict(
        env_id=PUSH_LIKE.env_id,
        hidden=(16, 16),
        batch_size=32,
        optimization_steps=STEPS,
        policy_delay=2,
        policy_average=0.001,
        buffer_size=10_000,
        xla=False,  # tracing only: the test stays fast; the figure uses the preset's XLA
    )
    return TrainConfig(**{**values, **changes})


@pytest.fixture(scope="module")
def setup():
    """The tiny agent's parts, traced once (tracing is most of this file's time)."""
    config = tiny_config()
    return breakdown.prepare(config, PUSH_LIKE, reward_fn, success_fn, fill_transitions=2_000)


@pytest.fixture(scope="module")
def timings(setup):
    return breakdown.measure(setup, repeats=2, block_seconds=0.0, matmul_block_seconds=0.0)


@pytest.fixture
def parts(setup):
    return setup.parts


def test_every_variant_is_timed_once_per_repeat_and_positive(timings):
    assert timings.repeats == 2
    assert set(timings.call_seconds) == {*breakdown.COMPILED, *breakdown.OUTSIDE}
    for name, values in timings.call_seconds.items():
        assert len(values) == 2, name
        assert all(math.isfinite(v) and v > 0 for v in values), name
    for name in breakdown.COMPILED:
        assert timings.first_call[name] > 0
    for values in timings.matmul_seconds.values():
        assert all(math.isfinite(v) and v > 0 for v in values)
    assert timings.buffer_transitions >= 2_000 - 50


def test_per_update_times_amortise_the_delayed_parts(timings):
    delay = timings.config.policy_delay
    for part in breakdown.PARTS:
        gross = timings.per_update(part)
        expected = delay if part in breakdown.DELAYED else 1
        for per_update, call in zip(gross, timings.call_seconds[part]):
            assert per_update == pytest.approx(call / STEPS / expected)
        for net, per_update, loop in zip(timings.net(part), gross, timings.call_seconds["loop"]):
            assert math.isfinite(net)
            assert net == pytest.approx(per_update - loop / STEPS / expected)


def test_remainder_is_the_full_update_less_the_net_parts(timings):
    for index, remainder in enumerate(timings.remainder()):
        parts = sum(timings.net(part)[index] for part in breakdown.PARTS)
        assert remainder + parts == pytest.approx(timings.per_update("full")[index])


def test_part_flops_add_up_to_the_update_flops():
    config = tiny_config(hidden=(256, 256, 256), batch_size=256)
    flops = breakdown.PartFlops.of(PUSH_LIKE, config).per_update
    assert flops["critic_adam"] == flops["polyak"] == 0
    assert all(flops[part] > 0 for part in ("td_target", "critic_gradients", "actor"))
    total = sum(flops[part] for part in breakdown.PARTS)
    assert total == pytest.approx(update_flops(PUSH_LIKE, config).amortised)
    assert flops["full"] == pytest.approx(total)


def test_figure_has_a_row_for_every_part(timings):
    figure = breakdown.figure(timings)
    assert figure.section == "breakdown"
    tables = [t for t in figure.tables if isinstance(t, Table)]
    labels = " ".join(row.label for table in tables for row in table.rows)
    for name in (*breakdown.COMPILED, *breakdown.OUTSIDE, "remainder"):
        assert breakdown.NAMES[name] in labels, name
    (grid,) = [t for t in figure.tables if isinstance(t, Grid)]
    assert [row[0] for row in grid.rows] == [
        breakdown.NAMES[name] for name in (*breakdown.PARTS, "remainder", "full")
    ]
    assert all(len(row) == len(grid.header) for row in grid.rows)


def weights(module):
    return [v.numpy().copy() for v in module.weights]


def changed(before, module):
    return any(not np.array_equal(a, v.numpy()) for a, v in zip(before, module.weights))


def test_actor_step_trains_the_actor_and_leaves_the_targets(parts):
    agent = parts.agent
    targets = [(m, weights(m)) for m in (agent.actor_target, agent.critic_target)]
    targets.append((agent.actor_average, weights(agent.actor_average)))
    actor, critic = weights(agent.actor), weights(agent.critic)
    steps = int(agent.actor_optimizer.iterations.numpy())
    assert math.isfinite(parts.call("actor"))
    assert int(agent.actor_optimizer.iterations.numpy()) == steps + STEPS
    assert changed(actor, agent.actor)
    assert not changed(critic, agent.critic)
    for module, before in targets:
        assert not changed(before, module), module.name


def test_polyak_moves_only_the_targets_and_the_average(parts):
    agent = parts.agent
    parts.call("full")  # actor and critics move away from their targets: Polyak has work
    online = [(m, weights(m)) for m in (agent.actor, agent.critic)]
    targets = [(m, weights(m)) for m in (agent.actor_target, agent.critic_target)]
    targets.append((agent.actor_average, weights(agent.actor_average)))
    parts.call("polyak")
    for module, before in targets:
        assert changed(before, module), module.name
    for module, before in online:
        assert not changed(before, module), module.name


def test_critic_adam_runs_once_per_batch_on_copies_of_the_critics(parts):
    agent = parts.agent
    critic = weights(agent.critic)
    agent_steps = int(agent.critic_optimizer.iterations.numpy())
    steps = int(parts.adam.iterations.numpy())
    copies = [v.numpy().copy() for v in parts.adam_weights]
    parts.call("critic_adam")
    assert int(parts.adam.iterations.numpy()) == steps + STEPS
    assert any(not np.array_equal(a, v.numpy()) for a, v in zip(copies, parts.adam_weights))
    assert not changed(critic, agent.critic)
    assert int(agent.critic_optimizer.iterations.numpy()) == agent_steps


def test_no_gradient_parts_change_no_weights(parts):
    agent = parts.agent
    modules = (agent.actor, agent.critic, agent.actor_target, agent.critic_target)
    before = [weights(m) for m in modules]
    for variable in parts.gradients:
        variable.assign(tf.zeros_like(variable))
    for name in ("td_target", "critic_gradients", "loop"):
        assert math.isfinite(parts.call(name)), name
    for module, values in zip(modules, before):
        assert not changed(values, module), module.name
    # The critic gradients part writes its gradients out (that keeps them live), nothing else.
    assert all(np.isfinite(v.numpy()).all() for v in parts.gradients)
    assert all(np.any(v.numpy() != 0) for v in parts.gradients)


def test_each_compiled_function_is_traced_once(setup, timings):
    for name, function in setup.parts.functions.items():
        assert function.experimental_get_tracing_count() == 1, name


def test_full_update_runs_every_step_and_one_actor_step_in_policy_delay(parts):
    agent = parts.agent
    critic_steps = int(agent.critic_updates.numpy())
    actor_steps = int(agent.actor_updates.numpy())
    parts.call("full")
    assert int(agent.critic_updates.numpy()) == critic_steps + STEPS
    assert int(agent.actor_updates.numpy()) - actor_steps == STEPS // agent.config.policy_delay
