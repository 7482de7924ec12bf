"""An env that lives in a child process which never imports TensorFlow.

MuJoCo's GL stack (EGL, OSMesa) and TensorFlow do not share a process well: rendering a
gymnasium-robotics Fetch env segfaults once TensorFlow is loaded, while the same env renders
fine in a process without it. `td3her render` therefore keeps the policy (TensorFlow) in the
parent and steps and renders the env here, in a spawned child. The child gets
MUJOCO_GL=egl when neither MUJOCO_GL nor a display is set, so MuJoCo renders headless.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import traceback

from td3her_cli.envs.goal_env import make_env
from td3her_cli.errors import EnvError, Td3HerError

GL_HELP = (
    "MuJoCo renders headless with MUJOCO_GL=egl (Debian/Ubuntu package libegl1) or "
    "MUJOCO_GL=osmesa (libosmesa6)"
)


SIZE_KEYWORDS = (("render_width", "render_height"), ("width", "height"))  # panda-gym, MuJoCo
MAX_CAUSE_CHARS = 300  # of a rendering backend's error message, kept on the one error line


def make_render_env(env_id: str, width: int, height: int):
    """A goal env that renders `width` x `height` RGB frames.

    panda-gym names its camera size `render_width` / `render_height`, gymnasium's MuJoCo envs
    (Fetch) `width` / `height`; an env that accepts neither is made at its own size, and
    `render_episodes` resizes its frames.

    Args:
        env_id: Gymnasium id of a goal env, e.g. PandaReach-v3.
        width: Frame width in pixels.
        height: Frame height in pixels.

    Returns:
        The env, made with render_mode="rgb_array".

    Raises:
        EnvError: If the env cannot be made to render, e.g. its rendering backend is missing.
    """
    try:
        for width_key, height_key in SIZE_KEYWORDS:
            try:
                size = {width_key: width, height_key: height}
                return make_env(env_id, render_mode="rgb_array", **size)
            except EnvError as exc:
                if not isinstance(exc.__cause__, TypeError):  # not "no such keyword argument"
                    raise
        return make_env(env_id, render_mode="rgb_array")
    except Td3HerError:
        raise
    except Exception as exc:  # any backend (OpenGL, EGL, PyBullet, MuJoCo) fails its own way
        raise EnvError(
            f"{env_id} cannot be made with render_mode='rgb_array' ({rendering_cause(exc)}); "
            "install or fix its rendering backend (--debug shows the traceback)"
        ) from exc


def rendering_cause(exc: Exception) -> str:
    """`Type: message` of an exception on one line, at most MAX_CAUSE_CHARS long."""
    message = " ".join(str(exc).split())
    name = getattr(exc, "type_name", type(exc).__name__)  # a RemoteEnvError's original type
    cause = f"{name}: {message}" if message else name
    return cause if len(cause) <= MAX_CAUSE_CHARS else cause[: MAX_CAUSE_CHARS - 3] + "..."


class RemoteEnvError(RuntimeError):
    """An exception raised inside the child, as its type name and message."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(message)
        self.type_name = type_name


class RemoteEnv:
    """reset / step / render / close of a render-mode env made in a TensorFlow-free child.

    Errors inside the child come back from the same call as RemoteEnvError (with the original
    type's name), except that creating the env raises EnvError and td3her's own errors keep
    their message.
    """

    def __init__(self, env_id: str, modules: tuple[str, ...], width: int, height: int) -> None:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no TensorFlow
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, env_id, tuple(modules), width, height), daemon=True
        )
        self._process.start()
        child.close()
        self.env_id = env_id
        self._call("ready")

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """env.reset in the child."""
        return self._call("reset", seed, options)

    def step(self, action):
        """env.step in the child."""
        return self._call("step", action)

    def render(self):
        """env.render in the child: an RGB frame [H, W, 3] (or None)."""
        return self._call("render")

    def tensorflow_loaded(self) -> bool:
        """Whether the child has imported TensorFlow (it never should)."""
        return self._call("tensorflow_loaded")

    def close(self) -> None:
        """Close the env and end the child."""
        if self._process.is_alive():
            try:
                self._conn.send(("close",))
                self._conn.recv()
            except (OSError, EOFError):
                pass
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()
        self._conn.close()

    def _call(self, command: str, *args):
        try:
            self._conn.send((command, *args))
            status, value = self._conn.recv()
        except (OSError, EOFError):
            code = self._process.exitcode
            raise EnvError(
                f"the process running env {self.env_id} died (exit code {code}) during "
                f"{command}(); if it is a MuJoCo env: {GL_HELP}"
            ) from None
        if status == "ok":
            return value
        kind, type_name, message = value
        if kind == "td3her":
            raise Td3HerError(message)
        if kind == "make":
            raise EnvError(f"cannot create env {self.env_id!r} to render it: {message}")
        raise RemoteEnvError(type_name, message)


def _serve(conn, env_id: str, modules: tuple[str, ...], width: int, height: int) -> None:
    """The child's loop: make the env, then answer commands until `close`."""
    if "MUJOCO_GL" not in os.environ and not os.environ.get("DISPLAY"):
        os.environ["MUJOCO_GL"] = "egl"
    try:
        from td3her_cli.envs.goal_env import import_env_modules

        import_env_modules(modules)
        env = make_render_env(env_id, width, height)
    except Exception as exc:  # noqa: BLE001 - reported to the parent as one line
        conn.recv()  # the parent's "ready"
        conn.send(("error", ("make", *_describe(exc, _uses_mujoco(exc)))))
        return
    mujoco = _uses_mujoco(env)
    while True:
        command, *args = conn.recv()
        try:
            if command == "ready":
                value = None
            elif command == "reset":
                value = env.reset(seed=args[0], options=args[1])
            elif command == "step":
                value = env.step(args[0])
            elif command == "render":
                value = env.render()
            elif command == "tensorflow_loaded":
                value = "tensorflow" in sys.modules
            elif command == "close":
                env.close()
                conn.send(("ok", None))
                return
            else:
                raise ValueError(f"unknown command {command!r}")
        except Td3HerError as exc:
            conn.send(("error", ("td3her", type(exc).__name__, str(exc))))
        except Exception as exc:  # noqa: BLE001 - the parent raises it, one line
            conn.send(("error", ("env", *_describe(exc, mujoco and command == "render"))))
        else:
            conn.send(("ok", value))


def _describe(exc: BaseException, mujoco: bool) -> tuple[str, str]:
    """(type name, message on one line); td3her's own messages as they are, MuJoCo's
    failures with the GL help."""
    if isinstance(exc, Td3HerError):
        return type(exc).__name__, str(exc)
    message = " ".join(str(exc).split())[:300]
    return type(exc).__name__, f"{message} ({GL_HELP})" if mujoco else message


def _uses_mujoco(exc_or_env) -> bool:
    """Whether an env (or the code an exception came from) is MuJoCo's."""
    if isinstance(exc_or_env, BaseException):
        return "mujoco" in "".join(traceback.format_tb(exc_or_env.__traceback__)).lower()
    classes = type(getattr(exc_or_env, "unwrapped", exc_or_env)).__mro__
    return any("mujoco" in c.__module__.lower() for c in classes)
