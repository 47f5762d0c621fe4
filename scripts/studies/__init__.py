"""The project's own research code, beside the library and not installed with it.

The scripts in ``scripts/`` import it (their folder is first on ``sys.path``); it has no
API promise, as torchvision's ``references/`` have none. ``cli`` and ``runs`` are the
command-line and run-directory plumbing every script shares, ``presets`` the studies'
settings, ``comparison``, ``labels`` and ``notes`` the studies, ``plots`` their figures.
"""
