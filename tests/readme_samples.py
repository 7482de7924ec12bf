"""The sample outputs of docs/usage.md: each ```text block that starts with `$ td3her ...`
shows what that command printed. `python -m tests.readme_samples` runs them all again and
rewrites the blocks (`make readme`); tests/test_readme_samples.py checks their shape.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "usage.md"  # where the samples live
SAMPLE_DIR = "/tmp/ck"  # where the guide's sample run lives
BLOCK = re.compile(r"```text\n(\$ td3her [^\n]*)\n(.*?)```", re.DOTALL)
NUMBER = re.compile(  # a number (with % or seconds), or "-"/nan where there is none
    r"(?<![\w.])-?\d+(?:[.,]\d+)*(?:e-?\d+)?(?:%|s)?(?!\w)|(?<!\w)(?:nan|-)(?!\w)"
)
RULES = re.compile(r"([━─═]+)")


@dataclass(frozen=True)
class Sample:
    """One documented command and the output the guide shows for it."""

    command: str  # without the leading "$ "
    output: str
    span: tuple[int, int]  # of the output inside docs/usage.md

    @property
    def args(self) -> list[str]:
        """The command's arguments after `td3her`."""
        return shlex.split(self.command)[1:]


def samples(text: str | None = None) -> list[Sample]:
    """Every sample block of the guide, in order."""
    text = GUIDE.read_text() if text is None else text
    return [
        Sample(match.group(1)[2:], match.group(2), match.span(2)) for match in BLOCK.finditer(text)
    ]


def skeleton(output: str) -> list[str]:
    """The output's shape: numbers (and "-"/nan for no value) become #, rules and runs of
    spaces shrink to one, empty lines go. Two runs of one command have the same skeleton."""
    lines = []
    for line in output.splitlines():
        line = RULES.sub(lambda m: m.group(1)[0], NUMBER.sub("#", line))
        line = re.sub(r"\s+", " ", line).strip()
        if line:
            lines.append(line)
    return lines


def regenerate() -> None:
    """Run every sample command from a fresh SAMPLE_DIR and write their outputs into the guide."""
    shutil.rmtree(SAMPLE_DIR, ignore_errors=True)
    text = GUIDE.read_text()
    outputs = []
    for sample in samples(text):
        result = subprocess.run(
            [sys.executable, "-m", "td3her_cli", *sample.args],
            capture_output=True,
            text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        )
        if result.returncode != 0:
            raise SystemExit(f"{sample.command} failed:\n{result.stderr}")
        outputs.append("".join(line.rstrip() + "\n" for line in result.stdout.splitlines()))
        print(f"ran: {sample.command}")
    for sample, output in reversed(list(zip(samples(text), outputs))):  # keeps spans valid
        start, end = sample.span
        text = text[:start] + output + text[end:]
    GUIDE.write_text(text)


if __name__ == "__main__":
    regenerate()
