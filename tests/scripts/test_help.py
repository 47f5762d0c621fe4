"""Every program's and study's ``--help`` explains itself: a whole-sentence description,
help text for every option and the value it takes when not given; and the command-line
reference of the documentation has a page for it, in its group."""

import argparse
from pathlib import Path

import pytest
import tomllib
from helpers import load_script

from dbn.cli.commands import PROGRAMS, command_name

ROOT = Path(__file__).resolve().parents[2]
STUDIES = sorted(
    path.stem
    for path in (ROOT / "studies").glob("*.py")
    if "def get_args_parser" in path.read_text()
)
SCRIPTS = [*PROGRAMS, *STUDIES]


def shown_default(action: argparse.Action) -> bool:
    """Whether the option's help names the value it takes when not given."""
    default = action.default
    if default in (None, False, argparse.SUPPRESS):
        return True
    if isinstance(default, list | tuple):
        default = " ".join(map(str, default))
    return str(default) in action.help or "default" in action.help


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_option_has_help_and_its_default(name):
    parser = load_script(name).get_args_parser()
    assert parser.description and parser.description.rstrip().endswith((".", ")")), name
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        label = action.option_strings or action.dest
        assert action.help, f"{name} {label} has no help"
        assert shown_default(action), f"{name} {label}: help {action.help!r} hides its default"


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_script_has_a_page_in_the_command_line_reference(name):
    page = (ROOT / "docs" / "cli" / f"{name}.rst").read_text()
    if name in PROGRAMS:
        assert f":module: dbn.cli.{name}\n" in page and f":prog: {command_name(name)}\n" in page
    else:
        assert f":module: studies.{name}\n" in page
    index = (ROOT / "docs" / "cli" / "index.md").read_text()
    group = index.index("## Your programs" if name in PROGRAMS else "## The project's studies")
    toctree = index[group : index.index("```\n", index.index("```{toctree}", group) + 3)]
    assert f"\n{name}\n" in toctree


def test_every_program_has_a_console_command_and_a_script_in_a_clone():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    commands = project["project"]["scripts"]
    assert commands == {command_name(p): f"dbn.cli.commands:{p}" for p in PROGRAMS}
    launchers = {path.stem for path in (ROOT / "scripts").glob("*.py")}
    assert launchers == set(PROGRAMS)
