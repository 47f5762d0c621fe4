"""``dbn-dbm-report`` from a clone: ``python scripts/dbm_report.py --help``.

The program is :mod:`dbn.cli.dbm_report`; installing the package puts the same command on the
``PATH`` as ``dbn-dbm-report``.
"""

from dbn.cli.commands import dbm_report

dbm_report()
