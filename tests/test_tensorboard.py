"""TensorBoard event files of a real run hold the expected scalar tags."""

import tensorflow as tf

from td3her_cli.run.tensorboard import CYCLE_TAGS, EVAL_TAGS


def read_scalars(tb_dir):
    found = {}
    for event_file in tb_dir.glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            for value in event.summary.value:
                found.setdefault(value.tag, []).append(
                    (event.step, float(tf.make_ndarray(value.tensor)))
                )
    return found


def test_tensorboard_scalars_mirror_metrics(tiny_run):
    scalars = read_scalars(tiny_run / "tb")
    for tag in CYCLE_TAGS:
        assert len(scalars[f"cycle/{tag}"]) == 4  # 2 epochs x 2 cycles
    for tag in EVAL_TAGS:
        assert len(scalars[f"eval/{tag}"]) == 2
    steps = [step for step, _ in scalars["cycle/critic1_loss"]]
    assert steps == sorted(steps) and steps[0] > 0, "indexed by env steps"
    assert all(0.0 <= value <= 1.0 for _, value in scalars["eval/success_rate"])
