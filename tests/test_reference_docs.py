"""docs/cli.md and docs/presets.md are what `make docs` (tools/reference.py) writes."""

import pytest

from tools import reference


@pytest.fixture(scope="module")
def pages() -> dict:
    return reference.generated_pages()


def test_the_generated_reference_pages_are_up_to_date(pages):
    for path, text in pages.items():
        committed = reference.ROOT / path
        assert committed.is_file(), f"{path} is missing: run `make docs`"
        assert committed.read_text(encoding="utf-8") == text, f"{path} is stale: run `make docs`"


def test_the_cli_page_does_not_depend_on_the_terminal(pages, monkeypatch):
    for name, value in {"COLUMNS": "37", "TERMINAL_WIDTH": "61", "FORCE_COLOR": "1"}.items():
        monkeypatch.setenv(name, value)
    assert reference.render_cli() == pages[reference.CLI_PAGE]


def test_check_names_a_stale_page_and_writes_nothing(pages, tmp_path, capsys):
    for path, text in pages.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text, encoding="utf-8")
    assert reference.stale_pages(tmp_path, pages) == []

    stale = tmp_path / reference.PRESETS_PAGE
    stale.write_text(pages[reference.PRESETS_PAGE].replace("| `gamma` |", "| `gama` |"))
    (tmp_path / reference.CLI_PAGE).unlink()
    assert reference.main(["--check", "--root", str(tmp_path)]) == 1
    message = capsys.readouterr().err.strip()
    assert "docs/cli.md" in message and "docs/presets.md" in message
    assert "run `make docs`" in message and "\n" not in message
    assert not (tmp_path / reference.CLI_PAGE).exists()  # --check writes nothing


def test_comments_of_presets_toml_become_the_why_column():
    text = """# the file's header

# a note on the preset
[demo]
description = "A demo | with a bar."
default_for = ["Demo*"]  # demo envs
# above the key
gamma = 0.95  # inline, see [the note](../docs/experiments/x.md)
hidden = [
    64, 64,
]  # two layers
noise = "a # not a comment"
"""
    page = reference.render_presets(text)
    assert "a note on the preset" in page and "the file's header" not in page
    assert "On `default_for`: demo envs" in page
    assert "| `gamma` | `0.95` | above the key inline, see [the note](experiments/x.md) |" in page
    assert "| `hidden` | `[64, 64]` | two layers |" in page
    assert '| `noise` | `"a # not a comment"` |  |' in page
    assert "A demo \\| with a bar." in page
