"""``dbn-finetune`` from a clone: ``python scripts/finetune.py --help``.

The program is :mod:`dbn.cli.finetune`; installing the package puts the same command on the
``PATH`` as ``dbn-finetune``.
"""

from dbn.cli.commands import finetune

finetune()
