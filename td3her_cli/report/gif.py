"""Watching a policy: render deterministic episodes to frames, and frames to a GIF or MP4.

Frames come from the env's own camera (render_mode="rgb_array"); panda-gym takes the image
size as `render_width` / `render_height` when the env is made (see `make_render_env`).
A GIF is written with one palette shared by every frame: frames then differ only where the
arm moves, and Pillow stores just those rectangles, which keeps a 3-episode GIF small.
"""

from __future__ import annotations

import contextlib
import functools
import os
import stat
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from td3her_cli.core.spec import EnvSpec
from td3her_cli.envs.goal_env import split_observation
from td3her_cli.envs.render_child import rendering_cause
from td3her_cli.errors import EnvError, Td3HerError, UsageError

if TYPE_CHECKING:  # rollout -> replay -> agent imports TensorFlow; rendering itself needs none
    from td3her_cli.envs.rollout import Policy

HOLD_FRAMES = 12  # copies of an episode's last frame, so its outcome stays on screen a moment
PALETTE_SAMPLES = 8  # frames sampled to build the GIF's shared 256-colour palette
FrameCallback = Callable[[int, int], None]  # (episode number from 1, step) after each render


def render_episodes(
    env,
    spec: EnvSpec,
    policy: Policy,
    seeds: Sequence[int],
    width: int,
    height: int,
    caption: bool = True,
    on_frame: FrameCallback | None = None,
    hold_frames: int = HOLD_FRAMES,
) -> tuple[list[np.ndarray], list[bool]]:
    """Run one deterministic episode per seed and capture every step as an RGB frame.

    Args:
        env: A goal env made with render_mode="rgb_array" (see `make_render_env`).
        spec: The env's spec (`describe_env`), which scales actions to the env's box.
        policy: ([N, obs], [N, goal]) -> [N, act] in [-1, 1]; called with N = 1.
        seeds: One env reset seed per episode.
        width: Frame width; frames of another size are resized to it.
        height: Frame height.
        caption: Draw "episode i/N  step t  success: yes/no" on each frame.
        on_frame: Called as on_frame(episode, step) after each render (not for the held
            copies), e.g. to advance a progress bar of len(seeds) * (max_episode_steps + 1).
        hold_frames: Copies of each episode's last frame appended after it.

    Returns:
        The frames ([height, width, 3] uint8 each) and, per episode, whether
        info["is_success"] held at its end (as in `rollout.evaluate`).

    Raises:
        Td3HerError: If env.render() fails (its rendering backend is broken).
        EnvError: If the env returns no RGB frame.
    """
    frames: list[np.ndarray] = []
    successes: list[bool] = []

    def capture(number: int, step: int, success: bool) -> np.ndarray:
        frame = _frame(_render(env, spec.env_id), width, height, spec.env_id)
        if caption:
            frame = _captioned(frame, f"episode {number}/{len(seeds)}  step {step}", success)
        frames.append(frame)
        if on_frame is not None:
            on_frame(number, step)
        return frame

    for number, seed in enumerate(seeds, start=1):
        raw, _ = env.reset(seed=seed)
        observation, _, desired_goal = split_observation(raw)
        step, success = 0, False
        last = capture(number, step, success)
        while True:
            action = policy(observation[None], desired_goal[None])[0]
            raw, _, terminated, truncated, info = env.step(spec.scale_action(action))
            observation, _, desired_goal = split_observation(raw)
            step += 1
            success = bool(info.get("is_success", False))
            last = capture(number, step, success)
            if terminated or truncated:
                break
        frames.extend(last.copy() for _ in range(hold_frames))
        successes.append(success)
    return frames, successes


def _render(env, env_id: str):
    """env.render(), with a failing rendering backend turned into one Td3HerError line."""
    try:
        return env.render()
    except Exception as exc:  # any backend (OpenGL, EGL, PyBullet, MuJoCo) fails its own way
        raise Td3HerError(
            f"{env_id} failed to render a frame ({rendering_cause(exc)}); "
            "check its rendering backend (--debug shows the traceback)"
        ) from exc


def _frame(image, width: int, height: int, env_id: str) -> np.ndarray:
    """An env render as a [height, width, 3] uint8 array."""
    if image is None:
        raise EnvError(
            f"{env_id} returned no frame from render(); it must support render_mode='rgb_array'"
        )
    frame = np.asarray(image)
    if frame.ndim != 3 or frame.shape[2] not in (3, 4):
        raise EnvError(f"{env_id} rendered an array of shape {frame.shape}, not an RGB image")
    frame = np.ascontiguousarray(frame[..., :3], dtype=np.uint8)
    if frame.shape[:2] != (height, width):
        from PIL import Image

        frame = np.asarray(Image.fromarray(frame).resize((width, height), Image.BILINEAR))
    return frame


def _captioned(frame: np.ndarray, text: str, success: bool) -> np.ndarray:
    """The frame with `text` and the success flag on a dark strip along its top edge."""
    from PIL import Image, ImageDraw

    font = _caption_font(max(8, frame.shape[0] // 22))
    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    # The default font has no check-mark glyph, so the flag is spelled out in ASCII.
    flag = "success: yes" if success else "success: no"
    left, _, right, bottom = draw.textbbox((0, 0), text + "  ", font=font)
    draw.rectangle((0, 0, frame.shape[1], bottom + 4), fill=(0, 0, 0))
    draw.text((4, 2), text, fill=(255, 255, 255), font=font)
    draw.text(
        (4 + right - left, 2), flag, fill=(90, 230, 90) if success else (200, 200, 200), font=font
    )
    return np.asarray(image)


@functools.lru_cache(maxsize=4)
def _caption_font(size: int):
    """Pillow's built-in font at `size` pixels (loaded once per size)."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: one fixed-size bitmap font
        return ImageFont.load_default()


def write_animation(frames: Sequence[np.ndarray], path: Path, fps: int, mp4: bool = False) -> Path:
    """Write frames as a looping GIF (or an MP4), atomically.

    The file is written next to `path` under a temporary name and renamed into place, so a
    reader never sees half a file. GIF frame times are whole centiseconds: 25 fps is exact,
    30 fps plays at 1/0.03 s.

    Args:
        frames: [height, width, 3] uint8 arrays, all the same size.
        path: Output file; its directory is created if missing.
        fps: Frames per second.
        mp4: Write H.264 MP4 through imageio-ffmpeg instead of a GIF.

    Returns:
        The path written.

    Raises:
        Td3HerError: On no frames, a bad fps, a directory that cannot be written, or MP4
            without imageio-ffmpeg.
        UsageError: If `path` exists and is not a regular file (a symbolic link, a device,
            a directory, ...): it is never replaced.
    """
    path = Path(path)
    if not frames:
        raise Td3HerError("no frames to write; render at least one episode")
    if fps <= 0:
        raise Td3HerError(f"fps must be positive, not {fps}")
    if mp4:
        require_mp4_writer()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        suffix = path.suffix or (".mp4" if mp4 else ".gif")  # the MP4 writer reads it
        descriptor, temporary = tempfile.mkstemp(
            prefix=f".{path.stem}.", suffix=suffix, dir=path.parent
        )
        os.close(descriptor)
    except OSError as exc:
        raise Td3HerError(
            f"cannot write to {path.parent} ({exc.strerror}); choose a writable output path"
        ) from None
    try:
        if mp4:
            _write_mp4(frames, temporary, fps)
        else:
            _write_gif(frames, temporary, fps)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes 0600; give the usual file mode
        # os.replace would put a regular file in place of a symlink or (as root) a device node;
        # checked again here, at the last moment, as the path may have changed while rendering.
        kind = non_regular_kind(path)
        if kind is not None:
            raise UsageError(f"{path} is {kind}, not a regular file; it was left as it is")
        os.replace(temporary, path)
    except OSError as exc:
        raise Td3HerError(f"cannot write {path} ({exc.strerror}); choose a writable path") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
    return path


def require_mp4_writer() -> None:
    """Raise Td3HerError unless the MP4 writer (imageio-ffmpeg) can be imported."""
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        raise Td3HerError(
            "MP4 needs imageio-ffmpeg: pip install imageio-ffmpeg; or drop --mp4"
        ) from None


def non_regular_kind(path: Path) -> str | None:
    """What `path` is when it exists and is not a regular file, e.g. "a symbolic link (to X)".

    None for a regular file or a path that does not exist (or cannot be looked at: writing
    there then reports why). A symbolic link is not followed: it is itself the answer.
    """
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return f"a symbolic link (to {os.readlink(path)})"
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for is_kind, name in kinds if is_kind(mode)), "a special file")


def _write_gif(frames: Sequence[np.ndarray], path: str, fps: int) -> None:
    """A looping GIF whose frames share one palette built from a few sampled frames."""
    from PIL import Image

    sample_index = np.linspace(0, len(frames) - 1, min(PALETTE_SAMPLES, len(frames))).astype(int)
    sample = np.concatenate([frames[i] for i in sample_index], axis=0)  # [S * H, W, 3]
    palette = Image.fromarray(sample).quantize(256, method=Image.Quantize.MEDIANCUT)
    # No dithering: dithered noise changes pixels between frames and defeats delta encoding.
    images = [
        Image.fromarray(frame).quantize(palette=palette, dither=Image.Dither.NONE)
        for frame in frames
    ]
    images[0].save(
        path,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=1000 / fps,
        loop=0,
        optimize=False,
    )


def _write_mp4(frames: Sequence[np.ndarray], path: str, fps: int) -> None:
    """H.264 MP4; yuv420p needs even sizes, so an odd edge gets one repeated pixel row/column."""
    import imageio.v2 as imageio

    height, width = frames[0].shape[:2]
    padding = ((0, height % 2), (0, width % 2), (0, 0))
    with imageio.get_writer(
        path, format="FFMPEG", fps=fps, codec="libx264", macro_block_size=2
    ) as writer:
        for frame in frames:
            writer.append_data(np.pad(frame, padding, mode="edge"))
