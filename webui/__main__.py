"""``python -m webui``: the ``workwebui`` command."""

import sys

from .entry import main

sys.exit(main())
