"""``dbn-dbm-finetune`` from a clone: ``python scripts/dbm_finetune.py --help``.

The program is :mod:`dbn.cli.dbm_finetune`; installing the package puts the same command on the
``PATH`` as ``dbn-dbm-finetune``.
"""

from dbn.cli.commands import dbm_finetune

dbm_finetune()
