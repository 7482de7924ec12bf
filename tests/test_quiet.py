"""Known start-up chatter of C libraries and env packages is dropped; everything else shows."""

import pytest

from td3her_cli.quiet import NOISE

GYMNASIUM_ROBOTICS_NOTICE = (
    "AdroitHandRelocateDense-v1, AdroitHandHammerDense-v1, AdroitHandDoorDense-v1 environment's "
    "reward functions were updated in v1.2.1 without an environment version update."
)


@pytest.mark.parametrize(
    "line", ["argv[0]=", "pybullet build time: Nov 28 2023", GYMNASIUM_ROBOTICS_NOTICE]
)
def test_known_noise_is_dropped(line):
    assert NOISE.match(line)


@pytest.mark.parametrize(
    "line", ["Error loading texture", "Traceback (most recent call last):", "MuJoCo error"]
)
def test_anything_else_shows(line):
    assert not NOISE.match(line)
