"""The project's own studies, beside the library and not installed with it.

Each study is a module run from the repository's root, ``python -m studies.compare``
(``--help`` on each); they import only public names of :mod:`dbn` and have no API
promise, as torchvision's ``references/`` have none. ``presets`` holds the studies'
settings, ``labels`` and ``notes`` the label-budget and the notes' experiments,
``plots`` and ``init_stats`` their figures, ``finetune_summary`` the fine-tuning tables.
"""
