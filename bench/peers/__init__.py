"""One runner module per job system for ``python -m bench.workers``.

Each runs in its own subprocess (``python -m bench.peers <name> ROLE ...``) so that the worker's
memory can be measured on its own, and imports only its own job library (not work_compat, except
``work_compat_runner``): arq lives in a separate virtualenv because it pins redis-py below 6.
"""
