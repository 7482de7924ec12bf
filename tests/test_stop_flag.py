"""StopFlag: the first SIGINT/SIGTERM sets the flag, a second stops at once."""

import os
import signal

import pytest

from td3her_cli.cli.train import StopFlag


@pytest.mark.parametrize("inherited", [signal.SIG_IGN, signal.default_int_handler])
def test_a_second_sigint_raises_even_when_sigint_started_ignored(inherited):
    # `nohup td3her train ... &` from a script starts with SIGINT ignored.
    before = signal.signal(signal.SIGINT, inherited)
    try:
        stop = StopFlag()
        with stop.installed():
            os.kill(os.getpid(), signal.SIGINT)
            assert stop() and stop.signal_number == signal.SIGINT
            with pytest.raises(KeyboardInterrupt):
                os.kill(os.getpid(), signal.SIGINT)
                signal.sigtimedwait([], 0)  # a bytecode boundary for the pending handler
        assert signal.getsignal(signal.SIGINT) is inherited, "the block restores what it found"
    finally:
        signal.signal(signal.SIGINT, before)
