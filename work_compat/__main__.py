"""``python -m work_compat``: the ``work-compat`` command."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
