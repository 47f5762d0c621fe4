"""``dbn-pretrain`` from a clone: ``python scripts/pretrain.py --help``.

The program is :mod:`dbn.cli.pretrain`; installing the package puts the same command on the
``PATH`` as ``dbn-pretrain``.
"""

from dbn.cli.commands import pretrain

pretrain()
