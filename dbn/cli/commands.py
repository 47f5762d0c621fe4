"""The console commands, one per program of :mod:`dbn.cli`.

``pip install dbn-torch`` puts ``dbn-pretrain``, ``dbn-finetune``, ``dbn-evaluate`` …
on the ``PATH`` (``[project.scripts]`` names the functions below); a clone's
``python scripts/pretrain.py`` calls the same function. Each imports its program only
when run, so that ``dbn-evaluate --help`` does not load the others.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from dbn.cli.args import run_cli

__all__ = ["PROGRAMS", "command_name"]

# The user's programs, in the order the command-line reference lists them.
PROGRAMS = (
    "pretrain",
    "finetune",
    "evaluate",
    "loglik",
    "updown",
    "updown_report",
    "dbm",
    "dbm_report",
    "dbm_finetune",
)


def command_name(program: str) -> str:
    """The console command of ``program``: ``"dbm_report"`` → ``"dbn-dbm-report"``.

    Examples
    --------
    >>> command_name("dbm_report")
    'dbn-dbm-report'
    """
    return "dbn-" + program.replace("_", "-")


def _command(program: str) -> Callable[[], None]:
    def command() -> None:
        module = import_module(f"dbn.cli.{program}")
        run_cli(module.main, module.get_args_parser())

    command.__name__ = command.__qualname__ = program
    command.__doc__ = f"``{command_name(program)}``: :mod:`dbn.cli.{program}`'s command line."
    return command


pretrain = _command("pretrain")
finetune = _command("finetune")
evaluate = _command("evaluate")
loglik = _command("loglik")
updown = _command("updown")
updown_report = _command("updown_report")
dbm = _command("dbm")
dbm_report = _command("dbm_report")
dbm_finetune = _command("dbm_finetune")
