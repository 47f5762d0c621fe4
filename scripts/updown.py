"""``dbn-updown`` from a clone: ``python scripts/updown.py --help``.

The program is :mod:`dbn.cli.updown`; installing the package puts the same command on the
``PATH`` as ``dbn-updown``.
"""

from dbn.cli.commands import updown

updown()
