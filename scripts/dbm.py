"""``dbn-dbm`` from a clone: ``python scripts/dbm.py --help``.

The program is :mod:`dbn.cli.dbm`; installing the package puts the same command on the
``PATH`` as ``dbn-dbm``.
"""

from dbn.cli.commands import dbm

dbm()
