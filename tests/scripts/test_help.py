"""Every script's ``--help`` explains itself: a whole-sentence description, help text for
every option and the value it takes when not given; and the command-line reference of
the documentation has a page for it."""

import argparse
from pathlib import Path

import pytest
from helpers import load_script

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(path.stem for path in (ROOT / "scripts").glob("*.py"))


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
    page = ROOT / "docs" / "cli" / f"{name}.rst"
    assert f":module: {name}\n" in page.read_text()
    assert f"\n{name}\n" in (ROOT / "docs" / "cli" / "index.md").read_text()
