"""``dbn-updown-report`` from a clone: ``python scripts/updown_report.py --help``.

The program is :mod:`dbn.cli.updown_report`; installing the package puts the same command on the
``PATH`` as ``dbn-updown-report``.
"""

from dbn.cli.commands import updown_report

updown_report()
