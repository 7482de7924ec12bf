"""Write the generated reference pages of docs/: the CLI's help and the presets.

    python -m tools.reference           # write docs/cli.md and docs/presets.md (`make docs`)
    python -m tools.reference --check   # exit 1 if a committed page differs from what it writes

docs/cli.md is every command's `--help` as Typer and Rich print it, at a fixed width and
without colour, whatever the terminal; `train`'s hyperparameter options, with their help and
panels, are TrainConfig's `option(...)` fields (td3her_cli/config.py). docs/presets.md is
td3her_cli/presets.toml: each preset's description, the envs that pick it, and its keys with
the comment beside each.
"""

from __future__ import annotations

import argparse
import os
import posixpath
import re
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from importlib import resources
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
CLI_PAGE = Path("docs/cli.md")
PRESETS_PAGE = Path("docs/presets.md")
HELP_WIDTH = 100
PRESETS_DIR = "td3her_cli"  # where presets.toml lives, relative to the repository root
TOP_LEVEL = ("docs", "bench", "tests", "tools", "td3her_cli")  # root-relative link prefixes
HELP_ENV = {  # the environment the help is rendered in: no colour, no terminal, fixed width
    "COLUMNS": str(HELP_WIDTH),
    "LINES": "50",
    "TERM": "dumb",
    "NO_COLOR": "1",
    "TERMINAL_WIDTH": str(HELP_WIDTH),
    "FORCE_COLOR": None,
    "PY_COLORS": None,
    "GITHUB_ACTIONS": None,
    "TTY_COMPATIBLE": None,
    "TTY_INTERACTIVE": None,
    "_TYPER_FORCE_DISABLE_TERMINAL": "1",
}


def header(title: str, source: str) -> str:
    """A generated page's title and the line saying where it comes from."""
    return (
        f"# {title}\n\n*Generated from {source} by `make docs` (`python -m tools.reference`). "
        "Do not edit it by hand: a test fails when it differs from what `make docs` writes.*\n\n"
    )


# --- docs/cli.md -------------------------------------------------------------------------


@contextmanager
def fixed_help_console() -> Iterator[None]:
    """Typer's Rich help at HELP_WIDTH columns without colour, independent of the terminal.

    typer.rich_utils reads TERMINAL_WIDTH and the FORCE_COLOR family once, at import, so
    its module settings are pinned here as well as the environment."""
    from typer import rich_utils

    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(rich_utils, "MAX_WIDTH", HELP_WIDTH))
        stack.enter_context(mock.patch.object(rich_utils, "COLOR_SYSTEM", None))
        stack.enter_context(mock.patch.object(rich_utils, "FORCE_TERMINAL", False))
        yield


def command_paths(group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every visible command under a Typer/click group, depth first, in the app's order."""
    paths = []
    for name, command in getattr(group, "commands", {}).items():
        if getattr(command, "hidden", False):
            continue
        paths.append((*prefix, name))
        if getattr(command, "commands", None):
            paths.extend(command_paths(command, (*prefix, name)))
    return paths


def help_text(app, path: tuple[str, ...]) -> str:
    """`td3her PATH --help`, rendered in-process with a fixed console."""
    from typer.testing import CliRunner

    with fixed_help_console():
        result = CliRunner().invoke(app, [*path, "--help"], env=HELP_ENV, prog_name="td3her")
    if result.exit_code != 0:
        raise RuntimeError(f"td3her {' '.join(path)} --help exited {result.exit_code}")
    lines = [line.rstrip() for line in result.output.splitlines()]
    return "\n".join(lines).strip("\n")


def render_cli() -> str:
    """docs/cli.md: the root help, then every command's help, in the app's order."""
    import typer

    from td3her_cli.cli.app import app

    paths = command_paths(typer.main.get_command(app))
    parts = [
        header(
            "Command-line reference",
            "the Typer app in `td3her_cli/cli/` (train's hyperparameters: `td3her_cli/config.py`)",
        ),
        "Every `td3her` command's `--help`, as printed at a width of "
        f"{HELP_WIDTH} columns. [usage.md](usage.md) has examples, outputs and caveats.\n\n",
    ]
    parts += [f"- [`td3her {' '.join(p)}`](#{anchor('td3her ' + ' '.join(p))})\n" for p in paths]
    for path in [(), *paths]:
        title = " ".join(("td3her", *path))
        parts.append(f"\n## `{title}`\n\n```text\n{help_text(app, path)}\n```\n")
    return "".join(parts)


def anchor(title: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation but - and _ dropped, spaces -."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


# --- docs/presets.md ---------------------------------------------------------------------

TABLE = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
KEY = re.compile(r"^\s*([A-Za-z0-9_-]+|\"[^\"]*\")\s*=\s*(.*)$")


def split_comment(value: str) -> tuple[str, str]:
    """(value, comment) of a TOML value's source text: the first # outside a string."""
    quote = None
    i = 0
    while i < len(value):
        c = value[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c == "#":
            return value[:i].rstrip(), value[i + 1 :].strip()
        i += 1
    return value.rstrip(), ""


def balanced(value: str) -> bool:
    """Whether a value's source text closes every [ and { it opens (strings aside)."""
    depth, quote, escaped = 0, None, False
    for c in value:
        if quote:
            if escaped:
                escaped = False
            elif c == "\\" and quote == '"':
                escaped = True
            elif c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
    return depth <= 0


def scan_presets(text: str) -> tuple[dict[str, str], dict[str, list[tuple[str, str, str]]]]:
    """From presets.toml's text: {preset: the comment block just above its [header]} and
    {preset: [(key, value as written, comment), ...]} in the file's order. A key's comment is
    the comment lines just above it (no blank line between) and the one after its value."""
    notes: dict[str, str] = {}
    keys: dict[str, list[tuple[str, str, str]]] = {}
    current = None
    block: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line:
            block = []
        elif line.startswith("#"):
            block.append(line.lstrip("#").strip())
        elif (table := TABLE.match(line)) is not None:
            current = table.group(1).strip().strip('"')
            notes[current] = " ".join(block)
            keys[current] = []
            block = []
        elif (key := KEY.match(line)) is not None and current is not None:
            source = key.group(2)
            while i < len(lines) and not balanced(
                "\n".join(split_comment(part)[0] for part in source.splitlines())
            ):
                source += "\n" + lines[i]  # a value over several lines: its last comment counts
                i += 1
            value, comment = split_comment(source.splitlines()[-1])
            if "\n" in source:  # shown on one line: [64, 64]
                inner = [split_comment(part)[0].strip() for part in source.splitlines()[:-1]]
                value = " ".join([*inner, value.strip()])
                value = re.sub(r",?\s*([\]}])", r"\1", re.sub(r"([\[{])\s*", r"\1", value))
            why = " ".join(part for part in (*block, comment) if part)
            keys[current].append((key.group(1).strip('"'), value, why))
            block = []
        else:
            block = []
    return notes, keys


def relink(markdown: str) -> str:
    """Markdown links of presets.toml, written from td3her_cli/ (`../docs/x.md`) or from the
    repository root (`docs/x.md`), pointed from docs/ instead."""

    def moved(match: re.Match) -> str:
        text, target = match.group(1), match.group(2)
        if re.match(r"^([a-z][a-z0-9+.-]*:|#|/)", target):
            return match.group(0)
        path, _, fragment = target.partition("#")
        first = path.split("/")[0]
        from_root = first in TOP_LEVEL or ("/" not in path and (ROOT / path).is_file())
        base = "" if from_root else PRESETS_DIR
        resolved = posixpath.normpath(posixpath.join(base, path))
        new = posixpath.relpath(resolved, "docs") + (f"#{fragment}" if fragment else "")
        return f"[{text}]({new})"

    markdown = re.sub(  # a bare `(docs/experiments/NOTE.md)`, as comments cite notes, is a link
        r"(?<!\])\((docs/experiments/([\w.-]+)\.md)\)", r"([\2](\1))", markdown
    )
    return re.sub(r"\[([^\]]*)\]\(([^)\s]+)\)", moved, markdown)


def cell(markdown: str) -> str:
    """Text for one Markdown table cell."""
    return markdown.replace("|", "\\|")


def render_presets(text: str | None = None) -> str:
    """docs/presets.md from presets.toml (the packaged file unless `text` is given)."""
    from td3her_cli.presets import DEFAULT_PRESET, NOT_OPTIONS, default_preset

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    if text is None:
        text = resources.files("td3her_cli").joinpath("presets.toml").read_text("utf-8")
    presets = tomllib.loads(text)
    notes, keys = scan_presets(text)
    for name, values in presets.items():
        found = [k for k, _, _ in keys.get(name, [])]
        if found != list(values):
            raise ValueError(f"presets.toml [{name}]: read keys {found}, tomllib {list(values)}")

    def envs(name: str) -> str:
        patterns = presets[name].get("default_for", [])
        if patterns:
            return ", ".join(f"`{p}`" for p in patterns)
        if name == DEFAULT_PRESET:
            example = " (PandaReach-v3 among them)"
            return "every env no other preset claims" + (
                example if default_preset("PandaReach-v3") == DEFAULT_PRESET else ""
            )
        return "none (`--preset " + name + "` only)"

    parts = [
        header("Presets", f"`{PRESETS_DIR}/presets.toml`"),
        "A preset is a named bundle of `td3her train` option values "
        f"([`{PRESETS_DIR}/presets.toml`](../{PRESETS_DIR}/presets.toml)). "
        "`td3her train --preset NAME` picks one; without `--preset`, `train` and `sweep` pick "
        "the preset whose `default_for` patterns match the env id, else "
        f"`{DEFAULT_PRESET}`. Any option given on the command line overrides the preset's "
        "value. A training aid the preset asks for that the env cannot give (the Joints "
        "variants have no table-plane positions to shift or mirror) is left off, with a warning "
        "line and `preset_aids_off` in the run's config.json. Keys are `TrainConfig` fields: "
        "`critic_lr` is `--critic-lr`, `xla = false` is "
        "`--no-xla`; every key not listed keeps the default in "
        "[cli.md](cli.md#td3her-train).\n\n",
        "| preset | default for | description |\n|---|---|---|\n",
    ]
    parts += [
        f"| [`{n}`](#{anchor(n)}) | {cell(envs(n))} | {cell(v.get('description', ''))} |\n"
        for n, v in presets.items()
    ]
    for name, values in presets.items():
        parts.append(f"\n## {name}\n\n{values.get('description', '')}\n\n")
        parts.append(f"Default for: {envs(name)}.\n\n")
        if notes.get(name):
            parts.append(relink(notes[name]) + "\n\n")
        rows = [(k, v, why) for k, v, why in keys[name] if k not in NOT_OPTIONS]
        default_for_why = [why for k, _, why in keys[name] if k == "default_for" and why]
        if default_for_why:
            parts.append(f"On `default_for`: {relink(default_for_why[0])}\n\n")
        if rows:
            parts.append("| key | value | why |\n|---|---|---|\n")
            parts += [f"| `{k}` | `{cell(v)}` | {cell(relink(why))} |\n" for k, v, why in rows]
    return "".join(parts)


# --- writing and checking ------------------------------------------------------------------


def generated_pages() -> dict[Path, str]:
    """Each generated page (relative to the repository root) and its text."""
    return {CLI_PAGE: render_cli(), PRESETS_PAGE: render_presets()}


def stale_pages(root: Path, pages: dict[Path, str] | None = None) -> list[Path]:
    """The pages under `root` that are missing or differ from what would be written."""
    pages = generated_pages() if pages is None else pages
    stale = []
    for path, text in pages.items():
        target = root / path
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            stale.append(path)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.reference",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    pages = generated_pages()
    if args.check:
        stale = stale_pages(args.root, pages)
        if stale:
            names = ", ".join(p.as_posix() for p in stale)
            print(f"stale: {names}; run `make docs`", file=sys.stderr)
            return 1
        return 0
    for path, text in pages.items():
        target = args.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {path.as_posix()}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
