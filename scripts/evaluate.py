"""``dbn-evaluate`` from a clone: ``python scripts/evaluate.py --help``.

The program is :mod:`dbn.cli.evaluate`; installing the package puts the same command on the
``PATH`` as ``dbn-evaluate``.
"""

from dbn.cli.commands import evaluate

evaluate()
