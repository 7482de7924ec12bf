"""Keep known start-up chatter of C libraries (PyBullet, TensorFlow) out of the terminal.

PyBullet prints `argv[0]=...` lines on every env creation and TensorFlow logs oneDNN notices
at import, both from C code, so Python-level redirection cannot catch them. We capture the
file descriptors around those calls and re-emit every line that is not known noise, so real
warnings and errors still show.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import sys
import tempfile
from collections.abc import Iterator

NOISE = re.compile(
    r"^(argv\[\d+\]=|argc=\d+|pybullet build time:|startThreads|starting thread|started thread"
    r"|destroy semaphore|semaphore destroyed|Thread with taskId|stopping threads|finished"
    r"|numActiveThreads|ven = |WARNING: All log messages before absl::InitializeLog"
    r"|I\d{4} \d\d:\d\d:\d\d|[EW]\d{4} .*(cuda|TensorRT|cpu_feature_guard)"
    r"|AdroitHand\w+-v1, .* reward functions were updated)"  # gymnasium-robotics' import notice
)


def _flush_c_stdio() -> None:
    with contextlib.suppress(OSError):
        ctypes.CDLL(None).fflush(None)


@contextlib.contextmanager
def filtered_fd(fd: int) -> Iterator[None]:
    """Capture file descriptor `fd` while the block runs; re-emit its non-noise lines after."""
    stream = sys.stdout if fd == 1 else sys.stderr
    try:
        stream.flush()
        saved = os.dup(fd)
    except (OSError, ValueError):  # no usable descriptor: nothing to filter
        yield
        return
    _flush_c_stdio()
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), fd)
        try:
            yield
        finally:
            _flush_c_stdio()
            with contextlib.suppress(ValueError, OSError):
                stream.flush()
            os.dup2(saved, fd)
            os.close(saved)
            capture.seek(0)
            kept = [
                line
                for line in capture.read().decode(errors="replace").splitlines(keepends=True)
                if not NOISE.match(line)
            ]
            if kept:
                os.write(fd, "".join(kept).encode())


@contextlib.contextmanager
def quiet_native_output() -> Iterator[None]:
    """Filter known noise from both stdout and stderr while the block runs."""
    with filtered_fd(1), filtered_fd(2):
        yield


def import_tensorflow(threads: int | None = None):
    """Import TensorFlow without its start-up log lines; returns the module.

    With `threads`, each of TF's thread pools gets at most that many threads (e.g. two runs
    side by side on two cores, or a sweep trial on one CPU). Only possible before TF's
    runtime starts in this process; later calls leave the pools as they are.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with quiet_native_output():
        import tensorflow as tf
    if threads:
        with contextlib.suppress(RuntimeError):
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
    return tf
