"""``python -m webui``: the ``workwebui`` command."""

import sys

from .cli import main

sys.exit(main())
