"""The command-line programs and the run contract they share.

The user's programs, each a module with ``get_args_parser()`` and ``main(args)``, and a
console command once the package is installed (:mod:`dbn.cli.commands`):
``dbn-pretrain`` (:mod:`~dbn.cli.pretrain`), ``dbn-finetune``, ``dbn-evaluate``,
``dbn-loglik``, ``dbn-updown``, ``dbn-updown-report``, ``dbn-dbm``, ``dbn-dbm-report``,
``dbn-dbm-finetune``; from a clone, ``python scripts/<program>.py`` is the same command.

The layer under them, for programs of your own that should behave the same way:

- :class:`ArgumentParser` and :func:`run_cli` (:mod:`~dbn.cli.args`, with the options
  the programs share): one-line errors with exit status 2 instead of tracebacks, and
  the options the user typed;
- :class:`RunDirectory` (:mod:`~dbn.cli.runs`): parse, validate every option and input,
  then lock and only then write, atomically; ``--resume`` compares every recorded
  option and input checksum;
- :func:`resolve_device` (:mod:`~dbn.cli.device`, with the memory checks);
- :func:`run_experiment` (:mod:`~dbn.cli.experiment`): build a classifier, fine-tune
  it, test it once, as ``dbn-finetune`` does.
"""

from dbn.cli.args import ArgumentParser, run_cli
from dbn.cli.device import resolve_device
from dbn.cli.experiment import Classifier, ExperimentResult, Refit, run_experiment
from dbn.cli.runs import RunDirectory

__all__ = [
    "ArgumentParser",
    "Classifier",
    "ExperimentResult",
    "Refit",
    "RunDirectory",
    "resolve_device",
    "run_cli",
    "run_experiment",
]
